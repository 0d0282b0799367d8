//! Logins cannot be guessed fast. Every failed login (MQTT, or the cloud API's sign-in)
//! is counted per source address and per claimed identity from that source's network
//! (an MQTT username or an e-mail, from an IPv4 address or an IPv6 /64); past a few free
//! tries each further try must wait a delay that doubles with every failure, and a try
//! made before it has passed is refused without looking at the password. The right
//! password, once the delay has passed, works, and clears that identity's count.
//!
//! Identities are kept as a keyed hash (a client chooses them: their length costs
//! nothing here), and the count of a name is per network, so a stranger failing with a
//! plug's public username elsewhere does not hold the plug out.

use super::pending::Source;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Failures allowed before the delay starts, per identity...
pub const FREE_PER_IDENTITY: u32 = 5;
/// ...and per source (this host runs the tests and tools: more).
pub const FREE_PER_SOURCE: u32 = 20;
/// Failures allowed before the delay starts from a loopback source, in place of
/// [`FREE_PER_SOURCE`].
pub const FREE_PER_LOOPBACK: u32 = 200;
/// The first delay; it doubles with every further failure, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest delay, however many failures.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A count is forgotten after this long without a failure.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Counts kept per kind; past this the stale ones go, then the oldest.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// How long after the last failure the next try may come.
    fn delay(&self, free: u32) -> Duration {
        if self.count < free {
            return Duration::ZERO;
        }
        let doublings = (self.count - free).min(16);
        FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
    }

    fn wait(&self, free: u32, now: Instant) -> Option<Duration> {
        let until = self.last + self.delay(free);
        (until > now).then(|| until - now)
    }
}

#[derive(Debug)]
struct Counts<K>(Mutex<HashMap<K, Failures>>);

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait(&self, key: &K, free: u32, now: Instant) -> Option<Duration> {
        self.lock().get(key).and_then(|f| f.wait(free, now))
    }

    fn failed(&self, key: K, now: Instant) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            map.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if map.len() >= MAX_ENTRIES {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    fn clear(&self, key: &K) {
        self.lock().remove(key);
    }
}

/// The counts of failed logins.
#[derive(Debug, Default)]
pub struct LoginGuard {
    /// Per address (the whole IPv6 address: a home's LAN is one /64).
    sources: Counts<IpAddr>,
    /// Per (network, hash of the name).
    identities: Counts<(Source, u64)>,
}

/// A keyed hash of a claimed name (keys differ per process).
fn name_key(ip: IpAddr, name: &str) -> (Source, u64) {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    (
        Source::of(ip),
        KEYS.get_or_init(RandomState::new).hash_one(name),
    )
}

fn free_for(ip: IpAddr) -> u32 {
    if ip.is_loopback() {
        FREE_PER_LOOPBACK
    } else {
        FREE_PER_SOURCE
    }
}

impl LoginGuard {
    /// Before the credentials are looked at: `Err(wait)` if this try comes too soon
    /// after failures from `ip` or for `identity`.
    pub fn check(&self, ip: IpAddr, identity: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let by_source = self.sources.wait(&ip, free_for(ip), now);
        let by_identity = self
            .identities
            .wait(&name_key(ip, identity), FREE_PER_IDENTITY, now);
        match by_source.max(by_identity) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// The credentials were wrong.
    pub fn failed(&self, ip: IpAddr, identity: &str) {
        let now = Instant::now();
        self.sources.failed(ip, now);
        self.identities.failed(name_key(ip, identity), now);
    }

    /// The credentials were right: that name's count from that network is cleared (not
    /// the source's: one login of one's own must not buy guesses at other names).
    pub fn succeeded(&self, ip: IpAddr, identity: &str) {
        self.identities.clear(&name_key(ip, identity));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guessing_is_slowed_and_the_right_password_works_once_the_delay_passed() {
        let guard = LoginGuard::default();
        let lan: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..FREE_PER_IDENTITY {
            assert_eq!(guard.check(lan, "48:e1:e9:00:00:01"), Ok(()));
            guard.failed(lan, "48:e1:e9:00:00:01");
        }
        let wait = guard.check(lan, "48:e1:e9:00:00:01").unwrap_err();
        assert!(wait <= FIRST_DELAY && wait > Duration::ZERO, "{wait:?}");
        // Another identity from the same source is not held yet.
        assert_eq!(guard.check(lan, "48:e1:e9:00:00:02"), Ok(()));
        std::thread::sleep(wait);
        assert_eq!(guard.check(lan, "48:e1:e9:00:00:01"), Ok(()));
        guard.succeeded(lan, "48:e1:e9:00:00:01");
        assert_eq!(guard.check(lan, "48:e1:e9:00:00:01"), Ok(()));
    }

    #[test]
    fn the_delay_doubles_and_stops_at_its_most() {
        let f = |count| {
            Failures {
                count,
                last: Instant::now(),
            }
            .delay(5)
        };
        assert_eq!(f(4), Duration::ZERO);
        assert_eq!(f(5), FIRST_DELAY);
        assert_eq!(f(7), FIRST_DELAY * 4);
        assert_eq!(f(100), MAX_DELAY);
    }
}
