//! A bare MQTT client over any stream, built on the project's own codec, for tests that
//! must see exact CONNACK and SUBACK codes or send what a well-behaved client would not.

use merossd::mqtt::connect::Connect;
use merossd::mqtt::framed::PacketReader;
use merossd::mqtt::packet::{self, Packet};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

pub struct Raw<S> {
    rx: PacketReader<ReadHalf<S>>,
    tx: WriteHalf<S>,
    next_pkid: u16,
}

/// What came back, or that the connection closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Packet(Vec<u8>),
    Closed,
    Nothing,
}

const WAIT: Duration = Duration::from_secs(3);

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    /// Sends `connect` and returns the client with the CONNACK's code (or `None`: closed).
    pub async fn connect(stream: S, connect: &Connect) -> (Raw<S>, Option<u8>) {
        let (rx, tx) = tokio::io::split(stream);
        let mut raw = Raw {
            rx: PacketReader::new(rx, &[], 1 << 20),
            tx,
            next_pkid: 1,
        };
        raw.send(&connect.encode()).await;
        let code = match raw.next(WAIT).await {
            Got::Packet(p) if p.len() == 4 && p[0] == 0x20 => Some(p[3]),
            _ => None,
        };
        (raw, code)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.tx.write_all(bytes).await;
    }

    pub async fn next(&mut self, within: Duration) -> Got {
        match tokio::time::timeout(within, self.rx.next()).await {
            Ok(Ok(Some(p))) => Got::Packet(p.to_vec()),
            Ok(_) => Got::Closed,
            Err(_) => Got::Nothing,
        }
    }

    fn pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
        self.next_pkid
    }

    /// Subscribes; returns the SUBACK's codes, or `None` if the connection closed.
    pub async fn subscribe(&mut self, filters: &[&str]) -> Option<Vec<u8>> {
        let pkid = self.pkid();
        let list: Vec<(&str, u8)> = filters.iter().map(|f| (*f, 1)).collect();
        self.send(&packet::subscribe(pkid, &list)).await;
        loop {
            match self.next(WAIT).await {
                Got::Packet(p) => {
                    if let Ok(Packet::Suback { pkid: id, codes }) = packet::parse(&p) {
                        if id == pkid {
                            return Some(codes.to_vec());
                        }
                    }
                }
                Got::Closed | Got::Nothing => return None,
            }
        }
    }

    /// Publishes at QoS 1 and returns whether a PUBACK came (the gate acks what it drops).
    pub async fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) -> bool {
        let pkid = self.pkid();
        self.send(&packet::publish(topic, payload, 1, retain, pkid))
            .await;
        loop {
            match self.next(WAIT).await {
                Got::Packet(p) if p == packet::ack(packet::PUBACK, pkid) => return true,
                Got::Packet(_) => {}
                _ => return false,
            }
        }
    }

    /// Publishes at QoS 0.
    pub async fn publish0(&mut self, topic: &str, payload: &[u8]) {
        self.send(&packet::publish(topic, payload, 0, false, 0))
            .await;
    }

    /// The next PUBLISH's (topic, payload) within `within`.
    pub async fn next_publish(&mut self, within: Duration) -> Option<(String, Vec<u8>)> {
        let end = tokio::time::Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Got::Packet(p) => {
                    if let Ok(Packet::Publish(m)) = packet::parse(&p) {
                        if let Some(id) = m.pkid {
                            let ack = packet::ack(packet::PUBACK, id);
                            self.send(&ack).await;
                        }
                        return Some((m.topic.to_owned(), m.payload.to_vec()));
                    }
                }
                _ => return None,
            }
        }
    }
}

/// A raw client on the local (plain) listener.
pub async fn local(d: &merossd::daemon::Daemon, connect: &Connect) -> (Raw<TcpStream>, Option<u8>) {
    let tcp = TcpStream::connect(d.local_addr.unwrap()).await.unwrap();
    Raw::connect(tcp, connect).await
}

/// A raw client over TLS, as a plug dials.
pub async fn tls(
    d: &merossd::daemon::Daemon,
    connect: &Connect,
) -> (Raw<tokio_rustls::client::TlsStream<TcpStream>>, Option<u8>) {
    use tokio_rustls::rustls::pki_types::ServerName;
    let tcp = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(merossd::sim::tls::client_config());
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    Raw::connect(stream, connect).await
}

/// The CONNECT of the `n`-th device of fleet `prefix`, with a client id suffix.
pub fn device_connect(prefix: &str, n: u32, level: u8, suffix: &str) -> (String, Connect) {
    let (uuid, mac) = merossd::sim::identity(prefix, n);
    let password =
        merossd::protocol::device_password(&mac, super::common::USER_ID, super::common::KEY);
    let connect = Connect::new(level, format!("fmware:{uuid}_{suffix}"), 30).login(mac, password);
    (uuid, connect)
}
