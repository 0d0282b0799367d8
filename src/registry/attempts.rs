//! How devices last tried to get in, for "why is it offline": per device, its last login
//! and how it ended, its connections of the last 24 hours and what it said before it bound;
//! per address, the last connection that failed before saying who it was (TLS, a silent
//! socket, a bad first packet); and the last logins naming a device merossd does not know.
//! The gate writes it, the engine adds what a device said, the API and the CLI read it.
//! Every part is bounded: a flood of logins cannot grow it.

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

/// Devices with a record; past it, the oldest record goes.
const MAX_DEVICES: usize = 8192;
/// Addresses with a failed connection kept; past it, the oldest goes.
const MAX_ADDRESSES: usize = 1024;
/// Connection times kept per device: "reconnects in the last day" counts up to this
/// less one (a plug that reconnects more often than every 12 minutes shows 127), and
/// 1,000 plugs hold at most half a megabyte of them.
const MAX_CONNECTS: usize = 128;
/// Logins of unknown devices kept.
const MAX_UNKNOWN: usize = 16;
/// Namespaces remembered of what a device said before it bound.
const MAX_SAID: usize = 8;
/// Characters kept of anything a client chose (a client id, a reason from TLS).
const MAX_TEXT: usize = 200;
/// What "reconnects in the last day" counts over.
const DAY_S: u64 = 86_400;

/// How a try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Logged in.
    Connected,
    /// Its login was refused (a CONNACK code other than 0).
    Refused,
    /// Its TLS handshake failed.
    TlsFailed,
    /// Nothing (no ClientHello, or no CONNECT) came before the deadline.
    Silent,
    /// Its first packet was not a CONNECT merossd takes.
    BadConnect,
}

/// One try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// Epoch seconds.
    pub at: u64,
    /// `ip:port` it came from.
    pub from: String,
    /// How it ended.
    pub outcome: Outcome,
    /// In words: the refusal's reason and code, the TLS error and what was offered.
    pub detail: String,
}

/// A login that named a device merossd does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unknown {
    /// The try.
    #[serde(flatten)]
    pub attempt: Attempt,
    /// The uuid its client id names.
    pub uuid: String,
    /// The user name it gave (a Meross plug's MAC).
    pub user: String,
}

#[derive(Debug, Default)]
struct DeviceRecord {
    last: Option<Attempt>,
    /// Epoch seconds (u32 lasts until 2106).
    connects: VecDeque<u32>,
    /// What it said since it last connected, while it had not bound.
    said: Vec<String>,
    bound_since_connect: bool,
}

#[derive(Debug, Default)]
struct Inner {
    devices: HashMap<String, DeviceRecord>,
    addresses: HashMap<IpAddr, Attempt>,
    unknown: VecDeque<Unknown>,
}

/// A refused login, as the gate saw it.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    /// The device it names.
    pub uuid: &'a str,
    /// The user name it gave.
    pub user: &'a str,
    /// Whether merossd knows that device.
    pub known: bool,
    /// Where it came from.
    pub from: SocketAddr,
    /// Why it was refused, in words.
    pub why: &'a str,
    /// The CONNACK code it got.
    pub code: u8,
}

/// What is known of one device's ways in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceAttempts {
    /// Its last login.
    pub last_login: Option<Attempt>,
    /// The last connection from its last address that failed before it said who it was,
    /// when newer than its last login.
    pub failed_before_login: Option<Attempt>,
    /// Its connections in the last 24 hours, less one (its first of them).
    pub reconnects_24h: usize,
    /// It is connected but has not bound since: what it said instead (namespaces).
    pub said_before_bind: Option<Vec<String>>,
}

/// The record; shared by the gate and the engine through the registry.
#[derive(Debug, Default)]
pub struct Attempts {
    inner: Mutex<Inner>,
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

/// Drops the entry whose attempt is oldest when `map` holds `max` (a bounded map with no
/// order of its own: an O(n) scan, only when full).
fn make_room<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    at: impl Fn(&V) -> u64,
) {
    if map.len() < max {
        return;
    }
    if let Some(oldest) = map
        .iter()
        .min_by_key(|(_, v)| at(v))
        .map(|(k, _)| k.clone())
    {
        map.remove(&oldest);
    }
}

