//! `POST /v1/feedback`: a moderator's correction of a verdict.
//!
//! The answer comes only after the label is durable (see [`crate::labels`]); a label that
//! could not be written is refused with 503 and never half-applied.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::keys::Role;
use crate::labels::{Correction, Recorded};
use crate::routes::auth::Caller;
use crate::routes::body::{read_json, Presence};
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::decode::parse_feedback;
use crate::service::{comment_of_verdict, record_label};
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_feedback, _, _>(feedback);
}

/// Handles `POST /v1/feedback`.
#[utoipa::path(post, path = "/v1/feedback", tag = "moderation", request_body = crate::service::decode::FeedbackBody, responses((status = 200, description = "The label was recorded (fsync'd)", body = Recorded), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn feedback(
    request: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Moderator)?;
    let body = read_json(&request, payload, state.max_body_bytes, Presence::Required).await?;
    let request = parse_feedback(&body)?;
    let comment = match (request.comment, &request.verdict_id) {
        (Some(comment), _) => comment,
        (None, Some(verdict_id)) => comment_of_verdict(&state, verdict_id, None)
            .await
            .ok_or(ApiError::UnknownVerdict)?,
        // parse_feedback refuses a body with neither.
        (None, None) => return Err(ApiError::UnknownVerdict),
    };
    let correction = Correction {
        comment,
        label: request.label,
        verdict_id: request.verdict_id,
        moderator: request.moderator,
        note: request.note,
        key_id: principal.key_id,
        origin: None,
    };
    let recorded = record_label(&state, correction).await?;
    Ok(HttpResponse::Ok().json(recorded))
}
