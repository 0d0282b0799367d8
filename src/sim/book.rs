//! What a simulated device keeps of its timers and auto-off rules, and its clock for
//! them (`schedule` runs them).

use crate::protocol;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use tokio::time::Instant;

/// What the device keeps of its schedules.
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// TimerX items, as SET gave them.
    pub timers: Vec<Value>,
    /// TriggerX items, as SET gave them.
    pub triggers: Vec<Value>,
    /// How many times as fast as real time its clock runs (`Timings::clock_speed`).
    speed: u32,
    /// When its clock started: (instant, seconds since the epoch then).
    pub(super) origin: Option<(Instant, u64)>,
    /// The device minute each timer last fired in.
    pub(super) fired: HashMap<String, u64>,
    /// The last device minute the timers were checked for.
    pub(super) checked: Option<u64>,
    /// Channels to turn off, and when.
    pub(super) off_at: BTreeMap<u32, Instant>,
    /// Each relay as last seen, to tell when one was turned on.
    pub(super) seen: BTreeMap<u32, bool>,
}

impl Book {
    /// An empty book for a clock `speed` times as fast as real time, started now.
    pub(super) fn new(speed: u32) -> Book {
        Book {
            speed: speed.max(1),
            origin: Some((Instant::now(), protocol::now_secs())),
            ..Book::default()
        }
    }

    pub(super) fn speed(&self) -> u64 {
        u64::from(self.speed.max(1))
    }

    /// The device's clock: seconds since the epoch, running `speed` times as fast.
    pub(super) fn now(&self) -> u64 {
        let (at, then) = self
            .origin
            .unwrap_or((Instant::now(), protocol::now_secs()));
        then + (at.elapsed().as_millis() as u64 * self.speed()) / 1000
    }
}
