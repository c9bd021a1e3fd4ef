//! Model operations (admin): `POST /v1/admin/retrain`, `GET /v1/admin/jobs/{job_id}`,
//! `GET /v1/admin/models`, `POST /v1/admin/models/{version}/activate`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::keys::Role;
use crate::registry::{is_version_id, RegistryError};
use crate::retrain::{
    activate as activate_version, run_job, JobState, RetrainRequest, DEFAULT_HOLDOUT,
};
use crate::routes::auth::authorize;
use crate::routes::error::ApiError;
use crate::routes::score::{json_type, parse_json_object};
use crate::startup::AppState;

/// Largest body of a retrain request.
const MAX_RETRAIN_BODY: usize = 4096;

/// Decodes an optional retrain body: `{"force": bool, "holdout": 0.05..0.5}`.
pub fn parse_retrain(body: &[u8]) -> Result<(bool, f64), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((false, DEFAULT_HOLDOUT));
    }
    let fields = parse_json_object(body)?;
    let force = match fields.get("force") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "field `force` must be a boolean, got {}",
                json_type(other)
            )))
        }
    };
    let holdout = match fields.get("holdout") {
        None | Some(Value::Null) => DEFAULT_HOLDOUT,
        Some(Value::Number(n)) => {
            n.as_f64()
                .filter(|h| (0.05..=0.5).contains(h))
                .ok_or_else(|| {
                    ApiError::InvalidField("field `holdout` must be between 0.05 and 0.5".into())
                })?
        }
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "field `holdout` must be a number, got {}",
                json_type(other)
            )))
        }
    };
    Ok((force, holdout))
}

/// Handles `POST /v1/admin/retrain`: 202 with the job id; 409 while one runs.
#[utoipa::path(post, path = "/v1/admin/retrain", tag = "admin", request_body(content = Option<serde_json::Value>, description = "Optional `{\"force\": bool, \"holdout\": 0.05-0.5}`"), responses((status = 202, description = "Job accepted: `{\"job_id\", \"state\"}`"), (status = 409, description = "`retrain_in_progress`"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn retrain(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Role::Admin)?;
    if body.len() > MAX_RETRAIN_BODY {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_RETRAIN_BODY,
        });
    }
    let (force, holdout) = parse_retrain(&body)?;
    let retrain = RetrainRequest {
        force,
        holdout,
        triggered_by: principal.key_id.unwrap_or_else(|| "open-mode".into()),
    };
    let current = state.labels.live().current().model_version().to_owned();
    let job_id = state
        .jobs
        .try_start(&retrain, &current)
        .ok_or(ApiError::RetrainInProgress)?;
    let span = tracing::info_span!("retrain", job_id = %job_id);
    let job = job_id.clone();
    let state = state.into_inner();
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
#[utoipa::path(get, path = "/v1/admin/jobs/{job_id}", tag = "admin", params(("job_id" = String, Path, description = "From the retrain answer")), responses((status = 200, description = "State, progress, timings, both models' holdout figures, the gate's reasoning, the new version"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn job(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Role::Admin)?;
    let job = state.jobs.get(&path).ok_or(ApiError::UnknownJob)?;
    Ok(HttpResponse::Ok().json(job))
}

/// Handles `GET /v1/admin/models`: every version, newest first, exactly one active.
#[utoipa::path(get, path = "/v1/admin/models", tag = "admin", responses((status = 200, description = "Every registered version, newest first; `active` is true for exactly one"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn models(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Role::Admin)?;
    let state = state.into_inner();
    let listed = web::block(move || state.registry.list())
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("registry task failed: {e}")))?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok(HttpResponse::Ok().json(listed))
}

/// Handles `POST /v1/admin/models/{version}/activate`: roll back or forward.
#[utoipa::path(post, path = "/v1/admin/models/{version}/activate", tag = "admin", params(("version" = String, Path, description = "A listed version")), responses((status = 200, description = "`{\"version\", \"active\": true}`"), (status = 422, description = "`model_corrupt`"), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn activate(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Role::Admin)?;
    let version = path.into_inner();
    // Versions are directory names: refuse anything that could leave the registry.
    if !is_version_id(&version) {
        return Err(ApiError::UnknownVersion);
    }
    let state = state.into_inner();
    let state_for_metrics = state.clone();
    let target = version.clone();
    web::block(move || activate_version(&state.retrain_context(), &target))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("activation task failed: {e}")))?
        .map_err(|e| match e {
            RegistryError::UnknownVersion(_) => ApiError::UnknownVersion,
            RegistryError::Corrupt { .. } => ApiError::ModelCorrupt(e.to_string()),
            e => ApiError::Internal(anyhow::Error::new(e)),
        })?;
    tracing::info!(version = %version, key_id = principal.key_id.as_deref(), "model version activated by request");
    state_for_metrics.metrics.model_in_use(&version);
    Ok(HttpResponse::Ok().json(json!({ "version": version, "active": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (body, Ok((force, holdout)) or Err(code), why)
    type Case = (
        &'static str,
        Result<(bool, f64), &'static str>,
        &'static str,
    );

    #[test]
    fn retrain_bodies() {
        let cases: Vec<Case> = vec![
            ("", Ok((false, DEFAULT_HOLDOUT)), "no body"),
            ("{}", Ok((false, DEFAULT_HOLDOUT)), "empty object"),
            (r#"{"force":true,"holdout":0.3}"#, Ok((true, 0.3)), "both"),
            (
                r#"{"holdout":0.9}"#,
                Err("invalid_field"),
                "holdout too large",
            ),
            (
                r#"{"force":"yes"}"#,
                Err("invalid_field"),
                "force not a boolean",
            ),
            ("[1]", Err("invalid_field"), "not an object"),
            ("{", Err("malformed_json"), "truncated"),
        ];
        for (body, want, why) in cases {
            match (parse_retrain(body.as_bytes()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{why}"),
                (Err(e), Err(code)) => assert_eq!(e.code(), code, "{why}"),
                (got, want) => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }
}
