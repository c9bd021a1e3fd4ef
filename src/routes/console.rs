//! `GET /console` and its assets: the embedded moderator console (see [`crate::console`]).
//! Not part of the JSON API (nor of the route table and the OpenAPI document); GET only.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::console::{Asset, ASSETS, CONTENT_SECURITY_POLICY};
use crate::routes::error;

/// Registers the console's page and assets.
pub fn configure(config: &mut web::ServiceConfig) {
    for asset in ASSETS {
        config.service(
            web::resource(asset.path)
                .route(web::get().to(move || serve(asset)))
                .default_service(error::method_not_allowed("GET".to_owned())),
        );
    }
}

/// Serves one embedded console file with the console's security headers.
pub async fn serve(asset: &'static Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Revalidated on every load, so a new release's console is never mixed with an old one.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(asset.body)
}
