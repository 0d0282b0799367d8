//! How many connections each address has between accept and login. One host on the LAN
//! must not be able to hold the whole connection cap with sockets that never speak.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections one address may have waiting to log in: enough for any home.
pub const MAX_PENDING_PER_IP: u32 = 16;

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
    /// This host (loopback) is not limited: it runs the simulator and local tools.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Pending> {
        if ip.is_loopback() {
            return Some(Pending { table: None });
        }
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= MAX_PENDING_PER_IP {
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
    fn this_host_is_not_limited() {
        let table = Arc::new(PendingTable::default());
        let held: Vec<Pending> = (0..100)
            .map(|_| table.take("127.0.0.1".parse().unwrap()).unwrap())
            .collect();
        assert_eq!(held.len(), 100);
    }
}
