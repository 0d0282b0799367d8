//! A simulated device's connection: dial (TLS), CONNECT, SUBSCRIBE, then the firmware's
//! session loop (Bind until answered, Clock, keepalive, PUSHes) until it ends; reconnect.

use super::answer::answer;
use super::device::{lock, Command, SimState};
use super::says::{bind_message, device_message, remember, togglex_push};
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
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

/// Largest packet the simulated device reads.
const MAX_PACKET: usize = 64 * 1024;
/// Connects, runs a session, and reconnects after it ends, for ever.
pub(super) async fn run(
    config: SimConfig,
    state: Arc<Mutex<SimState>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let tls = TlsConnector::from(tls::client_config());
    loop {
        match session(&config, &tls, &state, &mut commands).await {
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

async fn dial(
    config: &SimConfig,
    tls: &TlsConnector,
    state: &Mutex<SimState>,
) -> std::io::Result<Io> {
    let tcp = match config.source {
        None => TcpStream::connect((config.host.as_str(), config.port)).await?,
        Some(source) => {
            let target = tokio::net::lookup_host((config.host.as_str(), config.port))
                .await?
                .find(|a| a.is_ipv4() == source.is_ipv4())
                .ok_or_else(|| std::io::Error::other("no address of the source's family"))?;
            let socket = if source.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind(std::net::SocketAddr::new(source, 0))?;
            socket.connect(target).await?
        }
    };
    tcp.set_nodelay(true)?;
    if config.tls != tls::TlsOffer::Modern {
        let context = tls::openssl_context(&config.tls).map_err(std::io::Error::other)?;
        let ssl = openssl::ssl::Ssl::new(&context).map_err(std::io::Error::other)?;
        let largest = lock(state).largest_record.clone();
        let watched = tls::RecordWatch::new(tcp, largest);
        let mut stream =
            tokio_openssl::SslStream::new(ssl, watched).map_err(std::io::Error::other)?;
        std::pin::Pin::new(&mut stream)
            .connect()
            .await
            .map_err(std::io::Error::other)?;
        return Ok(Box::new(stream));
    }
    let name = ServerName::try_from(config.host.clone())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid DNS name"));
    let stream = tls.connect(name, tcp).await?;
    Ok(Box::new(stream))
}

/// Dials, logs in, subscribes and says its Report: the link, or why it ended there.
async fn log_in(
    config: &SimConfig,
    tls: &TlsConnector,
    state: &Mutex<SimState>,
) -> std::io::Result<Result<Link, &'static str>> {
    let t = &config.timings;
    let io = timeout(t.connect_timeout, dial(config, tls, state))
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
            return Ok(Err("refused"));
        }
        _ => return Ok(Err("no CONNACK")),
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
    // Packet id 0 is not a packet id (MQTT 3.1.1, 2.3.1): mosquitto closes on it.
    link.next_pkid = 1;
    let mut subscribe = Subscribe::new(device_subscribe_topic(&config.uuid), QoS::AtLeastOnce);
    subscribe.pkid = link.next_pkid;
    subscribe.write(&mut out).map_err(std::io::Error::other)?;
    link.write(&out).await?;

    let pub_topic = device_publish_topic(&config.uuid);
    let report =
        json!({"report": [{"type": "1", "value": "0", "timestamp": protocol::now_secs()}]});
    let report = device_message(
        config,
        Method::Push,
        "Appliance.System.Report",
        report,
        &pub_topic,
    );
    link.publish(&pub_topic, &report).await?;
    Ok(Ok(link))
}

/// When the device next binds, says its clock and pings, as firmware does.
struct Schedule {
    binds: u32,
    next_bind: Instant,
    clock_tries: u32,
    /// `None` until bound, and once the clock was answered.
    next_clock: Option<Instant>,
    next_ping: Instant,
}

impl Schedule {
    /// The first moment something is due.
    fn wake(&self, bound: bool) -> Instant {
        let mut wake = self.next_ping;
        if !bound {
            wake = wake.min(self.next_bind);
        }
        if let Some(due) = self.next_clock {
            wake = wake.min(due);
        }
        wake
    }
}

/// Sends what is due: a Bind until answered, the Clock once bound, a PINGREQ; `Some`
/// (why) when the device gives up on this connection.
async fn due(
    config: &SimConfig,
    state: &Mutex<SimState>,
    link: &mut Link,
    when: &mut Schedule,
) -> std::io::Result<Option<&'static str>> {
    let t = &config.timings;
    let pub_topic = device_publish_topic(&config.uuid);
    let now = Instant::now();
    let (bound, muted) = {
        let s = lock(state);
        (s.bound, s.muted)
    };
    // Bind until answered; the (n+1)-th due time after n binds means giving up.
    if !bound && !muted && now >= when.next_bind {
        if when.binds >= t.binds_before_reconnect {
            info!(uuid = %config.uuid, "no SETACK for Bind; disconnecting to try again");
            let _ = link.write(&[0xe0, 0x00]).await; // DISCONNECT
            return Ok(Some("bind unanswered"));
        }
        let bind = bind_message(config, state);
        when.binds += 1;
        link.publish(&pub_topic, &bind).await?;
        lock(state).binds_sent += 1;
        when.next_bind = Instant::now() + t.bind_interval;
    }
    if when.next_clock.is_some_and(|due| now >= due) {
        if when.clock_tries >= t.clock_tries {
            info!(uuid = %config.uuid, "Clock never answered; restarting");
            return Ok(Some("clock unanswered"));
        }
        when.clock_tries += 1;
        let clock = json!({"clock": {"timestamp": protocol::now_secs()}});
        let clock = device_message(
            config,
            Method::Push,
            "Appliance.System.Clock",
            clock,
            &pub_topic,
        );
        link.publish(&pub_topic, &clock).await?;
        when.next_clock = Some(Instant::now() + t.clock_interval);
    }
    // Doors and shutters that got where they were sent say so.
    let arrived: Vec<_> = {
        let mut s = lock(state);
        let (due, later) = std::mem::take(&mut s.later)
            .into_iter()
            .partition(|l| l.at <= now);
        s.later = later;
        due
    };
    for later in arrived {
        if let Some(push) = super::families::arrive(config, state, later) {
            link.publish(&pub_topic, &push).await?;
        }
    }
    if now >= when.next_ping {
        let mut out = BytesMut::new();
        PingReq.write(&mut out).map_err(std::io::Error::other)?;
        link.write(&out).await?;
        when.next_ping = Instant::now() + t.keepalive;
    }
    Ok(None)
}

