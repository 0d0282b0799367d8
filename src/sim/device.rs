//! One simulated device: its state (relays, meter, time) and the handle tests and the
//! `sim` command hold; its connection lives in `connection`, its answers in `answer`.

use super::connection::run;
use super::SimConfig;
use crate::protocol::Message;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Received messages kept for tests to look at.
pub(super) const KEEP_RECEIVED: usize = 500;

/// What a test (or the `sim` command) can see of a device.
#[derive(Debug, Clone, Default)]
pub struct SimState {
    pub connected: bool,
    /// The largest TLS record received (OpenSSL offers only).
    pub largest_record: Arc<std::sync::atomic::AtomicUsize>,
    pub bound: bool,
    /// Connections that got a CONNACK 0.
    pub connects: u32,
    /// The last refusal's CONNACK code.
    pub refused: Option<u8>,
    /// Binds sent on the current connection.
    pub binds_sent: u32,
    pub clock_answered: bool,
    /// The time the server's last Clock answer carried.
    pub clock_from_server: Option<u64>,
    pub relays: BTreeMap<u32, bool>,
    /// Times a relay changed state on a command (what wears it).
    pub switches: u32,
    pub timezone: String,
    pub time_rules: Value,
    /// Messages received from the server, oldest first (bounded).
    pub received: Vec<Message>,
    /// Bad signs this device answered with ERROR 5001.
    pub sign_errors: u32,
    /// When the last bind was acknowledged.
    pub bound_at: Option<Instant>,
    /// It answers nothing (see [`SimDevice::mute`]).
    pub muted: bool,
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
}

/// A running simulated device.
pub struct SimDevice {
    pub uuid: String,
    pub mac: String,
    state: Arc<Mutex<SimState>>,
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl SimDevice {
    /// Starts the device; it connects and reconnects until stopped.
    pub fn start(config: SimConfig) -> SimDevice {
        let state = Arc::new(Mutex::new(initial_state(&config)));
        let (tx, rx) = mpsc::unbounded_channel();
        let uuid = config.uuid.clone();
        let mac = config.mac.clone();
        let task = tokio::spawn(run(config, state.clone(), rx));
        SimDevice {
            uuid,
            mac,
            state,
            commands: tx,
            task,
        }
    }

    pub fn state(&self) -> SimState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn press(&self, channel: u32) {
        let _ = self.commands.send(Command::Press(channel));
    }

    pub fn drop_connection(&self) {
        let _ = self.commands.send(Command::Drop);
    }

    /// A muted device stays connected but answers nothing (not even Bind), from the
    /// moment this returns.
    pub fn mute(&self, muted: bool) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).muted = muted;
    }

    /// Freezes the device for good: see [`Command::Freeze`]. Stop it to end it.
    pub fn freeze(&self) {
        let _ = self.commands.send(Command::Freeze);
    }

    /// Waits until `check` holds for the state, or `within` passes. Returns whether it held.
    pub async fn wait_for(&self, within: Duration, check: impl Fn(&SimState) -> bool) -> bool {
        let end = Instant::now() + within;
        loop {
            if check(&self.state()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the device (its connection closes).
    pub fn stop(&self) {
        self.task.abort();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.connected = false;
        s.bound = false;
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn initial_state(config: &SimConfig) -> SimState {
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

pub(super) fn lock(state: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