impl Attempts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn device<'a>(inner: &'a mut Inner, uuid: &str) -> &'a mut DeviceRecord {
        if !inner.devices.contains_key(uuid) {
            make_room(&mut inner.devices, MAX_DEVICES, |d: &DeviceRecord| {
                d.last.as_ref().map_or(0, |a| a.at)
            });
        }
        inner.devices.entry(uuid.to_owned()).or_default()
    }

    /// Device `uuid` logged in from `addr` at `now`.
    pub fn connected(&self, uuid: &str, addr: SocketAddr, tls: Option<&str>, now: u64) {
        let mut inner = self.lock();
        let record = Self::device(&mut inner, uuid);
        record.last = Some(Attempt {
            at: now,
            from: addr.to_string(),
            outcome: Outcome::Connected,
            detail: tls.map_or("plain MQTT".to_owned(), cut),
        });
        while record.connects.len() >= MAX_CONNECTS
            || record
                .connects
                .front()
                .is_some_and(|t| u64::from(*t) + DAY_S < now)
        {
            record.connects.pop_front();
        }
        record
            .connects
            .push_back(u32::try_from(now).unwrap_or(u32::MAX));
        record.said.clear();
        record.bound_since_connect = false;
    }

    /// A login was refused.
    pub fn refused(&self, r: &Refusal<'_>, now: u64) {
        let Refusal {
            uuid,
            user,
            known,
            from,
            why,
            code,
        } = *r;
        let attempt = Attempt {
            at: now,
            from: from.to_string(),
            outcome: Outcome::Refused,
            detail: format!("{} (CONNACK {code})", cut(why)),
        };
        let mut inner = self.lock();
        if known {
            Self::device(&mut inner, uuid).last = Some(attempt);
            return;
        }
        inner.unknown.retain(|u| u.uuid != uuid);
        if inner.unknown.len() >= MAX_UNKNOWN {
            inner.unknown.pop_front();
        }
        inner.unknown.push_back(Unknown {
            attempt,
            uuid: cut(uuid),
            user: cut(user),
        });
    }

    /// A connection from `addr` ended before it said who it was.
    pub fn failed_before_login(&self, addr: SocketAddr, outcome: Outcome, detail: &str, now: u64) {
        let mut inner = self.lock();
        if !inner.addresses.contains_key(&addr.ip()) {
            make_room(&mut inner.addresses, MAX_ADDRESSES, |a: &Attempt| a.at);
        }
        inner.addresses.insert(
            addr.ip(),
            Attempt {
                at: now,
                from: addr.to_string(),
                outcome,
                detail: cut(detail),
            },
        );
    }

    /// Device `uuid` said `namespace`; `bound` once it is a Bind that was answered.
    pub fn said(&self, uuid: &str, namespace: &str, bound: bool) {
        let mut inner = self.lock();
        let Some(record) = inner.devices.get_mut(uuid) else {
            return;
        };
        if record.bound_since_connect {
            return;
        }
        if bound {
            record.bound_since_connect = true;
            record.said.clear();
        } else if record.said.len() < MAX_SAID && !record.said.iter().any(|n| n == namespace) {
            record.said.push(cut(namespace));
        }
    }

    /// What is known of `uuid`'s tries, with failures from `peer` (its last address).
    pub fn of(&self, uuid: &str, peer: Option<IpAddr>, now: u64) -> DeviceAttempts {
        let inner = self.lock();
        let record = inner.devices.get(uuid);
        let last_login = record.and_then(|r| r.last.clone());
        let since = last_login.as_ref().map_or(0, |a| a.at);
        let failed_before_login = peer
            .and_then(|ip| inner.addresses.get(&ip))
            .filter(|a| a.at >= since)
            .cloned();
        let reconnects_24h = record.map_or(0, |r| {
            r.connects
                .iter()
                .filter(|t| u64::from(**t) + DAY_S >= now)
                .count()
                .saturating_sub(1)
        });
        let said_before_bind = record
            .filter(|r| {
                !r.bound_since_connect
                    && r.last
                        .as_ref()
                        .is_some_and(|a| a.outcome == Outcome::Connected)
            })
            .map(|r| r.said.clone());
        DeviceAttempts {
            last_login,
            failed_before_login,
            reconnects_24h,
            said_before_bind,
        }
    }

    /// The last logins naming devices merossd does not know, newest first.
    pub fn unknown(&self) -> Vec<Unknown> {
        self.lock().unknown.iter().rev().cloned().collect()
    }

    /// `uuid` is forgotten: its record goes.
    pub fn forget(&self, uuid: &str) {
        self.lock().devices.remove(uuid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn refusal(uuid: &str, known: bool) -> Refusal<'_> {
        Refusal {
            uuid,
            user: "aa:bb",
            known,
            from: addr(2),
            why: "credentials",
            code: 4,
        }
    }

    #[test]
    fn a_refusal_after_a_connection_is_the_last_login_and_reconnects_count_a_day() {
        let a = Attempts::default();
        for t in [10, 20, 30] {
            a.connected("u1", addr(1), Some("TLSv1.2 X (openssl)"), t);
        }
        a.refused(&refusal("u1", true), 40);
        let seen = a.of("u1", None, 50);
        assert_eq!(seen.reconnects_24h, 2);
        let last = seen.last_login.expect("a login");
        assert_eq!(
            (last.outcome, last.detail.as_str()),
            (Outcome::Refused, "credentials (CONNACK 4)")
        );
        assert_eq!(a.of("u1", None, 30 + DAY_S + 1).reconnects_24h, 0);
    }

    #[test]
    fn a_failure_from_its_address_counts_only_when_newer_than_its_last_login() {
        let a = Attempts::default();
        a.failed_before_login(addr(5), Outcome::TlsFailed, "no shared cipher", 5);
        a.connected("u1", addr(6), None, 10);
        let ip = Some(addr(0).ip());
        assert_eq!(a.of("u1", ip, 11).failed_before_login, None);
        a.failed_before_login(addr(7), Outcome::Silent, "no ClientHello", 20);
        let failed = a.of("u1", ip, 21).failed_before_login.expect("the failure");
        assert_eq!(failed.outcome, Outcome::Silent);
    }

    #[test]
    fn what_it_said_before_binding_is_kept_until_it_binds() {
        let a = Attempts::default();
        a.connected("u1", addr(1), None, 10);
        a.said("u1", "Appliance.System.Clock", false);
        a.said("u1", "Appliance.System.Clock", false);
        assert_eq!(
            a.of("u1", None, 11).said_before_bind,
            Some(vec!["Appliance.System.Clock".to_owned()])
        );
        a.said("u1", "Appliance.Control.Bind", true);
        assert_eq!(a.of("u1", None, 12).said_before_bind, None);
    }

    #[test]
    fn unknown_logins_are_few_newest_first_and_one_per_uuid() {
        let a = Attempts::default();
        for n in 0..40u64 {
            a.refused(&refusal(&format!("u{}", n % 20), false), n);
        }
        let list = a.unknown();
        assert_eq!(list.len(), MAX_UNKNOWN);
        assert_eq!(list[0].uuid, "u19");
        assert_eq!(list[0].attempt.at, 39);
    }

    #[test]
    fn the_records_are_bounded() {
        let a = Attempts::default();
        for n in 0..(MAX_ADDRESSES as u32 + 10) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + n);
            a.failed_before_login(SocketAddr::from((ip, 1)), Outcome::Silent, "", u64::from(n));
        }
        assert_eq!(a.lock().addresses.len(), MAX_ADDRESSES);
    }
}
