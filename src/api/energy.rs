//! `/api/v1/devices/{uuid}/electricity|history|consumption`: live power, stored history and
//! the per-day energy the plug counted.

use super::error::ApiError;
use super::query;
use super::view::{known, readings};
use super::AppState;
use crate::model::Ability;
use crate::protocol::{now_secs, Method};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Days `consumption` returns when not told.
const DEFAULT_DAYS: u32 = 30;
const MAX_DAYS: u32 = 3660;
/// Ranges longer than this default to hourly points.
const RAW_UP_TO_S: u64 = 2 * 86_400;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices/:uuid/electricity", get(electricity))
        .route("/devices/:uuid/history", get(history))
        .route("/devices/:uuid/consumption", get(consumption))
}

fn not_metering() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_metering",
        "This device does not measure electricity.",
    )
}

/// A live read: asks the device now.
async fn electricity(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let device = known(&state, &uuid)?;
    if !device.is_metering() {
        return Err(not_metering());
    }
    // A MOKO plug says its power every second unasked, and has no way to be asked.
    if device.moko().is_some() {
        return Ok(Json(json!({"uuid": uuid, "channels": readings(&device)})));
    }
    let (namespace, payload) = if device.has_ability(Ability::Electricity) {
        (
            "Appliance.Control.Electricity",
            json!({"electricity": {"channel": 0}}),
        )
    } else {
        (
            "Appliance.Control.ElectricityX",
            json!({"electricity": [{"channel": 0}]}),
        )
    };
    state
        .engine
        .request(
            &uuid,
            Method::Get,
            namespace,
            payload,
            state.request_timeout,
        )
        .await?;
    // The reply went through the engine, which kept the reading.
    let device = known(&state, &uuid)?;
    Ok(Json(json!({"uuid": uuid, "channels": readings(&device)})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

/// The latest time taken: the end of year 9999, as far as RFC 3339 goes.
const MAX_TIME_S: u64 = 253_402_300_799;

/// The query key `key`, RFC 3339 (`2026-11-21T10:00:00Z`) or epoch seconds, from 1970 to
/// the year 9999.
fn parse_time(key: &'static str, text: &str) -> Result<u64, ApiError> {
    let secs = match text.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second().max(0) as u64)
            .map_err(|_| {
                ApiError::invalid_query(
                    key,
                    &format!("`{text}` is neither RFC 3339 nor epoch seconds"),
                )
            })?,
    };
    if secs > MAX_TIME_S {
        return Err(ApiError::invalid_query(
            key,
            &format!("`{text}` is after the year 9999 (at most {MAX_TIME_S})"),
        ));
    }
    Ok(secs)
}

async fn history(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let device = known(&state, &uuid)?;
    if !device.is_metering() {
        return Err(not_metering());
    }
    let q: HistoryQuery = query::parse(raw.as_deref())?;
    let now = now_secs();
    let to =
        q.to.as_deref()
            .map(|t| parse_time("to", t))
            .transpose()?
            .unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?
        .unwrap_or(to.saturating_sub(86_400));
    if from > to {
        return Err(ApiError::invalid_query("from", "is after `to`"));
    }
    let step = match q.step.as_deref() {
        None | Some("auto") => {
            if to - from <= RAW_UP_TO_S {
                "raw"
            } else {
                "hour"
            }
        }
        Some("raw") => "raw",
        Some("hour" | "hourly" | "1h" | "3600") => "hour",
        Some(other) => {
            return Err(ApiError::invalid_query(
                "step",
                &format!("is raw, hour or auto, not `{other}`"),
            ))
        }
    };
    let points = if step == "raw" {
        let raw = state
            .store
            .raw_history(uuid.clone(), from, to)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        serde_json::to_value(raw)
    } else {
        let hours = state
            .store
            .hourly_history(uuid.clone(), from, to)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        serde_json::to_value(hours)
    }
    .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        json!({"uuid": uuid, "from": from, "to": to, "step": step, "points": points}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumptionQuery {
    days: Option<u32>,
}

async fn consumption(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let device = known(&state, &uuid)?;
    if !device.is_metering() {
        return Err(not_metering());
    }
    // An unknown key is named as such, not taken for a bad `days`.
    let q: ConsumptionQuery = query::parse(raw.as_deref())?;
    let days = q.days.unwrap_or(DEFAULT_DAYS).clamp(1, MAX_DAYS);
    let since = jiff::Timestamp::from_second((now_secs() as i64) - i64::from(days - 1) * 86_400)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default();
    let rows = state
        .store
        .consumption(uuid.clone(), since)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let total: f64 = rows.iter().map(|(_, wh)| wh).sum();
    let days: Vec<Value> = rows
        .into_iter()
        .map(|(date, wh)| json!({"date": date, "wh": wh}))
        .collect();
    Ok(Json(json!({"uuid": uuid, "days": days, "total_wh": total})))
}
