//! The embedded store: one `SQLite` file in WAL mode.
//!
//! One writer thread owns the write connection and commits in groups: it takes every write
//! waiting (up to [`GROUP`]), applies them with their audit rows in one transaction, and only
//! then answers each caller. At thousands of decisions a second this is one commit per
//! group, not per decision. Reads use a small pool of their own connections (WAL lets them
//! run beside the writer).

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::audit::{link, GENESIS};
use super::{
    now, AuditEntry, DecisionRow, Durability, FeedbackRow, FeedbackWithFeatures, ModelRow, Op,
    ReviewPage, Role, Store, StoreError, StoredDecision, Ticket, TokenRow, VerifyReport, Written,
};

/// The write-ahead log size past which a checkpoint makes it start over.
const WAL_LIMIT: u64 = 64 << 20;

/// The most writes committed in one transaction.
const GROUP: usize = 512;

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE decisions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    message_id    TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    model_version TEXT NOT NULL,
    review        INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open',
    decision      TEXT NOT NULL,
    features      BLOB NOT NULL
);
CREATE INDEX decisions_review ON decisions (review, state, seq);
CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id TEXT NOT NULL REFERENCES decisions (id),
    labels      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE models (
    version       TEXT PRIMARY KEY,
    created_at    TEXT NOT NULL,
    parent        TEXT,
    status        TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    feedback_upto INTEGER NOT NULL DEFAULT 0,
    bytes         BLOB NOT NULL,
    added_seq     INTEGER NOT NULL,
    activated_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    detail         TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    hash       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
"];

type Job = (
    Op,
    AuditEntry,
    tokio::sync::oneshot::Sender<Result<Written, StoreError>>,
);

/// The `SQLite` store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Dropped to stop the checkpointer.
    checkpoints: Mutex<Option<mpsc::Sender<()>>>,
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    durability: Durability,
}

fn connect(path: &Path, durability: Durability) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let fail = |e: rusqlite::Error| StoreError::Open(path.display().to_string(), e.to_string());
        let mut conn = connect(path, durability).map_err(fail)?;
        migrate(&mut conn).map_err(fail)?;
        // Checkpoints (copying the log into the database, with a sync) would otherwise run
        // inside a commit now and then and hold every waiting request: a thread of their
        // own runs them beside the writer instead.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(fail)?;
        let checkpoint_conn = connect(path, durability).map_err(fail)?;
        let spawn_failed =
            |e: std::io::Error| StoreError::Open(path.display().to_string(), e.to_string());
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(std::time::Duration::from_millis(250))
                {
                    // Copies what it can without holding the writer back (the writer
                    // finishes the job, see `writer`).
                    let _ =
                        checkpoint_conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
                let _ =
                    checkpoint_conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(spawn_failed)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(conn, &rx, &wal))
            .map_err(spawn_failed)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            checkpoints: Mutex::new(Some(stop_tx)),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers: Mutex::new(Vec::new()),
            durability,
        })
    }

    /// Runs `f` on a read connection from the pool.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path, self.durability)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 8 {
                pool.push(conn);
            }
        }
        out
    }

    /// Stops the writer after the writes queued so far (they are committed).
    pub fn close(&self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        if let Ok(mut c) = self.checkpoints.lock() {
            c.take();
        }
        if let Some(t) = self.checkpointer.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the store has schema version {version}, newer than this mailtriage knows ({}): upgrade mailtriage",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn writer(mut conn: Connection, rx: &mpsc::Receiver<Job>, wal: &Path) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let results = commit_group(&mut conn, &jobs);
        for ((_, _, reply), result) in jobs.into_iter().zip(results) {
            let _ = reply.send(result);
        }
        // The log starts over only when a checkpoint has copied all of it before the next
        // write begins; with a busy writer the background checkpoints never get there. So
        // past a bound the writer finishes one itself, between two groups: little is left to
        // copy by then, and the log then stays bounded.
        if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }
}

