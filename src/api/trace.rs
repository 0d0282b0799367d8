//! A device's protocol trace: `POST /devices/{uuid}/trace` starts recording every message
//! to and from it (obfuscated unless asked not to), `GET` downloads it in the fixtures'
//! tab-separated format, as far as it got.

use super::error::ApiError;
use super::view::{body, known};
use super::AppState;
use crate::engine::TraceStartError;
use crate::hub::trace::TraceError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// A trace's length unless the owner says otherwise.
const DEFAULT_SECONDS: u64 = 600;

/// The trace routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/devices/:uuid/trace", post(start).get(download))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    #[serde(default)]
    seconds: Option<u64>,
    #[serde(default)]
    obfuscate: Option<bool>,
}

async fn start(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let asked: Start = if bytes.is_empty() {
        Start {
            seconds: None,
            obfuscate: None,
        }
    } else {
        body(&bytes)?
    };
    let device = known(&state, &uuid)?;
    let seconds = asked.seconds.unwrap_or(DEFAULT_SECONDS);
    let obfuscate = asked.obfuscate.unwrap_or(true);
    state
        .engine
        .trace(&uuid, seconds, obfuscate)
        .map_err(|e| match e {
            TraceStartError::Device(e) => ApiError::from(e),
            TraceStartError::Trace(TraceError::Seconds) => {
                ApiError::invalid_field("seconds", &format!("{seconds} is not 1 to 3600"))
            }
            TraceStartError::Trace(e @ TraceError::Full) => {
                ApiError::new(StatusCode::CONFLICT, "full", e.to_string())
            }
        })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "uuid": uuid,
            "seconds": seconds,
            "obfuscated": obfuscate,
            "download": format!("/api/v1/devices/{uuid}/trace"),
            "file": file_name(&state, &uuid, device.kind()),
        })),
    ))
}

async fn download(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let device = known(&state, &uuid)?;
    let tracer = state.engine.tracer();
    let trace = tracer.get(&uuid).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No trace of this device: start one with POST first.",
        )
    })?;
    let file = file_name(&state, &uuid, device.kind());
    let headers = [
        (
            header::CONTENT_TYPE,
            "text/tab-separated-values; charset=utf-8".to_owned(),
        ),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ),
        (
            header::HeaderName::from_static("x-trace-done"),
            trace.done.to_string(),
        ),
        (
            header::HeaderName::from_static("x-trace-truncated"),
            trace.truncated.to_string(),
        ),
        (
            header::HeaderName::from_static("x-trace-seconds-left"),
            trace.seconds_left.to_string(),
        ),
    ];
    Ok((headers, trace.text).into_response())
}

/// The trace file's name as the fixtures have it: `U<uuid>-merossd-<type>-<time>.csv`,
/// with the uuid's stand-in when obfuscated (`merossd sim --trace` reads the uuid there).
fn file_name(state: &AppState, uuid: &str, kind: Option<&str>) -> String {
    format!(
        "U{}-merossd-{}-{}.csv",
        state.engine.tracer().stand_in(uuid),
        kind.unwrap_or("device"),
        crate::protocol::now_secs()
    )
}
