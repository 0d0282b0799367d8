//! MOKO plugs' routes: a login for a plug being paired (`POST /moko/plugs`), and what a
//! MOKO plug does beyond on/off (which is `/devices/{id}/toggle`, as for every plug): a
//! countdown, its firmware read, an upgrade from the owner's own server.

use super::error::ApiError;
use super::view::{body, known};
use super::AppState;
use crate::registry::moko::EnrolError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// The MOKO routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/moko/plugs", post(enrol))
        .route("/devices/:uuid/countdown", post(countdown))
        .route("/devices/:uuid/firmware", post(firmware))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrol {
    mac: String,
    topic_prefix: String,
    #[serde(default)]
    account: Option<String>,
    /// It measures power (4001 `device_type` "1").
    #[serde(default)]
    metering: bool,
}

async fn enrol(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let asked: Enrol = body(&bytes)?;
    let given = state
        .engine
        .moko_enrol(
            &asked.mac,
            &asked.topic_prefix,
            asked.account.as_deref(),
            asked.metering,
        )
        .map_err(|e| match e {
            EnrolError::Mac(_) => ApiError::invalid_field("mac", &e.to_string()),
            EnrolError::Prefix(_) => ApiError::invalid_field("topic_prefix", &e.to_string()),
            EnrolError::Account(_) => ApiError::invalid_field("account", &e.to_string()),
            EnrolError::Full => ApiError::new(StatusCode::CONFLICT, "full", e.to_string()),
            EnrolError::Write { .. } => ApiError::internal(&e),
        })?;
    Ok((StatusCode::CREATED, Json(json!(given))))
}

/// A MOKO plug's record, as the device view shows it.
fn moko_view(device: &crate::model::Device) -> Value {
    json!({"uuid": device.uuid, "firmware": device.firmware_version(), "families": super::families::view(device)})
}

fn moko_only(state: &AppState, uuid: &str) -> Result<(), ApiError> {
    if known(state, uuid)?.moko().is_none() {
        return Err(ApiError::bad_body(
            "unsupported",
            "This route is for MOKO plugs; this device is a Meross device.",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Countdown {
    minutes: u32,
}

async fn countdown(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    moko_only(&state, &uuid)?;
    let asked: Countdown = body(&bytes)?;
    let device = state
        .engine
        .moko_countdown(&uuid, asked.minutes, state.request_timeout)
        .await?;
    Ok(Json(moko_view(&device)))
}

async fn firmware(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    moko_only(&state, &uuid)?;
    let device = state
        .engine
        .moko_read_firmware(&uuid, state.request_timeout)
        .await?;
    Ok(Json(moko_view(&device)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upgrade {
    url: String,
}

/// `POST /devices/{uuid}/upgrade` for a MOKO plug (`upgrade` routes it here): the URL of
/// the owner's server, in a JSON body.
pub(super) async fn upgrade(
    state: &AppState,
    uuid: String,
    bytes: &Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let asked: Upgrade = body(bytes)?;
    state.engine.moko_upgrade(&uuid, &asked.url)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"uuid": uuid, "url": asked.url, "status": "asked: the outcome comes as an event and in families.moko.upgrade"}),
        ),
    ))
}
