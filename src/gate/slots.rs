//! The client ids the gate gives the router. A client's own id never reaches rumqttd (some
//! ids panic it, others would take over merossd's own links); instead each connection
//! borrows a numbered id, and ids come back for reuse. rumqttd keeps a record per client
//! id it has seen, so reuse is what keeps its memory flat under reconnect churn. The gate
//! waits for the router to close a connection before its id comes back, and the id
//! rests a little more before reuse.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a returned id rests before another connection gets it.
pub const REST: Duration = Duration::from_millis(100);
/// Every router-side id starts with this; merossd's own links do not.
pub const PREFIX: &str = "gate-";

#[derive(Debug, Default)]
struct Inner {
    /// Returned ids, oldest first, with when they came back.
    free: VecDeque<(u32, Instant)>,
    next: u32,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Slots(Mutex<Inner>);

/// One borrowed id; goes back to the pool when dropped.
#[derive(Debug)]
pub struct Slot {
    pool: Arc<Slots>,
    n: u32,
}

impl Slots {
    pub fn take(self: &Arc<Self>) -> Slot {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let rested = inner
            .free
            .front()
            .is_some_and(|(_, since)| since.elapsed() >= REST);
        let n = match inner.free.pop_front() {
            Some((n, _)) if rested => n,
            other => {
                if let Some(back) = other {
                    inner.free.push_front(back);
                }
                inner.next += 1;
                inner.next
            }
        };
        Slot {
            pool: self.clone(),
            n,
        }
    }

    /// How many ids were ever made (the most the router can remember).
    #[cfg(test)]
    pub fn made(&self) -> u32 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).next
    }
}

impl Slot {
    pub fn client_id(&self) -> String {
        format!("{PREFIX}{}", self.n)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.pool.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.free.push_back((self.n, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_while_held_and_reused_after_rest() {
        let pool = Arc::new(Slots::default());
        let a = pool.take();
        let b = pool.take();
        assert_ne!(a.client_id(), b.client_id());
        drop(a);
        // Not rested yet: a new id.
        let c = pool.take();
        assert_eq!(c.client_id(), "gate-3");
        assert_eq!(pool.made(), 3);
    }
}
