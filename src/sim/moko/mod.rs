//! A simulated MOKO MK102/MK112 plug on its network (seeds/004): it dials (TLS or plain
//! TCP), logs in with MQTT 3.1.1 and the user name and password its provisioning gave it,
//! subscribes to its five `app/...` topics, says its state and firmware, its state every
//! 30 s and its power every second (a metering plug), and answers switching, countdowns,
//! reset, upgrade and firmware requests as the firmware does. Its way in lives in
//! `connection`, its session in `session`, its packets in `link`.

mod connection;
mod link;
mod session;

use crate::protocol::moko::setup::DeviceInfo;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages received kept in [`MokoState::received`].
const KEEP_RECEIVED: usize = 64;

/// Everything a simulated MOKO plug needs to dial in.
#[derive(Debug, Clone)]
pub struct MokoConfig {
    /// The server it dials (the 4002 `host`), also its TLS server name.
    pub host: String,
    /// Its port (the 4002 `port`).
    pub port: u16,
    /// TLS (4002 `connect_mode` 1) or plain TCP (0). TLS takes any certificate, as the plug.
    pub tls: bool,
    /// The MQTT user name (4002 `username`).
    pub username: String,
    /// The MQTT password (4002 `password`).
    pub password: String,
    /// Who it is: its topic prefix, MAC and whether it measures power.
    pub info: DeviceInfo,
    /// The MQTT keepalive (4002 `keepalive`); it pings at half of it.
    pub keepalive: Duration,
    /// Between the `switch_state` it says regardless of change (30 s on real plugs).
    pub state_every: Duration,
    /// Between `electricity_information` messages (1 s on real plugs), metering plugs only.
    pub electricity_every: Duration,
    /// The wait before dialling again after a drop or a refusal.
    pub reconnect_delay: Duration,
}

impl MokoConfig {
    /// A plug dialling `host:port` over TLS with a login, with real firmware's timings.
    pub fn new(
        host: &str,
        port: u16,
        username: &str,
        password: &str,
        info: DeviceInfo,
    ) -> MokoConfig {
        MokoConfig {
            host: host.to_owned(),
            port,
            tls: true,
            username: username.to_owned(),
            password: password.to_owned(),
            info,
            keepalive: Duration::from_secs(60),
            state_every: Duration::from_secs(30),
            electricity_every: Duration::from_secs(1),
            reconnect_delay: Duration::from_secs(5),
        }
    }
}

/// The n-th simulated MOKO plug's identity: an `iot_plug`/`plug_one`/`us` plug with MAC
/// `aa:bb:cc:00:xx:yy` (xx yy: n's low 16 bits), measuring power when `metering`.
pub fn sim_info(n: u32, metering: bool) -> DeviceInfo {
    DeviceInfo {
        device_function: "iot_plug".to_owned(),
        device_name: "plug_one".to_owned(),
        device_specifications: "us".to_owned(),
        device_mac: format!("aa:bb:cc:00:{:02x}:{:02x}", (n >> 8) & 0xff, n & 0xff),
        device_type: if metering { "1" } else { "0" }.to_owned(),
    }
}

/// What a test (or `merossd sim --moko`) can see of a simulated MOKO plug.
#[derive(Debug, Clone, Default)]
pub struct MokoState {
    /// It has a connection that got a CONNACK 0.
    pub connected: bool,
    /// Its relay.
    pub on: bool,
    /// A countdown under way: seconds left, and whether the relay is then on.
    pub countdown: Option<(u32, bool)>,
    /// The last refusal's CONNACK code (cleared by a good login).
    pub refused: Option<u8>,
    /// Connections that got a CONNACK 0.
    pub connects: u32,
    /// Messages received as (topic, payload), oldest first, the last 64.
    pub received: Vec<(String, String)>,
    /// What it draws now (W): 20 when on, 0 when off.
    pub power_w: f64,
    /// Its firmware version (`000001`; `000002` after an upgrade).
    pub firmware_version: String,
    /// It was reset (told to, or its button held): it dials no more.
    pub reset: bool,
}

impl MokoState {
    fn remember(&mut self, topic: &str, payload: &[u8]) {
        if self.received.len() >= KEEP_RECEIVED {
            self.received.remove(0);
        }
        self.received.push((
            topic.to_owned(),
            String::from_utf8_lossy(payload).into_owned(),
        ));
    }

    /// Switches the relay; what it draws follows.
    fn switch(&mut self, on: bool) {
        self.on = on;
        self.power_w = if on { 20.0 } else { 0.0 };
    }
}

/// What the handle asks of the connection task.
#[derive(Debug)]
enum Command {
    /// A press of its button: flip the relay and say so.
    Press,
    /// Its button held 10 s: say `delete_device`, reset, dial no more.
    HoldReset,
    /// Publish these bytes on this topic as they are.
    Publish(String, Vec<u8>),
}

fn lock(state: &Mutex<MokoState>) -> std::sync::MutexGuard<'_, MokoState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulated MOKO plug.
pub struct MokoPlug {
    /// Its topic prefix, `<function>/<name>/<region>/<mac>`.
    pub prefix: String,
    state: Arc<Mutex<MokoState>>,
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl MokoPlug {
    /// Starts the plug (off); it dials and dials again until stopped or reset.
    pub fn start(config: MokoConfig) -> MokoPlug {
        let state = Arc::new(Mutex::new(MokoState {
            firmware_version: "000001".to_owned(),
            ..MokoState::default()
        }));
        let (tx, rx) = mpsc::unbounded_channel();
        let prefix = config.info.prefix();
        let task = tokio::spawn(connection::run(config, state.clone(), rx));
        MokoPlug {
            prefix,
            state,
            commands: tx,
            task,
        }
    }

    /// A copy of what it is now.
    pub fn state(&self) -> MokoState {
        lock(&self.state).clone()
    }

    /// Presses its button: flips the relay and says `switch_state` (once connected).
    pub fn press(&self) {
        let _ = self.commands.send(Command::Press);
    }

    /// Holds its button 10 s: says `device/delete_device` `{}` (when connected), then
    /// resets and dials no more.
    pub fn hold_reset(&self) {
        let _ = self.commands.send(Command::HoldReset);
    }

    /// Publishes `payload` as it is on `<prefix>/device/<what>` (tests make it say what
    /// firmware would not).
    pub fn say(&self, what: &str, payload: Vec<u8>) {
        let topic = format!("{}/device/{what}", self.prefix);
        let _ = self.commands.send(Command::Publish(topic, payload));
    }

    /// Publishes `payload` on any `topic` (tests of the topic rules).
    pub fn publish_raw(&self, topic: &str, payload: Vec<u8>) {
        let _ = self
            .commands
            .send(Command::Publish(topic.to_owned(), payload));
    }

    /// Waits until `check` holds for the state, or `within` passes. Returns whether it held.
    pub async fn wait_for(&self, within: Duration, check: impl Fn(&MokoState) -> bool) -> bool {
        super::wait_until(within, || check(&self.state())).await
    }

    /// Stops the plug (its connection closes).
    pub fn stop(&self) {
        self.task.abort();
        lock(&self.state).connected = false;
    }
}

impl Drop for MokoPlug {
    fn drop(&mut self) {
        self.task.abort();
    }
}
