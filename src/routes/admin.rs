//! Model operations (admin): `POST /v1/admin/retrain`, `GET /v1/admin/jobs/{job_id}`,
//! `GET /v1/admin/models`, `POST /v1/admin/models/{version}/activate`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::keys::Role;
use crate::registry::{is_version_id, RegistryError};
use crate::retrain::{activate as activate_version, run_job, JobState, RetrainRequest, StartError};
use crate::routes::auth::Caller;
use crate::routes::body::{read_json, Presence};
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::blocking;
use crate::service::decode::parse_retrain;
use crate::state::AppState;

/// Largest body of a retrain request.
const MAX_RETRAIN_BODY: usize = 4096;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table
        .add::<__path_retrain, _, _>(retrain)
        .add::<__path_job, _, _>(job)
        .add::<__path_models, _, _>(models)
        .add::<__path_activate, _, _>(activate);
}

/// Handles `POST /v1/admin/retrain`: 202 with the job id; 409 while one runs.
#[utoipa::path(post, path = "/v1/admin/retrain", tag = "admin", request_body(content = Option<serde_json::Value>, description = "Optional `{\"force\": bool, \"holdout\": 0.05-0.5}`"), responses((status = 202, description = "Job accepted: `{\"job_id\", \"state\"}`"), (status = 409, description = "`retrain_in_progress`: a job runs on this replica or, with PostgreSQL, on another"), (status = 503, description = "`store_unavailable`: the database that tells whether another replica retrains is down", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn retrain(
    request: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Admin)?;
    let body = read_json(&request, payload, MAX_RETRAIN_BODY, Presence::Optional).await?;
    let (force, holdout) = parse_retrain(&body)?;
    let retrain = RetrainRequest {
        force,
        holdout,
        triggered_by: principal.key_id.unwrap_or_else(|| "open-mode".into()),
    };
    let state = state.into_inner();
    let (starting, version) = (state.clone(), state.model_version());
    let request = retrain.clone();
    let job_id = blocking("jobs", move || {
        let job_id = starting.jobs.try_start(&request, &version)?;
        // Shared before the answer, so that any replica knows the id it gives.
        starting.jobs.share(&job_id);
        Ok(job_id)
    })
    .await?
    .map_err(|e| match e {
        StartError::Running => ApiError::RetrainInProgress,
        StartError::Store(e) => ApiError::StoreUnavailable(e),
    })?;
    let span = tracing::info_span!("retrain", job_id = %job_id);
    let job = job_id.clone();
    // Training runs on the blocking pool: scoring never waits for it.
    actix_web::rt::task::spawn_blocking(move || {
        span.in_scope(|| run_job(&state.retrain_context(), &state.jobs, &job, &retrain));
        if let Some(record) = state.jobs.get(&job) {
            let outcome = match record.state {
                JobState::Succeeded => "succeeded",
                JobState::Rejected => "rejected",
                _ => "failed",
            };
            state
                .metrics
                .retrain_finished(outcome, record.duration_secs.unwrap_or(0.0));
            state
                .metrics
                .model_in_use(state.labels.live().current().model_version());
        }
    });
    Ok(HttpResponse::Accepted().json(json!({ "job_id": job_id, "state": "queued" })))
}

/// Handles `GET /v1/admin/jobs/{job_id}`.
#[utoipa::path(get, path = "/v1/admin/jobs/{job_id}", tag = "admin", params(("job_id" = String, Path, description = "From the retrain or import answer")), responses((status = 200, description = "A retrain: state, progress, timings, both models' holdout figures, the gate's reasoning, the new version. An import (`kind: import`): state, records read, imported as spam / ham, duplicates, skipped by reason, committed, the error"), (status = 503, description = "`store_unavailable`: the database holding the registry and jobs is down", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn job(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    if let Some(job) = state.jobs.get(&path) {
        return Ok(HttpResponse::Ok().json(job));
    }
    if let Some(job) = state.imports.get(&path) {
        return Ok(HttpResponse::Ok().json(job));
    }
    // Another replica's job, when jobs are shared through the database.
    let job_id = path.into_inner();
    let state = state.into_inner();
    let shared = blocking("jobs", move || state.jobs.get_shared(&job_id))
        .await?
        .map_err(ApiError::StoreUnavailable)?;
    Ok(HttpResponse::Ok().json(shared.ok_or(ApiError::UnknownJob)?))
}

/// Handles `GET /v1/admin/models`: every version, newest first, exactly one active; the
/// active one lists, per site, the labels of its per-site layer.
#[utoipa::path(get, path = "/v1/admin/models", tag = "admin", responses((status = 200, description = "Every registered version, newest first; `active` is true for exactly one, and it has `sites`: `[{site, spam, ham}]`, the labels each site's own layer holds over it"), (status = 503, description = "`store_unavailable`: the database holding the registry and jobs is down", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn models(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let sites = state.labels.live().current().site_labels();
    let state = state.into_inner();
    let listed = blocking("registry", move || state.registry.list())
        .await?
        .map_err(|e| match e {
            RegistryError::Store(e) => ApiError::StoreUnavailable(e),
            e => ApiError::Internal(anyhow::Error::new(e)),
        })?;
    let mut listed =
        serde_json::to_value(listed).map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    if let Some(active) = listed
        .as_array_mut()
        .and_then(|versions| versions.iter_mut().find(|v| v["active"] == json!(true)))
    {
        active["sites"] = json!(sites);
    }
    Ok(HttpResponse::Ok().json(listed))
}

/// Handles `POST /v1/admin/models/{version}/activate`: roll back or forward.
#[utoipa::path(post, path = "/v1/admin/models/{version}/activate", tag = "admin", params(("version" = String, Path, description = "A listed version")), responses((status = 200, description = "`{\"version\", \"active\": true}`"), (status = 422, description = "`model_corrupt`"), (status = 503, description = "`store_unavailable`: the database holding the registry and jobs is down", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn activate(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.require(Role::Admin)?;
    let version = path.into_inner();
    // Versions are directory names: refuse anything that could leave the registry.
    if !is_version_id(&version) {
        return Err(ApiError::UnknownVersion);
    }
    let state = state.into_inner();
    let state_for_metrics = state.clone();
    let target = version.clone();
    blocking("activation", move || {
        activate_version(&state.retrain_context(), &target)
    })
    .await?
    .map_err(|e| match e {
        RegistryError::UnknownVersion(_) => ApiError::UnknownVersion,
        RegistryError::Corrupt { .. } => ApiError::ModelCorrupt(e.to_string()),
        RegistryError::Store(e) => ApiError::StoreUnavailable(e),
        e => ApiError::Internal(anyhow::Error::new(e)),
    })?;
    tracing::info!(version = %version, key_id = principal.key_id.as_deref(), "model version activated by request");
    state_for_metrics.metrics.model_in_use(&version);
    Ok(HttpResponse::Ok().json(json!({ "version": version, "active": true })))
}
