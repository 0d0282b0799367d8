//! `/api/v1/devices...`: list, read, rename, forget, switch, and the raw request.

use super::error::ApiError;
use super::query;
use super::view::{body, check_uuid, known, readings};
use super::AppState;
use crate::model::Device;
use crate::protocol::Method;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Recent events shown with a device.
const DETAIL_EVENTS: usize = 20;
/// How long the device view waits for the store to write what is queued.
const DETAIL_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a change may take to reach the disk before the API says it is only queued.
const SAVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Default and largest `limit` of the events route.
const DEFAULT_EVENTS: usize = 50;
const MAX_EVENTS: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list))
        .route("/devices/:uuid", get(detail).patch(patch).delete(forget))
        .route("/devices/:uuid/toggle", post(toggle))
        .route("/devices/:uuid/request", post(raw_request))
        .route("/devices/:uuid/events", get(events))
}

/// The list entry of a device.
pub(super) fn summary(d: &Device) -> Value {
    let channels: Vec<Value> = d
        .channels
        .iter()
        .map(|(channel, state)| {
            let name = d.channel_names.get(channel);
            let mut c = json!({"channel": channel, "on": state.on, "name": name});
            if d.is_metering() {
                c["power_w"] = json!(d.electricity.get(channel).map(|r| r.power_w));
            }
            c
        })
        .collect();
    json!({
        "uuid": d.uuid,
        "name": d.name,
        "display_name": d.display_name(),
        "type": d.kind(),
        "firmware": d.firmware_version(),
        "online": d.online,
        "last_seen": d.last_seen,
        "ip": d.inner_ip(),
        "channels": channels,
        "families": super::families::view(d),
    })
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let devices: Vec<Value> = state.engine.devices().iter().map(summary).collect();
    Json(json!({ "devices": devices }))
}

async fn detail(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let device = known(&state, &uuid)?;
    // The answers are kept only in the store: let it write what is waiting first, but not
    // wait on a writer that is stuck (the answers are then as last written).
    let _ = tokio::time::timeout(DETAIL_FLUSH, state.store.flush()).await;
    let answers = state
        .store
        .answers(uuid.clone())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let events = state
        .store
        .events(Some(uuid), DETAIL_EVENTS)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut out = summary(&device);
    let (connection, why) = super::why::view(&state, &device);
    let extra = json!({
        "mac": device.mac,
        "user_id": device.user_id,
        "peer": device.peer,
        "tls": device.tls,
        "hardware": device.hardware,
        "first_seen": device.first_seen,
        "bound_at": device.bound_at,
        "abilities": answers.ability,
        "system_all": answers.all,
        "last_report": answers.report,
        "timezone": state.engine.zone_of(&device.uuid),
        "electricity": readings(&device),
        "events": events,
        "connection": connection,
        "why_offline": why,
    });
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    /// Absent: unchanged; null or "": no name.
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    /// Absent: unchanged; null or "": the configured zone.
    #[serde(default, deserialize_with = "present")]
    timezone: Option<Option<String>>,
    /// Channel names to set, by channel number; null or "": no name.
    #[serde(default)]
    channel_names: Option<std::collections::BTreeMap<String, Option<String>>>,
}

/// Tells a key that is absent (`None`) from one that is null (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(de).map(Some)
}

async fn patch(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let PatchBody {
        name,
        timezone,
        channel_names,
    } = body(&bytes)?;
    let channel_names = channel_names
        .map(|names| check_channel_names(&known(&state, &uuid)?, names))
        .transpose()?;
    writable(&state)?;
    let clean = |v: Option<String>| v.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let name = name.map(clean);
    let timezone = timezone.map(clean);
    if name
        .as_ref()
        .is_some_and(|n| n.as_ref().is_some_and(|n| n.chars().count() > 100))
    {
        return Err(ApiError::bad_body(
            "invalid_body",
            "A name is at most 100 characters.",
        ));
    }
    if let Some(Some(zone)) = &timezone {
        if crate::timezone::zone(zone).is_none() {
            return Err(ApiError::bad_body(
                "invalid_body",
                format!(
                    "`{zone}` is not a time zone the tz database knows (try \"Europe/London\")."
                ),
            ));
        }
    }
    if let Some(name) = name {
        state
            .engine
            .rename(&uuid, name)
            .ok_or_else(|| ApiError::unknown_device(&uuid))?;
    }
    for (channel, name) in channel_names.into_iter().flatten() {
        state.engine.rename_channel(&uuid, channel, name);
    }
    if let Some(zone) = timezone {
        // Sent to the device at once if it is online; it gets it at its next bind if not.
        state
            .engine
            .set_timezone(&uuid, zone)
            .await
            .ok_or_else(|| ApiError::unknown_device(&uuid))?;
    }
    saved(&state).await?;
    let device = known(&state, &uuid)?;
    let mut out = summary(&device);
    out["timezone"] = json!(state.engine.zone_of(&uuid));
    Ok(Json(out))
}

