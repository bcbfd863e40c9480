//! The service's durable store: decisions (redacted content and features only, never raw
//! mail), reviewers' feedback, the model registry, the hash-chained audit log and API tokens.
//!
//! [`Store`] is the interface the service uses; [`sqlite::SqliteStore`] is the embedded
//! default (a `PostgreSQL` store can implement the same trait). Every write carries its audit
//! entry and both commit in one transaction, so the log cannot miss a change that was made.
//! Writes are group-committed: concurrent callers share one transaction, and each is
//! answered only after it committed, so what the API acknowledged is on disk (in the WAL)
//! and survives the process being killed.

pub mod audit;
pub mod sqlite;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a token may do. Each role may also do everything the roles before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Classify messages.
    Triage,
    /// Also read the review queue and correct decisions.
    Reviewer,
    /// Also manage models and tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Triage => "triage",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "triage" => Some(Role::Triage),
            "reviewer" => Some(Role::Reviewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A decision as stored: what was decided, on redacted content, with the features a later
/// correction is learned from.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub id: String,
    pub message_id: String,
    pub fingerprint: String,
    pub created_at: String,
    pub model_version: String,
    pub review: bool,
    /// The decision as the API returned it (JSON; redacted content only).
    pub decision: String,
    /// The sparse features of the redacted message.
    pub features: Vec<(u32, f32)>,
}

/// A stored decision and where it stands in review.
#[derive(Debug, Clone)]
pub struct StoredDecision {
    pub row: DecisionRow,
    /// Its position in the review queue (insertion order).
    pub seq: i64,
}

/// A reviewer's correction: the right label per head for a decision.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackRow {
    pub id: i64,
    pub decision_id: String,
    pub labels: BTreeMap<String, String>,
    pub actor: String,
    pub created_at: String,
}

/// A model in the registry.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub version: String,
    pub created_at: String,
    pub parent: Option<String>,
    /// `active`, `candidate` (waiting), `rejected` (refused by the guardrail, kept for a
    /// human), or `retired` (was active).
    pub status: String,
    /// Why it has its status, and the guardrail's figures.
    pub metrics: serde_json::Value,
    /// The last feedback id learned into it.
    pub feedback_upto: i64,
}

/// An API token (its hash only is kept).
#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub revoked: bool,
}

/// What the audit log records with each change: who, what, about what, and the model and
/// policy versions in force.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// Details as JSON (redacted content only).
    pub detail: String,
    pub model_version: String,
    pub policy_version: String,
}

/// A change to the store.
#[derive(Debug, Clone)]
pub enum Op {
    /// A new decision.
    Decision(Box<DecisionRow>),
    /// A correction (or an acceptance: the labels the decision had) for a decision.
    Feedback {
        decision_id: String,
        labels: BTreeMap<String, String>,
        actor: String,
        /// `accepted` or `corrected`.
        state: &'static str,
    },
    /// A model added to the registry.
    Model { row: ModelRow, bytes: Vec<u8> },
    /// A model made active (the active one is retired).
    Activate {
        version: String,
        metrics: serde_json::Value,
    },
    /// A model's status changed otherwise (rejected, candidate).
    SetStatus {
        version: String,
        status: String,
        metrics: serde_json::Value,
    },
    /// A new token.
    Token {
        hash: String,
        role: Role,
        name: String,
    },
    /// A token revoked.
    Revoke { id: i64 },
}

/// What a write returned: nothing, or the id of the row it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    Id(i64),
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store {0} cannot be opened or migrated: {1}")]
    Open(String, String),
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no decision {0}")]
    NoDecision(String),
    #[error("no model {0}")]
    NoModel(String),
    #[error("no token {0}")]
    NoToken(i64),
    #[error("the store's writer has stopped")]
    Stopped,
    #[error("bad data in the store: {0}")]
    Corrupt(String),
}

/// The result of checking the audit chain.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub rows: u64,
    /// The first row whose hash or link does not hold, and why.
    pub broken: Option<(i64, String)>,
}

/// A page of the review queue.
#[derive(Debug, Clone)]
pub struct ReviewPage {
    pub items: Vec<StoredDecision>,
    /// The cursor for the next page, when there may be one.
    pub next: Option<i64>,
}

/// Feedback with what the learner needs of the decision it corrects.
#[derive(Debug, Clone)]
pub struct FeedbackWithFeatures {
    pub row: FeedbackRow,
    /// The corrected message's fingerprint (the learn-cache key).
    pub fingerprint: String,
    /// Its sparse features.
    pub features: Vec<(u32, f32)>,
}

/// A pending write: resolved when its transaction has committed.
pub type Ticket = tokio::sync::oneshot::Receiver<Result<Written, StoreError>>;

/// The service's store.
pub trait Store: Send + Sync {
    /// Queues `op` with its audit entry; the ticket resolves once both are committed.
    fn submit(&self, op: Op, audit: AuditEntry) -> Ticket;

    /// `submit`, waiting for the commit on this thread (for the CLI and blocking tasks).
    fn write(&self, op: Op, audit: AuditEntry) -> Result<Written, StoreError> {
        self.submit(op, audit)
            .blocking_recv()
            .map_err(|_| StoreError::Stopped)?
    }

    fn decision(&self, id: &str) -> Result<Option<StoredDecision>, StoreError>;
    /// Open decisions flagged for review, oldest first, after the cursor `after`.
    fn review_queue(&self, after: Option<i64>, limit: usize) -> Result<ReviewPage, StoreError>;
    fn review_depth(&self) -> Result<u64, StoreError>;
    /// Feedback with an id above `after`, in order, with the decisions' features.
    fn feedback_since(&self, after: i64) -> Result<Vec<FeedbackWithFeatures>, StoreError>;
    fn feedback_count(&self) -> Result<u64, StoreError>;
    /// The id of the newest feedback (0 when there is none).
    fn last_feedback_id(&self) -> Result<i64, StoreError>;
    fn models(&self) -> Result<Vec<ModelRow>, StoreError>;
    /// The model active before the current one (the most recently retired).
    fn previous_active(&self) -> Result<Option<String>, StoreError>;
    fn model_bytes(&self, version: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// The token with this hash, unless revoked.
    fn token(&self, hash: &str) -> Result<Option<TokenRow>, StoreError>;
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// Walks the audit chain from the start.
    fn verify_audit(&self) -> Result<VerifyReport, StoreError>;
}

/// Opens the store a `--store` value names: `sqlite:PATH` (or a bare path).
pub fn open(spec: &str, durability: Durability) -> Result<sqlite::SqliteStore, StoreError> {
    let path = spec.strip_prefix("sqlite:").unwrap_or(spec);
    if spec.starts_with("postgres:") || spec.starts_with("postgresql:") {
        return Err(StoreError::Open(
            spec.to_string(),
            "PostgreSQL is not built in yet: use sqlite:PATH".into(),
        ));
    }
    sqlite::SqliteStore::open(std::path::Path::new(path), durability)
}

/// How hard a commit presses the data to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Committed to the write-ahead log: survives the process being killed (`kill -9`), may
    /// lose the last commits on a power cut (`SQLite` `synchronous=NORMAL`).
    Process,
    /// Also synced to the device on every commit: survives a power cut (`synchronous=FULL`).
    Power,
}

/// Now, RFC 3339 UTC with microseconds.
pub fn now() -> String {
    mailtriage_core::model::now_rfc3339()
}
