//! Connections between accept and login hold a place in a bounded pool, shared fairly
//! across sources. One host must not be able to lock plugs out with sockets that never
//! speak (or TLS handshakes it never finishes), however many addresses it has; and a
//! crowd of plugs behind one address (a guest network behind NAT) must not be punished
//! for being many:
//! - a source is an IPv4 address or an IPv6 /64 (privacy addresses are free to make);
//! - a connection that has sent nothing for [`SILENT_AFTER`] is *silent*; one that has
//!   spoken is at work (its TLS handshake or CONNECT is under way);
//! - a source past its share gives up its silent connections, oldest first, down to its
//!   share; if none is silent, its connections are all at work and the new one is taken
//!   past the share (the pool and its deadline still bound them);
//! - when the pool (or the connection cap) is full, a silent connection makes room, else
//!   the oldest of a source past its share, else one that has not spoken yet, else one
//!   waiting past [`STALLED_AFTER`]; if none, all are at work and the newcomer is closed.
//!
//! So a flood only ever displaces itself, a plug from anywhere else gets a place at
//! once, and plugs of a storm, from one address or ten thousand, are not closed in the
//! middle of their handshakes to make room for each other (that only makes them all
//! start again). A displaced connection is closed (and counted) by its task.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Connections one source may have waiting to log in and silent: enough for any home.
pub const MAX_PENDING_PER_SOURCE: usize = 16;
/// Places in the pool, in all (also at most the connection cap).
pub const MAX_PENDING: usize = 1024;
/// How long a connection may send nothing before it counts as silent. A plug sends its
/// ClientHello (or CONNECT) within a round trip of connecting; this leaves room for a
/// lost packet's retransmission and a busy host.
pub const SILENT_AFTER: Duration = Duration::from_secs(2);
/// How long a connection may wait to log in, speaking or not, before it may be closed
/// to make room. A storm's handshakes are done well within it; one stalled in the middle
/// of its handshake is not.
pub const STALLED_AFTER: Duration = Duration::from_secs(5);

/// Who a connection comes from, for fairness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    V4(std::net::Ipv4Addr),
    /// The first 64 bits.
    V6(u64),
}

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4),
                None => {
                    let [a, b, c, d, ..] = v6.segments();
                    Source::V6(
                        (u64::from(a) << 48)
                            | (u64::from(b) << 32)
                            | (u64::from(c) << 16)
                            | u64::from(d),
                    )
                }
            },
        }
    }
}

/// One waiting connection.
#[derive(Debug)]
struct Waiting {
    id: u64,
    /// Tells it to go.
    go: oneshot::Sender<()>,
    since: Instant,
    /// Set by its task when its first bytes arrive.
    heard: Arc<AtomicBool>,
}

impl Waiting {
    fn silent(&self, now: Instant) -> bool {
        !self.heard.load(Ordering::Relaxed) && now.duration_since(self.since) >= SILENT_AFTER
    }
}

#[derive(Debug, Default)]
struct Inner {
    by_source: HashMap<Source, VecDeque<Waiting>>,
    total: usize,
    next: u64,
}

impl Inner {
    fn waiting(&self, source: Source) -> usize {
        self.by_source.get(&source).map_or(0, VecDeque::len)
    }

    /// Tells the connection at `index` in `source`'s queue to go; whether there was one.
    fn evict_at(&mut self, source: Source, index: usize) -> bool {
        let Some(queue) = self.by_source.get_mut(&source) else {
            return false;
        };
        let Some(gone) = queue.remove(index) else {
            return false;
        };
        if queue.is_empty() {
            self.by_source.remove(&source);
        }
        self.total -= 1;
        let _ = gone.go.send(());
        true
    }

    /// Where in `source`'s queue its oldest connection passing `pick` is, never `keep`.
    fn find(
        &self,
        source: Source,
        keep: Option<u64>,
        pick: impl Fn(&Waiting) -> bool,
    ) -> Option<usize> {
        let queue = self.by_source.get(&source)?;
        queue.iter().position(|w| Some(w.id) != keep && pick(w))
    }

    /// Sources by the places they hold, the most first.
    fn largest_first(&self) -> Vec<Source> {
        let mut sources: Vec<(Source, usize)> =
            self.by_source.iter().map(|(s, q)| (*s, q.len())).collect();
        sources.sort_by_key(|s| std::cmp::Reverse(s.1));
        sources.into_iter().map(|(s, _)| s).collect()
    }

    /// The oldest connection anywhere that passes `pick`, never `keep`.
    fn oldest(
        &self,
        keep: Option<u64>,
        pick: impl Fn(&Waiting) -> bool,
    ) -> Option<(Source, usize)> {
        let mut found: Option<(Instant, Source, usize)> = None;
        for (source, queue) in &self.by_source {
            let first = queue
                .iter()
                .enumerate()
                .find(|(_, w)| Some(w.id) != keep && pick(w));
            if let Some((index, w)) = first {
                if found.is_none_or(|(since, ..)| w.since < since) {
                    found = Some((w.since, *source, index));
                }
            }
        }
        found.map(|(_, source, index)| (source, index))
    }