/// Channel names as the engine takes them: channels the device has, names of at most 100
/// characters (empty: none).
fn check_channel_names(
    device: &Device,
    names: std::collections::BTreeMap<String, Option<String>>,
) -> Result<Vec<(u32, Option<String>)>, ApiError> {
    let mut out = Vec::new();
    for (key, name) in names {
        let channel: u32 = key.parse().map_err(|_| {
            ApiError::invalid_field("channel_names", &format!("`{key}` is not a channel number"))
        })?;
        if !device.channels.contains_key(&channel) {
            let has: Vec<String> = device.channels.keys().map(u32::to_string).collect();
            return Err(ApiError::bad_body(
                "unsupported",
                format!(
                    "This device has no channel {channel}; it has: {}.",
                    has.join(", ")
                ),
            ));
        }
        let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
            return Err(ApiError::invalid_field(
                "channel_names",
                "a name is at most 100 characters",
            ));
        }
        out.push((channel, name));
    }
    Ok(out)
}

/// Refuses a change before it is made while the store cannot write: what the API
/// acknowledges is on disk.
fn writable(state: &AppState) -> Result<(), ApiError> {
    match state.store.problem() {
        None => Ok(()),
        Some(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("Nothing was changed: the database cannot be written ({why}). Free some space in the data directory; merossd tries again every second."),
        )),
    }
}

/// Waits until a change just made is on disk; 503 if the store could not write it (it is
/// kept, and written once the store can write again).
async fn saved(state: &AppState) -> Result<(), ApiError> {
    match tokio::time::timeout(SAVE_TIMEOUT, state.store.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(crate::store::StoreError::Unwritable(why))) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("The change is made but not yet on disk: the database cannot be written ({why}). It is kept and written once there is room; until then a restart would lose it."),
        )),
        Ok(Err(e)) => Err(ApiError::internal(&e)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "The change is made but the database did not confirm it in time; it is queued.",
        )),
    }
}

async fn forget(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_uuid(&uuid)?;
    writable(&state)?;
    if !state.engine.forget(&uuid) {
        return Err(ApiError::unknown_device(&uuid));
    }
    saved(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToggleBody {
    #[serde(default)]
    channel: u32,
    on: bool,
}

async fn toggle(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let ToggleBody { channel, on } = body(&bytes)?;
    state
        .engine
        .switch(&uuid, channel, on, state.request_timeout)
        .await?;
    Ok(Json(json!({"uuid": uuid, "channel": channel, "on": on})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    namespace: String,
    #[serde(default = "empty_object")]
    payload: Value,
}

fn empty_object() -> Value {
    json!({})
}

async fn raw_request(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let raw: RawRequest = body(&bytes)?;
    let method = Method::parse(&raw.method)
        .filter(|m| matches!(m, Method::Get | Method::Set | Method::Delete))
        .ok_or_else(|| {
            ApiError::bad_body("invalid_body", "`method` must be GET, SET or DELETE.")
        })?;
    let ns_ok = raw.namespace.starts_with("Appliance.")
        && raw.namespace.len() <= 128
        && raw
            .namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !ns_ok {
        return Err(ApiError::bad_body(
            "invalid_body",
            "`namespace` must look like Appliance.System.All.",
        ));
    }
    if !raw.payload.is_object() {
        return Err(ApiError::bad_body(
            "invalid_body",
            "`payload` must be a JSON object.",
        ));
    }
    let reply = state
        .engine
        .request(
            &uuid,
            method,
            &raw.namespace,
            raw.payload,
            state.request_timeout,
        )
        .await?;
    Ok(Json(
        json!({"header": reply.header, "payload": reply.payload}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    limit: Option<usize>,
}

async fn events(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let q: EventsQuery = query::parse(raw.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_EVENTS).clamp(1, MAX_EVENTS);
    let events = state
        .store
        .events(Some(uuid), limit)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(json!({ "events": events })))
}
