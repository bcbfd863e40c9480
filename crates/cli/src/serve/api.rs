//! The HTTP API: routes, their roles, request and response types, and the `OpenAPI`
//! document generated from them (`utoipa`), served at `/openapi.json`.
//!
//! Every error is JSON (`{"error": {"code", "message"}}`) with a 4xx status for anything the
//! client sent; 5xx only when the store itself fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use mailtriage_core::model::file;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{new_token, token_hash, Authorizer, Caller, Refusal};
use super::drift::Drift;
use super::engine::{Active, DecisionOut, Engine};
use super::learner::{label_indices, Feedback, Learner};
use crate::store::{AuditEntry, ModelRow, Op, Role, Store, StoreError, TokenRow, Written};

/// Most messages in one batch request.
pub const MAX_BATCH: usize = 1000;

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub auth: Authorizer,
    pub learner: Learner,
    pub prometheus: Option<PrometheusHandle>,
    pub drift: Drift,
    pub ready: AtomicBool,
}

type St = State<Arc<AppState>>;

// ------------------------------------------------------------------------------------------
// Errors

/// An error's body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a code a program can act on and words a person can.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthenticated`, `forbidden`, `not_found`, `unsupported_media_type`,
    /// `unreadable_message`, `too_large`, `unavailable`, `internal`.
    pub code: String,
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid bearer token is required (Authorization: Bearer mt_...)",
            ),
            Refusal::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token's role may not do this",
            ),
            Refusal::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the token store cannot be read",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoDecision(id) => ApiError::not_found(format!("no decision {id}")),
            StoreError::NoModel(v) => ApiError::not_found(format!("no model {v}")),
            StoreError::NoToken(id) => ApiError::not_found(format!("no token {id}")),
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the store failed: {other}"),
            ),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", r.body_text())
        } else {
            ApiError::bad(r.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad(r.body_text())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Runs a store read on the blocking pool (`SQLite` calls block).
async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        })?
        .map_err(ApiError::from)
}

/// Queues a write with its audit entry and waits for its commit.
async fn commit(state: &AppState, op: Op, audit: AuditEntry) -> ApiResult<Written> {
    state
        .store
        .submit(op, audit)
        .await
        .map_err(|_| ApiError::from(StoreError::Stopped))?
        .map_err(ApiError::from)
}

fn require(state: &AppState, headers: &HeaderMap, role: Role) -> ApiResult<Caller> {
    Ok(state.auth.check(headers, role)?)
}

/// The body as JSON of type `T`, refusing other media types.
fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    let ct = content_type(headers);
    if !(ct.is_empty() || ct == "application/json" || ct.ends_with("+json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send application/json (got {ct})"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad(format!("the JSON body is not valid: {e}")))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Triage

/// A message sent as JSON: `raw` (the RFC 5322 text) or `raw_base64` (for bytes that are
/// not UTF-8), and an optional id.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum TriageRequest {
    Raw(RawMessage),
    Base64(Base64Message),
}

/// The message as text.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    /// The id to report (else the fingerprint).
    #[serde(default)]
    id: Option<String>,
    /// The message.
    #[schema(min_length = 1)]
    raw: String,
}

/// The message's bytes, base64.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Base64Message {
    /// The id to report (else the fingerprint).
    #[serde(default)]
    id: Option<String>,
    /// The message's bytes, base64 (standard alphabet, padded).
    #[schema(
        min_length = 4,
        pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
    )]
    raw_base64: String,
}

/// Standard base64 that accepts non-zero bits after the last byte (as many encoders
/// write them, and as the schema's pattern allows).
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

impl TriageRequest {
    fn bytes(self) -> ApiResult<(Vec<u8>, Option<String>)> {
        match self {
            TriageRequest::Raw(m) if m.raw.is_empty() => Err(ApiError::bad("raw is empty")),
            TriageRequest::Raw(m) => Ok((m.raw.into_bytes(), m.id)),
            TriageRequest::Base64(m) if m.raw_base64.trim().is_empty() => {
                Err(ApiError::bad("raw_base64 is empty"))
            }
            TriageRequest::Base64(m) => LENIENT_BASE64
                .decode(m.raw_base64.trim())
                .map(|b| (b, m.id))
                .map_err(|e| ApiError::bad(format!("raw_base64 is not base64: {e}"))),
        }
    }
}

