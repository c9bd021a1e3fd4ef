//! `GET /openapi.json`: the OpenAPI 3.1 description of the HTTP API, assembled by
//! [`RouteTable::openapi`] from the handlers' `#[utoipa::path]` attributes and the wire
//! types' `ToSchema` derives.

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::routes::RouteTable;

/// The document's description; its paths and schemas come from the route table.
#[derive(OpenApi)]
#[openapi(info(
    title = "commentguard",
    description = "Self-hosted comment moderation and spam filtering. Send an API key as \
                   `Authorization: Bearer KEY` or `X-Api-Key: KEY` (not needed in open \
                   local mode). Every error is `{\"error\": code, \"message\": ...}` with a \
                   stable code; 429 `rate_limited` comes with `Retry-After`; every response \
                   has an `X-Request-Id`."
))]
pub struct ApiDoc;

/// The document as served, rendered once at start.
pub struct ApiDocument(pub String);

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_openapi, _, _>(openapi);
}

/// Handles `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document"))
)]
pub async fn openapi(document: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}
