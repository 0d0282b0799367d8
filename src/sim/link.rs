//! A simulated device's way in: it dials (TLS, from its own source address when given),
//! logs in with CONNECT, subscribes to its topic and says its Report; and the packets it
//! reads and writes on that link.

use super::device::{lock, SimState};
use super::says::device_message;
use super::{tls, SimConfig};
use crate::mqtt::connect::Connect;
use crate::protocol::{
    self, device_password, device_publish_topic, device_subscribe_topic, Message, Method,
};
use bytes::BytesMut;
use rand::distributions::{Alphanumeric, DistString};
use rumqttc::mqttbytes::v4::{Packet, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use serde_json::json;
use std::sync::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tracing::warn;

/// Largest packet the simulated device reads.
const MAX_PACKET: usize = 64 * 1024;

/// A link's bytes: TLS or plain TCP.
pub(super) type Io = Box<dyn IoStream>;
pub(super) trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

/// Reads one packet of at most `max` bytes (cancel-safe: partial bytes stay in `buf`).
pub(super) async fn read_packet(
    io: &mut Io,
    buf: &mut BytesMut,
    max: usize,
) -> std::io::Result<Packet> {
    // Each turn either returns or reads more bytes; the packet size is capped.
    loop {
        match Packet::read(buf, max) {
            Ok(p) => return Ok(p),
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
        if io.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

pub(super) struct Link {
    io: Io,
    buf: BytesMut,
    next_pkid: u16,
}

impl Link {
    pub(super) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    pub(super) async fn publish(&mut self, topic: &str, message: &Message) -> std::io::Result<()> {
        self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
        let mut p = Publish::new(topic, QoS::AtLeastOnce, message.to_bytes());
        p.pkid = self.next_pkid;
        let mut out = BytesMut::new();
        p.write(&mut out).map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    /// Reads one packet (cancel-safe: partial bytes stay in `buf`).
    pub(super) async fn read(&mut self) -> std::io::Result<Packet> {
        read_packet(&mut self.io, &mut self.buf, MAX_PACKET).await
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
pub(super) async fn log_in(
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
