//! `GET /metrics`: the Prometheus text exposition (see [`crate::metrics`]).

use actix_web::{web, HttpResponse};

use crate::routes::RouteTable;
use crate::state::AppState;

/// Adds this resource's routes; the scrape is never rate limited.
pub fn routes(table: &mut RouteTable) {
    table.add_unlimited::<__path_metrics, _, _>(metrics);
}

/// Content type of the Prometheus text format, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Handles `GET /metrics`: every series, for a Prometheus scraper. Open like the probes:
/// counts and timings only, no ids and nothing a commenter sent.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let model_version = state.model_version();
    state.metrics.memory(&state.memory());
    state.metrics.label_stages(&state.labels.stage_totals());
    let text = state
        .metrics
        .render(&model_version, state.cache.errors(), state.review.errors());
    HttpResponse::Ok().content_type(PROMETHEUS_TEXT).body(text)
}
