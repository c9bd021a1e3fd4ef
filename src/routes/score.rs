//! `POST /v1/comments/score`: score one comment.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::Comment;
use crate::keys::Role;
use crate::routes::auth::{scope_to_site, Caller};
use crate::routes::body::{read_json, Presence};
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::decode::parse_comment;
use crate::service::{assess_comment, record_for_review, ScoreResponse, Traces};
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_score, _, _>(score);
}

/// Handles `POST /v1/comments/score`.
#[utoipa::path(post, path = "/v1/comments/score", tag = "scoring", request_body = Comment, responses((status = 200, description = "The verdict", body = ScoreResponse), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn score(
    request: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Site)?;
    let body = read_json(&request, payload, state.max_body_bytes, Presence::Required).await?;
    let mut comment = parse_comment(&body)?;
    scope_to_site(&principal, &mut comment)?;
    let response = assess_comment(&state, &comment, Traces::Leave).await?;
    record_for_review(&state, &comment, &response);
    let json = serde_json::to_vec(&response)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("serialising verdict")))?;
    Ok(HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .body(json))
}
