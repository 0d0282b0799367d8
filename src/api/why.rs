//! Why a device is offline (or online and not bound), in the device view: how it last
//! tried to get in and a sentence a person can act on; and `GET /logins/unknown`, the
//! last logins that named a device merossd does not know.

use super::AppState;
use crate::model::Device;
use crate::registry::attempts::{DeviceAttempts, Outcome};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The route for unknown logins.
pub fn routes() -> Router<AppState> {
    Router::new().route("/logins/unknown", get(unknown))
}

async fn unknown(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "logins": state.engine.unknown_logins() }))
}

/// The device view's `connection` (how it last tried) and `why_offline` (a sentence, or
/// null when it is online and bound).
pub(super) fn view(state: &AppState, device: &Device) -> (Value, Value) {
    let tries = state.engine.attempts(&device.uuid);
    let why = why_offline(device, &tries);
    (json!(tries), json!(why))
}

/// What a person would say of why `device` is not working, from what the gate saw.
pub fn why_offline(device: &Device, tries: &DeviceAttempts) -> Option<String> {
    if device.online {
        let said = tries.said_before_bind.as_ref()?;
        return Some(if said.is_empty() {
            "connected, but it has sent nothing since: no Bind, so it is not served yet".to_owned()
        } else {
            format!(
                "connected, but it has not sent a Bind; it sent {} instead (its firmware may expect another server)",
                said.join(", ")
            )
        });
    }
    if let Some(failed) = &tries.failed_before_login {
        let from = &failed.from;
        return Some(match failed.outcome {
            Outcome::TlsFailed => format!(
                "its last connection, from {from}, failed in TLS: {}",
                failed.detail
            ),
            Outcome::Silent => format!(
                "its last connection, from {from}, sent nothing in time ({}): it may not finish TLS, or something else on its address dialled",
                failed.detail
            ),
            _ => format!(
                "its last connection, from {from}, did not log in: {}",
                failed.detail
            ),
        });
    }
    Some(match &tries.last_login {
        Some(l) if l.outcome == Outcome::Refused => {
            format!("its last login, from {}, was refused: {}", l.from, l.detail)
        }
        Some(l) => format!(
            "it connected from {} and the connection has closed since; it has not come back",
            l.from
        ),
        None => "it has not tried to connect since merossd started".to_owned(),
    })
}
