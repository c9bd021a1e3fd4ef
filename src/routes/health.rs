//! `GET /healthz` (the process is up) and `GET /readyz` (it can score).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::cache::VerdictCache;
use crate::routes::RouteTable;
use crate::state::AppState;

/// Adds this resource's routes; the probes are never rate limited.
pub fn routes(table: &mut RouteTable) {
    table
        .add_unlimited::<__path_healthz, _, _>(healthz)
        .add_unlimited::<__path_readyz, _, _>(readyz);
}

/// Handles `GET /healthz`: liveness, answers as long as the server runs.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Handles `GET /readyz`: readiness, with the version of the loaded model.
///
/// The application only starts once the model has loaded, so a running server is ready.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready to score, with the model version")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // What the live model has learnt from: replicas that applied the same labels agree.
    let (spam_docs, ham_docs) = state.labels.live().current().model().doc_counts();
    HttpResponse::Ok().json(json!({
        "status": "ready",
        "model_version": state.model_version(),
        "labels": state.labels.health(),
        "labels_in_force": state.labels.len(),
        "labels_applied_through": state.labels.last_seq(),
        "model_documents": {"spam": spam_docs, "ham": ham_docs},
        "auth": if state.keys.is_open() { "open" } else { "keys" },
        "cache": state.cache.health(),
        "cache_errors": state.cache.errors(),
    }))
}
