//! Connections between accept and login hold a place in a bounded pool, shared fairly
//! across sources. One host must not be able to lock plugs out with sockets that never
//! speak (or TLS handshakes it never finishes), however many addresses it has:
//! - a source is an IPv4 address or an IPv6 /64 (privacy addresses are free to make);
//! - a source past its own share gives up its oldest waiting connection to its newest;
//! - when the pool is full, the source holding the most places gives up its oldest.
//!
//! So a flood only ever displaces itself, and a plug from anywhere else gets a place at
//! once. A displaced connection is closed (and counted) by its task.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Connections one source may have waiting to log in: enough for any home.
pub const MAX_PENDING_PER_SOURCE: usize = 16;
/// The same for this host, which runs the simulator, benchmarks and local tools.
pub const MAX_PENDING_LOOPBACK: usize = 512;
/// Places in the pool, in all (also at most the connection cap).
pub const MAX_PENDING: usize = 1024;

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

/// One waiting connection: its number, and how to tell it to go.
type Waiting = (u64, oneshot::Sender<()>);

#[derive(Debug, Default)]
struct Inner {
    by_source: HashMap<Source, VecDeque<Waiting>>,
    total: usize,
    next: u64,
}

impl Inner {
    /// Tells the oldest connection of `source` to go; whether there was one.
    fn evict_oldest(&mut self, source: Source) -> bool {
        let Some(queue) = self.by_source.get_mut(&source) else {
            return false;
        };
        let Some((_, go)) = queue.pop_front() else {
            return false;
        };
        if queue.is_empty() {
            self.by_source.remove(&source);
        }
        self.total -= 1;
        let _ = go.send(());
        true
    }

    /// The source holding the most places.
    fn largest(&self) -> Option<Source> {
        self.by_source
            .iter()
            .max_by_key(|(_, q)| q.len())
            .map(|(s, _)| *s)
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
        let source = Source::of(ip);
        let share = if ip.is_loopback() {
            MAX_PENDING_LOOPBACK
        } else {
            MAX_PENDING_PER_SOURCE
        };
        let mut inner = self.lock();
        let mut evicted = 0;
        if inner.by_source.get(&source).map_or(0, VecDeque::len) >= share {
            evicted += u32::from(inner.evict_oldest(source));
        }
        while inner.total >= self.capacity {
            let Some(largest) = inner.largest() else {
                break;
            };
            evicted += u32::from(inner.evict_oldest(largest));
        }
        let (go, gone) = oneshot::channel();
        let id = inner.next;
        inner.next += 1;
        inner
            .by_source
            .entry(source)
            .or_default()
            .push_back((id, go));
        inner.total += 1;
        let pending = Pending {
            table: Some((self.clone(), source, id)),
            evicted: Some(gone),
        };
        (pending, evicted)
    }

    /// Tells the oldest connection of the source holding the most places to go (the
    /// connection cap is reached), never `keep` itself; whether there was one.
    pub fn make_room(&self, keep: &Pending) -> bool {
        let own = keep.table.as_ref().map(|(_, _, id)| *id);
        let mut inner = self.lock();
        let mut sources: Vec<(Source, usize)> =
            inner.by_source.iter().map(|(s, q)| (*s, q.len())).collect();
        sources.sort_by_key(|s| std::cmp::Reverse(s.1));
        for (source, _) in sources {
            let oldest = inner
                .by_source
                .get(&source)
                .and_then(|q| q.front())
                .map(|(n, _)| *n);
            if oldest.is_some() && oldest != own {
                return inner.evict_oldest(source);
            }
        }
        false
    }

    /// How many connections from `ip`'s source wait now.
    #[cfg(test)]
    pub fn waiting(&self, ip: IpAddr) -> usize {
        self.lock()
            .by_source
            .get(&Source::of(ip))
            .map_or(0, VecDeque::len)
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
        queue.retain(|(n, _)| *n != id);
        let removed = before - queue.len();
        if queue.is_empty() {
            inner.by_source.remove(&source);
        }
        inner.total -= removed;
        removed == 1
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

    #[test]
    fn a_source_past_its_share_displaces_its_own_oldest() {
        let table = Arc::new(PendingTable::default());
        let lan = ip("192.0.2.7");
        let mut held: Vec<Pending> = (0..MAX_PENDING_PER_SOURCE)
            .map(|_| table.take(lan).0)
            .collect();
        let (_newest, evicted) = table.take(lan);
        assert_eq!(evicted, 1);
        assert_eq!(table.waiting(lan), MAX_PENDING_PER_SOURCE);
        let (_other, evicted) = table.take(ip("192.0.2.8"));
        assert_eq!(evicted, 0, "others are not affected");
        held[1].release(); // logged in
        assert_eq!(table.waiting(lan), MAX_PENDING_PER_SOURCE - 1);
        drop(held);
        assert_eq!(table.waiting(lan), 1);
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
