//! The accept loop: the connection cap, the per-address cap on connections that have not
//! logged in, socket options, then one task per connection.

use super::{conn, Gate, Listener};
use crate::metrics::{dec, inc, inc_logged};
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{warn, Instrument};

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
                conn::handle(&gate, stream, addr, kind, pending, shutdown).await;
                drop(permit);
            }
            .instrument(span),
        );
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
