//! The router side of a connection: dial the router's loopback port and log in under the
//! per-process secret, with a client id the gate chose (see `slots`), always a clean
//! session. The client's own id stays with the gate.

use super::slots::Slot;
use super::Gate;
use crate::mqtt::connect::{connack, ConnackCode, Connect};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long the router has to take the connection and answer its CONNECT.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// A client that asks for no keepalive gets this one at the router (which refuses 0).
const NO_KEEPALIVE_SECS: u16 = u16::MAX;

/// Opens the router side for `connect`; returns it, the id it holds, and the CONNACK to
/// pass to the client.
pub(super) async fn open(
    gate: &Gate,
    connect: &Connect,
) -> io::Result<((TcpStream, Slot), [u8; 4])> {
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "router did not answer in time");
    // Where the router is now: a router started again listens elsewhere.
    let upstream = gate.upstream.get();
    let mut router = timeout(UPSTREAM_TIMEOUT, TcpStream::connect(upstream.addr))
        .await
        .map_err(|_| timed_out())??;
    router.set_nodelay(true)?;
    let slot = gate.slots.take();
    let mut forwarded = connect.clone();
    forwarded.level = 4;
    forwarded.client_id = slot.client_id();
    forwarded.clean_session = true;
    forwarded.username = Some(upstream.user.clone());
    forwarded.password = Some(upstream.password.clone().into_bytes());
    if forwarded.keep_alive == 0 {
        forwarded.keep_alive = NO_KEEPALIVE_SECS;
    }
    router.write_all(&forwarded.encode()).await?;
    let mut ack = [0u8; 4];
    timeout(UPSTREAM_TIMEOUT, router.read_exact(&mut ack))
        .await
        .map_err(|_| timed_out())??;
    if ack != connack(ConnackCode::Accepted) {
        return Err(io::Error::other(format!("router answered {ack:02x?}")));
    }
    Ok(((router, slot), ack))
}
