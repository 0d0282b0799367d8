//! What waits to be written to one device: bounded in messages and bytes, and taking no
//! memory while empty, which it nearly always is (a tokio channel would hold a block of
//! slots for each of thousands of idle plugs).

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// A message for a device: its topic and payload.
pub type Delivery = (String, Bytes);

#[derive(Default)]
struct Waiting {
    messages: VecDeque<Delivery>,
    bytes: usize,
}

/// One producer side (the hub) and one consumer (the device's connection).
pub struct DeviceQueue {
    waiting: Mutex<Waiting>,
    ready: Notify,
    max_messages: usize,
    max_bytes: usize,
}

impl DeviceQueue {
    /// An empty queue that holds at most `max_messages` messages and `max_bytes` bytes of
    /// payload (topics are not counted).
    pub fn new(max_messages: usize, max_bytes: usize) -> DeviceQueue {
        DeviceQueue {
            waiting: Mutex::default(),
            ready: Notify::new(),
            max_messages,
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message; false (and it is not queued) when that would pass either bound.
    pub fn push(&self, delivery: Delivery) -> bool {
        let mut waiting = self.lock();
        let size = delivery.1.len();
        if waiting.messages.len() >= self.max_messages || waiting.bytes + size > self.max_bytes {
            return false;
        }
        waiting.bytes += size;
        waiting.messages.push_back(delivery);
        drop(waiting);
        self.ready.notify_one();
        true
    }

    /// The next message; waits while there is none. Cancel-safe: a message is taken only
    /// when this returns it.
    pub async fn pop(&self) -> Delivery {
        loop {
            if let Some(delivery) = self.try_pop() {
                return delivery;
            }
            // A push between the check and here leaves a permit: this returns at once.
            self.ready.notified().await;
        }
    }

    fn try_pop(&self) -> Option<Delivery> {
        let mut waiting = self.lock();
        let delivery = waiting.messages.pop_front()?;
        waiting.bytes -= delivery.1.len();
        if waiting.messages.is_empty() {
            // Nothing is held between messages.
            waiting.messages = VecDeque::new();
        }
        Some(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn message(n: usize) -> Delivery {
        ("/appliance/x/subscribe".into(), Bytes::from(vec![b'x'; n]))
    }

    #[test]
    fn both_bounds_hold_and_room_comes_back_as_messages_leave() {
        let q = DeviceQueue::new(3, 100);
        assert!(q.push(message(40)));
        assert!(q.push(message(40)));
        assert!(!q.push(message(40)), "over the bytes");
        assert!(q.push(message(20)));
        assert!(!q.push(message(0)), "over the count");
        assert_eq!(q.try_pop().map(|d| d.1.len()), Some(40));
        assert!(q.push(message(40)));
        let sizes: Vec<usize> = std::iter::from_fn(|| q.try_pop().map(|d| d.1.len())).collect();
        assert_eq!(sizes, [40, 20, 40]);
    }

    #[tokio::test]
    async fn a_waiting_reader_gets_every_message_in_order() {
        let q = Arc::new(DeviceQueue::new(1000, 1 << 20));
        let reader = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..500 {
                    got.push(q.pop().await.1.len());
                }
                got
            })
        };
        for n in 0..500 {
            while !q.push(message(n % 7)) {
                tokio::task::yield_now().await;
            }
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let got = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("all arrive")
            .expect("reader");
        assert_eq!(got, (0..500).map(|n| n % 7).collect::<Vec<_>>());
    }
}
