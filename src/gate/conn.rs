//! One connection from start to end: TLS, the CONNECT, the login, the router side, then
//! the packet loop. Every way a login can fail is a [`GateError`], and [`refuse`] is the one
//! place that turns it into a counter, a log line and a CONNACK.

use super::acl::{Action, Verdict};
use super::auth::{self, Identity};
use super::handshake::{self, TlsInfo};
use super::pending::Pending;
use super::shares::Share;
use super::{device, peer, proxy, upstream, Gate, Listener};
use crate::hub::GateEvent;
use crate::metrics::{inc, inc_logged};
use crate::mqtt::connect::{self, ConnackCode, Connect, ConnectError};
use crate::registry::Conflict;
use crate::shutdown::Shutdown;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tracing::{debug, info, warn};

/// Why a connection did not get as far as the packet loop.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("no CONNECT before the deadline")]
    Deadline,
    #[error("connection closed inside its CONNECT ({0} bytes)")]
    ClosedEarly(usize),
    #[error("{0}")]
    BadConnect(ConnectError),
    #[error("login refused: {why}")]
    Refused {
        code: ConnackCode,
        connect: Box<Connect>,
        why: &'static str,
    },
    #[error("router did not take the connection: {0}")]
    Upstream(std::io::Error),
}

pub(super) async fn handle(
    gate: &Gate,
    stream: TcpStream,
    addr: SocketAddr,
    kind: Listener,
    pending: Pending,
    shutdown: Shutdown,
) {
    let deadline = Instant::now() + gate.handshake_timeout;
    pending.listen(&stream, deadline).await;
    match kind {
        Listener::Plain { open } => {
            let session = Session {
                addr,
                open,
                moko_only: false,
                deadline,
                tls: None,
            };
            run(gate, stream, session, pending, shutdown).await
        }
        Listener::PlainDevices => {
            let session = Session {
                addr,
                open: false,
                moko_only: true,
                deadline,
                tls: None,
            };
            run(gate, stream, session, pending, shutdown).await
        }
        Listener::Tls => {
            // Boxed: see the login in `run`.
            let accepted = Box::pin(handshake::accept(
                &gate.tls,
                &gate.counters,
                stream,
                deadline,
            ))
            .await;
            let (stream, tls) = match accepted {
                Ok(ok) => ok,
                Err(failed) => return super::tries::tls_failed(gate, addr, &failed),
            };
            let session = Session {
                addr,
                open: false,
                moko_only: false,
                deadline,
                tls: Some(tls),
            };
            run(gate, stream, session, pending, shutdown).await
        }
    }
}

/// What is known of a connection before its CONNECT.
struct Session {
    addr: SocketAddr,
    /// A loopback listener that lets clients in without credentials.
    open: bool,
    /// A plain listener for MOKO plugs: no other login is taken.
    moko_only: bool,
    deadline: Instant,
    /// How TLS was agreed (TLS listeners only).
    tls: Option<TlsInfo>,
}

