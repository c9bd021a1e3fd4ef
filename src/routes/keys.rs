//! `GET /v1/admin/keys`: the API keys (ids, roles, sites; never the keys or their hashes).
//! Keys are created and revoked with the `commentguard keys` command.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::keys::{KeyError, Role};
use crate::routes::auth::Caller;
use crate::routes::error::ApiError;
use crate::routes::RouteTable;
use crate::service::blocking;
use crate::state::AppState;

/// Adds this resource's routes.
pub fn routes(table: &mut RouteTable) {
    table.add::<__path_list, _, _>(list);
}

/// Handles `GET /v1/admin/keys`.
#[utoipa::path(get, path = "/v1/admin/keys", tag = "admin", responses((status = 200, description = "Key ids, roles and sites (never the keys)"), (status = 503, description = "`store_unavailable`: the database holding the keys is down", body = crate::routes::error::ErrorBody), (status = "4XX", description = "Refused: `{\"error\": code, \"message\": ...}`", body = crate::routes::error::ErrorBody)))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let store = state.keys.store().clone();
    let records = blocking("key store", move || store.read())
        .await?
        .map_err(|e| match e {
            KeyError::Store(e) => ApiError::StoreUnavailable(e),
            e => ApiError::Internal(anyhow::Error::new(e)),
        })?;
    let keys: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "role": r.role,
                "site": r.site,
                "created_at": r.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
                "revoked": r.revoked_at.is_some(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}
