//! `GET /system`: the daemon at a glance (version, uptime, devices, refused logins, TLS
//! handshakes by stack, the store's size), and `GET /pairing`: what pairing a plug
//! needs (the address and port it is told to dial, the accounts' user ids and keys).

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

/// What a plug is paired with, worked out by the daemon when it starts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pairing {
    /// The address a plug is told to dial, or `None` when no address of this host fits.
    pub host: Option<String>,
    /// Why no address fits, when none does.
    pub host_problem: Option<String>,
    /// The first TLS listener's port.
    pub port: Option<u16>,
    /// Each account's user id and key.
    pub accounts: Vec<PairingAccount>,
}

/// One `[[accounts]]` entry, as pairing gives it to a plug.
#[derive(Debug, Clone, Serialize)]
pub struct PairingAccount {
    /// The user id.
    pub user_id: String,
    /// The key plugs sign with (a secret: shown to the admin only).
    pub key: String,
}

/// The system routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/system", get(system))
        .route("/pairing", get(pairing))
}

async fn system(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let devices = state.engine.devices();
    let online = devices.iter().filter(|d| d.online).count();
    let s = state.engine.counters().snapshot();
    let store_bytes = state
        .store
        .size_bytes()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "devices": {"known": devices.len(), "online": online},
        "refused_logins": s.refused_logins,
        "handshake_failures": s.handshake_failures,
        "tls_handshakes": [
            {"stack": "rustls", "version": "TLSv1.3", "count": s.tls_rustls_13},
            {"stack": "rustls", "version": "TLSv1.2", "count": s.tls_rustls_12},
            {"stack": "openssl", "version": "TLSv1.3", "count": s.tls_openssl_13},
            {"stack": "openssl", "version": "TLSv1.2", "count": s.tls_openssl_12},
            {"stack": "openssl", "version": "legacy", "count": s.tls_openssl_legacy},
        ],
        "connections_open": s.connections_open,
        "store_bytes": store_bytes,
        "store": match state.store.problem() {
            None => json!("ok"),
            Some(why) => json!({"error": why}),
        },
        "web_sessions": state.sessions.count(),
        "metrics_public": state.metrics_public,
    })))
}

async fn pairing(State(state): State<AppState>) -> Json<Pairing> {
    Json((*state.pairing).clone())
}
