//! `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP API, generated from the
//! handlers' `#[utoipa::path]` attributes and the wire types' `ToSchema` derives.

use actix_web::HttpResponse;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::domain::{Comment, Label};

/// The API document. A new route adds its handler to `paths` here (one line); the API
/// tests fail while a route of [`crate::startup::ROUTES`] is missing from it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "commentguard",
        description = "Self-hosted comment moderation and spam filtering. Send an API key as \
                       `Authorization: Bearer KEY` or `X-Api-Key: KEY` (not needed in open \
                       local mode). Every error is `{\"error\": code, \"message\": ...}` with a \
                       stable code; 429 `rate_limited` comes with `Retry-After`; every response \
                       has an `X-Request-Id`."
    ),
    paths(
        crate::routes::score::score,
        crate::routes::comments::last_verdict,
        crate::routes::feedback::feedback,
        crate::routes::labels::export,
        crate::routes::review::queue,
        crate::routes::review::summary,
        crate::routes::keys::list,
        crate::routes::admin::retrain,
        crate::routes::admin::job,
        crate::routes::admin::models,
        crate::routes::admin::activate,
        crate::routes::akismet::verify_key,
        crate::routes::akismet::comment_check,
        crate::routes::akismet::submit_spam,
        crate::routes::akismet::submit_ham,
        crate::routes::akismet::usage_limit,
        crate::routes::akismet::key_sites,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::metrics::metrics,
        openapi,
    ),
    components(schemas(FeedbackBody))
)]
pub struct ApiDoc;

/// The body of `POST /v1/feedback` (documentation only; the route decodes it by hand to
/// give every mistake its own error code).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FeedbackBody {
    /// The moderator's label.
    pub label: Label,
    /// The verdict being corrected (from a score answer); or send `comment`.
    pub verdict_id: Option<String>,
    /// The comment itself, as in the score request.
    pub comment: Option<Comment>,
    /// Who labelled it.
    pub moderator: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
}

/// Handles `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document"))
)]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