/// One MQTT session: CONNECT, login, router side, then the packet loop.
async fn run<S>(
    gate: &Gate,
    mut client: S,
    session: Session,
    mut pending: Pending,
    shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Session {
        addr,
        open,
        moko_only,
        deadline,
        tls,
    } = session;
    // Boxed, as the handshake is: a future is as large as its largest step, and this one
    // would otherwise stay with the connection's task for its whole life.
    let login = Box::pin(async {
        let (mut connect, leftover) = read_connect(&mut client, deadline).await?;
        drop_bridge_notice(&mut connect);
        let (identity, share) = admit(gate, &connect, (open, moko_only), addr)?;
        // A device is served by the gate itself (see `device`); anyone else gets a router
        // connection of its own.
        let upstream = match identity {
            Identity::Device { .. } | Identity::Moko { .. } => None,
            _ => Some(
                upstream::open(gate, &connect)
                    .await
                    .map_err(GateError::Upstream)?,
            ),
        };
        Ok::<_, GateError>((connect, leftover, identity, share, upstream))
    });
    let (connect, leftover, identity, share, upstream) = match login.await {
        Ok(ok) => ok,
        Err(error) => return refuse(gate, &mut client, addr, error).await,
    };
    let ack = match &upstream {
        Some((_, ack)) => *ack,
        None => connect::connack(ConnackCode::Accepted),
    };
    // Its place among those waiting goes back before it is told it is in: a connection
    // displaced meanwhile (see `pending`) ends here, before anyone heard of it.
    if !pending.release() {
        return;
    }
    if client.write_all(&ack).await.is_err() {
        return;
    }
    let conn = gate.next_conn.fetch_add(1, Ordering::Relaxed);
    let who = peer::Who {
        gate,
        identity: &identity,
        level: connect.level,
        keep_alive: connect.keep_alive,
    };
    let (Identity::Device { uuid, mac, user_id }
    | Identity::Moko {
        id: uuid,
        mac,
        user_id,
        ..
    }) = &identity
    else {
        if let Some(((router, slot), _)) = upstream {
            debug!(client_id = %connect.client_id, router_id = %slot.client_id(), identity = %identity, "client connected");
            // Boxed: app clients are few, and every device's task would otherwise carry
            // the space of their larger loop.
            Box::pin(proxy::run(&who, client, &leftover, router, shutdown)).await;
            drop(slot);
            drop(share);
        }
        return;
    };
    let tls_text = tls
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "none".into());
    super::tries::connected(gate, uuid, addr, tls.as_ref().map(ToString::to_string));
    info!(%uuid, name = %gate.registry.name(uuid), mqtt = if connect.level == 3 { "3.1" } else { "3.1.1" }, tls = %tls_text, "device connected");
    let _ = gate
        .events
        .send(GateEvent::Connected {
            uuid: uuid.clone(),
            mac: mac.clone(),
            user_id: user_id.clone(),
            addr,
            conn,
            tls: tls.as_ref().map(ToString::to_string),
        })
        .await;
    let session = device::Session {
        uuid,
        conn,
        keep_alive: connect.keep_alive,
        share,
    };
    device::run(&who, session, client, &leftover, shutdown).await;
    info!(%uuid, name = %gate.registry.name(uuid), "device disconnected");
    let _ = gate
        .events
        .send(GateEvent::Disconnected {
            uuid: uuid.clone(),
            addr,
            conn,
        })
        .await;
}

