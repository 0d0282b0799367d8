//! The front door. Every MQTT connection, TLS from plugs or plain from local tools, gets
//! its own task: TLS handshake and CONNECT within a deadline, MQTT 3.1 turned into 3.1.1,
//! credentials checked (refusals get a real CONNACK code), then the bytes are relayed to
//! the router on its loopback port under the per-process secret. The engine hears who
//! came and went.

pub mod auth;
pub mod connect;
mod pending;
pub mod tls;

use crate::config::Account;
use crate::metrics::{dec, inc, inc_logged, Counters};
use crate::shutdown::Shutdown;
use auth::Identity;
use connect::{ConnackCode, ConnectError};
use pending::{Pending, PendingTable};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn, Instrument};

/// How long the router has to answer the CONNECT we pass on.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// A client that asks for no keepalive gets this one at the router (which refuses 0).
const NO_KEEPALIVE_SECS: u16 = u16::MAX;

/// What the gate tells the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateEvent {
    /// A device logged in. `conn` tells this connection from a later one of the same uuid.
    Connected {
        uuid: String,
        mac: String,
        user_id: String,
        addr: SocketAddr,
        conn: u64,
    },
    Disconnected {
        uuid: String,
        addr: SocketAddr,
        conn: u64,
    },
    /// A login was refused (recorded as an event; the CONNACK already went out).
    Refused {
        addr: SocketAddr,
        client_id: String,
        code: u8,
    },
}

/// How to reach the router.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
}

/// What every connection task shares.
pub struct Gate {
    pub accounts: Vec<Account>,
    pub tls: Arc<ServerConfig>,
    pub upstream: Upstream,
    pub handshake_timeout: Duration,
    pub permits: Arc<Semaphore>,
    pub events: mpsc::Sender<GateEvent>,
    pub counters: Arc<Counters>,
    next_conn: std::sync::atomic::AtomicU64,
    /// Connections per address that have not logged in yet.
    pending: Arc<PendingTable>,
}

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Tls,
    /// Plain MQTT; `open` lets clients in without credentials (loopback only).
    Plain {
        open: bool,
    },
}

impl Gate {
    pub fn new(
        accounts: Vec<Account>,
        tls: Arc<ServerConfig>,
        upstream: Upstream,
        handshake_timeout: Duration,
        max_connections: usize,
        events: mpsc::Sender<GateEvent>,
        counters: Arc<Counters>,
    ) -> Gate {
        Gate {
            accounts,
            tls,
            upstream,
            handshake_timeout,
            permits: Arc::new(Semaphore::new(max_connections)),
            events,
            counters,
            next_conn: Default::default(),
            pending: Default::default(),
        }
    }
}