/// Many messages at once.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct BatchRequest {
    /// At most 1000 messages.
    pub messages: Vec<TriageRequest>,
}

/// One message's outcome in a batch: a decision or an error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The outcomes, in the order of the messages.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
}

/// Triage one message's bytes, record the decision and its audit entry, and count it.
async fn triage_one(
    state: &AppState,
    caller: &Caller,
    bytes: Vec<u8>,
    id: Option<String>,
) -> ApiResult<(DecisionOut, String)> {
    if bytes.is_empty() {
        return Err(ApiError::unprocessable(
            "unreadable_message",
            "the message is empty",
        ));
    }
    let (out, row, active) = state.engine.triage(bytes, id).map_err(|u| {
        ApiError::unprocessable(
            "unreadable_message",
            format!("the message cannot be read ({}): {}", u.reason, u.detail),
        )
    })?;
    let labels: BTreeMap<&str, &str> = out
        .heads
        .iter()
        .map(|h| (h.head.as_str(), h.label.as_str()))
        .collect();
    let audit = AuditEntry {
        actor: caller.actor(),
        action: "decision".into(),
        subject: out.decision_id.clone(),
        detail: serde_json::json!({"labels": labels, "review": out.review}).to_string(),
        model_version: out.model_version.clone(),
        policy_version: out.policy_version.clone(),
    };
    // The reply is the JSON just made for the store: serialised once.
    let json = row.decision.clone();
    commit(state, Op::Decision(Box::new(row)), audit).await?;
    state.drift.record(&active.model, &out);
    for h in &out.heads {
        metrics::counter!("mailtriage_decisions_total", "head" => h.head.clone(), "label" => h.label.clone())
            .increment(1);
    }
    Ok((out, json))
}

/// Triage one message.
///
/// Send the message as `message/rfc822` (its bytes as they are), or as JSON
/// (`{"raw": "..."}` or `{"raw_base64": "..."}`). The decision is stored (redacted) before
/// the reply.
#[utoipa::path(post, path = "/v1/triage", tag = "triage",
    request_body(content(
        (TriageRequest = "application/json"),
        (String = "message/rfc822"),
    )),
    responses(
        (status = 200, description = "The decision", body = DecisionOut),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not triage", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type", body = ErrorBody),
        (status = 422, description = "The message cannot be read", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn triage(
    State(state): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = require(&state, &headers, Role::Triage)?;
    let body = body?;
    let ct = content_type(&headers);
    let (bytes, id) = match ct.as_str() {
        "application/json" => json_body::<TriageRequest>(&headers, &body)?.bytes()?,
        "" | "message/rfc822" | "text/plain" | "application/octet-stream" => (body.to_vec(), None),
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send message/rfc822 or application/json (got {other})"),
            ))
        }
    };
    let (_, json) = triage_one(&state, &caller, bytes, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Triage many messages.
///
/// Up to 1000 messages as JSON; each gets a decision or an error, in order.
#[utoipa::path(post, path = "/v1/triage/batch", tag = "triage",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One outcome per message", body = BatchResponse),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not triage", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn triage_batch(
    State(state): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<BatchResponse>> {
    let caller = require(&state, &headers, Role::Triage)?;
    let request: BatchRequest = json_body(&headers, &body?)?;
    if request.messages.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {MAX_BATCH} messages per batch"),
        ));
    }
    // A message the schema refuses (empty, not base64) fails the whole batch; one that
    // cannot be read as mail gets its own error.
    let messages = request
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            m.bytes()
                .map_err(|e| ApiError::bad(format!("messages[{i}]: {}", e.message)))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let mut results = Vec::with_capacity(messages.len());
    for (bytes, id) in messages {
        results.push(match triage_one(&state, &caller, bytes, id).await {
            Ok((d, _)) => BatchItem {
                decision: Some(d),
                error: None,
            },
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => BatchItem {
                decision: None,
                error: Some(ErrorDetail {
                    code: e.code.into(),
                    message: e.message,
                }),
            },
        });
    }
    Ok(Json(BatchResponse { results }))
}

