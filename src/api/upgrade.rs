//! A Meross device's firmware upgrade: `POST /devices/{uuid}/upgrade?confirm=yes` with the
//! image as the body serves it to that device only (`firmware`), sends it the URL and the
//! image's md5, and answers 202 with the run; `GET /devices/{uuid}/upgrade` follows it
//! until the device came back with another version (`done`) or did not take the image
//! (`failed`). `confirm=yes` is required: a bad image can leave a plug that never starts.
//! A MOKO plug's upgrade on the same route takes the URL of the owner's server instead
//! (`moko`).

use super::error::ApiError;
use super::view::known;
use super::AppState;
use crate::engine::upgrade::UpgradeState;
use crate::firmware::{self, Offer, MAX_IMAGE_BYTES};
use crate::model::Ability;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// How long a device gets by default to fetch the image and come back.
const DEFAULT_WAIT_S: u64 = 600;

/// The upgrade routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/devices/:uuid/upgrade",
        post(start)
            .get(status)
            .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES)),
    )
}

/// The query of a POST.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Asked {
    /// `yes`: the owner knows a bad image can brick the device.
    confirm: Option<String>,
    /// The md5 the image was published with, checked before anything is sent.
    md5: Option<String>,
    /// Seconds the device gets to fetch the image and come back (default 600).
    wait_s: Option<u64>,
}

async fn start(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    RawQuery(raw): RawQuery,
    image: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let device = known(&state, &uuid)?;
    if device.moko().is_some() {
        return super::moko::upgrade(&state, uuid, &image).await;
    }
    let asked: Asked = super::query::parse(raw.as_deref())?;
    if asked.confirm.as_deref() != Some("yes") {
        return Err(ApiError::invalid_query(
            "confirm",
            "must be `yes`: a bad image can leave a device that does not start (merossd upgrade --yes)",
        ));
    }
    let open = state.engine.upgrade_status(&uuid).map(|r| r.state);
    if matches!(open, Some(UpgradeState::Sent | UpgradeState::Downloaded)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "upgrade_running",
            "An upgrade of this device is under way: GET .../upgrade follows it.",
        ));
    }
    let wait = asked.wait_s.unwrap_or(DEFAULT_WAIT_S).clamp(10, 3600);
    if !device.ability.is_some_and(|a| a.has(Ability::Upgrade)) {
        return Err(ApiError::bad_body(
            "unsupported",
            "This device's Ability does not list Appliance.Control.Upgrade.",
        ));
    }
    let chip = device.hardware.as_ref().map(|h| h.chip_type.as_str());
    firmware::check(&image, chip).map_err(|why| ApiError::bad_body("not_firmware", why))?;
    let md5 = crate::protocol::md5_bytes_hex(&image);
    if let Some(given) = asked.md5.as_deref() {
        if !given.trim().eq_ignore_ascii_case(&md5) {
            let detail =
                format!("is not the image's, which is {md5}: the file is not the one published");
            return Err(ApiError::invalid_query("md5", &detail));
        }
    }
    // An IPv4 plug on a dual-stack listener is seen as ::ffff:a.b.c.d: it takes a.b.c.d.
    let peer = (device.peer.as_deref())
        .and_then(|p| p.parse::<std::net::SocketAddr>().ok())
        .map(|p| std::net::SocketAddr::new(p.ip().to_canonical(), p.port()));
    let (Some(peer), true) = (peer, device.online) else {
        return Err(crate::engine::RequestError::Offline(uuid).into());
    };
    let address = firmware::address_towards(peer.ip()).map_err(|e| ApiError::internal(&e))?;
    let offer = Offer {
        image,
        device: peer.ip(),
        until: Duration::from_secs(wait),
    };
    let engine = state.engine.clone();
    let who = uuid.clone();
    let serving = firmware::serve(offer, address, state.firmware_port, move || {
        engine.upgrade_fetched(&who)
    })
    .await
    .map_err(|e| {
        ApiError::internal(&format!(
            "cannot serve the image on {address}:{}: {e}",
            state.firmware_port
        ))
    })?;
    let sent = (state.engine)
        .upgrade(
            &uuid,
            &md5,
            &serving.url,
            Duration::from_secs(wait),
            state.request_timeout,
        )
        .await;
    let run = sent.inspect_err(|_| serving.stop())?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"uuid": uuid, "upgrade": run})),
    ))
}

async fn status(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&state, &uuid)?;
    let run = state.engine.upgrade_status(&uuid).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_upgrade",
            format!("No upgrade of {uuid} was started since merossd started."),
        )
    })?;
    Ok(Json(json!({"uuid": uuid, "upgrade": run})))
}
