//! `POST /v1/Auth/signIn`, made hard to abuse:
//! - a sign-in too soon after failed ones (per source and per e-mail, the gate's
//!   [`LoginGuard`]) is refused without looking at the password;
//! - a wrong e-mail and a wrong password get the same answer, so e-mails cannot be
//!   told apart;
//! - the signed envelope's timestamp must be within [`WINDOW_SECS`] of now, and its nonce
//!   unused within that window, so a recorded sign-in cannot be played again;
//! - a new token past an account's [`MAX_TOKENS_PER_ACCOUNT`](super::tokens) drops its
//!   oldest, at most [`super::tokens::MAX_EVICTIONS_PER_MINUTE`] a minute: a script cannot
//!   log the owner's apps out;
//! - refusals are logged sampled, not one line each.

use super::{answer, host_only, params, reached_host, status, CloudState};
use crate::metrics::inc_logged;
use crate::protocol::md5_hex;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use subtle::ConstantTimeEq;
use tracing::{info, warn};

/// How far a sign-in's timestamp may be from now (clocks of phones drift).
pub const WINDOW_SECS: u64 = 15 * 60;
/// The longest e-mail address there can be (RFC 5321).
const MAX_EMAIL: usize = 254;
/// Nonces remembered at most; past this, sign-ins are refused until old ones expire.
const MAX_NONCES: usize = 100_000;

/// Nonces seen within the window, with when.
#[derive(Debug, Default)]
pub struct Nonces(Mutex<HashMap<String, u64>>);

impl Nonces {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `nonce` was used by a sign-in that succeeded within the window.
    fn used(&self, nonce: &str) -> bool {
        self.lock().contains_key(nonce)
    }

    /// Records the nonce of a sign-in that succeeded (only those: replaying a failed one
    /// gains nothing, and so strangers cannot fill the table).
    fn take(&self, nonce: &str, now: u64) {
        let mut seen = self.lock();
        if seen.len() >= MAX_NONCES {
            seen.retain(|_, at| now.saturating_sub(*at) <= 2 * WINDOW_SECS);
        }
        seen.insert(nonce.to_owned(), now);
    }
}

/// The envelope's nonce (empty if none).
fn nonce_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|e| e["nonce"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Whether the envelope's timestamp (seconds or, as the apps send it, milliseconds) is
/// within the window, and its nonce new.
fn fresh(state: &CloudState, body: &[u8]) -> bool {
    let Ok(envelope) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let stamp = match &envelope["timestamp"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(stamp) = stamp else { return false };
    let secs = if stamp > 100_000_000_000 {
        stamp / 1000
    } else {
        stamp
    };
    let now = crate::protocol::now_secs();
    let nonce = envelope["nonce"].as_str().unwrap_or_default();
    now.abs_diff(secs) <= WINDOW_SECS && !nonce.is_empty() && !state.nonces.used(nonce)
}

fn refused(state: &CloudState, code: i64, info: &str, why: &str) -> Json<Value> {
    if let Some(total) = inc_logged(&state.engine.counters().refused_logins) {
        warn!(why, total, "cloud sign-in refused");
    }
    answer(code, info, Value::Null)
}

pub(super) async fn sign_in(
    State(state): State<CloudState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let p = match params(&body) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let email = p["email"].as_str().unwrap_or_default().to_ascii_lowercase();
    if email.len() > MAX_EMAIL {
        return refused(
            &state,
            status::WRONG_CREDENTIALS,
            "Wrong email or password",
            "an e-mail longer than any",
        );
    }
    if state.guard.check(ip, &email).is_err() {
        crate::metrics::inc(&state.engine.counters().logins_throttled);
        return refused(
            &state,
            status::TOO_MANY_TRIES,
            "Too many tries; wait and try again",
            "too soon after failed sign-ins",
        );
    }
    if !fresh(&state, &body) {
        return refused(
            &state,
            status::ACCESS_DENIED,
            "Stale or repeated request",
            "stale timestamp or reused nonce",
        );
    }
    let password = p["password"].as_str().unwrap_or_default();
    // encryption 1: the password comes as md5 hex; 0: as it is.
    let given = if p["encryption"].as_i64() == Some(0) {
        md5_hex(password)
    } else {
        password.to_ascii_lowercase()
    };
    let account = state.accounts.iter().find(|a| {
        a.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    let right = account.is_some_and(|a| {
        a.password_hash()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(given.as_bytes())))
    });
    let Some(account) = account.filter(|_| right) else {
        state.guard.failed(ip, &email);
        return refused(
            &state,
            status::WRONG_CREDENTIALS,
            "Wrong email or password",
            "wrong e-mail or password",
        );
    };
    state.guard.succeeded(ip, &email);
    state
        .nonces
        .take(&nonce_of(&body), crate::protocol::now_secs());
    let Some(token) = state.tokens.issue(&account.user_id) else {
        return refused(
            &state,
            status::TOO_MANY_TRIES,
            "Too many sign-ins; wait a minute",
            "token evictions per minute reached",
        );
    };
    let host = reached_host(&headers);
    info!(user_id = %account.user_id, "cloud sign-in");
    answer(
        status::OK,
        "Success",
        json!({
            "token": token,
            "key": account.key,
            "userid": account.user_id,
            "email": account.email,
            "domain": format!("http://{host}"),
            "mqttDomain": host_only(&host),
            "mfaLockExpire": 0,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_used_once_taken() {
        let n = Nonces::default();
        assert!(!n.used("abc"));
        n.take("abc", 100);
        assert!(n.used("abc") && !n.used("abd"));
    }
}