    /// Makes room in a full pool, or under a full connection cap, never displacing
    /// `keep`. In order: a silent connection (the sources holding most first); the
    /// oldest of a source past its share (a flood that says a little); the oldest that
    /// has not spoken yet (nothing was spent on it); the oldest still waiting after
    /// [`STALLED_AFTER`]. Whether one went: if not, every connection is at work and
    /// young (a crowd), and it is the newcomer that must give way.
    fn make_room(&mut self, now: Instant, keep: Option<u64>) -> bool {
        let sources = self.largest_first();
        for source in &sources {
            if let Some(index) = self.find(*source, keep, |w| w.silent(now)) {
                return self.evict_at(*source, index);
            }
        }
        if let Some(&largest) = sources.first() {
            if self.waiting(largest) > MAX_PENDING_PER_SOURCE {
                if let Some(index) = self.find(largest, keep, |_| true) {
                    return self.evict_at(largest, index);
                }
            }
        }
        let unheard = self.oldest(keep, |w| !w.heard.load(Ordering::Relaxed));
        let stalled = || self.oldest(keep, |w| now.duration_since(w.since) >= STALLED_AFTER);
        match unheard.or_else(stalled) {
            Some((source, index)) => self.evict_at(source, index),
            None => false,
        }
    }
}

/// The pool.
#[derive(Debug)]
pub struct PendingTable {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for PendingTable {
    fn default() -> Self {
        PendingTable::new(MAX_PENDING)
    }
}

/// One connection's place; given back on login or when the connection ends.
#[derive(Debug)]
pub struct Pending {
    table: Option<(Arc<PendingTable>, Source, u64)>,
    /// Answered if the pool gave this place to another connection.
    evicted: Option<oneshot::Receiver<()>>,
    /// Shared with its entry in the pool: whether it has spoken.
    heard: Arc<AtomicBool>,
}

impl PendingTable {
    pub fn new(capacity: usize) -> PendingTable {
        PendingTable {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection from `ip` (`None`: the pool is full of connections
    /// at work, and this one is to be closed), and how many others had to give up
    /// theirs for it.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> (Option<Pending>, u32) {
        self.take_at(ip, Instant::now())
    }

    fn take_at(self: &Arc<Self>, ip: IpAddr, now: Instant) -> (Option<Pending>, u32) {
        let source = Source::of(ip);
        let mut inner = self.lock();
        let mut evicted = 0;
        while inner.waiting(source) >= MAX_PENDING_PER_SOURCE {
            let Some(index) = inner.find(source, None, |w| w.silent(now)) else {
                break; // all at work: a crowd, not a flood
            };
            evicted += u32::from(inner.evict_at(source, index));
        }
        while inner.total >= self.capacity {
            if !inner.make_room(now, None) {
                return (None, evicted);
            }
            evicted += 1;
        }
        let (go, gone) = oneshot::channel();
        let heard = Arc::new(AtomicBool::new(false));
        let id = inner.next;
        inner.next += 1;
        inner
            .by_source
            .entry(source)
            .or_default()
            .push_back(Waiting {
                id,
                go,
                since: now,
                heard: heard.clone(),
            });
        inner.total += 1;
        let pending = Pending {
            table: Some((self.clone(), source, id)),
            evicted: Some(gone),
            heard,
        };
        (Some(pending), evicted)
    }

    /// Makes room under a full connection cap (see `Inner::make_room`), never displacing
    /// `keep`; whether a connection was told to go.
    pub fn make_room(&self, keep: &Pending) -> bool {
        let own = keep.table.as_ref().map(|(_, _, id)| *id);
        self.lock().make_room(Instant::now(), own)
    }

    /// How many connections from `ip`'s source wait now.
    #[cfg(test)]
    pub fn waiting(&self, ip: IpAddr) -> usize {
        self.lock().waiting(Source::of(ip))
    }
}

impl Pending {
    /// Gives the place back (the connection logged in). False if the place had already
    /// gone to another connection: this one is displaced and must end. Once it returns
    /// true, the connection can no longer be displaced.
    pub fn release(&mut self) -> bool {
        let Some((table, source, id)) = self.table.take() else {
            return false;
        };
        let mut inner = table.lock();
        let Some(queue) = inner.by_source.get_mut(&source) else {
            return false; // displaced already
        };
        let before = queue.len();
        queue.retain(|w| w.id != id);
        let removed = before - queue.len();
        if queue.is_empty() {
            inner.by_source.remove(&source);
        }
        inner.total -= removed;
        removed == 1
    }

    /// Its first bytes arrived: it is at work, not silent (see the module).
    pub fn heard(&self) {
        self.heard.store(true, Ordering::Relaxed);
    }

    /// Waits (until `deadline`) for the connection's first bytes and marks it heard. The
    /// yield after lets every connection of a crowd say so before any of them spends the
    /// CPU of a handshake, however long the queue of handshakes is.
    pub async fn listen(&self, stream: &tokio::net::TcpStream, deadline: tokio::time::Instant) {
        // A peek, not `readable()`: a new socket is reported ready with nothing to read.
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)).await;
        if let Ok(Ok(1)) = peeked {
            self.heard();
        }
        tokio::task::yield_now().await;
    }

    /// Takes the eviction notice out, for a task that waits on it beside the connection.
    pub fn eviction(&mut self) -> Eviction {
        Eviction(self.evicted.take())
    }
}

/// The eviction notice of a place (see [`Pending::eviction`]).
pub struct Eviction(Option<oneshot::Receiver<()>>);

impl Eviction {
    /// Resolves if the place was given to another connection; never otherwise.
    pub async fn wait(self) {
        let displaced = match self.0 {
            Some(gone) => gone.await.is_ok(),
            None => false,
        };
        if !displaced {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests;
