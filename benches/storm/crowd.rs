//! Fairness between sources, from outside: a storm of plugs all behind one address (a
//! guest or IoT network behind NAT) against the same storm from an address each, and
//! what a crowd of silent sockets from one address costs a plug from another.

use crate::{all_bound, fleet_from, restart_storm, Server, Sources, PATIENCE};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};

/// Where the plugs behind one address dial from.
const NAT: Ipv4Addr = Ipv4Addr::new(127, 2, 0, 1);
/// Where the silent sockets come from, and the plug that dials past them.
const SILENT: Ipv4Addr = Ipv4Addr::new(127, 3, 0, 1);
const NEWCOMER: Ipv4Addr = Ipv4Addr::new(127, 3, 0, 2);
/// How many single binds each median is taken over.
const BINDS: u32 = 5;

/// The restart storm of `n` plugs all dialling from one address, once they are bound.
pub async fn one_address_storm(server: &mut Server, n: u32) -> Option<Duration> {
    let fleet = fleet_from(server.tls.port(), 100_001, n, Sources::One(NAT));
    all_bound(&fleet, PATIENCE).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    restart_storm(server, &fleet).await
}

/// A new plug's bind time (median of a few, from another address): with no silent
/// sockets, and with `silent` sockets from one address connected and saying nothing.
pub async fn silent_cost(server: &Server, silent: usize) -> Option<(Duration, Duration)> {
    let alone = median_bind(server, 200_001).await?;
    let sockets = silent_sockets(server.tls, silent).await;
    let past = median_bind(server, 200_101).await?;
    eprintln!("  ({} of {silent} silent sockets connected)", sockets.len());
    drop(sockets);
    Some((alone, past))
}

/// The median time for one new plug to bind, over [`BINDS`] plugs one after another.
async fn median_bind(server: &Server, first: u32) -> Option<Duration> {
    let mut times = Vec::new();
    for i in 0..BINDS {
        let started = Instant::now();
        let plug = fleet_from(server.tls.port(), first + i, 1, Sources::One(NEWCOMER));
        all_bound(&plug, Duration::from_secs(30)).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Some(times[times.len() / 2])
}

/// `n` connections from [`SILENT`] that never send a byte (those that fail are left out).
async fn silent_sockets(to: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(socket) = TcpSocket::new_v4() else {
            break;
        };
        if socket.bind(SocketAddr::new(SILENT.into(), 0)).is_err() {
            break;
        }
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(2), socket.connect(to)).await {
            held.push(s);
        }
    }
    held
}
