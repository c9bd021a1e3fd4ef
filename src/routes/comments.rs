//! `GET /v1/comments/{id}`: the last verdict given for a comment, by the platform's comment
//! id or by the `verdict_id` of a score response.

use actix_web::{web, HttpResponse};

use crate::cache::VerdictCache;
use crate::keys::{normalize_site, Role};
use crate::routes::auth::Caller;
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::ScoreResponse;
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_last_verdict, _, _>(last_verdict);
}

/// Handles `GET /v1/comments/{id}`; 404 `unknown_comment` when no verdict is cached for it.
///
/// A site key sees only its own site's verdicts; another site's answer 404 like an unknown
/// id, so ids cannot be probed across sites.
#[utoipa::path(get, path = "/v1/comments/{id}", tag = "scoring", params(("id" = String, Path, description = "The platform's comment id or a verdict_id")), responses((status = 200, description = "The last verdict", body = ScoreResponse), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn last_verdict(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Site)?;
    let id = path.into_inner();
    let visible = |site: Option<&str>| match &principal.site {
        None => true,
        Some(own) => site.and_then(normalize_site).as_deref() == Some(own.as_str()),
    };
    match state.cache.get_by_id(&id).await {
        Some(cached) if visible(cached.comment.as_ref().and_then(|c| c.site.as_deref())) => {
            Ok(HttpResponse::Ok().json(ScoreResponse {
                assessment: cached.assessment,
                verdict_id: cached.verdict_id,
                cached: true,
            }))
        }
        _ => Err(ApiError::UnknownComment),
    }
}
