//! The Meross cloud's HTTP API, as far as MerossIot (the `meross-iot` Python library, and
//! Home Assistant integrations built on it) uses it, so that such scripts work unchanged
//! against merossd: sign in with an account's e-mail and password, list the account's
//! devices, log out. Every call is a POST of `{"params": base64(json), "sign",
//! "timestamp", "nonce"}`, signed with the cloud's published app secret; every answer is
//! HTTP 200 with `{"apiStatus", "info", "data"}`. Commands then go over MQTT (the gate
//! lets app logins in) and device PUSHes reach the apps through the push bridge.

mod signin;
mod tokens;

use crate::config::Account;
use crate::engine::Engine;
use crate::gate::guard::LoginGuard;
use crate::model::Device;
use crate::protocol::md5_hex;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokens::TokenError;
pub use tokens::Tokens;

/// The secret every Meross app signs its cloud calls with (published in MerossIot).
const APP_SECRET: &str = "23x17ahWarFH6w29";
/// The largest request taken.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The cloud API's status codes merossd answers with (MerossIot knows each).
mod status {
    pub const OK: i64 = 0;
    /// Also for an unknown e-mail: which e-mails have accounts is not told.
    pub const WRONG_CREDENTIALS: i64 = 1004;
    /// Too many tries: wait (the Meross cloud's "too many login attempts").
    pub const TOO_MANY_TRIES: i64 = 1301;
    pub const TOKEN_ERROR: i64 = 1022;
    pub const ACCESS_DENIED: i64 = 1043;
    pub const TOKEN_EXPIRED: i64 = 1200;
}

/// What the handlers share.
#[derive(Clone)]
pub struct CloudState {
    engine: Engine,
    accounts: Arc<Vec<Account>>,
    tokens: Arc<Tokens>,
    /// Failed logins, shared with the gate's MQTT logins.
    guard: Arc<LoginGuard>,
    /// Sign-in nonces seen lately (see `signin`).
    nonces: Arc<signin::Nonces>,
}

impl CloudState {
    /// The state for [`router`]: `accounts` may sign in, `guard` is the gate's login guard.
    pub fn new(engine: Engine, accounts: Vec<Account>, guard: Arc<LoginGuard>) -> CloudState {
        CloudState {
            engine,
            accounts: Arc::new(accounts),
            tokens: Arc::default(),
            guard,
            nonces: Arc::default(),
        }
    }
}

/// The routes.
pub fn router(state: CloudState) -> Router {
    Router::new()
        .route("/v1/Auth/signIn", post(signin::sign_in))
        .route("/v1/log/user", post(log_user))
        .route("/v1/Profile/logout", post(logout))
        .route("/v1/Device/devList", post(dev_list))
        .route("/v1/Hub/getSubDevices", post(sub_devices))
        .fallback(|| async { answer(status::ACCESS_DENIED, "No such API", Value::Null) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

pub(super) fn answer(code: i64, info: &str, data: Value) -> Json<Value> {
    Json(
        json!({"apiStatus": code, "info": info, "data": data, "timeStamp": crate::protocol::now_secs()}),
    )
}

/// The parameters of a signed call, or the answer that refuses it.
pub(super) fn params(body: &[u8]) -> Result<Value, Json<Value>> {
    let denied = |why: &str| answer(status::ACCESS_DENIED, why, Value::Null);
    let envelope: Value = serde_json::from_slice(body).map_err(|_| denied("Not JSON"))?;
    let encoded = envelope["params"]
        .as_str()
        .ok_or_else(|| denied("No params"))?;
    let timestamp = match &envelope["timestamp"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(denied("No timestamp")),
    };
    let nonce = envelope["nonce"].as_str().unwrap_or_default();
    let expected = md5_hex(&format!("{APP_SECRET}{timestamp}{nonce}{encoded}"));
    let given = envelope["sign"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(denied("Bad sign"));
    }
    let decoded = openssl::base64::decode_block(encoded).map_err(|_| denied("Bad params"))?;
    serde_json::from_slice(&decoded).map_err(|_| denied("Bad params"))
}

/// The account a call's token belongs to.
fn caller(state: &CloudState, headers: &HeaderMap) -> Result<(String, Account), Json<Value>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic"))
        .map(str::trim)
        .unwrap_or_default();
    let user_id = state.tokens.check(token).map_err(|e| match e {
        TokenError::Unknown => answer(status::TOKEN_ERROR, "Token error", Value::Null),
        TokenError::Expired => answer(status::TOKEN_EXPIRED, "Token expired", Value::Null),
    })?;
    let account = state
        .accounts
        .iter()
        .find(|a| a.user_id == user_id)
        .cloned()
        .ok_or_else(|| answer(status::TOKEN_ERROR, "Token error", Value::Null))?;
    Ok((token.to_owned(), account))
}

/// The host a client reached us at (for `domain`, where its later calls go).
pub(super) fn reached_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned()
}

/// The host part of a `host[:port]` (IPv6 in brackets kept whole).
pub(super) fn host_only(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map_or(host, |h| h.trim_start_matches('['));
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

async fn log_user(State(state): State<CloudState>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    match params(&body).and_then(|_| caller(&state, &headers)) {
        Ok(_) => answer(status::OK, "Success", json!({})),
        Err(refused) => refused,
    }
}

async fn logout(State(state): State<CloudState>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    match params(&body).and_then(|_| caller(&state, &headers)) {
        Ok((token, _)) => {
            state.tokens.revoke(&token);
            answer(status::OK, "Success", json!({}))
        }
        Err(refused) => refused,
    }
}

async fn sub_devices(
    State(state): State<CloudState>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let (params, account) = match params(&body).and_then(|p| Ok((p, caller(&state, &headers)?.1))) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    // The hub must be one of the caller's; its sub-devices as the hub reported them.
    let hub = params
        .get("uuid")
        .and_then(Value::as_str)
        .and_then(|uuid| state.engine.device(uuid))
        .filter(|d| d.user_id.as_deref() == Some(account.user_id.as_str()));
    let list: Vec<Value> = hub
        .map(|d| crate::model::family::of(&d).subdevices)
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let kind = s.kind.clone().unwrap_or_default();
            json!({
                "subDeviceId": s.id,
                "trueId": s.id,
                "subDeviceType": kind,
                "subDeviceVendor": "meross",
                "subDeviceName": format!("{} {}", if kind.is_empty() { "sub-device" } else { &kind }, s.id),
                "subDeviceIconId": "",
            })
        })
        .collect();
    answer(status::OK, "Success", Value::Array(list))
}

