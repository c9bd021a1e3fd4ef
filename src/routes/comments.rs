//! `GET /v1/comments/{id}`: the last verdict given for a comment, by the platform's comment
//! id within a site or by the `verdict_id` of a score response.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::cache::{site_scope, CommentId, VerdictCache};
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
/// Platforms number their comments per site, so the platform's id is looked up within one
/// site: a site key's own; for moderators and admins the one `?site=URL` names (without it,
/// comments sent without a site). A verdict id is global, but a site key sees only its own
/// site's verdicts: another site's answer 404 like an unknown id, so ids cannot be probed
/// across sites.
#[utoipa::path(get, path = "/v1/comments/{id}", tag = "scoring", params(("id" = String, Path, description = "The platform's comment id or a verdict_id"), ("site" = Option<String>, Query, description = "Moderators and admins: the site whose comment id this is (default: comments sent without a site). A site key may name only its own site.")), responses((status = 200, description = "The last verdict", body = ScoreResponse), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn last_verdict(
    request: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Site)?;
    let id = path.into_inner();
    let asked = site_param(request.query_string())?;
    let scope = match (&principal.site, &asked) {
        (Some(own), Some(site)) if site_scope(Some(site)) != *own => {
            return Err(ApiError::Forbidden(format!(
                "this key may only read comments of {own}"
            )))
        }
        (Some(own), _) => own.clone(),
        (None, site) => site_scope(site.as_deref()),
    };
    let visible = |site: Option<&str>| match &principal.site {
        None => true,
        Some(own) => site.and_then(normalize_site).as_deref() == Some(own.as_str()),
    };
    let by_platform_id = CommentId::Platform {
        site: scope,
        id: id.clone(),
    };
    let found = match state.cache.get_by_id(&by_platform_id).await {
        Some(found) => Some(found),
        None => state.cache.get_by_id(&CommentId::Verdict(id)).await,
    };
    match found {
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

/// The `site` parameter of the query, if any (empty counts as none); any other parameter is
/// refused, so a misspelt `?stie=` does not silently read the no-site scope.
fn site_param(query: &str) -> Result<Option<String>, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::InvalidQuery("the query string is not valid".into()))?
        .into_inner();
    let mut site = None;
    for (key, value) in pairs {
        match key.as_str() {
            "site" if site.is_none() => site = Some(value).filter(|v| !v.trim().is_empty()),
            "site" => return Err(ApiError::InvalidQuery("`site` is given twice".into())),
            other => {
                return Err(ApiError::InvalidQuery(format!(
                    "unknown query parameter `{other}`; only `site` is accepted"
                )))
            }
        }
    }
    Ok(site)
}
