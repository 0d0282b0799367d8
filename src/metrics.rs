//! The daemon's counters: one struct of atomics shared by every part, read by the API.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Counters and gauges, updated lock-free from every task.
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A plain copy of [`Counters`], read counter by counter.
        #[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
        pub struct Snapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter once (each on its own: not one atomic moment), for `/metrics`.
            pub fn snapshot(&self) -> Snapshot {
                Snapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Connections the gate holds now (gauge).
    connections_open,
    /// Connections accepted since start.
    connections_total,
    /// Connections closed at once because the cap was reached.
    connections_over_cap,
    /// TLS handshakes that failed.
    handshake_failures,
    /// TLS handshakes done, per stack and version.
    tls_rustls_13,
    /// TLS 1.2 handshakes done by rustls.
    tls_rustls_12,
    /// TLS 1.3 handshakes done by OpenSSL (plugs rustls cannot serve).
    tls_openssl_13,
    /// TLS 1.2 handshakes done by OpenSSL.
    tls_openssl_12,
    /// TLS 1.0 or 1.1, allowed by `[mqtt] legacy_tls`.
    tls_openssl_legacy,
    /// Connections dropped at the handshake deadline.
    handshake_timeouts,
    /// First packets that were not a well-formed CONNECT (truncated, oversized, garbage).
    bad_connects,
    /// Logins refused with a CONNACK code.
    refused_logins,
    /// PUBLISHes and SUBSCRIBE filters the gate's topic rules refused.
    acl_denied,
    /// Packets after the CONNECT that were malformed or over the size limit.
    bad_packets,
    /// Connections the router did not take (answered with CONNACK 3).
    upstream_failures,
    /// Times an in-process link to the router had to be opened again.
    link_restarts,
    /// API connections closed at once because the API's cap was reached.
    api_over_cap,
    /// Messages for a device dropped because it did not read the ones before.
    device_queue_full,
    /// Device binds answered.
    binds,
    /// Messages the engine received.
    messages_in,
    /// Messages the engine sent.
    messages_out,
    /// Messages that were not valid Meross JSON.
    bad_messages,
    /// Messages whose sign did not verify.
    sign_failures,
    /// Requests a device did not answer in time.
    request_timeouts,
    /// Store writes waiting (gauge).
    store_queue_depth,
    /// Store writes dropped because the queue was full.
    store_queue_full,
    /// Store batches that could not be written (kept and tried again).
    store_write_failures,
    /// Topics and filters kept from the router: a shape it cannot take, or past the
    /// router's budget (see `broker::budget`).
    router_refused,
    /// Times the router was found dead and started again.
    router_restarts,
    /// Switch commands to a device channel folded into a later one (see `hub::pace`).
    commands_coalesced,
    /// Connections that had not logged in, closed to make room for a new one.
    handshakes_evicted,
    /// Idle API connections closed to make room for a new one.
    api_evicted,
    /// Logins refused unread because they came too soon after failed ones (see
    /// `gate::guard`), MQTT and cloud sign-ins.
    logins_throttled,
    /// Logins refused because the identity held its share of sessions (`gate::shares`).
    sessions_over_share,
    /// Clients closed for a QoS 2 publish past the open ones allowed, or a packet not
    /// completed in time.
    sessions_over_budget,
    /// Sign-ins to the web page refused: a wrong token.
    sign_ins_refused,
}

/// Adds one to a counter.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds one to a counter and says whether this occurrence deserves a log line: the first
/// ten, then every power of two and every thousandth, so that a flood (a scanner, a
/// forging client) is visible in the log without filling it. Returns the new total.
pub fn inc_logged(counter: &AtomicU64) -> Option<u64> {
    let total = counter.fetch_add(1, Ordering::Relaxed) + 1;
    (total <= 10 || total.is_power_of_two() || total.is_multiple_of(1000)).then_some(total)
}

/// Takes one from a gauge.
pub fn dec(counter: &AtomicU64) {
    counter.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_logged_sparingly() {
        let c = AtomicU64::new(0);
        let logged = (0..10_000).filter(|_| inc_logged(&c).is_some()).count();
        assert_eq!(c.load(Ordering::Relaxed), 10_000);
        // 1..=10, the powers of two 16..=8192, and 1000..=10000 by thousands.
        assert_eq!(logged, 10 + 10 + 10);
    }
}
