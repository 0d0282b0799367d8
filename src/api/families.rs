//! The device families' routes: one command route per family (light, thermostat, garage
//! door, shutter, spray, do-not-disturb, a hub's sub-device), each taking a JSON body of
//! what to change. The errors are the toggle's: an unknown device 404, a channel or
//! sub-device the device never reported 422, a value out of range 400 naming the field.
//! Each answers with the device's families as they are once the device acknowledged.

use super::error::ApiError;
use super::view::{body, known};
use super::AppState;
use crate::model::family::{
    Command, DndCommand, GarageCommand, LightCommand, ShutterCommand, SprayCommand,
    SubDeviceCommand, ThermostatCommand,
};
use crate::model::Device;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The family routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices/:uuid/light", post(family::<LightCommand>))
        .route(
            "/devices/:uuid/thermostat",
            post(family::<ThermostatCommand>),
        )
        .route("/devices/:uuid/garage", post(family::<GarageCommand>))
        .route("/devices/:uuid/shutter", post(family::<ShutterCommand>))
        .route("/devices/:uuid/spray", post(family::<SprayCommand>))
        .route("/devices/:uuid/dnd", post(family::<DndCommand>))
        .route("/devices/:uuid/subdevices/:id", post(subdevice))
}

/// A device's families as the API shows them: a light switched through ToggleX shows
/// its channel's state.
pub(super) fn view(device: &Device) -> Value {
    let mut families = crate::model::family::of(device);
    for light in &mut families.lights {
        if light.on.is_none() {
            light.on = device.channels.get(&light.channel).map(|c| c.on);
        }
    }
    serde_json::to_value(families).unwrap_or_else(|_| json!({}))
}

async fn send(
    state: &AppState,
    uuid: &str,
    command: &dyn Command,
) -> Result<Json<Value>, ApiError> {
    let device = state
        .engine
        .command(uuid, command, state.request_timeout)
        .await?;
    Ok(Json(json!({"uuid": uuid, "families": view(&device)})))
}

async fn family<C: Command + DeserializeOwned + 'static>(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let command: C = body(&bytes)?;
    send(&state, &uuid, &command).await
}

async fn subdevice(
    State(state): State<AppState>,
    Path((uuid, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let mut command: SubDeviceCommand = body(&bytes)?;
    command.id = id;
    send(&state, &uuid, &command).await
}