// ------------------------------------------------------------------------------------------
// Feedback and review

/// A reviewer's correction: the right label per head.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct FeedbackRequest {
    pub decision_id: String,
    /// Head name to the right label (`{"label": "spam"}`).
    pub labels: BTreeMap<String, String>,
}

/// A stored correction.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResponse {
    pub feedback_id: i64,
    pub decision_id: String,
    /// `accepted` (the labels the decision had) or `corrected`.
    pub state: String,
}

/// Records feedback for a stored decision and hands it to the learner.
async fn record_feedback(
    state: &AppState,
    caller: &Caller,
    decision_id: &str,
    labels: Option<BTreeMap<String, String>>,
) -> ApiResult<FeedbackResponse> {
    let id = decision_id.to_string();
    let stored = read(state, move |store| store.decision(&id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no decision {decision_id}")))?;
    let decided: DecisionOut = serde_json::from_str(&stored.row.decision)
        .map_err(|e| ApiError::from(StoreError::Corrupt(e.to_string())))?;
    let decided_labels: BTreeMap<String, String> = decided
        .heads
        .iter()
        .map(|h| (h.head.clone(), h.label.clone()))
        .collect();
    let labels = labels.unwrap_or_else(|| decided_labels.clone());
    if labels.is_empty() {
        return Err(ApiError::unprocessable(
            "bad_labels",
            "give at least one head's label",
        ));
    }
    let active = state.engine.active();
    let known = label_indices(&active.model, &labels);
    for (head, label) in &labels {
        let Some(h) = active.model.heads.iter().position(|h| &h.name == head) else {
            return Err(ApiError::unprocessable(
                "bad_labels",
                format!("the model has no head {head}"),
            ));
        };
        if known[h].is_none() {
            return Err(ApiError::unprocessable(
                "bad_labels",
                format!(
                    "head {head} has no label {label} (it has {})",
                    active.model.heads[h].labels.join(", ")
                ),
            ));
        }
    }
    let agrees = labels
        .iter()
        .all(|(h, l)| decided_labels.get(h).is_some_and(|d| d == l));
    let new_state = if agrees { "accepted" } else { "corrected" };
    let audit = AuditEntry {
        actor: caller.actor(),
        action: "feedback".into(),
        subject: decision_id.to_string(),
        detail: serde_json::json!({"labels": labels, "state": new_state}).to_string(),
        model_version: active.version.clone(),
        policy_version: state.engine.policy_version.clone(),
    };
    let written = commit(
        state,
        Op::Feedback {
            decision_id: decision_id.to_string(),
            labels: labels.clone(),
            actor: caller.actor(),
            state: new_state,
        },
        audit,
    )
    .await?;
    let Written::Id(feedback_id) = written else {
        return Err(StoreError::Corrupt("feedback without an id".into()).into());
    };
    metrics::counter!("mailtriage_feedback_total", "state" => new_state).increment(1);
    state.learner.send(Feedback {
        id: feedback_id,
        fingerprint: stored.row.fingerprint.clone(),
        labels,
        features: stored.row.features,
    });
    Ok(FeedbackResponse {
        feedback_id,
        decision_id: decision_id.to_string(),
        state: new_state.into(),
    })
}

/// Correct a decision.
///
/// Stored durably before the reply, then learned once by the candidate model.
#[utoipa::path(post, path = "/v1/feedback", tag = "feedback",
    request_body = FeedbackRequest,
    responses(
        (status = 200, description = "Stored", body = FeedbackResponse),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not correct", body = ErrorBody),
        (status = 404, description = "No such decision", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type", body = ErrorBody),
        (status = 422, description = "Unknown head or label", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn feedback(
    State(state): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FeedbackResponse>> {
    let caller = require(&state, &headers, Role::Reviewer)?;
    let request: FeedbackRequest = json_body(&headers, &body?)?;
    Ok(Json(
        record_feedback(&state, &caller, &request.decision_id, Some(request.labels)).await?,
    ))
}

/// The review queue's paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` value of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// A decision waiting for review.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewItem {
    pub decision_id: String,
    pub created_at: String,
    pub decision: DecisionOut,
}

/// A page of the review queue, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewPageOut {
    pub items: Vec<ReviewItem>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The review queue.
///
/// Decisions below a head's threshold that no one has accepted or corrected, oldest first.
#[utoipa::path(get, path = "/v1/review", tag = "review",
    params(ReviewQuery),
    responses(
        (status = 200, description = "A page", body = ReviewPageOut),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not review", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn review(
    State(state): St,
    headers: HeaderMap,
    query: Result<Query<ReviewQuery>, QueryRejection>,
) -> ApiResult<Json<ReviewPageOut>> {
    require(&state, &headers, Role::Reviewer)?;
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad("limit must be 1 to 500"));
    }
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad("cursor: pass the `next` of the previous page"))?,
        ),
    };
    let page = read(&state, move |store| {
        store.review_queue(after, limit as usize)
    })
    .await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|d| {
            Some(ReviewItem {
                decision: serde_json::from_str(&d.row.decision).ok()?,
                decision_id: d.row.id,
                created_at: d.row.created_at,
            })
        })
        .collect();
    Ok(Json(ReviewPageOut {
        items,
        next: page.next.map(|n| n.to_string()),
    }))
}

