//! A simulated Meross plug that behaves as current firmware does: TLS without a
//! certificate check, an MQTT 3.1 CONNECT, Report and Bind after subscribing, Bind again
//! every few seconds and a reconnect after three unanswered ones, Clock until answered
//! (a restart after ten tries), answers to GET/SET from its state, `ERROR 5001` for a bad
//! sign, and a ToggleX PUSH when switched. For tests, benchmarks, and trying merossd
//! without hardware (`merossd sim`). [`moko`] is a simulated MOKO MK102/MK112 plug on its
//! network, and [`moko_pairing`] one in AP mode, to be provisioned.

mod answer;
pub mod ble;
mod book;
mod connection;
mod device;
mod families;
pub mod hub;
mod link;
pub mod moko;
pub mod moko_pairing;
pub mod pairing;
mod says;
mod schedule;
pub mod tls;
pub mod trace;
mod upgrade;

use crate::protocol::Message;
pub use device::SimState;
use device::{initial_state, Command};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::Instant;
pub use trace::Profile;

use std::time::Duration;

/// How fast the simulated firmware does things. The defaults are real firmware's.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Between Bind attempts (and from the third to giving up).
    pub bind_interval: Duration,
    /// Binds sent before the device disconnects to try again.
    pub binds_before_reconnect: u32,
    /// Between Clock PUSHes while unanswered.
    pub clock_interval: Duration,
    /// Unanswered Clock PUSHes before the device restarts.
    pub clock_tries: u32,
    /// Wait before reconnecting after a drop or a refusal.
    pub reconnect_delay: Duration,
    /// MQTT keepalive.
    pub keepalive: Duration,
    /// Deadline for TCP + TLS + CONNACK.
    pub connect_timeout: Duration,
    /// How long a garage door or a shutter takes to get where it was sent.
    pub motion: Duration,
    /// How many times as fast as real time its clock runs for its timers and auto-off
    /// rules (1: real time; tests use 60, a minute a second).
    pub clock_speed: u32,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            bind_interval: Duration::from_secs(5),
            binds_before_reconnect: 3,
            clock_interval: Duration::from_secs(5),
            clock_tries: 10,
            reconnect_delay: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            motion: Duration::from_secs(3),
            clock_speed: 1,
        }
    }
}

/// Everything one simulated device needs to dial in.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The merossd to dial, a name or an address (also its TLS server name).
    pub host: String,
    /// merossd's TLS port.
    pub port: u16,
    /// The account's user id, as in its password `<user_id>_md5(mac + key)`.
    pub user_id: String,
    /// The account's key: it makes the password and signs and checks messages.
    pub key: String,
    /// Its uuid (32 hex digits ending with the MAC's); empty until set, see [`identity`].
    pub uuid: String,
    /// Its MAC, lowercase with colons; empty until set, as `uuid`.
    pub mac: String,
    /// What device it is: its System.All, abilities and recorded answers.
    pub profile: Profile,
    /// How fast it does things; real firmware's by default.
    pub timings: Timings,
    /// Send MQTT 3.1.1 instead of 3.1 (both must be accepted).
    pub mqtt311: bool,
    /// What its TLS offers.
    pub tls: tls::TlsOffer,
    /// The local address it dials from (any when `None`). A fleet on one machine can come
    /// from many loopback addresses, as real plugs come from many.
    pub source: Option<std::net::IpAddr>,
}

impl SimConfig {
    /// A device of `profile` dialing `host:port` with an account; real firmware timings,
    /// MQTT 3.1. uuid and MAC are set per device by [`fleet`].
    pub fn new(host: &str, port: u16, user_id: &str, key: &str, profile: Profile) -> SimConfig {
        SimConfig {
            host: host.to_owned(),
            port,
            user_id: user_id.to_owned(),
            key: key.to_owned(),
            uuid: String::new(),
            mac: String::new(),
            profile,
            timings: Timings::default(),
            mqtt311: false,
            tls: tls::TlsOffer::Modern,
            source: None,
        }
    }
}

/// The uuid and MAC of the n-th simulated device: a Meross MAC (48:e1:e9) whose hex ends
/// the uuid, as on real devices. `prefix` (20 hex digits) keeps fleets apart, MACs too
/// (a MAC belongs to one uuid, as on real devices).
pub fn identity(prefix: &str, n: u32) -> (String, String) {
    // FNV-1a of the prefix spreads fleets over the MAC space.
    let spread = prefix.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let mac_hex = format!("48e1e9{:06x}", n.wrapping_add(spread) & 0xff_ffff);
    let mut prefix: String = prefix
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(20)
        .collect();
    while prefix.len() < 20 {
        prefix.push('0');
    }
    let mac = mac_hex
        .as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    (format!("{}{}", prefix.to_ascii_lowercase(), mac_hex), mac)
}

/// Starts `count` devices of one profile, numbered from `first`.
pub fn fleet(base: &SimConfig, prefix: &str, first: u32, count: u32) -> Vec<SimDevice> {
    (first..first + count)
        .map(|n| {
            let (uuid, mac) = identity(prefix, n);
            SimDevice::start(SimConfig {
                uuid,
                mac,
                ..base.clone()
            })
        })
        .collect()
}

/// A running simulated device.
pub struct SimDevice {
    /// Its uuid, from its [`SimConfig`].
    pub uuid: String,
    /// Its MAC, from its [`SimConfig`].
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
        let task = tokio::spawn(connection::run(config, state.clone(), rx));
        SimDevice {
            uuid,
            mac,
            state,
            commands: tx,
            task,
        }
    }

    /// A copy of what it is now: connected, bound, relays, what it received, ...
    pub fn state(&self) -> SimState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Its clock's local time, as its timers see it: (minute of the day, weekday with
    /// Sunday 0), by `Timings::clock_speed` and the `timeRule` it was given.
    pub fn local_time(&self) -> (u16, u8) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        schedule::local(&s, s.schedules.now())
    }

    /// Puts a timer (`"timerx"`) or auto-off rule (`"triggerx"`) item in its flash without
    /// a word to anyone: what the Meross app left on a plug before it came to merossd.
    pub fn hold(&self, key: &str, item: serde_json::Value) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        schedule::hold(&mut s.schedules, key, item);
    }

    /// Makes the images it fetches arrive damaged (their md5 no longer matches).
    pub fn damage_downloads(&self, damaged: bool) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .damage_downloads = damaged;
    }

    /// Presses its button: flips `channel`'s relay and PUSHes ToggleX (once connected).
    pub fn press(&self, channel: u32) {
        let _ = self.commands.send(Command::Press(channel));
    }

    /// Publishes `message` on its publish topic as it is (once connected).
    pub fn say(&self, message: Message) {
        let _ = self.commands.send(Command::Say(Box::new(message)));
    }

    /// Drops its connection; it reconnects after `timings.reconnect_delay`.
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
        wait_until(within, || check(&self.state())).await
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

/// Waits until `check` holds, looking every 20 ms, or `within` passes. Returns whether it
/// held.
pub(crate) async fn wait_until(within: Duration, check: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    // Bounded by `within`.
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
