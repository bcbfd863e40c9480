//! End-to-end: the service. Every route's role check, the feedback path surviving SIGKILL,
//! the audit chain (and a tampered row found), the guardrail refusing a poisoned candidate
//! and promoting a good one, and no PII from a triaged message in the store.
#![allow(clippy::unwrap_used)] // A test that cannot set up should stop loudly.

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{bin, run_ok, Row};
use serde_json::{json, Value};

/// The golden fixtures as a labelled JSONL file and a small model trained on it.
fn model(dir: &Path) -> (PathBuf, PathBuf, Vec<Row>) {
    let rows = common::labelled();
    let mut text = String::new();
    for (id, bytes, label) in &rows {
        let raw = String::from_utf8_lossy(bytes);
        text.push_str(&json!({"id": id, "raw": raw, "label": label}).to_string());
        text.push('\n');
    }
    let data = dir.join("d.jsonl");
    std::fs::write(&data, text).unwrap();
    let model = dir.join("m.mt");
    run_ok([
        "train",
        "-i",
        data.to_str().unwrap(),
        "--bits",
        "18",
        "--label-field",
        "label",
        "--validation",
        "0",
        "-q",
        "--out",
        model.to_str().unwrap(),
    ]);
    (model, data, rows)
}

fn token(store: &str, role: &str) -> String {
    let out = run_ok(["token", "create", "--role", role, "--store", store]);
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running `mailtriage serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(model: Option<&Path>, store: &str, extra: &[&str]) -> Server {
    let mut cmd = bin();
    cmd.args([
        "serve",
        "--store",
        store,
        "--listen",
        "127.0.0.1:0",
        "--threads",
        "2",
    ]);
    if let Some(m) = model {
        cmd.args(["--model", m.to_str().unwrap()]);
    }
    cmd.args(extra).stderr(Stdio::piped()).stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve stopped before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().parse().unwrap();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// One HTTP/1.1 request; the status and the body as JSON (or as a string).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        let _ = write!(req, "Content-Type: {content_type}\r\n");
    }
    if let Some(t) = token {
        let _ = write!(req, "Authorization: Bearer {t}\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, value)
}

fn post_json(addr: SocketAddr, path: &str, token: &str, body: &Value) -> (u16, Value) {
    http(
        addr,
        "POST",
        path,
        Some(token),
        "application/json",
        body.to_string().as_bytes(),
    )
}

fn triage(addr: SocketAddr, token: &str, raw: &[u8]) -> Value {
    let (status, body) = http(
        addr,
        "POST",
        "/v1/triage",
        Some(token),
        "message/rfc822",
        raw,
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn every_route_checks_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, rows) = model(dir.path());
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let tokens: Vec<(&str, String)> = ["triage", "reviewer", "admin"]
        .iter()
        .map(|r| (*r, token(&store, r)))
        .collect();
    let server = serve(Some(&model), &store, &[]);
    let admin = &tokens[2].1;
    let decision = triage(server.addr, admin, &rows[0].1);
    let id = decision["decision_id"].as_str().unwrap().to_string();
    let version = decision["model_version"].as_str().unwrap().to_string();
    let raw = String::from_utf8_lossy(&rows[1].1).into_owned();
    let feedback = json!({"decision_id": id, "labels": {"label": "ham"}}).to_string();
    let routes: Vec<(&str, String, &str, String, &str)> = vec![
        (
            "POST",
            "/v1/triage".into(),
            "message/rfc822",
            raw.clone(),
            "triage",
        ),
        (
            "POST",
            "/v1/triage/batch".into(),
            "application/json",
            json!({"messages": [{"raw": raw}]}).to_string(),
            "triage",
        ),
        (
            "POST",
            "/v1/feedback".into(),
            "application/json",
            feedback,
            "reviewer",
        ),
        ("GET", "/v1/review".into(), "", String::new(), "reviewer"),
        (
            "POST",
            format!("/v1/review/{id}"),
            "application/json",
            json!({"action": "accept"}).to_string(),
            "reviewer",
        ),
        ("GET", "/v1/models".into(), "", String::new(), "admin"),
        (
            "POST",
            format!("/v1/models/{version}/promote"),
            "",
            String::new(),
            "admin",
        ),
        (
            "POST",
            "/v1/models/rollback".into(),
            "",
            String::new(),
            "admin",
        ),
        ("GET", "/v1/tokens".into(), "", String::new(), "admin"),
        (
            "POST",
            "/v1/tokens".into(),
            "application/json",
            json!({"role": "triage", "name": "t"}).to_string(),
            "admin",
        ),
        (
            "POST",
            "/v1/tokens/1/revoke".into(),
            "",
            String::new(),
            "admin",
        ),
    ];
    let rank = |r: &str| {
        ["triage", "reviewer", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    for (method, path, ct, body, needed) in &routes {
        let (status, _) = http(server.addr, method, path, None, ct, body.as_bytes());
        assert_eq!(status, 401, "{method} {path} without a token");
        let (status, _) = http(
            server.addr,
            method,
            path,
            Some("mt_wrong"),
            ct,
            body.as_bytes(),
        );
        assert_eq!(status, 401, "{method} {path} with an unknown token");
        for (role, tok) in &tokens {
            if path.ends_with("/revoke") && *role == "admin" {
                continue; // Revoking token 1 (the triage token) is checked below.
            }
            let (status, reply) = http(server.addr, method, path, Some(tok), ct, body.as_bytes());
            if rank(role) < rank(needed) {
                assert_eq!(status, 403, "{method} {path} as {role}: {reply}");
            } else {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{method} {path} as {role}: {status} {reply}"
                );
            }
        }
    }
    // Open routes.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let (status, _) = http(server.addr, "GET", path, None, "", b"");
        assert_eq!(status, 200, "{path}");
    }
    // A revoked token is refused at once.
    let (status, _) = http(
        server.addr,
        "POST",
        "/v1/tokens/1/revoke",
        Some(admin),
        "",
        b"",
    );
    assert_eq!(status, 200);
    let (status, _) = http(
        server.addr,
        "POST",
        "/v1/triage",
        Some(&tokens[0].1),
        "message/rfc822",
        raw.as_bytes(),
    );
    assert_eq!(status, 401);
    // Bad input is a 4xx with a JSON error, never a 5xx.
    for (ct, body) in [
        ("application/json", "{not json"),
        ("application/json", "{\"raw\": 5}"),
        ("application/json", "{}"),
        ("image/png", "x"),
        ("message/rfc822", ""),
    ] {
        let (status, reply) = http(
            server.addr,
            "POST",
            "/v1/triage",
            Some(admin),
            ct,
            body.as_bytes(),
        );
        assert!((400..500).contains(&status), "{ct} {body}: {status}");
        assert!(reply["error"]["code"].is_string(), "{reply}");
    }
    let (status, _) = post_json(
        server.addr,
        "/v1/feedback",
        admin,
        &json!({"decision_id": "nope", "labels": {"label": "ham"}}),
    );
    assert_eq!(status, 404);
    let (status, _) = post_json(
        server.addr,
        "/v1/feedback",
        admin,
        &json!({"decision_id": id, "labels": {"label": "eggs"}}),
    );
    assert_eq!(status, 422);
    let (status, _) = http(
        server.addr,
        "GET",
        "/v1/review?limit=0",
        Some(admin),
        "",
        b"",
    );
    assert_eq!(status, 400);
}

#[test]
fn acknowledged_feedback_survives_sigkill_and_the_audit_chain_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, rows) = model(dir.path());
    let db = dir.path().join("s.db");
    let store = format!("sqlite:{}", db.display());
    let reviewer = token(&store, "reviewer");
    let mut server = serve(Some(&model), &store, &[]);
    let ids: Vec<String> = rows
        .iter()
        .map(|(_, raw, _)| {
            triage(server.addr, &reviewer, raw)["decision_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // Four threads send feedback; the server is killed with SIGKILL part-way through.
    let addr = server.addr;
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let workers: Vec<_> = ids
        .chunks(ids.len().div_ceil(4))
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let acked = std::sync::Arc::clone(&acked);
            let reviewer = reviewer.clone();
            std::thread::spawn(move || {
                for _round in 0..20 {
                    for id in &chunk {
                        let Ok(mut s) = TcpStream::connect(addr) else { return };
                        let body = json!({"decision_id": id, "labels": {"label": "spam"}}).to_string();
                        let req = format!(
                            "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer {reviewer}\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(req.as_bytes()).is_err() {
                            return;
                        }
                        let mut out = String::new();
                        if s.read_to_string(&mut out).is_err() || !out.starts_with("HTTP/1.1 200") {
                            return;
                        }
                        let reply: Value = serde_json::from_str(out.split_once("\r\n\r\n").unwrap().1).unwrap();
                        acked.lock().unwrap().push(reply["feedback_id"].as_i64().unwrap());
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acked.lock().unwrap().len() < 40 && started.elapsed() < Duration::from_mins(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap(); // SIGKILL on Unix.
    server.child.wait().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 40, "only {} acknowledged", acked.len());

    // Restarted on the same store (its active model), every acknowledged correction is there.
    let server = serve(None, &store, &[]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: std::collections::HashSet<i64> = conn
        .prepare("SELECT id FROM feedback")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lost: Vec<&i64> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "lost acknowledged feedback {lost:?}");
    drop(server);

    let verify = run_ok(["audit", "verify", "--store", &store]);
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains("audit chain verifies"), "{text}");

    // Change a row behind the store's back: verify fails with exit 6 and names it.
    conn.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 5", [])
        .unwrap();
    drop(conn);
    let out = bin()
        .args(["audit", "verify", "--store", &store])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN at row 5"), "{text}");
}

/// Waits until the registry holds at least `n` models.
/// The registry once it holds `n` models and the guardrail has decided the newest (a
/// candidate is listed before its promotion or rejection is written).
fn models_at_least(addr: SocketAddr, admin: &str, n: usize) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = http(addr, "GET", "/v1/models", Some(admin), "", b"");
        assert_eq!(status, 200);
        let models = body["models"].as_array().unwrap();
        let decided = models.last().is_some_and(|m| m["status"] != "candidate");
        if (models.len() >= n && decided) || started.elapsed() > Duration::from_mins(1) {
            return body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_guardrail_refuses_a_poisoned_candidate_and_promotes_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let (model, data, rows) = model(dir.path());
    let store = format!("sqlite:{}", dir.path().join("s.db").display());
    let admin = token(&store, "admin");
    let every = rows.len() / 2;
    let server = serve(
        Some(&model),
        &store,
        &[
            "--validation",
            data.to_str().unwrap(),
            "--learn-every",
            &every.to_string(),
            "--holdout-share",
            "0",
            "--epochs",
            "5",
        ],
    );
    let decided: Vec<(Value, &str)> = rows
        .iter()
        .map(|(_, raw, label)| (triage(server.addr, &admin, raw), *label))
        .collect();
    let first = models_at_least(server.addr, &admin, 1)["active"].clone();

    // Wrong labels on every message: the candidate gets worse on the validation set.
    for (d, label) in decided.iter().take(every) {
        let wrong = if *label == "spam" { "ham" } else { "spam" };
        let (status, reply) = post_json(
            server.addr,
            "/v1/feedback",
            &admin,
            &json!({"decision_id": d["decision_id"], "labels": {"label": wrong}}),
        );
        assert_eq!(status, 200, "{reply}");
    }
    let registry = models_at_least(server.addr, &admin, 2);
    assert_eq!(
        registry["active"], first,
        "a poisoned candidate was promoted: {registry}"
    );
    let rejected = &registry["models"][1];
    assert_eq!(rejected["status"], "rejected", "{registry}");
    let m = &rejected["metrics"]["validation"];
    assert!(
        m["candidate"].as_f64().unwrap() < m["active"].as_f64().unwrap(),
        "{registry}"
    );

    // The right labels: the candidate is no worse, and is promoted.
    for (d, label) in decided.iter().skip(every).take(every) {
        let (status, _) = post_json(
            server.addr,
            "/v1/feedback",
            &admin,
            &json!({"decision_id": d["decision_id"], "labels": {"label": label}}),
        );
        assert_eq!(status, 200);
    }
    let registry = models_at_least(server.addr, &admin, 3);
    assert_ne!(
        registry["active"], first,
        "a good candidate was refused: {registry}"
    );
    assert_eq!(registry["models"][2]["status"], "active", "{registry}");
    assert_eq!(registry["models"][0]["status"], "retired", "{registry}");

    // A rollback goes back to the first model, and is audited.
    let (status, after) = http(
        server.addr,
        "POST",
        "/v1/models/rollback",
        Some(&admin),
        "",
        b"",
    );
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["active"], first);
    let out = run_ok(["audit", "verify", "--store", &store]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("verifies"));
}

#[test]
fn the_store_holds_no_raw_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _, _) = model(dir.path());
    let db = dir.path().join("s.db");
    let store = format!("sqlite:{}", db.display());
    let admin = token(&store, "admin");
    let server = serve(Some(&model), &store, &[]);
    let message = "From: Maria Kowalski <maria.kowalski@example.org>\r\nTo: support@example.com\r\n\
                   Subject: card 4111 1111 1111 1111\r\nMessage-ID: <pii-1@example.org>\r\n\r\n\
                   Hi,\r\nmy SSN is 078-05-1120 and my phone +44 20 7946 0958.\r\nRegards,\r\nMaria Kowalski\r\n";
    let decision = triage(server.addr, &admin, message.as_bytes());
    let (status, _) = post_json(
        server.addr,
        "/v1/feedback",
        &admin,
        &json!({"decision_id": decision["decision_id"], "labels": {"label": "ham"}}),
    );
    assert_eq!(status, 200);
    drop(server);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for raw in [
        "maria.kowalski@example.org",
        "Kowalski",
        "4111 1111 1111 1111",
        "078-05-1120",
        "7946 0958",
    ] {
        assert!(!text.contains(raw), "{raw} is in the store");
    }
    let decision_text = decision.to_string();
    assert!(!decision_text.contains("Kowalski") && !decision_text.contains("078-05-1120"));
}
