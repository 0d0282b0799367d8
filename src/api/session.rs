//! Web sessions: the page signs in once with the admin token (`POST /session`) and the
//! browser then holds an HttpOnly, `SameSite=Strict` cookie in its place, which expires
//! and which sign-out (`DELETE /session`) revokes. The token is checked by the API's one
//! token check (`auth`), so a session is the admin and nothing more. Sessions live in
//! memory: a restart signs every browser out.

use super::error::ApiError;
use super::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "merossd-session";
/// How long a session lasts from its sign-in.
pub const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Sessions held at once; a new one past this ends the oldest.
const MAX_SESSIONS: usize = 32;
/// The identity the login guard counts failed sign-ins under.
const GUARD_IDENTITY: &str = "web page";

/// The open sessions: a random id each, and when it ends.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session and returns its id (64 hex digits from the OS's random source).
    pub fn open(&self) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut open = self.lock();
        open.retain(|_, ends| *ends > now);
        if open.len() >= MAX_SESSIONS {
            if let Some(oldest) = open.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                open.remove(&oldest);
            }
        }
        open.insert(id.clone(), now + LIFETIME);
        id
    }

    /// Whether `id` is a session that has not ended.
    pub fn valid(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|ends| *ends > Instant::now())
    }

    /// Ends the session `id` (nothing if there is none).
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|e| **e > now).count()
    }
}

/// The session id a request's `Cookie` headers carry, if any.
pub fn from_cookies(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// The session routes (answered without a token: signing in is how one gets in).
pub fn routes() -> Router<AppState> {
    Router::new().route("/session", post(sign_in).delete(sign_out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let SignIn { token } = super::view::body(&bytes)?;
    // The gate's own guard: failed sign-ins from one network slow the next ones down, as
    // failed MQTT logins and cloud sign-ins do.
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    if let Err(wait) = state.guard.check(ip, GUARD_IDENTITY) {
        crate::metrics::inc(&state.engine.counters().logins_throttled);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_tries",
            format!(
                "Too many wrong tokens: try again in {} s.",
                wait.as_secs().max(1)
            ),
        ));
    }
    if !state.token_is(&token) {
        state.guard.failed(ip, GUARD_IDENTITY);
        crate::metrics::inc(&state.engine.counters().sign_ins_refused);
        let mut wrong = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong_token",
            "That is not the admin token (the data directory's api-token file holds it).",
        );
        wrong.field = Some("token".into());
        return Err(wrong);
    }
    state.guard.succeeded(ip, GUARD_IDENTITY);
    let id = state.sessions.open();
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        LIFETIME.as_secs()
    );
    Ok(with_cookie(
        &cookie,
        json!({"signed_in": true, "expires_in_s": LIFETIME.as_secs()}),
    ))
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = from_cookies(&headers) {
        state.sessions.close(id);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    with_cookie(&cookie, json!({"signed_in": false}))
}

fn with_cookie(cookie: &str, body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_valid_until_closed_and_ids_differ() {
        let s = Sessions::default();
        let (a, b) = (s.open(), s.open());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(s.valid(&a) && s.valid(&b));
        s.close(&a);
        assert!(!s.valid(&a) && s.valid(&b));
        assert!(!s.valid(""));
    }

    #[test]
    fn past_the_cap_the_oldest_session_ends() {
        let s = Sessions::default();
        let first = s.open();
        for _ in 0..MAX_SESSIONS {
            s.open();
        }
        assert!(!s.valid(&first));
        assert_eq!(s.count(), MAX_SESSIONS);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; merossd-session=abc ; b=2"),
        );
        assert_eq!(from_cookies(&h), Some("abc"));
        let mut none = HeaderMap::new();
        none.append(
            header::COOKIE,
            HeaderValue::from_static("merossd-sessionx=1"),
        );
        assert_eq!(from_cookies(&none), None);
    }
}