/// What a reviewer does with a queued decision: accept it as decided, or correct it with
/// the right label per head.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ReviewAction {
    /// The decision was right.
    Accept,
    /// The decision was wrong: these are the right labels.
    Correct {
        /// Head name to the right label.
        labels: BTreeMap<String, String>,
    },
}

/// Accept or correct a decision.
#[utoipa::path(post, path = "/v1/review/{id}", tag = "review",
    params(("id" = String, Path, description = "The decision id")),
    request_body = ReviewAction,
    responses(
        (status = 200, description = "Stored", body = FeedbackResponse),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not review", body = ErrorBody),
        (status = 404, description = "No such decision", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type", body = ErrorBody),
        (status = 422, description = "Unknown head or label", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn review_one(
    State(state): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<FeedbackResponse>> {
    let caller = require(&state, &headers, Role::Reviewer)?;
    let action: ReviewAction = json_body(&headers, &body?)?;
    let labels = match action {
        ReviewAction::Accept => None,
        ReviewAction::Correct { labels } => Some(labels),
    };
    Ok(Json(record_feedback(&state, &caller, &id, labels).await?))
}

// ------------------------------------------------------------------------------------------
// Models

/// A model in the registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelOut {
    pub version: String,
    pub created_at: String,
    pub parent: Option<String>,
    /// `active`, `candidate`, `rejected` or `retired`.
    pub status: String,
    /// The guardrail's figures and why the model has its status.
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    pub feedback_upto: i64,
}

impl From<ModelRow> for ModelOut {
    fn from(m: ModelRow) -> Self {
        ModelOut {
            version: m.version,
            created_at: m.created_at,
            parent: m.parent,
            status: m.status,
            metrics: m.metrics,
            feedback_upto: m.feedback_upto,
        }
    }
}

/// The registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelsOut {
    /// The version in force.
    pub active: String,
    /// Every model, oldest first.
    pub models: Vec<ModelOut>,
}

async fn models_out(state: &AppState) -> ApiResult<ModelsOut> {
    let models = read(state, move |store| store.models()).await?;
    Ok(ModelsOut {
        active: state.engine.active().version.clone(),
        models: models.into_iter().map(ModelOut::from).collect(),
    })
}

/// The model registry.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses(
        (status = 200, description = "The registry", body = ModelsOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage models", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn models(State(state): St, headers: HeaderMap) -> ApiResult<Json<ModelsOut>> {
    require(&state, &headers, Role::Admin)?;
    Ok(Json(models_out(&state).await?))
}

/// Makes `version` active, by hand (`promote` or `rollback`).
async fn activate(state: &AppState, caller: &Caller, version: &str, action: &str) -> ApiResult<()> {
    let v = version.to_string();
    let bytes = read(state, move |store| store.model_bytes(&v))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no model {version}")))?;
    let (model, _) = file::from_bytes(&bytes)
        .map_err(|e| ApiError::from(StoreError::Corrupt(format!("model {version}: {e}"))))?;
    let previous = state.engine.active().version.clone();
    let detail = serde_json::json!({"from": previous, "to": version, "decided_by": caller.actor()});
    commit(
        state,
        Op::Activate {
            version: version.to_string(),
            metrics: detail.clone(),
        },
        AuditEntry {
            actor: caller.actor(),
            action: action.into(),
            subject: version.to_string(),
            detail: detail.to_string(),
            model_version: previous,
            policy_version: state.engine.policy_version.clone(),
        },
    )
    .await?;
    state.engine.swap(Active {
        model,
        version: version.to_string(),
    });
    state.learner.reset();
    metrics::counter!("mailtriage_learning_events_total", "event" => action.to_string())
        .increment(1);
    Ok(())
}

/// Make a model active.
#[utoipa::path(post, path = "/v1/models/{version}/promote", tag = "models",
    params(("version" = String, Path, description = "The model version")),
    responses(
        (status = 200, description = "The registry after", body = ModelsOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage models", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn promote(
    State(state): St,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<ModelsOut>> {
    let caller = require(&state, &headers, Role::Admin)?;
    activate(&state, &caller, &version, "promote").await?;
    Ok(Json(models_out(&state).await?))
}

/// Go back to the model active before this one.
#[utoipa::path(post, path = "/v1/models/rollback", tag = "models",
    responses(
        (status = 200, description = "The registry after", body = ModelsOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage models", body = ErrorBody),
        (status = 404, description = "No earlier model", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn rollback(State(state): St, headers: HeaderMap) -> ApiResult<Json<ModelsOut>> {
    let caller = require(&state, &headers, Role::Admin)?;
    let previous = read(&state, move |store| store.previous_active())
        .await?
        .ok_or_else(|| ApiError::not_found("no earlier active model to go back to"))?;
    activate(&state, &caller, &previous, "rollback").await?;
    Ok(Json(models_out(&state).await?))
}

// ------------------------------------------------------------------------------------------
// Tokens

/// A token to make.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct TokenRequest {
    /// What it may do.
    pub role: Role,
    /// Who or what it is for.
    #[serde(default)]
    pub name: String,
}

/// A token as listed (never its secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked: bool,
}

impl From<TokenRow> for TokenOut {
    fn from(t: TokenRow) -> Self {
        TokenOut {
            id: t.id,
            name: t.name,
            role: t.role.as_str().into(),
            created_at: t.created_at,
            revoked: t.revoked,
        }
    }
}

/// A new token: its secret is shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub id: i64,
    pub token: String,
    pub role: String,
    pub name: String,
}

/// Every token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokensOut {
    pub tokens: Vec<TokenOut>,
}

/// The tokens.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses(
        (status = 200, description = "The tokens", body = TokensOut),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage tokens", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn tokens(State(state): St, headers: HeaderMap) -> ApiResult<Json<TokensOut>> {
    require(&state, &headers, Role::Admin)?;
    let rows = read(&state, move |store| store.tokens()).await?;
    Ok(Json(TokensOut {
        tokens: rows.into_iter().map(TokenOut::from).collect(),
    }))
}

/// Make a token.
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The token (shown once)", body = TokenCreated),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage tokens", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported media type", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_token(
    State(state): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TokenCreated>> {
    let caller = require(&state, &headers, Role::Admin)?;
    let request: TokenRequest = json_body(&headers, &body?)?;
    let role = request.role;
    let token = new_token().map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("no randomness: {e}"),
        )
    })?;
    let written = commit(
        &state,
        Op::Token {
            hash: token_hash(&token),
            role,
            name: request.name.clone(),
        },
        AuditEntry {
            actor: caller.actor(),
            action: "token_create".into(),
            subject: request.name.clone(),
            detail: serde_json::json!({"role": role.as_str()}).to_string(),
            model_version: state.engine.active().version.clone(),
            policy_version: state.engine.policy_version.clone(),
        },
    )
    .await?;
    let Written::Id(id) = written else {
        return Err(StoreError::Corrupt("token without an id".into()).into());
    };
    Ok(Json(TokenCreated {
        id,
        token,
        role: role.as_str().into(),
        name: request.name,
    }))
}