/// One message from the server: the Bind's SETACK, the Clock's answer, or a request to
/// answer (then a PUSH of what it changed).
async fn on_publish(
    config: &SimConfig,
    state: &Mutex<SimState>,
    link: &mut Link,
    when: &mut Schedule,
    publish: rumqttc::mqttbytes::v4::Publish,
) -> std::io::Result<()> {
    if publish.qos == QoS::AtLeastOnce {
        let mut out = BytesMut::new();
        PubAck::new(publish.pkid)
            .write(&mut out)
            .map_err(std::io::Error::other)?;
        link.write(&out).await?;
    }
    if lock(state).muted {
        return Ok(());
    }
    let Ok(message) = Message::parse(&publish.payload) else {
        warn!(uuid = %config.uuid, "received something that is not a Meross message");
        return Ok(());
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
                when.next_clock = Some(Instant::now());
            }
        }
        (Method::Push, "Appliance.System.Clock") => {
            let mut s = lock(state);
            s.clock_answered = true;
            s.clock_from_server = message
                .payload
                .pointer("/clock/timestamp")
                .and_then(Value::as_u64);
            when.next_clock = None;
        }
        (Method::Get | Method::Set, _) => {
            let pub_topic = device_publish_topic(&config.uuid);
            let (reply, push) = answer(config, state, &message);
            let to = if message.header.from.is_empty() {
                pub_topic.clone()
            } else {
                message.header.from.clone()
            };
            link.publish(&to, &reply).await?;
            if let Some(push) = push {
                link.publish(&pub_topic, &push).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One connection's life. Returns why it ended.
async fn session(
    config: &SimConfig,
    tls: &TlsConnector,
    state: &Mutex<SimState>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> std::io::Result<&'static str> {
    let mut link = match log_in(config, tls, state).await? {
        Ok(link) => link,
        Err(why) => return Ok(why),
    };
    let pub_topic = device_publish_topic(&config.uuid);
    let mut when = Schedule {
        binds: 0,
        next_bind: Instant::now(),
        clock_tries: 0,
        next_clock: None,
        next_ping: Instant::now() + config.timings.keepalive,
    };
    loop {
        if let Some(why) = due(config, state, &mut link, &mut when).await? {
            return Ok(why);
        }
        let wake = {
            let s = lock(state);
            let later = s.later.iter().map(|l| l.at).min();
            let wake = when.wake(s.bound);
            later.map_or(wake, |at| wake.min(at))
        };
        tokio::select! {
            packet = link.read() => {
                if let Packet::Publish(publish) = packet? {
                    on_publish(config, state, &mut link, &mut when, publish).await?;
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
                Some(Command::Say(message)) => link.publish(&pub_topic, &message).await?,
                Some(Command::Drop) => return Ok("dropped on request"),
                Some(Command::Freeze) => {
                    // Holds the connection without a byte either way until stopped.
                    while let Some(command) = commands.recv().await {
                        debug!(uuid = %config.uuid, ?command, "frozen: ignored");
                    }
                    return Ok("stopped");
                }
                None => return Ok("stopped"),
            },
            _ = sleep_until(wake) => {}
        }
    }
}