/// Applies a group in one transaction. A write that fails is rolled back alone (a
/// savepoint each), so one bad request does not fail the others; if the commit fails, all
/// fail.
fn commit_group(conn: &mut Connection, jobs: &[Job]) -> Vec<Result<Written, StoreError>> {
    let run = |conn: &mut Connection| -> Result<Vec<Result<Written, StoreError>>, StoreError> {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Read the chain's end inside the write lock: another process may share the file.
        let (mut seq, mut prev): (i64, String) = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, GENESIS.to_string()));
        let mut results = Vec::with_capacity(jobs.len());
        for (op, entry, _) in jobs {
            let audited = |conn: &Connection, seq: i64, prev: &str| {
                let written = apply(conn, op)?;
                let at = now();
                let hash = link(seq + 1, &at, entry, prev);
                conn.prepare_cached(
                    "INSERT INTO audit (seq, at, actor, action, subject, detail, model_version, policy_version, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![seq + 1, at, entry.actor, entry.action, entry.subject, entry.detail,
                                 entry.model_version, entry.policy_version, prev, hash])?;
                Ok::<_, StoreError>((written, hash))
            };
            // A new decision cannot fail on its own (its id is fresh): no savepoint, which
            // is most of the cost of a small write. Anything else may (an unknown id), and
            // is rolled back alone.
            let outcome = if matches!(op, Op::Decision(_)) {
                audited(&tx, seq, &prev)
            } else {
                let sp = tx.savepoint()?;
                match audited(&sp, seq, &prev) {
                    Ok(done) => {
                        sp.commit()?;
                        Ok(done)
                    }
                    Err(e) => {
                        drop(sp); // rolls back
                        Err(e)
                    }
                }
            };
            match outcome {
                Ok((written, hash)) => {
                    seq += 1;
                    prev = hash;
                    results.push(Ok(written));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        tx.commit()?;
        Ok(results)
    };
    match run(conn) {
        Ok(results) => results,
        Err(e) => {
            let why = e.to_string();
            jobs.iter()
                .map(|_| Err(StoreError::Corrupt(format!("the commit failed: {why}"))))
                .collect()
        }
    }
}

