//! One simulated device's state (relays, meter, time) and the commands its handle
//! ([`super::SimDevice`]) sends it; its connection lives in `connection`, its answers in
//! `answer`.

use super::SimConfig;
use crate::protocol::Message;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// Received messages kept for tests to look at.
pub(super) const KEEP_RECEIVED: usize = 500;

/// What a test (or the `sim` command) can see of a device.
#[derive(Debug, Clone, Default)]
pub struct SimState {
    /// It has a connection that got a CONNACK 0.
    pub connected: bool,
    /// The largest TLS record received (OpenSSL offers only).
    pub largest_record: Arc<std::sync::atomic::AtomicUsize>,
    /// Its Bind was acknowledged (SETACK) on the current connection.
    pub bound: bool,
    /// Connections that got a CONNACK 0.
    pub connects: u32,
    /// The last refusal's CONNACK code.
    pub refused: Option<u8>,
    /// Binds sent on the current connection.
    pub binds_sent: u32,
    /// The server answered its Clock PUSH on the current connection.
    pub clock_answered: bool,
    /// The time the server's last Clock answer carried.
    pub clock_from_server: Option<u64>,
    /// Each channel's relay, on or off (from the profile's System.All at start).
    pub relays: BTreeMap<u32, bool>,
    /// Times a relay changed state on a command (what wears it).
    pub switches: u32,
    /// Its IANA time zone: the profile's, then as a `System.Time` SET gives it (empty: none).
    pub timezone: String,
    /// Its `timeRule` list (`[[utc_start, offset_s, is_dst], ...]`), from the same places.
    pub time_rules: Value,
    /// Messages received from the server, oldest first (bounded).
    pub received: Vec<Message>,
    /// Bad signs this device answered with ERROR 5001.
    pub sign_errors: u32,
    /// When the last bind was acknowledged.
    pub bound_at: Option<Instant>,
    /// It answers nothing (see [`SimDevice::mute`]).
    pub muted: bool,
    /// The family state it reports in its digest (lights, thermostats, doors...): the
    /// trace's, changed by SETs. Its `togglex` is `relays`'.
    pub digest: Value,
    /// The family state it reports only through GETs (a shutter's position...), by
    /// namespace: the trace's recorded answers, changed by SETs.
    pub kept: std::collections::HashMap<String, Value>,
    /// Changes under way (a door closing, a shutter moving), made and PUSHed when due.
    pub later: Vec<Later>,
    /// Its timers and auto-off rules, and what it does of them.
    pub schedules: super::book::Book,
    /// Its firmware version once an upgrade changed it (else its profile's).
    pub firmware: Option<String>,
    /// An upgrade it was sent and has not fetched yet: (url, md5).
    pub upgrade: Option<(String, String)>,
    /// Images it fetches arrive damaged (a bad network): their md5 does not match.
    pub damage_downloads: bool,
}

#[derive(Debug)]
pub(super) enum Command {
    /// A press of the button: flip a relay and PUSH it.
    Press(u32),
    /// Drop the connection (and reconnect after the delay).
    Drop,
    /// Stop reading and sending anything, keepalive included, with the connection left
    /// open: a device whose process was stopped, or that lost power behind a NAT.
    Freeze,
    /// Publish this message on its publish topic, as it is (tests make a device say
    /// what firmware would not).
    Say(Box<Message>),
}

/// A change that takes time (a door, a shutter): at `at`, `item` becomes the state of
/// `namespace`, and a PUSH says so.
#[derive(Debug, Clone)]
pub struct Later {
    /// When it is there.
    pub at: Instant,
    pub(super) namespace: &'static str,
    pub(super) item: Value,
}

/// A device's state when it starts, from its profile's System.All.
pub(super) fn initial_state(config: &SimConfig) -> SimState {
    let all = &config.profile.all;
    let mut relays = BTreeMap::new();
    if let Some(list) = all.pointer("/digest/togglex").and_then(Value::as_array) {
        for t in list {
            let channel = t.get("channel").and_then(Value::as_u64).unwrap_or(0) as u32;
            let on = t.get("onoff").and_then(Value::as_u64).unwrap_or(0) != 0;
            relays.insert(channel, on);
        }
    } else if let Some(t) = all.pointer("/control/toggle") {
        relays.insert(0, t.get("onoff").and_then(Value::as_u64).unwrap_or(0) != 0);
    }
    SimState {
        relays,
        digest: all.get("digest").cloned().unwrap_or(Value::Null),
        kept: kept(config),
        schedules: super::book::Book::new(config.timings.clock_speed),
        timezone: all
            .pointer("/system/time/timezone")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        time_rules: all
            .pointer("/system/time/timeRule")
            .cloned()
            .unwrap_or(json!([])),
        ..Default::default()
    }
}

/// The recorded answers a SET may change; do-not-disturb starts off where the trace has
/// no answer of it.
fn kept(config: &SimConfig) -> std::collections::HashMap<String, Value> {
    let mut kept = config.profile.recorded.clone();
    if config
        .profile
        .ability
        .get("Appliance.System.DNDMode")
        .is_some()
    {
        kept.entry("Appliance.System.DNDMode".to_owned())
            .or_insert_with(|| json!({"DNDMode": {"mode": 0}}));
    }
    kept
}

pub(super) fn lock(state: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
