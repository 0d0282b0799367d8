//! A simulated MOKO plug's MQTT link: TLS (any certificate) or plain TCP, and the packets
//! it writes and reads.

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Packet, PingReq, PubAck, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// Largest packet the simulated plug reads.
const MAX_PACKET: usize = 16 * 1024;

use crate::sim::link::{read_packet, Io};

pub(super) struct Link {
    io: Io,
    buf: BytesMut,
    next_pkid: u16,
}

impl Link {
    /// Dials `host:port`, with TLS when `tls` (no deadline here: the caller sets one).
    pub(super) async fn dial(
        host: &str,
        port: u16,
        tls: Option<&TlsConnector>,
    ) -> std::io::Result<Link> {
        let tcp = TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        let io: Io = match tls {
            None => Box::new(tcp),
            Some(connector) => {
                // A name that is not a DNS name or an IP address still gets a handshake:
                // the plug checks no certificate, so the name matters only for SNI.
                let name = ServerName::try_from(host.to_owned())
                    .or_else(|_| ServerName::try_from("localhost"))
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                Box::new(connector.connect(name, tcp).await?)
            }
        };
        Ok(Link {
            io,
            buf: BytesMut::with_capacity(4096),
            next_pkid: 0,
        })
    }

    pub(super) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// The next packet id: never 0, which is not a packet id (MQTT 3.1.1, 2.3.1).
    fn pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
        self.next_pkid
    }

    /// Publishes at QoS 1, as the plug does with the 4002 `qos` merossd gives it.
    pub(super) async fn publish(&mut self, topic: &str, payload: Vec<u8>) -> std::io::Result<()> {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, payload);
        p.pkid = self.pkid();
        let mut out = BytesMut::new();
        p.write(&mut out).map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    /// One SUBSCRIBE of one filter at QoS 1.
    pub(super) async fn subscribe(&mut self, filter: &str) -> std::io::Result<()> {
        let mut s = Subscribe::new(filter, QoS::AtLeastOnce);
        s.pkid = self.pkid();
        let mut out = BytesMut::new();
        s.write(&mut out).map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    pub(super) async fn puback(&mut self, pkid: u16) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        PubAck::new(pkid)
            .write(&mut out)
            .map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    pub(super) async fn ping(&mut self) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        PingReq.write(&mut out).map_err(std::io::Error::other)?;
        self.write(&out).await
    }

    /// Reads one packet (cancel-safe: partial bytes stay in `buf`).
    pub(super) async fn read(&mut self) -> std::io::Result<Packet> {
        read_packet(&mut self.io, &mut self.buf, MAX_PACKET).await
    }
}
