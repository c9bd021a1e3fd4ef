//! `GET /v1/comments/{id}`: the last verdict given for a comment, by the platform's comment
//! id or by the `verdict_id` of a score response.

use actix_web::{web, HttpResponse};

use crate::cache::VerdictCache;
use crate::routes::error::ApiError;
use crate::routes::score::ScoreResponse;
use crate::startup::AppState;

/// Handles `GET /v1/comments/{id}`; 404 `unknown_comment` when no verdict is cached for it.
pub async fn last_verdict(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    match state.cache.get_by_id(&id).await {
        Some(cached) => Ok(HttpResponse::Ok().json(ScoreResponse {
            assessment: cached.assessment,
            verdict_id: cached.verdict_id,
            cached: true,
        })),
        None => Err(ApiError::UnknownComment),
    }
}
