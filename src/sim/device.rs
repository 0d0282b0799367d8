//! One simulated device: its connection loop (the firmware's session behaviour) and its
//! state (relays, meter, time), answering requests the way real firmware does.

use super::{tls, SimConfig};
use crate::mqtt::connect::Connect;
use crate::protocol::{
    self, device_password, device_publish_topic, device_subscribe_topic, Message, Method,
};
use bytes::BytesMut;
use rand::distributions::{Alphanumeric, DistString};
use rumqttc::mqttbytes::v4::{Packet, PingReq, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

/// Largest packet the simulated device reads.
const MAX_PACKET: usize = 64 * 1024;
/// Received messages kept for tests to look at.
const KEEP_RECEIVED: usize = 500;

/// What a test (or the `sim` command) can see of a device.
#[derive(Debug, Clone, Default)]
pub struct SimState {
    pub connected: bool,
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
    pub timezone: String,
    pub time_rules: Value,
    /// Messages received from the server, oldest first (bounded).
    pub received: Vec<Message>,
    /// Bad signs this device answered with ERROR 5001.
    pub sign_errors: u32,
    /// When the last bind was acknowledged.
    pub bound_at: Option<Instant>,
}

enum Command {
    /// A press of the button: flip a relay and PUSH it.
    Press(u32),
    /// Drop the connection (and reconnect after the delay).
    Drop,
    /// Stop answering anything (a hung device that stays connected).
    Mute(bool),
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

    /// A muted device stays connected but answers nothing (not even Bind).
    pub fn mute(&self, muted: bool) {
        let _ = self.commands.send(Command::Mute(muted));
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

fn lock(state: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connects, runs a session, and reconnects after it ends, for ever.
async fn run(
    config: SimConfig,
    state: Arc<Mutex<SimState>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let tls = TlsConnector::from(tls::client_config());
    let mut muted = false;
    loop {
        match session(&config, &tls, &state, &mut commands, &mut muted).await {
            Ok(why) => debug!(uuid = %config.uuid, why, "session ended"),
            Err(e) => debug!(uuid = %config.uuid, error = %e, "session failed"),
        }
        {
            let mut s = lock(&state);
            s.connected = false;
            s.bound = false;
        }
        tokio::time::sleep(config.timings.reconnect_delay).await;
    }
}

type Io = Box<dyn IoStream>;
trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

struct Link {
    io: Io,
    buf: BytesMut,
    next_pkid: u16,
}

impl Link {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    async fn publish(&mut self, topic: &str, message: &Message) -> std::io::Result<()> {
        self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
        let mut p = Publish::new(topic, QoS::AtLeastOnce, message.to_bytes());
        p.pkid = self.next_pkid;
        let mut out = BytesMut::new();
        p.write(&mut out).map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    /// Reads one packet (cancel-safe: partial bytes stay in `buf`).
    async fn read(&mut self) -> std::io::Result<Packet> {
        loop {
            match Packet::read(&mut self.buf, MAX_PACKET) {
                Ok(p) => return Ok(p),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

async fn dial(config: &SimConfig, tls: &TlsConnector) -> std::io::Result<Io> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port)).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(config.host.clone())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid DNS name"));
    let stream = tls.connect(name, tcp).await?;
    Ok(Box::new(stream))
}

/// One connection's life. Returns why it ended.
async fn session(
    config: &SimConfig,
    tls: &TlsConnector,
    state: &Mutex<SimState>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    muted: &mut bool,
) -> std::io::Result<&'static str> {
    let t = &config.timings;
    let io = timeout(t.connect_timeout, dial(config, tls))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect"))??;
    let mut link = Link {
        io,
        buf: BytesMut::with_capacity(4096),
        next_pkid: 0,
    };
    let client_id = format!(
        "fmware:{}_{}",
        config.uuid,
        Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
    );
    let level = if config.mqtt311 { 4 } else { 3 };
    let keep_alive = t.keepalive.as_secs().clamp(1, u16::MAX as u64) as u16;
    let password = device_password(&config.mac, &config.user_id, &config.key);
    let connect = Connect::new(level, client_id, keep_alive).login(config.mac.clone(), password);
    link.write(&connect.encode()).await?;
    let ack = timeout(t.connect_timeout, link.read())
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connack"))??;
    match ack {
        Packet::ConnAck(ack) if ack.code == rumqttc::mqttbytes::v4::ConnectReturnCode::Success => {}
        Packet::ConnAck(ack) => {
            let code = ack.code as u8;
            lock(state).refused = Some(code);
            warn!(uuid = %config.uuid, code, "login refused");
            return Ok("refused");
        }
        _ => return Ok("no CONNACK"),
    }
    {
        let mut s = lock(state);
        s.connected = true;
        s.bound = false;
        s.connects += 1;
        s.binds_sent = 0;
        s.clock_answered = false;
        s.refused = None;
    }
    let mut out = BytesMut::new();
    Subscribe::new(device_subscribe_topic(&config.uuid), QoS::AtLeastOnce)
        .write(&mut out)
        .map_err(std::io::Error::other)?;
    link.write(&out).await?;

    let pub_topic = device_publish_topic(&config.uuid);
    let report =
        json!({"report": [{"type": "1", "value": "0", "timestamp": protocol::now_secs()}]});
    link.publish(
        &pub_topic,
        &device_message(
            config,
            Method::Push,
            "Appliance.System.Report",
            report,
            &pub_topic,
        ),
    )
    .await?;

    let mut bind_ids: Vec<String> = Vec::new();
    let mut next_bind = Instant::now();
    let mut clock_tries = 0u32;
    let mut next_clock: Option<Instant> = None;
    let mut next_ping = Instant::now() + t.keepalive;
    loop {
        // Bind until answered; the (n+1)-th due time after n binds means giving up.
        let bound = lock(state).bound;
        if !bound && !*muted && Instant::now() >= next_bind {
            if bind_ids.len() as u32 >= t.binds_before_reconnect {
                info!(uuid = %config.uuid, "no SETACK for Bind; disconnecting to try again");
                let _ = link.write(&[0xe0, 0x00]).await; // DISCONNECT
                return Ok("bind unanswered");
            }
            let bind = bind_message(config, state);
            bind_ids.push(bind.header.message_id.clone());
            link.publish(&pub_topic, &bind).await?;
            lock(state).binds_sent += 1;
            next_bind = Instant::now() + t.bind_interval;
        }
        if let Some(due) = next_clock.filter(|due| Instant::now() >= *due) {
            let _ = due;
            if clock_tries >= t.clock_tries {
                info!(uuid = %config.uuid, "Clock never answered; restarting");
                return Ok("clock unanswered");
            }
            clock_tries += 1;
            let clock = json!({"clock": {"timestamp": protocol::now_secs()}});
            link.publish(
                &pub_topic,
                &device_message(
                    config,
                    Method::Push,
                    "Appliance.System.Clock",
                    clock,
                    &pub_topic,
                ),
            )
            .await?;
            next_clock = Some(Instant::now() + t.clock_interval);
        }
        if Instant::now() >= next_ping {
            let mut out = BytesMut::new();
            PingReq.write(&mut out).map_err(std::io::Error::other)?;
            link.write(&out).await?;
            next_ping = Instant::now() + t.keepalive;
        }
        let mut wake = next_ping;
        if !bound {
            wake = wake.min(next_bind);
        }
        if let Some(due) = next_clock {
            wake = wake.min(due);
        }

        tokio::select! {
            packet = link.read() => {
                let Packet::Publish(publish) = packet? else { continue };
                if publish.qos == QoS::AtLeastOnce {
                    let mut out = BytesMut::new();
                    PubAck::new(publish.pkid).write(&mut out).map_err(std::io::Error::other)?;
                    link.write(&out).await?;
                }
                if *muted {
                    continue;
                }
                let Ok(message) = Message::parse(&publish.payload) else {
                    warn!(uuid = %config.uuid, "received something that is not a Meross message");
                    continue;
                };
                remember(state, &message);
                match (message.header.method, message.header.namespace.as_str()) {
                    (Method::SetAck, "Appliance.Control.Bind") => {
                        let mut s = lock(state);
                        if !s.bound {
                            s.bound = true;
                            s.bound_at = Some(Instant::now());
                            drop(s);
                            debug!(uuid = %config.uuid, "bound");
                            next_clock = Some(Instant::now());
                        }
                    }
                    (Method::Push, "Appliance.System.Clock") => {
                        let mut s = lock(state);
                        s.clock_answered = true;
                        s.clock_from_server = message.payload.pointer("/clock/timestamp").and_then(Value::as_u64);
                        next_clock = None;
                    }
                    (Method::Get | Method::Set, _) => {
                        let (reply, push) = answer(config, state, &message);
                        let to = if message.header.from.is_empty() { pub_topic.clone() } else { message.header.from.clone() };
                        link.publish(&to, &reply).await?;
                        if let Some(push) = push {
                            link.publish(&pub_topic, &push).await?;
                        }
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                Some(Command::Press(channel)) => {
                    let on = {
                        let mut s = lock(state);
                        let on = !s.relays.get(&channel).copied().unwrap_or(false);
                        s.relays.insert(channel, on);
                        on
                    };
                    let push = togglex_push(config, channel, on, &pub_topic);
                    link.publish(&pub_topic, &push).await?;
                }
                Some(Command::Drop) => return Ok("dropped on request"),
                Some(Command::Mute(m)) => *muted = m,
                None => return Ok("stopped"),
            },
            _ = sleep_until(wake) => {}
        }
    }
}

fn remember(state: &Mutex<SimState>, message: &Message) {
    let mut s = lock(state);
    if s.received.len() >= KEEP_RECEIVED {
        s.received.remove(0);
    }
    s.received.push(message.clone());
}

/// A message from the device, signed with its key, `from` its publish topic.
fn device_message(
    config: &SimConfig,
    method: Method,
    namespace: &str,
    payload: Value,
    from: &str,
) -> Message {
    let mut m = Message::new(method, namespace, payload, from, &config.key);
    m.header.uuid = Some(config.uuid.clone());
    m
}

/// The `system` block with this device's identity in place of the trace's masked values.
fn system(config: &SimConfig, state: &Mutex<SimState>) -> Value {
    let mut system = config
        .profile
        .all
        .get("system")
        .cloned()
        .unwrap_or(json!({}));
    let s = lock(state);
    if let Some(hw) = system.get_mut("hardware").and_then(Value::as_object_mut) {
        hw.insert("uuid".into(), json!(config.uuid));
        hw.insert("macAddress".into(), json!(config.mac));
    }
    if let Some(fw) = system.get_mut("firmware").and_then(Value::as_object_mut) {
        fw.insert("wifiMac".into(), json!(config.mac));
        fw.insert("innerIp".into(), json!("127.0.0.1"));
        fw.insert("server".into(), json!(config.host));
        fw.insert("port".into(), json!(config.port));
        fw.insert(
            "userId".into(),
            json!(config.user_id.parse::<u64>().unwrap_or(0)),
        );
    }
    system["time"] = json!({
        "timestamp": protocol::now_secs(),
        "timezone": s.timezone,
        "timeRule": s.time_rules,
    });
    system
}

fn bind_message(config: &SimConfig, state: &Mutex<SimState>) -> Message {
    let system = system(config, state);
    let payload = json!({"bind": {
        "bindTime": protocol::now_secs(),
        "time": system.get("time").cloned().unwrap_or(json!({})),
        "hardware": system.get("hardware").cloned().unwrap_or(json!({})),
        "firmware": system.get("firmware").cloned().unwrap_or(json!({})),
    }});
    // The device asks for the answer on its own subscribe topic (seeds/003).
    device_message(
        config,
        Method::Set,
        "Appliance.Control.Bind",
        payload,
        &device_subscribe_topic(&config.uuid),
    )
}

fn togglex_push(config: &SimConfig, channel: u32, on: bool, pub_topic: &str) -> Message {
    let payload = json!({"togglex": [{"channel": channel, "onoff": u8::from(on), "lmTime": protocol::now_secs()}]});
    device_message(
        config,
        Method::Push,
        "Appliance.Control.ToggleX",
        payload,
        pub_topic,
    )
}

/// Answers a GET or SET from the device's state: the reply, and a PUSH to send after it.
fn answer(
    config: &SimConfig,
    state: &Mutex<SimState>,
    request: &Message,
) -> (Message, Option<Message>) {
    let pub_topic = device_publish_topic(&config.uuid);
    let reply = |method: Method, payload: Value| {
        let mut m = request.reply(method, payload, &pub_topic, &config.key);
        m.header.uuid = Some(config.uuid.clone());
        m
    };
    if !request.header.sign_ok(&config.key) {
        lock(state).sign_errors += 1;
        return (
            reply(
                Method::Error,
                json!({"error": {"code": 5001, "detail": "sign error"}}),
            ),
            None,
        );
    }
    let ns = request.header.namespace.as_str();
    let ack = request.header.method.ack();
    let p = &request.payload;
    let has = |n: &str| config.profile.ability.get(n).is_some();
    if !has(ns) && !config.profile.recorded.contains_key(ns) {
        return (
            reply(
                Method::Error,
                json!({"error": {"code": 5000, "detail": "unknown namespace"}}),
            ),
            None,
        );
    }
    let is_get = request.header.method == Method::Get;
    match ns {
        "Appliance.System.All" => {
            let mut all = json!({"system": system(config, state)});
            let s = lock(state);
            if let Some(digest) = config.profile.all.get("digest") {
                let mut digest = digest.clone();
                digest["togglex"] = json!(s
                    .relays
                    .iter()
                    .map(|(c, on)| json!({"channel": c, "onoff": u8::from(*on), "lmTime": 0}))
                    .collect::<Vec<_>>());
                all["digest"] = digest;
            } else if let Some(control) = config.profile.all.get("control") {
                let mut control = control.clone();
                control["toggle"] = json!({"onoff": u8::from(s.relays.get(&0).copied().unwrap_or(false)), "lmTime": 0});
                all["control"] = control;
            }
            (reply(ack, json!({"all": all})), None)
        }
        "Appliance.System.Ability" => {
            (reply(ack, json!({"ability": config.profile.ability})), None)
        }
        "Appliance.Control.ToggleX" if is_get => {
            let s = lock(state);
            let list: Vec<Value> = s
                .relays
                .iter()
                .map(|(c, on)| json!({"channel": c, "onoff": u8::from(*on), "lmTime": 0}))
                .collect();
            (reply(ack, json!({"togglex": list})), None)
        }
        "Appliance.Control.ToggleX" => {
            let items = match p.get("togglex") {
                Some(Value::Array(items)) => items.clone(),
                Some(one) => vec![one.clone()],
                None => vec![],
            };
            let mut changed = Vec::new();
            {
                let mut s = lock(state);
                for item in items {
                    let channel = item.get("channel").and_then(Value::as_u64).unwrap_or(0) as u32;
                    let on = item.get("onoff").and_then(Value::as_u64).unwrap_or(0) != 0;
                    if s.relays.insert(channel, on) != Some(on) {
                        changed.push((channel, on));
                    }
                }
            }
            let push = changed
                .first()
                .map(|(c, on)| togglex_push(config, *c, *on, &pub_topic));
            (reply(ack, json!({})), push)
        }
        "Appliance.Control.Toggle" if is_get => {
            let on = lock(state).relays.get(&0).copied().unwrap_or(false);
            (
                reply(ack, json!({"toggle": {"onoff": u8::from(on), "lmTime": 0}})),
                None,
            )
        }
        "Appliance.Control.Toggle" => {
            let on = p
                .pointer("/toggle/onoff")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                != 0;
            lock(state).relays.insert(0, on);
            (reply(ack, json!({})), None)
        }
        "Appliance.Control.Electricity" => {
            let channel = p
                .pointer("/electricity/channel")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let s = lock(state);
            // Metering firmware reports nothing until it has been given a time zone.
            let (current, voltage, power) = if s.timezone.is_empty() {
                (0, 0, 0)
            } else if s.relays.get(&(channel as u32)).copied().unwrap_or(false) {
                (418, 2387, 67379)
            } else {
                (0, 2387, 0)
            };
            (
                reply(
                    ack,
                    json!({"electricity": {"channel": channel, "current": current, "voltage": voltage, "power": power, "config": {"voltageRatio": 188, "electricityRatio": 102}}}),
                ),
                None,
            )
        }
        "Appliance.Control.ConsumptionX" => {
            let today = protocol::now_secs() / 86_400;
            let days: Vec<Value> = (0..30u64)
                .map(|back| {
                    let day = today - back;
                    json!({"date": civil_date(day), "time": day * 86_400 + 86_399, "value": 120 + (day % 7) * 10})
                })
                .collect();
            (reply(ack, json!({"consumptionx": days})), None)
        }
        "Appliance.System.Time" if !is_get => {
            let mut s = lock(state);
            if let Some(tz) = p.pointer("/time/timezone").and_then(Value::as_str) {
                s.timezone = tz.to_owned();
            }
            if let Some(rules) = p.pointer("/time/timeRule") {
                s.time_rules = rules.clone();
            }
            (reply(ack, json!({})), None)
        }
        "Appliance.System.Time" => {
            let s = lock(state);
            (
                reply(
                    ack,
                    json!({"time": {"timestamp": protocol::now_secs(), "timezone": s.timezone, "timeRule": s.time_rules}}),
                ),
                None,
            )
        }
        "Appliance.System.DNDMode" if !is_get => (reply(ack, json!({})), None),
        "Appliance.System.DNDMode" => (reply(ack, json!({"DNDMode": {"mode": 0}})), None),
        _ if is_get => match config.profile.recorded.get(ns) {
            Some(payload) => (reply(ack, payload.clone()), None),
            None => (reply(ack, json!({})), None),
        },
        _ => (reply(ack, json!({})), None),
    }
}

/// `YYYY-MM-DD` of a day number since the epoch.
fn civil_date(days: u64) -> String {
    jiff::Timestamp::from_second(days as i64 * 86_400)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_date(0), "1970-01-01");
        assert_eq!(super::civil_date(19_723), "2024-01-01");
    }
}