/// Reads the CONNECT (bounded in size and time); returns it and the bytes read past it.
async fn read_connect<S>(client: &mut S, deadline: Instant) -> Result<(Connect, Vec<u8>), GateError>
where
    S: AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(256);
    loop {
        match connect::parse(&buf) {
            Ok((connect, used)) => return Ok((connect, buf.split_off(used))),
            Err(ConnectError::Incomplete) => {}
            Err(error) => return Err(GateError::BadConnect(error)),
        }
        let mut chunk = [0u8; 512];
        match timeout_at(deadline, client.read(&mut chunk)).await {
            Err(_) => return Err(GateError::Deadline),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(GateError::ClosedEarly(buf.len())),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A mosquitto bridge asks, by default, for a will on `$SYS/broker/connection/<name>/state`
/// (its "notifications"). The router keeps no `$` topics, so that will could never be
/// published; it is dropped rather than the bridge refused. Any other will is checked in
/// `admit` as before.
fn drop_bridge_notice(connect: &mut Connect) {
    let notice = connect
        .will
        .as_ref()
        .is_some_and(|w| w.topic.starts_with("$SYS/broker/connection/"));
    if notice {
        debug!(client_id = %connect.client_id, "a bridge's notification will dropped: merossd keeps no $SYS topics");
        connect.will = None;
    }
}

/// Who the CONNECT is, and its place among that identity's sessions. Checks, in order:
/// not too soon after failed logins (`guard`), the credentials, the will, the device's
/// uuid and MAC, and the identity's share of the cap (`shares`).
fn admit(
    gate: &Gate,
    connect: &Connect,
    (open, moko_only): (bool, bool),
    addr: SocketAddr,
) -> Result<(Identity, Share), GateError> {
    let refused = |code, why| GateError::Refused {
        code,
        connect: Box::new(connect.clone()),
        why,
    };
    let claimed = connect.username.as_deref();
    if let Some(user) = claimed {
        if gate.guard.check(addr.ip(), user).is_err() {
            inc(&gate.counters.logins_throttled);
            return Err(refused(
                ConnackCode::ServerUnavailable,
                "too many failed logins: try again later",
            ));
        }
    }
    let identity = match auth::authenticate(connect, &gate.accounts, gate.registry.moko(), open) {
        Ok(identity) => identity,
        Err(code) => {
            if let Some(user) = claimed {
                gate.guard.failed(addr.ip(), user);
            }
            return Err(refused(code, "credentials"));
        }
    };
    if moko_only && !matches!(identity, Identity::Moko { .. }) {
        return Err(refused(
            ConnackCode::NotAuthorized,
            "a plain device listener takes MOKO plugs only",
        ));
    }
    if let Some(user) = claimed {
        gate.guard.succeeded(addr.ip(), user);
    }
    if let Some(will) = &connect.will {
        let action = Action::Publish {
            topic: &will.topic,
            retain: will.retain,
        };
        // The router publishes the will: it must be a topic the router can take.
        if gate
            .acl
            .check(&identity, action, false, gate.registry.as_ref())
            != Verdict::Allow
            || !crate::broker::budget::routable_topic(&will.topic)
        {
            return Err(refused(
                ConnackCode::NotAuthorized,
                "will topic not allowed",
            ));
        }
    }
    // Only a login that passed everything is recorded: a uuid keeps its account, a MAC
    // its uuid.
    if let Identity::Device { uuid, mac, user_id }
    | Identity::Moko {
        id: uuid,
        mac,
        user_id,
        ..
    } = &identity
    {
        gate.registry
            .claim(uuid, user_id, mac)
            .map_err(|conflict| match conflict {
                Conflict::Full => refused(
                    ConnackCode::NotAuthorized,
                    "the account's device limit is reached; forget a device to make room",
                ),
                _ => refused(
                    ConnackCode::BadUserNameOrPassword,
                    "uuid or MAC of another device",
                ),
            })?;
    }
    let share = gate.shares.admit(&identity).map_err(|full| {
        inc(&gate.counters.sessions_over_share);
        refused(ConnackCode::ServerUnavailable, full.as_str())
    })?;
    Ok((identity, share))
}

/// Counts, logs (sampled: a flood must not fill the log) and answers a failed login.
async fn refuse<S>(gate: &Gate, client: &mut S, addr: SocketAddr, error: GateError)
where
    S: AsyncWrite + Unpin,
{
    let c = &gate.counters;
    let answer = match &error {
        GateError::Deadline => {
            super::tries::no_login(gate, addr, true, "no CONNECT before the deadline");
            inc(&c.handshake_timeouts);
            debug!("no CONNECT before the deadline; dropped");
            None
        }
        GateError::ClosedEarly(0) => None,
        GateError::ClosedEarly(_) | GateError::BadConnect(_) => {
            super::tries::no_login(gate, addr, false, &error.to_string());
            if let Some(total) = inc_logged(&c.bad_connects) {
                warn!(%error, total, "bad first packet; connection closed");
            }
            match error {
                GateError::BadConnect(ConnectError::Protocol { .. }) => {
                    Some(ConnackCode::UnacceptableProtocol)
                }
                _ => None,
            }
        }
        GateError::Refused { code, connect, why } => {
            super::tries::refused(gate, connect, addr, why, *code as u8);
            if let Some(total) = inc_logged(&c.refused_logins) {
                let name =
                    super::auth::device_uuid(&connect.client_id).map(|u| gate.registry.name(u));
                warn!(client_id = %connect.client_id, name = name.as_deref().unwrap_or("-"), user = connect.username.as_deref().unwrap_or(""), code = *code as u8, why, total, "login refused");
                let _ = gate
                    .events
                    .send(GateEvent::Refused {
                        addr,
                        client_id: connect.client_id.clone(),
                        code: *code as u8,
                    })
                    .await;
            }
            Some(*code)
        }
        GateError::Upstream(_) => {
            if let Some(total) = inc_logged(&c.upstream_failures) {
                warn!(%error, total, "router did not take the connection");
            }
            Some(ConnackCode::ServerUnavailable)
        }
    };
    if let Some(code) = answer {
        let _ = client.write_all(&connect::connack(code)).await;
        let _ = client.shutdown().await;
    }
}
