//! The accept loop: the connection cap, the fair pool of connections that have not
//! logged in (`pending`), socket options, then one task per connection.

use super::pending::Pending;
use super::{conn, Gate, Listener};
use crate::metrics::{dec, inc, inc_logged};
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{debug, warn, Instrument};

/// How long to wait after a failed accept (out of descriptors, say) before the next.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// TCP keepalive: finds peers that vanished without a FIN (a plug losing power, a client
/// with keepalive 0) within about two minutes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 5;

/// Accepts connections on `listener` until shutdown.
pub async fn serve(gate: Arc<Gate>, listener: TcpListener, kind: Listener, mut shutdown: Shutdown) {
    loop {
        let (stream, addr) = tokio::select! {
            _ = shutdown.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        // A place among those waiting to log in first: taking it may displace the oldest
        // of a source holding too many (see `pending`).
        let (pending, displaced) = gate.pending.take(addr.ip());
        count_displaced(&gate, displaced);
        let Some(mut pending) = pending else {
            // Every place is held by a connection at work: this one gives way (it has
            // cost nothing yet; the plug dials again).
            count_displaced(&gate, 1);
            continue;
        };
        let Some(permit) = permit(&gate, &pending).await else {
            if let Some(total) = inc_logged(&gate.counters.connections_over_cap) {
                warn!(%addr, total, "connection cap reached; closing the new connection");
            }
            continue;
        };
        let eviction = pending.eviction();
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let gate = gate.clone();
        let shutdown = shutdown.clone();
        let span = tracing::info_span!("conn", %addr);
        tokio::spawn(
            async move {
                let _open = Gauge::new(&gate);
                tokio::select! {
                    _ = conn::handle(&gate, stream, addr, kind, pending, shutdown) => {}
                    // Its place went to a newer connection before it logged in.
                    _ = eviction.wait() => debug!("closed: displaced before its login"),
                }
                drop(permit);
            }
            .instrument(span),
        );
    }
}

/// How long a new connection may wait for a place under the cap that a displaced one
/// gives back (its task ends at once; this is a few scheduler turns).
const DISPLACE_WAIT: Duration = Duration::from_millis(500);

/// A place under the connection cap: at once if there is one; else one a connection that
/// had not logged in yet is made to give up. `None` if the cap is all logged-in clients.
async fn permit(gate: &Gate, own: &Pending) -> Option<tokio::sync::OwnedSemaphorePermit> {
    if let Ok(permit) = gate.permits.clone().try_acquire_owned() {
        return Some(permit);
    }
    if !gate.pending.make_room(own) {
        return None;
    }
    count_displaced(gate, 1);
    tokio::time::timeout(DISPLACE_WAIT, gate.permits.clone().acquire_owned())
        .await
        .ok()?
        .ok()
}

fn count_displaced(gate: &Gate, displaced: u32) {
    for _ in 0..displaced {
        if let Some(total) = inc_logged(&gate.counters.handshakes_evicted) {
            warn!(
                total,
                "a connection that had not logged in was closed to make room for a newer one"
            );
        }
    }
}

/// Counts a connection as open for as long as it lives, also if its task panics.
struct Gauge<'a>(&'a Gate);

impl<'a> Gauge<'a> {
    fn new(gate: &'a Gate) -> Self {
        inc(&gate.counters.connections_open);
        inc(&gate.counters.connections_total);
        Gauge(gate)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        dec(&self.0.counters.connections_open);
    }
}