/// Features as stored: about 1,300 a message, so the layout matters (it was 80% of a
/// decision row as plain `(u32, f32)` pairs). Slots are sorted and delta-coded as varints
/// (two bytes each, typically), and values, of which a message has few distinct ones (a
/// namespace's words that occur once share one), are indices into a table of them.
/// Layout: `1`, the table size `k` (1 to 255), `k` little-endian f32, then per feature the
/// slot delta (varint) and the value index (one byte). A message with more than 255
/// distinct values is stored as `0` and plain pairs.
fn features_blob(features: &[(u32, f32)]) -> Vec<u8> {
    let mut sorted = features.to_vec();
    sorted.sort_by_key(|&(i, _)| i);
    let mut table: Vec<u32> = sorted.iter().map(|(_, v)| v.to_bits()).collect();
    table.sort_unstable();
    table.dedup();
    if table.is_empty() || table.len() > 255 {
        let mut out = Vec::with_capacity(1 + sorted.len() * 8);
        out.push(0);
        for (i, v) in &sorted {
            out.extend_from_slice(&i.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        return out;
    }
    let mut out = Vec::with_capacity(2 + table.len() * 4 + sorted.len() * 3);
    out.push(1);
    out.push(table.len() as u8);
    for bits in &table {
        out.extend_from_slice(&bits.to_le_bytes());
    }
    let mut last = 0u32;
    for (i, v) in &sorted {
        let mut delta = i - last;
        last = *i;
        while delta >= 0x80 {
            out.push((delta as u8) | 0x80);
            delta >>= 7;
        }
        out.push(delta as u8);
        let at = table.binary_search(&v.to_bits()).unwrap_or(0);
        out.push(at as u8);
    }
    out
}

/// The features of a blob written by [`features_blob`]; what cannot be read is left out.
fn features_of(blob: &[u8]) -> Vec<(u32, f32)> {
    let f32_at = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    match blob.split_first() {
        Some((0, rest)) => rest
            .chunks_exact(8)
            .map(|c| {
                let i = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                (i, f32_at(&c[4..]))
            })
            .collect(),
        Some((1, rest)) => {
            let Some((&k, rest)) = rest.split_first() else {
                return Vec::new();
            };
            let k = usize::from(k);
            if rest.len() < k * 4 {
                return Vec::new();
            }
            let (table, mut rest) = rest.split_at(k * 4);
            let table: Vec<f32> = table.chunks_exact(4).map(f32_at).collect();
            let mut out = Vec::new();
            let mut slot = 0u32;
            'features: while !rest.is_empty() {
                let (mut delta, mut shift) = (0u32, 0u32);
                loop {
                    let Some((&b, r)) = rest.split_first() else {
                        break 'features;
                    };
                    rest = r;
                    delta |= u32::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
                    shift += 7;
                    if b < 0x80 {
                        break;
                    }
                }
                let Some((&v, r)) = rest.split_first() else {
                    break;
                };
                rest = r;
                slot = slot.wrapping_add(delta);
                if let Some(&value) = table.get(usize::from(v)) {
                    out.push((slot, value));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn apply(tx: &Connection, op: &Op) -> Result<Written, StoreError> {
    match op {
        Op::Decision(d) => {
            tx.prepare_cached(
                "INSERT INTO decisions (id, message_id, fingerprint, created_at, model_version, review, decision, features)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![d.id, d.message_id, d.fingerprint, d.created_at, d.model_version,
                        d.review, d.decision, features_blob(&d.features)],
            )?;
            Ok(Written::Done)
        }
        Op::Feedback {
            decision_id,
            labels,
            actor,
            state,
        } => {
            let changed = tx.execute(
                "UPDATE decisions SET state = ?2 WHERE id = ?1",
                params![decision_id, state],
            )?;
            if changed == 0 {
                return Err(StoreError::NoDecision(decision_id.clone()));
            }
            let labels =
                serde_json::to_string(labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO feedback (decision_id, labels, actor, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![decision_id, labels, actor, now()],
            )?;
            Ok(Written::Id(tx.last_insert_rowid()))
        }
        Op::Model { row, bytes } => {
            let next: i64 = tx.query_row(
                "SELECT COALESCE(MAX(added_seq), 0) + 1 FROM models",
                [],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO models (version, created_at, parent, status, metrics, feedback_upto, bytes, added_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![row.version, row.created_at, row.parent, row.status,
                        row.metrics.to_string(), row.feedback_upto, bytes, next],
            )?;
            Ok(Written::Done)
        }
        Op::Activate { version, metrics } => {
            let exists: Option<String> = tx
                .query_row(
                    "SELECT version FROM models WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NoModel(version.clone()));
            }
            tx.execute(
                "UPDATE models SET status = 'retired' WHERE status = 'active' AND version != ?1",
                [version],
            )?;
            // The order of activations is what a rollback walks back along.
            tx.execute(
                "UPDATE models SET status = 'active', metrics = ?2,
                     activated_seq = (SELECT COALESCE(MAX(activated_seq), 0) + 1 FROM models)
                 WHERE version = ?1",
                params![version, metrics.to_string()],
            )?;
            Ok(Written::Done)
        }
        Op::SetStatus {
            version,
            status,
            metrics,
        } => {
            let changed = tx.execute(
                "UPDATE models SET status = ?2, metrics = ?3 WHERE version = ?1",
                params![version, status, metrics.to_string()],
            )?;
            if changed == 0 {
                return Err(StoreError::NoModel(version.clone()));
            }
            Ok(Written::Done)
        }
        Op::Token { hash, role, name } => {
            tx.execute(
                "INSERT INTO tokens (hash, name, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, name, role.as_str(), now()],
            )?;
            Ok(Written::Id(tx.last_insert_rowid()))
        }
        Op::Revoke { id } => {
            let changed = tx.execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])?;
            if changed == 0 {
                return Err(StoreError::NoToken(*id));
            }
            Ok(Written::Done)
        }
    }
}

fn decision_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredDecision> {
    let blob: Vec<u8> = r.get("features")?;
    Ok(StoredDecision {
        row: DecisionRow {
            id: r.get("id")?,
            message_id: r.get("message_id")?,
            fingerprint: r.get("fingerprint")?,
            created_at: r.get("created_at")?,
            model_version: r.get("model_version")?,
            review: r.get("review")?,
            decision: r.get("decision")?,
            features: features_of(&blob),
        },
        seq: r.get("seq")?,
    })
}

fn feedback_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedbackRow> {
    let labels: String = r.get("labels")?;
    Ok(FeedbackRow {
        id: r.get("id")?,
        decision_id: r.get("decision_id")?,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        actor: r.get("actor")?,
        created_at: r.get("created_at")?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    let role: String = r.get("role")?;
    Ok(TokenRow {
        id: r.get("id")?,
        name: r.get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Triage),
        created_at: r.get("created_at")?,
        revoked: r.get("revoked")?,
    })
}

impl Store for SqliteStore {
    fn submit(&self, op: Op, audit: AuditEntry) -> Ticket {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = self.writer.lock().ok().and_then(|w| w.clone());
        match sender {
            Some(s) => {
                if let Err(mpsc::SendError((_, _, reply))) = s.send((op, audit, tx)) {
                    let _ = reply.send(Err(StoreError::Stopped));
                }
            }
            None => {
                let _ = tx.send(Err(StoreError::Stopped));
            }
        }
        rx
    }

    fn decision(&self, id: &str) -> Result<Option<StoredDecision>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT * FROM decisions WHERE id = ?1", [id], decision_row)
                    .optional()?,
            )
        })
    }

    fn review_queue(&self, after: Option<i64>, limit: usize) -> Result<ReviewPage, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM decisions WHERE review = 1 AND state = 'open' AND seq > ?1
                 ORDER BY seq LIMIT ?2",
            )?;
            let items = stmt
                .query_map(
                    params![
                        after.unwrap_or(0),
                        i64::try_from(limit + 1).unwrap_or(i64::MAX)
                    ],
                    decision_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let more = items.len() > limit;
            let items: Vec<StoredDecision> = items.into_iter().take(limit).collect();
            let next = if more {
                items.last().map(|d| d.seq)
            } else {
                None
            };
            Ok(ReviewPage { items, next })
        })
    }

    fn review_depth(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM decisions WHERE review = 1 AND state = 'open'",
                [],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn feedback_since(&self, after: i64) -> Result<Vec<FeedbackWithFeatures>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT f.*, d.fingerprint, d.features FROM feedback f JOIN decisions d ON d.id = f.decision_id
                 WHERE f.id > ?1 ORDER BY f.id",
            )?;
            let rows = stmt
                .query_map([after], |r| {
                    let blob: Vec<u8> = r.get("features")?;
                    Ok(FeedbackWithFeatures {
                        row: feedback_row(r)?,
                        fingerprint: r.get("fingerprint")?,
                        features: features_of(&blob),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn feedback_count(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM feedback", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn last_feedback_id(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT COALESCE(MAX(id), 0) FROM feedback", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    fn models(&self) -> Result<Vec<ModelRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT version, created_at, parent, status, metrics, feedback_upto FROM models ORDER BY added_seq",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let metrics: String = r.get(4)?;
                    Ok(ModelRow {
                        version: r.get(0)?,
                        created_at: r.get(1)?,
                        parent: r.get(2)?,
                        status: r.get(3)?,
                        metrics: serde_json::from_str(&metrics).unwrap_or_default(),
                        feedback_upto: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn previous_active(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT version FROM models WHERE status = 'retired' AND activated_seq > 0
                 ORDER BY activated_seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn model_bytes(&self, version: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT bytes FROM models WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT * FROM tokens WHERE hash = ?1 AND revoked = 0",
                [hash],
                token_row,
            )
            .optional()?)
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM tokens ORDER BY id")?;
            let rows = stmt
                .query_map([], token_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, at, actor, action, subject, detail, model_version, policy_version, prev_hash, hash
                 FROM audit ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            let (mut expected_seq, mut prev, mut count) = (1i64, GENESIS.to_string(), 0u64);
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let at: String = r.get(1)?;
                let entry = AuditEntry {
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    detail: r.get(5)?,
                    model_version: r.get(6)?,
                    policy_version: r.get(7)?,
                };
                let prev_hash: String = r.get(8)?;
                let hash: String = r.get(9)?;
                let broken = if seq != expected_seq {
                    Some(format!("row {expected_seq} is missing (the next row is {seq})"))
                } else if prev_hash != prev {
                    Some("its link to the previous row does not match that row's hash".into())
                } else if link(seq, &at, &entry, &prev) != hash {
                    Some("its content does not match its hash (the row was changed)".into())
                } else {
                    None
                };
                if let Some(why) = broken {
                    return Ok(VerifyReport {
                        rows: count,
                        broken: Some((seq, why)),
                    });
                }
                count += 1;
                expected_seq += 1;
                prev = hash;
            }
            Ok(VerifyReport {
                rows: count,
                broken: None,
            })
        })
    }
}

#[cfg(test)]
mod tests;
