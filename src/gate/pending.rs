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
//! - when the pool is full, the source holding the most places gives up its oldest
//!   silent connection, or else its oldest.
//!
//! So a flood only ever displaces itself, a plug from anywhere else gets a place at
//! once, and a thousand plugs from one address are never closed mid-handshake to make
//! room for each other. A displaced connection is closed (and counted) by its task.

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

    /// Where in `source`'s queue its oldest silent connection is, else (with
    /// `or_oldest`) its oldest not `keep`.
    fn victim(
        &self,
        source: Source,
        now: Instant,
        or_oldest: bool,
        keep: Option<u64>,
    ) -> Option<usize> {
        let queue = self.by_source.get(&source)?;
        let mine = |w: &Waiting| Some(w.id) == keep;
        queue
            .iter()
            .position(|w| w.silent(now) && !mine(w))
            .or_else(|| or_oldest.then(|| queue.iter().position(|w| !mine(w)))?)
    }

    /// Sources by the places they hold, the most first.
    fn largest_first(&self) -> Vec<Source> {
        let mut sources: Vec<(Source, usize)> =
            self.by_source.iter().map(|(s, q)| (*s, q.len())).collect();
        sources.sort_by_key(|s| std::cmp::Reverse(s.1));
        sources.into_iter().map(|(s, _)| s).collect()
    }

    /// Displaces one connection of the source holding the most (its oldest silent one,
    /// else its oldest), never `keep`; whether there was one.
    fn evict_from_largest(&mut self, now: Instant, keep: Option<u64>) -> bool {
        for source in self.largest_first() {
            if let Some(index) = self.victim(source, now, true, keep) {
                return self.evict_at(source, index);
            }
        }
        false
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

    /// A place for a new connection from `ip`, and how many others had to give up
    /// theirs for it.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> (Pending, u32) {
        self.take_at(ip, Instant::now())
    }

    fn take_at(self: &Arc<Self>, ip: IpAddr, now: Instant) -> (Pending, u32) {
        let source = Source::of(ip);
        let mut inner = self.lock();
        let mut evicted = 0;
        while inner.waiting(source) >= MAX_PENDING_PER_SOURCE {
            let Some(index) = inner.victim(source, now, false, None) else {
                break; // all at work: a crowd, not a flood
            };
            evicted += u32::from(inner.evict_at(source, index));
        }
        while inner.total >= self.capacity {
            if !inner.evict_from_largest(now, None) {
                break;
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
        (pending, evicted)
    }

    /// Tells a connection of the source holding the most places to go (the connection
    /// cap is reached): its oldest silent one, else its oldest; never `keep` itself.
    /// Whether there was one.
    pub fn make_room(&self, keep: &Pending) -> bool {
        let own = keep.table.as_ref().map(|(_, _, id)| *id);
        self.lock().evict_from_largest(Instant::now(), own)
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
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const LATER: Duration = Duration::from_secs(3);

    #[test]
    fn a_silent_source_past_its_share_gives_up_its_silent_ones_down_to_its_share() {
        let table = Arc::new(PendingTable::default());
        let lan = ip("192.0.2.7");
        let t0 = Instant::now();
        let held: Vec<Pending> = (0..20).map(|_| table.take_at(lan, t0).0).collect();
        assert_eq!(table.waiting(lan), 20, "none has been silent long yet");
        held[3].heard();
        let (_newest, evicted) = table.take_at(lan, t0 + LATER);
        assert_eq!(evicted, 5);
        assert_eq!(table.waiting(lan), MAX_PENDING_PER_SOURCE);
        let (_other, evicted) = table.take_at(ip("192.0.2.8"), t0 + LATER);
        assert_eq!(evicted, 0, "others are not affected");
        let mut held = held;
        assert!(held[3].release(), "the one that spoke kept its place");
        assert!(!held[0].release(), "the oldest silent one went");
    }

    #[test]
    fn a_crowd_at_work_behind_one_address_is_taken_past_its_share() {
        let table = Arc::new(PendingTable::default());
        let nat = ip("192.0.2.9");
        let t0 = Instant::now();
        let crowd: Vec<Pending> = (0..200).map(|_| table.take_at(nat, t0).0).collect();
        crowd.iter().for_each(Pending::heard);
        let (_one_more, evicted) = table.take_at(nat, t0 + LATER);
        assert_eq!(evicted, 0);
        assert_eq!(table.waiting(nat), 201);
    }

    #[tokio::test]
    async fn a_full_pool_takes_from_the_largest_source_and_tells_the_one_displaced() {
        let table = Arc::new(PendingTable::new(8));
        let flood: Vec<Pending> = (0..8).map(|_| table.take(ip("127.0.0.9")).0).collect();
        let mut oldest = flood.into_iter();
        let mut first = oldest.next().unwrap();
        let (_plug, evicted) = table.take(ip("127.0.0.1"));
        assert_eq!(evicted, 1);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.eviction().wait())
            .await
            .expect("the oldest of the flood was told to go");
        assert_eq!(table.waiting(ip("127.0.0.9")), 7);
    }

    #[test]
    fn a_full_pool_takes_a_silent_connection_before_one_at_work() {
        let table = Arc::new(PendingTable::new(3));
        let busy = ip("192.0.2.10");
        let t0 = Instant::now();
        let mut held: Vec<Pending> = (0..3).map(|_| table.take_at(busy, t0).0).collect();
        held[0].heard();
        held[2].heard();
        let (_plug, evicted) = table.take_at(ip("192.0.2.11"), t0 + LATER);
        assert_eq!(evicted, 1);
        assert!(!held[1].release(), "the silent one went");
        assert!(held[0].release() && held[2].release());
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        assert_eq!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:2:ffff::7"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.1")),
            Source::of(ip("192.0.2.1"))
        );
    }
}
