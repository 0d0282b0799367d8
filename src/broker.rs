//! The embedded rumqttd router: its configuration, its loopback port that only the gate can
//! log into, and the engine's in-process link (with a writer thread, because rumqttd's
//! `LinkTx::publish` blocks when the router's channel is full).

use crate::gate::Upstream;
use rand::Rng;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{Broker, Config, ConnectionSettings, Notification, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

/// Publishes the engine may have waiting for the writer thread.
const OUTBOX_CAPACITY: usize = 8192;
/// Largest MQTT payload the router takes (devices cut replies at about 3 KB).
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Connections the router serves (the gate caps them first).
const MAX_ROUTER_CONNECTIONS: usize = 10_010;

/// One message seen by the engine's link.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub topic: String,
    pub payload: bytes::Bytes,
}

/// What a link's writer thread is asked to do.
#[derive(Debug)]
pub enum Outgoing {
    Publish {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
    Subscribe(String),
    /// Answered once everything sent before it reached the router.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A handle that sends to the router without blocking the caller.
#[derive(Debug, Clone)]
pub struct Outbox(mpsc::Sender<Outgoing>);

#[derive(Debug, thiserror::Error)]
#[error("the router's link is closed")]
pub struct LinkClosed;

impl Outbox {
    pub async fn publish(&self, topic: String, payload: Vec<u8>) -> Result<(), LinkClosed> {
        self.send(Outgoing::Publish {
            topic,
            payload,
            retain: false,
        })
        .await
    }

    /// Publishes a retained message; an empty payload clears the topic's retained one.
    pub async fn publish_retained(
        &self,
        topic: String,
        payload: Vec<u8>,
    ) -> Result<(), LinkClosed> {
        self.send(Outgoing::Publish {
            topic,
            payload,
            retain: true,
        })
        .await
    }

    async fn send(&self, out: Outgoing) -> Result<(), LinkClosed> {
        self.0.send(out).await.map_err(|_| LinkClosed)
    }

    pub async fn subscribe(&self, filter: &str) -> Result<(), LinkClosed> {
        self.send(Outgoing::Subscribe(filter.to_owned())).await
    }

    /// Waits until everything sent before reached the router.
    pub async fn flush(&self) -> Result<(), LinkClosed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Outgoing::Flush(tx)).await?;
        rx.await.map_err(|_| LinkClosed)
    }
}

/// One in-process client of the router: send through `outbox`, receive on `incoming`.
pub struct Link {
    pub outbox: Outbox,
    pub incoming: mpsc::Receiver<Incoming>,
}

/// The running router: where the gate connects, and the in-process links.
pub struct Router {
    pub upstream: Upstream,
    /// The engine's link.
    pub engine: Link,
    /// The Home Assistant bridge's link.
    pub homeassistant: Link,
}

fn router_config() -> RouterConfig {
    // RouterConfig::default() has zero segments and panics the router on the first
    // subscribe: every field is set. Small segments keep memory low on a Pi.
    RouterConfig {
        max_connections: MAX_ROUTER_CONNECTIONS,
        // Also the most retained messages a new QoS 0 subscriber is handed (rumqttd cuts
        // the rest): room for the discovery configs of a few hundred plugs.
        max_outgoing_packet_count: 2048,
        max_segment_size: 256 * 1024,
        max_segment_count: 2,
        custom_segment: None,
        initialized_filters: None,
        ..Default::default()
    }
}

/// Starts rumqttd on a free loopback port and opens the engine's link.
pub fn start() -> std::io::Result<Router> {
    let addr = free_loopback_port()?;
    let mut rng = rand::thread_rng();
    let user = format!("merossd-gate-{}", hex::encode(rng.gen::<[u8; 4]>()));
    let password = hex::encode(rng.gen::<[u8; 24]>());

    let mut auth = HashMap::new();
    auth.insert(user.clone(), password.clone());
    let connections = ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 100,
        auth: Some(auth),
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "gate".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let mut v4 = HashMap::new();
    v4.insert("gate".to_owned(), server);
    let config = Config {
        id: 0,
        router: router_config(),
        v4: Some(v4),
        ..Default::default()
    };

    let mut broker = Broker::new(config);
    let engine = broker
        .link("merossd-engine")
        .map_err(|e| std::io::Error::other(format!("router link: {e}")))?;
    let homeassistant = broker
        .link("merossd-homeassistant")
        .map_err(|e| std::io::Error::other(format!("router link: {e}")))?;
    // Broker::start blocks its thread for as long as the servers run.
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                error!(error = %e, "router stopped");
            }
        })?;
    wait_listening(addr, &user, &password)?;

    Ok(Router {
        upstream: Upstream {
            addr,
            user,
            password,
        },
        engine: run_link("engine", engine)?,
        homeassistant: run_link("homeassistant", homeassistant)?,
    })
}