/// Revoke a token.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "tokens",
    params(("id" = i64, Path, description = "The token id")),
    responses(
        (status = 200, description = "The tokens after", body = TokensOut),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not manage tokens", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 503, description = "Store unavailable", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn revoke_token(
    State(state): St,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<TokensOut>> {
    let caller = require(&state, &headers, Role::Admin)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad("the token id is a number"))?;
    commit(
        &state,
        Op::Revoke { id },
        AuditEntry {
            actor: caller.actor(),
            action: "token_revoke".into(),
            subject: id.to_string(),
            detail: "{}".into(),
            model_version: state.engine.active().version.clone(),
            policy_version: state.engine.policy_version.clone(),
        },
    )
    .await?;
    state.auth.forget();
    tokens(State(state), headers).await
}

// ------------------------------------------------------------------------------------------
// Health and metrics

/// Liveness or readiness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `starting`.
    pub status: String,
    /// The active model.
    pub model_version: String,
}

/// Alive.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz(State(state): St) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        model_version: state.engine.active().version.clone(),
    })
}

/// Ready: the model is loaded, the store answers and feedback replay is done.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Health),
    ))]
async fn readyz(State(state): St) -> (StatusCode, Json<Health>) {
    let store = Arc::clone(&state.store);
    let store_ok = tokio::task::spawn_blocking(move || store.feedback_count().is_ok())
        .await
        .unwrap_or(false);
    let ready = state.ready.load(Ordering::Acquire) && store_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ready { "ok" } else { "starting" }.into(),
            model_version: state.engine.active().version.clone(),
        }),
    )
}

