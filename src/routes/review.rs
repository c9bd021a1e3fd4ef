//! The moderator console's JSON: `GET /v1/review/queue` (held and spam verdicts waiting for
//! a human, paged) and `GET /v1/review/summary` (the model in service and verdicts per day).
//! Corrections go through `POST /v1/feedback`; retraining and rollback through the admin
//! routes.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use time::OffsetDateTime;

use crate::evaluation::EvalReport;
use crate::keys::Role;
use crate::labels::{included_labels, Fingerprint};
use crate::metrics::DayCount;
use crate::review::{page, parse_queue_query, QueuePage};
use crate::routes::auth::Caller;
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::blocking;
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table
        .add::<__path_queue, _, _>(queue)
        .add::<__path_summary, _, _>(summary);
}

/// Days of verdict counts the summary returns.
pub const SUMMARY_DAYS: usize = 14;

/// Handles `GET /v1/review/queue?site=&verdict=&status=&cursor=&limit=`.
#[utoipa::path(get, path = "/v1/review/queue", tag = "moderation", params(
    ("site" = Option<String>, Query, description = "Only this site"),
    ("verdict" = Option<String>, Query, description = "`hold`, `spam`, `discard` or `any` (default)"),
    ("status" = Option<String>, Query, description = "`pending` (default: not corrected yet), `labelled` or `all`"),
    ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ("limit" = Option<usize>, Query, description = "Page size, 1-200, default 50"),
), responses((status = 200, description = "Held first, then spam and discard, newest first; each row with the label in force for its comment", body = QueuePage), (status = 503, description = "`review_history_unavailable`", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn queue(
    request: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Moderator)?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|_| ApiError::InvalidQuery("the query string is not valid".into()))?
        .into_inner();
    let query = parse_queue_query(&pairs).map_err(ApiError::InvalidQuery)?;
    let items = state
        .review
        .items(OffsetDateTime::now_utc())
        .await
        .map_err(|e| ApiError::HistoryUnavailable(e.to_string()))?;
    let labels = state.labels.clone();
    let retention = state.review.retention();
    // Fingerprinting every entry normalises its text: off the async runtime.
    let page = blocking("review queue", move || {
        page(items, &query, retention, |item| {
            labels
                .pinned(Fingerprint::of(&item.comment))
                .map(|pin| pin.label)
        })
    })
    .await?;
    // Comments, e-mail and IP addresses: not for the browser's disk cache, whose copy the
    // retention would never delete.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(page))
}

/// The answer of `GET /v1/review/summary`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// The caller's role (`admin` in open local mode): the console shows admin tools to admins.
    #[schema(value_type = String)]
    pub role: Role,
    /// The model version in service.
    pub model_version: String,
    /// When the version was registered (RFC 3339), if the registry knows it.
    pub created_at: Option<String>,
    /// Who triggered it: a key id, `shipped`, `models_dir` or `open-mode`.
    pub triggered_by: Option<String>,
    /// Whether it was promoted past a failed gate.
    pub forced: bool,
    /// Corpus comments and moderator labels it was trained on.
    pub corpus_docs: u64,
    /// Moderator labels it was trained on.
    pub label_docs: u64,
    /// Its figures on the retraining holdout (none for a shipped model).
    #[schema(value_type = Option<Object>)]
    pub holdout: Option<EvalReport>,
    /// Labels recorded since it was trained (learned online, not yet in a trained version).
    pub labels_since_trained: u64,
    /// Labels recorded in all.
    pub labels_total: u64,
    /// Verdicts per UTC day, oldest first: counted in this process since it started.
    pub verdicts_per_day: Vec<DayCount>,
    /// Where the review history is kept: `redis` or `file`.
    pub review_store: &'static str,
    /// Days the review history keeps an entry.
    pub retention_days: f64,
}

/// Handles `GET /v1/review/summary`.
#[utoipa::path(get, path = "/v1/review/summary", tag = "moderation", responses((status = 200, description = "The active model, its evaluation, labels since it was trained, verdicts per day", body = Summary), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn summary(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Moderator)?;
    let model_version = state.model_version();
    let registry_state = state.clone().into_inner();
    let listed = blocking("registry", move || registry_state.registry.list())
        .await?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    let entry = listed
        .into_iter()
        .map(|v| v.entry)
        .find(|e| e.version == model_version);
    let labels_total = state.labels.last_seq();
    let included = entry.as_ref().map_or(0, |e| {
        included_labels(
            e.labels_log.as_deref(),
            e.labels_through,
            state.labels.log_id(),
        )
    });
    let summary = Summary {
        role: principal.role,
        model_version,
        created_at: entry.as_ref().map(|e| e.created_at.clone()),
        triggered_by: entry.as_ref().map(|e| e.triggered_by.clone()),
        forced: entry.as_ref().is_some_and(|e| e.forced),
        corpus_docs: entry.as_ref().map_or(0, |e| e.corpus_docs),
        label_docs: entry.as_ref().map_or(0, |e| e.label_docs),
        holdout: entry.and_then(|e| e.holdout),
        labels_since_trained: labels_total.saturating_sub(included),
        labels_total,
        verdicts_per_day: state
            .metrics
            .verdicts_per_day(SUMMARY_DAYS, OffsetDateTime::now_utc().date()),
        review_store: state.review.kind(),
        retention_days: state.review.retention().as_secs_f64() / 86_400.0,
    };
    Ok(HttpResponse::Ok().json(summary))
}
