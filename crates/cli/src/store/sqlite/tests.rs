//! The `SQLite` store: writes, audit chain, review paging, features layout, schema versions.
use super::*;

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        actor: "test".into(),
        action: action.into(),
        subject: "s".into(),
        detail: "{}".into(),
        model_version: "m".into(),
        policy_version: "p".into(),
    }
}

fn decision(id: &str, review: bool) -> Op {
    Op::Decision(Box::new(DecisionRow {
        id: id.into(),
        message_id: format!("<{id}@x>"),
        fingerprint: format!("fp-{id}"),
        created_at: now(),
        model_version: "m".into(),
        review,
        decision: "{}".into(),
        features: vec![(1, 0.5), (7, -0.25)],
    }))
}

#[test]
fn writes_are_audited_and_the_chain_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path, Durability::Process).unwrap();
    for i in 0..5 {
        store
            .write(decision(&format!("d{i}"), i % 2 == 0), entry("decision"))
            .unwrap();
    }
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("label".to_string(), "spam".to_string());
    let id = store
        .write(
            Op::Feedback {
                decision_id: "d0".into(),
                labels: labels.clone(),
                actor: "r".into(),
                state: "corrected",
            },
            entry("feedback"),
        )
        .unwrap();
    assert_eq!(id, Written::Id(1));
    // Feedback for a decision that does not exist fails alone, and is not audited.
    assert!(matches!(
        store.write(
            Op::Feedback {
                decision_id: "nope".into(),
                labels,
                actor: "r".into(),
                state: "corrected",
            },
            entry("feedback"),
        ),
        Err(StoreError::NoDecision(_))
    ));
    let stored = store.decision("d1").unwrap().unwrap();
    assert_eq!(stored.row.features, vec![(1, 0.5), (7, -0.25)]);
    let page = store.review_queue(None, 1).unwrap();
    assert_eq!(
        page.items[0].row.id, "d2",
        "d0 was corrected: it left the queue"
    );
    let page2 = store.review_queue(page.next, 10).unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].row.id, "d4");
    assert!(page2.next.is_none());
    assert_eq!(store.review_depth().unwrap(), 2);
    let since = store.feedback_since(0).unwrap();
    let (fb, features) = (&since[0].row, &since[0].features);
    assert_eq!(since[0].fingerprint, "fp-d0");
    assert_eq!(store.last_feedback_id().unwrap(), 1);
    assert_eq!(fb.decision_id, "d0");
    assert_eq!(features.len(), 2);
    let report = store.verify_audit().unwrap();
    assert_eq!(report.rows, 6);
    assert!(report.broken.is_none());
    store.close();

    // Change one row's detail behind the store's back.
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE audit SET detail = '{\"x\":1}' WHERE seq = 3", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, Durability::Process).unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(report.broken.as_ref().unwrap().0, 3);
    store.close();

    // A deleted row is a missing link.
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE audit SET detail = '{}' WHERE seq = 3", [])
        .unwrap();
    conn.execute("DELETE FROM audit WHERE seq = 4", []).unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, Durability::Process).unwrap();
    let report = store.verify_audit().unwrap();
    assert_eq!(report.broken.as_ref().unwrap().0, 5);
}

#[test]
fn features_round_trip_in_both_layouts() {
    let few: Vec<(u32, f32)> = (0..1300u32)
        .map(|i| (i * 769 % 1_048_576, [0.1, -0.25, 0.5][i as usize % 3]))
        .collect();
    let mut sorted = few.clone();
    sorted.sort_by_key(|&(i, _)| i);
    let blob = features_blob(&few);
    assert_eq!(blob[0], 1);
    assert!(blob.len() < few.len() * 4, "{} bytes", blob.len());
    assert_eq!(features_of(&blob), sorted);
    let many: Vec<(u32, f32)> = (0..400u32).map(|i| (i * 3, i as f32 / 7.0)).collect();
    let blob = features_blob(&many);
    assert_eq!(blob[0], 0);
    assert_eq!(features_of(&blob), many);
    assert!(features_of(&[]).is_empty());
    assert!(features_of(&[1, 5, 0]).is_empty());
    assert!(features_of(&[9]).is_empty());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, Durability::Process)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("newer than this mailtriage knows"), "{err}");
}