async fn dev_list(State(state): State<CloudState>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let (_, account) = match params(&body).and_then(|_| caller(&state, &headers)) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let mqtt_host = host_only(&reached_host(&headers)).to_owned();
    let list: Vec<Value> = state
        .engine
        .devices()
        .iter()
        .filter(|d| d.user_id.as_deref() == Some(account.user_id.as_str()))
        .map(|d| device_entry(d, &mqtt_host))
        .collect();
    answer(status::OK, "Success", Value::Array(list))
}

/// One device as the cloud lists it.
fn device_entry(d: &Device, mqtt_host: &str) -> Value {
    // Channel 0 of a strip is "all" (the master); the user's names where given.
    let named = |c: u32| d.channel_names.get(&c).cloned();
    let channels: Vec<Value> = if d.channels.len() <= 1 {
        vec![named(0).map_or(json!({}), |n| json!({ "devName": n }))]
    } else {
        d.channels
            .keys()
            .map(|c| match (named(*c), *c) {
                (Some(name), _) => json!({ "devName": name }),
                (None, 0) => json!({}),
                (None, c) => json!({"devName": format!("Channel {c}")}),
            })
            .collect()
    };
    let hardware = d.hardware.clone().unwrap_or_default();
    let name = d.display_name();
    json!({
        "uuid": d.uuid,
        "onlineStatus": if d.online { 1 } else { 2 },
        "devName": name,
        "deviceType": d.kind().unwrap_or("unknown"),
        "subType": hardware.sub_type,
        "channels": channels,
        "fmwareVersion": d.firmware_version().unwrap_or_default(),
        "hdwareVersion": hardware.version,
        "domain": mqtt_host,
        "reservedDomain": mqtt_host,
        "bindTime": d.bound_at.unwrap_or(d.first_seen),
        "region": "",
        "devIconId": "",
        "userDevIcon": "",
        "iconType": 1,
        "skillNumber": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(params: &Value, tamper: bool) -> Vec<u8> {
        let encoded = openssl::base64::encode_block(params.to_string().as_bytes());
        let (timestamp, nonce) = (1_700_000_000_000u64, "ABCDEFGHIJKLMNOP");
        let mut sign = md5_hex(&format!("{APP_SECRET}{timestamp}{nonce}{encoded}"));
        if tamper {
            sign.replace_range(0..1, if sign.starts_with('0') { "1" } else { "0" });
        }
        json!({"params": encoded, "sign": sign, "timestamp": timestamp, "nonce": nonce})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_signed_call_is_read_and_a_bad_sign_or_garbage_refused() {
        let p = json!({"email": "a@b.c", "password": "x"});
        assert_eq!(params(&envelope(&p, false)).unwrap(), p);
        for bad in [
            envelope(&p, true),
            b"{}".to_vec(),
            b"\xff".to_vec(),
            Vec::new(),
        ] {
            let refused = params(&bad).unwrap_err();
            assert_eq!(refused.0["apiStatus"], status::ACCESS_DENIED);
        }
    }

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_only("192.168.1.5:2002"), "192.168.1.5");
        assert_eq!(host_only("pi.local"), "pi.local");
        assert_eq!(host_only("[::1]:2002"), "::1");
    }
}