/// Prometheus metrics.
///
/// Request latency histograms, decisions per label, review-queue depth, feedback count, the
/// active model, learning events, and drift (population stability index of the predicted
/// labels against the model's validation figures).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics_route(State(state): St) -> Response {
    let store = Arc::clone(&state.store);
    let (depth, feedback) = tokio::task::spawn_blocking(move || {
        (store.review_depth().ok(), store.feedback_count().ok())
    })
    .await
    .unwrap_or((None, None));
    if let Some(d) = depth {
        metrics::gauge!("mailtriage_review_queue_depth").set(d as f64);
    }
    if let Some(f) = feedback {
        metrics::gauge!("mailtriage_feedback_stored").set(f as f64);
    }
    let active = state.engine.active();
    metrics::gauge!("mailtriage_active_model_info", "version" => active.version.clone()).set(1.0);
    state.drift.export(&active.model);
    let text = state
        .prometheus
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Records each request's latency by route, method and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics::histogram!("mailtriage_http_request_duration_seconds",
        "route" => route, "method" => method, "status" => response.status().as_u16().to_string())
    .record(started.elapsed().as_secs_f64());
    response
}

/// Unknown routes: a JSON 404.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route (see /openapi.json)")
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "mailtriage", description = "Email triage: decisions, feedback, review, model registry. Roles: triage < reviewer < admin."),
    modifiers(&Security)
)]
struct ApiDoc;

/// The routes and the `OpenAPI` document made from them.
pub fn router() -> (axum::Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(triage))
        .routes(routes!(triage_batch))
        .routes(routes!(feedback))
        .routes(routes!(review))
        .routes(routes!(review_one))
        .routes(routes!(models))
        .routes(routes!(promote))
        .routes(routes!(rollback))
        .routes(routes!(tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_route))
        .split_for_parts()
}