/// Starts a link's writer thread and reader task.
fn run_link(name: &str, (tx, rx): (LinkTx, LinkRx)) -> std::io::Result<Link> {
    let (out_tx, out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    std::thread::Builder::new()
        .name(format!("router-writer-{name}"))
        .spawn(move || writer(tx, out_rx))?;
    let (in_tx, in_rx) = mpsc::channel(OUTBOX_CAPACITY);
    tokio::spawn(reader(rx, in_tx));
    Ok(Link {
        outbox: Outbox(out_tx),
        incoming: in_rx,
    })
}

fn free_loopback_port() -> std::io::Result<SocketAddr> {
    // rumqttd binds by address and cannot tell us a port it chose: ask the OS for a free
    // one and hand it over. The race with another process is short and would show as a
    // start-up error, not a silent fault.
    let probe = StdListener::bind("127.0.0.1:0")?;
    probe.local_addr()
}

/// Waits until the router answers a real login: a bare TCP probe would make it log an
/// error for a connection closed before its CONNECT.
fn wait_listening(addr: SocketAddr, user: &str, password: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let probe = crate::gate::connect::Connect::new(4, "merossd-probe", 5).login(user, password);
    for _ in 0..200 {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(&probe.encode())?;
            let mut ack = [0u8; 4];
            s.read_exact(&mut ack)?;
            s.write_all(&[0xe0, 0x00])?; // DISCONNECT
            return if ack == [0x20, 0x02, 0x00, 0x00] {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "router refused its own login: {ack:?}"
                )))
            };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(std::io::Error::other(format!(
        "router did not listen on {addr}"
    )))
}

/// Runs on its own thread: `LinkTx` calls may block until the router drains its channel.
/// (`LinkTx::send`, needed for retained publishes, is async only in name: it blocks too.)
fn writer(mut link: LinkTx, mut rx: mpsc::Receiver<Outgoing>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the router writer");
            return;
        }
    };
    runtime.block_on(async move {
        while let Some(out) = rx.recv().await {
            let result = match out {
                Outgoing::Publish {
                    topic,
                    payload,
                    retain: false,
                } => link.publish(topic, payload),
                Outgoing::Publish {
                    topic,
                    payload,
                    retain: true,
                } => {
                    let publish = rumqttd::protocol::Publish::new(
                        bytes::Bytes::from(topic),
                        bytes::Bytes::from(payload),
                        true,
                    );
                    link.send(rumqttd::protocol::Packet::Publish(publish, None))
                        .await
                }
                Outgoing::Subscribe(filter) => link.subscribe(filter),
                Outgoing::Flush(done) => {
                    let _ = done.send(());
                    continue;
                }
            };
            if let Err(e) = result {
                error!(error = %e, "router link closed; nothing more can be sent");
                return;
            }
        }
    });
}

/// Reads a link's notifications. The router stops scheduling a link that has had
/// `max_outgoing_packet_count` packets and says `Unschedule`: it must be woken again or the
/// link stalls silently.
async fn reader(mut link: LinkRx, tx: mpsc::Sender<Incoming>) {
    loop {
        match link.next().await {
            Ok(Some(Notification::Forward(forward))) => {
                let publish = forward.publish;
                let Ok(topic) = String::from_utf8(publish.topic.to_vec()) else {
                    warn!("dropped a publish with a non-UTF-8 topic");
                    continue;
                };
                let incoming = Incoming {
                    topic,
                    payload: publish.payload,
                };
                if tx.send(incoming).await.is_err() {
                    return;
                }
            }
            Ok(Some(Notification::Unschedule)) => {
                if link.wake().await.is_err() {
                    return;
                }
            }
            Ok(Some(other)) => debug!(?other, "router notification"),
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "router link closed; the engine hears nothing more");
                return;
            }
        }
    }
}
