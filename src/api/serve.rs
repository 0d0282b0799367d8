//! The HTTP server under the API: at most `max_connections` at once (past that the
//! connection idle longest makes room, or the new one is closed, counted), a complete
//! request header within [`HEADER_TIMEOUT`], and a connection that moves no byte for
//! [`IDLE_TIMEOUT`] is closed. Slow or idle clients cannot pin memory or descriptors that
//! plugs need, nor keep the owner out.

use crate::metrics::{inc_logged, Counters};
use crate::shutdown::Shutdown;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

/// Time for a client to send a whole request header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a connection may move no byte (a device request takes at most its own timeout,
/// during which the server is not reading: that does not count as idle).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long open connections get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a failed accept.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How long a new connection may wait for the place an evicted idle one gives back.
const EVICT_WAIT: Duration = Duration::from_millis(500);

/// What the server knows of one open connection.
struct Open {
    /// Milliseconds since the server started, when a byte last moved.
    last: Arc<AtomicU64>,
    /// Requests being answered on it now.
    busy: Arc<AtomicUsize>,
    /// Tells it to close.
    go: Option<oneshot::Sender<()>>,
}

/// The open connections, by number.
#[derive(Default)]
struct Table {
    open: Mutex<HashMap<u64, Open>>,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Open>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the connection that has been idle longest with no request in hand; whether
    /// there was one.
    fn evict_idlest(&self) -> bool {
        let mut open = self.lock();
        let idlest = open
            .iter()
            .filter(|(_, o)| o.busy.load(Ordering::Relaxed) == 0 && o.go.is_some())
            // The oldest connection first among those idle as long.
            .min_by_key(|(n, o)| (o.last.load(Ordering::Relaxed), **n))
            .map(|(n, _)| *n);
        let Some(go) = idlest
            .and_then(|n| open.get_mut(&n))
            .and_then(|o| o.go.take())
        else {
            return false;
        };
        go.send(()).is_ok()
    }
}

/// Serves `app` until shutdown. When the cap is reached, the connection idle longest with
/// no request in hand is closed to make room (a client that opens connections and sends
/// nothing cannot keep the owner out); only when every one is busy is the new one closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    counters: Arc<Counters>,
    tls: Option<TlsAcceptor>,
    mut shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let table = Arc::new(Table::default());
    let started = Instant::now();
    let mut connections = JoinSet::new();
    let mut next: u64 = 0;
    loop {
        let (stream, addr) = tokio::select! {
            _ = shutdown.wait() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    warn!(error = %e, "API accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        let Some(permit) = permit(&permits, &table, &counters).await else {
            if let Some(total) = inc_logged(&counters.api_over_cap) {
                warn!(%addr, total, "API connection cap reached; closing the new connection");
            }
            continue;
        };
        next += 1;
        let (go, gone) = oneshot::channel();
        let last = Arc::new(AtomicU64::new(started.elapsed().as_millis() as u64));
        let busy = Arc::new(AtomicUsize::new(0));
        table.lock().insert(
            next,
            Open {
                last: last.clone(),
                busy: busy.clone(),
                go: Some(go),
            },
        );
        let service = Counted {
            inner: TowerToHyperService::new(app.clone()),
            busy,
            peer: addr,
        };
        let stop = shutdown.clone();
        let (table, n, tls) = (table.clone(), next, tls.clone());
        connections.spawn(async move {
            let _ = stream.set_nodelay(true);
            let serve = async {
                match tls {
                    None => {
                        let io = TokioIo::new(Idle::new(stream, IDLE_TIMEOUT, last, started));
                        serve_one(io, service, stop).await;
                    }
                    // The handshake within the header's time; a client that does not
                    // finish it is idle meanwhile, and the first to make room.
                    Some(tls) => match tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            let io = TokioIo::new(Idle::new(stream, IDLE_TIMEOUT, last, started));
                            serve_one(io, service, stop).await;
                        }
                        _ => debug!("API connection: no TLS handshake"),
                    },
                }
            };
            // Told to make room (idle longest): closed, in the handshake or after it.
            tokio::select! {
                _ = serve => {}
                Ok(()) = gone => {}
            }
            table.lock().remove(&n);
            drop(permit);
        });
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// A place under the cap: at once if free, else the one an idle connection gives up.
async fn permit(
    permits: &Arc<Semaphore>,
    table: &Table,
    counters: &Counters,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        return Some(permit);
    }
    if !table.evict_idlest() {
        return None;
    }
    if let Some(total) = inc_logged(&counters.api_evicted) {
        warn!(
            total,
            "API connection cap reached; closed the connection idle longest"
        );
    }
    tokio::time::timeout(EVICT_WAIT, permits.clone().acquire_owned())
        .await
        .ok()?
        .ok()
}

/// Serves one connection until it ends or the daemon stops.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: TokioIo<Idle<S>>,
    service: Counted,
    mut stop: Shutdown,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.wait() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
        }
    }
}

/// The app, counting the requests it is answering on one connection.
#[derive(Clone)]
struct Counted {
    inner: TowerToHyperService<Router>,
    busy: Arc<AtomicUsize>,
    /// Who is on the other end (handlers read it as `ConnectInfo`).
    peer: std::net::SocketAddr,
}

/// Counts one request for as long as it lives.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<B> hyper::service::Service<hyper::Request<B>> for Counted
where
    TowerToHyperService<Router>: hyper::service::Service<hyper::Request<B>>,
    <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Future:
        Send + 'static,
{
    type Response =
        <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Response;
    type Error = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, mut request: hyper::Request<B>) -> Self::Future {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        self.busy.fetch_add(1, Ordering::Relaxed);
        let busy = Busy(self.busy.clone());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let _busy = busy;
            answer.await
        })
    }
}

/// A stream that fails with `TimedOut` once no byte moved for its limit while it was
/// asked to read.
struct Idle<S> {
    inner: S,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
    /// When a byte last moved, in milliseconds since `started` (for the server's table).
    last: Arc<AtomicU64>,
    started: Instant,
}

impl<S> Idle<S> {
    fn new(inner: S, limit: Duration, last: Arc<AtomicU64>, started: Instant) -> Idle<S> {
        Idle {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
            last,
            started,
        }
    }

    fn moved(&mut self) {
        let now = Instant::now();
        self.deadline.as_mut().reset(now + self.limit);
        let since = now.duration_since(self.started).as_millis() as u64;
        self.last.store(since, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                ready!(self.deadline.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "idle connection",
                )))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = ready!(Pin::new(&mut self.inner).poll_write(cx, data));
        if matches!(result, Ok(n) if n > 0) {
            self.moved();
        }
        Poll::Ready(result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