/// Accepts connections on `listener` until shutdown.
pub async fn serve(gate: Arc<Gate>, listener: TcpListener, kind: Listener, mut shutdown: Shutdown) {
    loop {
        let (stream, addr) = tokio::select! {
            _ = shutdown.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, don't spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = gate.permits.clone().try_acquire_owned() else {
            if let Some(total) = inc_logged(&gate.counters.connections_over_cap) {
                warn!(%addr, total, "connection cap reached; closing the new connection");
            }
            continue;
        };
        let Some(pending) = gate.pending.take(addr.ip()) else {
            if let Some(total) = inc_logged(&gate.counters.connections_over_cap) {
                warn!(%addr, total, "too many connections from one address waiting to log in; closing the new one");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Finds peers that vanished without a FIN (a plug losing power, a client with
        // keepalive 0) within about two minutes.
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(60))
            .with_interval(Duration::from_secs(10))
            .with_retries(5);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let gate = gate.clone();
        let shutdown = shutdown.clone();
        let span = tracing::debug_span!("conn", %addr);
        tokio::spawn(
            async move {
                inc(&gate.counters.connections_open);
                inc(&gate.counters.connections_total);
                handle(&gate, stream, addr, kind, pending, shutdown).await;
                dec(&gate.counters.connections_open);
                drop(permit);
            }
            .instrument(span),
        );
    }
}

async fn handle(
    gate: &Gate,
    stream: TcpStream,
    addr: SocketAddr,
    kind: Listener,
    pending: Pending,
    shutdown: Shutdown,
) {
    let deadline = Instant::now() + gate.handshake_timeout;
    match kind {
        Listener::Plain { open } => {
            session(gate, stream, addr, open, deadline, pending, shutdown).await
        }
        Listener::Tls => {
            let acceptor = TlsAcceptor::from(gate.tls.clone());
            let accept = acceptor.accept(tls::Recording::new(stream)).into_fallible();
            match timeout_at(deadline, accept).await {
                Err(_) => {
                    inc(&gate.counters.handshake_timeouts);
                    debug!(%addr, "no TLS handshake before the deadline; dropped");
                }
                Ok(Err((error, recording))) => {
                    let Some(total) = inc_logged(&gate.counters.handshake_failures) else {
                        return;
                    };
                    match tls::summarize_client_hello(recording.recorded()) {
                        Some(hello) => warn!(
                            peer = %addr, %error, versions = ?hello.versions,
                            cipher_suites = ?hello.cipher_suites, total,
                            "TLS handshake failed; the client offered these"
                        ),
                        None => {
                            warn!(peer = %addr, %error, total, "TLS handshake failed (no ClientHello seen)")
                        }
                    }
                }
                Ok(Ok(mut stream)) => {
                    stream.get_mut().0.stop();
                    session(gate, stream, addr, false, deadline, pending, shutdown).await
                }
            }
        }
    }
}

/// One MQTT session: CONNECT, login, then relay to the router.
async fn session<S>(
    gate: &Gate,
    mut client: S,
    addr: SocketAddr,
    open: bool,
    deadline: Instant,
    mut pending: Pending,
    shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(256);
    let (connect, used) = loop {
        match connect::parse(&buf) {
            Ok(parsed) => break parsed,
            Err(ConnectError::Incomplete) => {}
            Err(ConnectError::Protocol { name, level }) => {
                if let Some(total) = inc_logged(&gate.counters.bad_connects) {
                    warn!(%addr, protocol = %name, level, total, "refused: not MQTT 3.1 or 3.1.1");
                }
                let _ = client
                    .write_all(&connect::connack(ConnackCode::UnacceptableProtocol))
                    .await;
                let _ = client.shutdown().await;
                return;
            }
            Err(error) => {
                if let Some(total) = inc_logged(&gate.counters.bad_connects) {
                    warn!(%addr, %error, total, "bad first packet; connection closed");
                }
                return;
            }
        }
        let mut chunk = [0u8; 512];
        match timeout_at(deadline, client.read(&mut chunk)).await {
            Err(_) => {
                inc(&gate.counters.handshake_timeouts);
                debug!(%addr, "no CONNECT before the deadline; dropped");
                return;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                if !buf.is_empty() {
                    if let Some(total) = inc_logged(&gate.counters.bad_connects) {
                        warn!(%addr, bytes = buf.len(), total, "connection closed inside its CONNECT");
                    }
                }
                return;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let leftover = buf.split_off(used);

    let identity = match auth::authenticate(&connect, &gate.accounts, open) {
        Ok(identity) => identity,
        Err(code) => {
            let logged = inc_logged(&gate.counters.refused_logins);
            let _ = client.write_all(&connect::connack(code)).await;
            let _ = client.shutdown().await;
            // Logged and recorded as a sample: guessing passwords must not fill the log or
            // the events table.
            if let Some(total) = logged {
                warn!(%addr, client_id = %connect.client_id, user = ?connect.username, code = code as u8, total, "login refused");
                let _ = gate
                    .events
                    .send(GateEvent::Refused {
                        addr,
                        client_id: connect.client_id.clone(),
                        code: code as u8,
                    })
                    .await;
            }
            return;
        }
    };

    let mut upstream = match open_upstream(gate, &connect, &leftover).await {
        Ok(up) => up,
        Err(error) => {
            warn!(%addr, %error, "router did not take the connection");
            let _ = client
                .write_all(&connect::connack(ConnackCode::NotAuthorized))
                .await;
            return;
        }
    };
    // The router's CONNACK, passed on as it is.
    let mut ack = [0u8; 4];
    match timeout(UPSTREAM_TIMEOUT, upstream.read_exact(&mut ack)).await {
        Ok(Ok(_)) if ack[0] == 0x20 => {}
        _ => {
            warn!(%addr, "router refused or did not answer the CONNECT");
            let _ = client
                .write_all(&connect::connack(ConnackCode::NotAuthorized))
                .await;
            return;
        }
    }
    if client.write_all(&ack).await.is_err() || ack[3] != 0 {
        return;
    }

    pending.release();
    let conn = gate
        .next_conn
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Identity::Device { uuid, mac, user_id } = &identity {
        info!(%addr, %uuid, mqtt = if connect.level == 3 { "3.1" } else { "3.1.1" }, "device connected");
        let _ = gate
            .events
            .send(GateEvent::Connected {
                uuid: uuid.clone(),
                mac: mac.clone(),
                user_id: user_id.clone(),
                addr,
                conn,
            })
            .await;
    } else {
        debug!(%addr, client_id = %connect.client_id, ?identity, "client connected");
    }

    relay(client, upstream, shutdown).await;

    if let Identity::Device { uuid, .. } = identity {
        info!(%addr, %uuid, "device disconnected");
        let _ = gate
            .events
            .send(GateEvent::Disconnected { uuid, addr, conn })
            .await;
    }
}

/// Connects to the router and sends the CONNECT as 3.1.1 under the router's secret.
async fn open_upstream(
    gate: &Gate,
    connect: &connect::Connect,
    leftover: &[u8],
) -> std::io::Result<TcpStream> {
    let mut upstream = timeout(UPSTREAM_TIMEOUT, TcpStream::connect(gate.upstream.addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "router connect"))??;
    upstream.set_nodelay(true)?;
    let mut forwarded = connect.clone();
    forwarded.level = 4;
    forwarded.username = Some(gate.upstream.user.clone());
    forwarded.password = Some(gate.upstream.password.clone().into_bytes());
    if forwarded.keep_alive == 0 {
        forwarded.keep_alive = NO_KEEPALIVE_SECS;
    }
    let mut bytes = forwarded.encode();
    bytes.extend_from_slice(leftover);
    upstream.write_all(&bytes).await?;
    Ok(upstream)
}

/// Copies bytes both ways until either side ends or the daemon stops.
async fn relay<S>(client: S, upstream: TcpStream, mut shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rx, mut client_tx) = tokio::io::split(client);
    let (mut up_rx, mut up_tx) = upstream.into_split();
    tokio::select! {
        _ = tokio::io::copy(&mut client_rx, &mut up_tx) => {}
        _ = tokio::io::copy(&mut up_rx, &mut client_tx) => {}
        _ = shutdown.wait() => {}
    }
    let _ = timeout(Duration::from_secs(1), client_tx.shutdown()).await;
}
