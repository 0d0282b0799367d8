//! What the device routes share: a uuid checked, a device looked up, a body read, its
//! readings as JSON. Its own file, so that the routes of `devices` and `energy` import neither other.

use super::error::ApiError;
use super::AppState;
use crate::model::Device;
use axum::body::Bytes;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A uuid is letters and digits; anything else (a `/`, `..`, `%`) is refused outright.
pub(super) fn check_uuid(uuid: &str) -> Result<(), ApiError> {
    if crate::protocol::valid_uuid(uuid) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_uuid",
            "A device uuid is 1 to 64 letters and digits.",
        ))
    }
}

/// The device `uuid` names, or the error a client gets.
pub(super) fn known(state: &AppState, uuid: &str) -> Result<Device, ApiError> {
    check_uuid(uuid)?;
    state
        .engine
        .device(uuid)
        .ok_or_else(|| ApiError::unknown_device(uuid))
}

/// Channel readings of a device as JSON.
pub(super) fn readings(device: &Device) -> Vec<Value> {
    device
        .electricity
        .iter()
        .map(|(channel, r)| {
            json!({"channel": channel, "power_w": r.power_w, "voltage_v": r.voltage_v, "current_a": r.current_a, "at": r.at})
        })
        .collect()
}

/// Parses a JSON body ourselves, so that every mistake gets our error shape.
pub(super) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_body("malformed_json", format!("The body is not JSON: {e}.")))?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_body(
            "invalid_body",
            format!("The body does not fit this route: {e}."),
        )
    })
}
