//! How many connections each address has between accept and login. One host on the LAN
//! must not be able to hold the whole connection cap with sockets that never speak.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections one address may have waiting to log in: enough for any home.
pub const MAX_PENDING_PER_IP: u32 = 16;
/// The same for this host, which runs the simulator, benchmarks and local tools: higher,
/// but still a limit, so that a local process cannot fill the shared connection cap.
pub const MAX_PENDING_LOOPBACK: u32 = 512;

/// The count per address.
#[derive(Debug, Default)]
pub struct PendingTable {
    counts: Mutex<HashMap<IpAddr, u32>>,
}

/// One connection's place; given back on login or when the connection ends.
#[derive(Debug)]
pub struct Pending {
    table: Option<(Arc<PendingTable>, IpAddr)>,
}

impl PendingTable {
    /// A place for a new connection from `ip`, or `None` if it has too many waiting.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Pending> {
        let limit = if ip.is_loopback() {
            MAX_PENDING_LOOPBACK
        } else {
            MAX_PENDING_PER_IP
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Pending {
            table: Some((self.clone(), ip)),
        })
    }

    /// How many connections from `ip` wait now.
    #[cfg(test)]
    pub fn waiting(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&ip).copied().unwrap_or(0)
    }
}

impl Pending {
    /// Gives the place back (the connection logged in).
    pub fn release(&mut self) {
        let Some((table, ip)) = self.table.take() else {
            return;
        };
        let mut counts = table.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_sixteen_waiting_places_and_they_come_back() {
        let table = Arc::new(PendingTable::default());
        let lan: IpAddr = "192.0.2.7".parse().unwrap();
        let mut held: Vec<Pending> = (0..MAX_PENDING_PER_IP)
            .map(|_| table.take(lan).unwrap())
            .collect();
        assert!(table.take(lan).is_none(), "the 17th must wait");
        assert!(
            table.take("192.0.2.8".parse().unwrap()).is_some(),
            "others are not affected"
        );
        held[0].release(); // logged in
        assert_eq!(table.waiting(lan), MAX_PENDING_PER_IP - 1);
        let again = table.take(lan);
        assert!(again.is_some());
        drop(held);
        drop(again);
        assert_eq!(table.waiting(lan), 0);
    }

    #[test]
    fn this_host_gets_more_places_but_not_without_end() {
        let table = Arc::new(PendingTable::default());
        let host: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<Pending> = (0..MAX_PENDING_LOOPBACK)
            .map(|_| table.take(host).unwrap())
            .collect();
        assert!(table.take(host).is_none());
        drop(held);
        assert!(table.take(host).is_some());
    }
}
