//! The admin HTTP API (axum): JSON in and out under `/api/v1`, every route but `/health`
//! behind a bearer token or the web page's session (`auth`, `session`), bodies bounded,
//! errors as `{"error":{"code","message"}}`. The web page itself (`page`) is served at
//! `/` on the same listener, and follows the devices live (`live`).

mod auth;
mod devices;
mod energy;
pub mod error;
mod families;
mod live;
mod metrics;
mod moko;
mod page;
mod query;
mod schedules;
mod serve;
pub mod session;
mod system;
mod trace;
mod upgrade;
mod view;
mod why;

pub use serve::{serve as serve_router, HEADER_TIMEOUT, IDLE_TIMEOUT};
pub use system::{Pairing, PairingAccount};

use crate::engine::Engine;
use crate::gate::guard::LoginGuard;
use crate::shutdown::Shutdown;
use crate::store::Store;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The largest request body taken.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The devices as last heard, and the way to send them commands.
    pub engine: Engine,
    /// The SQLite store: stored answers, events and energy history, and its health.
    pub store: Store,
    token: Arc<str>,
    started: Instant,
    /// How long a device has to answer a command sent through the API (`api.request_timeout_s`).
    pub request_timeout: Duration,
    /// `/metrics` without the token.
    pub metrics_public: bool,
    /// Whether the router links are up.
    health: crate::broker::Health,
    /// Where firmware images are served during an upgrade (`api.firmware_port`; 0: any).
    pub firmware_port: u16,
    /// The web page's sessions.
    sessions: Arc<session::Sessions>,
    /// The gate's login guard: failed sign-ins slow the next ones down.
    guard: Arc<LoginGuard>,
    /// What pairing a plug needs, for the page's "Add a device".
    pub pairing: Arc<Pairing>,
    /// Places for live streams (`live`).
    live: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The state for [`router`]; `token` is the bearer token every request must carry.
    pub fn new(
        engine: Engine,
        store: Store,
        token: String,
        request_timeout: Duration,
        metrics_public: bool,
        health: crate::broker::Health,
        guard: Arc<LoginGuard>,
    ) -> AppState {
        AppState {
            engine,
            store,
            token: token.into(),
            started: Instant::now(),
            request_timeout,
            metrics_public,
            health,
            firmware_port: 0,
            sessions: Arc::default(),
            guard,
            pairing: Arc::default(),
            live: live::places(),
        }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .merge(devices::routes())
        .merge(families::routes())
        .merge(schedules::routes())
        .merge(energy::routes())
        .merge(moko::routes())
        .merge(why::routes())
        .merge(trace::routes())
        .merge(upgrade::routes())
        .merge(session::routes())
        .merge(live::routes())
        .merge(system::routes())
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics::metrics))
        .merge(page::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the API until shutdown, at most `max_connections` at once.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    max_connections: usize,
    shutdown: Shutdown,
) {
    let counters = state.engine.counters().clone();
    serve::serve(
        listener,
        router(state),
        max_connections,
        counters,
        None,
        shutdown,
    )
    .await
}

/// Axum's own rejections (a body over the limit, a wrong method, a path that does not
/// decode) come as plain text: give them the JSON shape every other error has.
pub(super) fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!("The request body is over {MAX_BODY_BYTES} bytes."),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This route does not take that method.".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Send JSON.".to_owned()),
        _ => (
            "bad_request",
            "The request could not be understood.".to_owned(),
        ),
    };
    ApiError::new(status, code, message).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such route.")
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let devices = state.engine.devices();
    let online = devices.iter().filter(|d| d.online).count();
    // A router link being opened again: devices cannot be switched or bound meanwhile.
    let down = state.health.down();
    // The database cannot be written: changes are kept in memory until it can.
    let store = state.store.problem();
    let ok = down.is_empty() && store.is_none();
    Json(json!({
        "status": if ok { "ok" } else { "degraded" },
        "links_down": down,
        "store": match &store {
            None => json!("ok"),
            Some(why) => json!({"error": why}),
        },
        "warnings": state.store.health().warnings(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "devices": {"known": devices.len(), "online": online},
    }))
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../docs/openapi.json"),
    )
        .into_response()
}
