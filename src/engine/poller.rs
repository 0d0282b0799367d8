//! Polls metering plugs: Electricity every `poll_interval` (jittered, so a hundred plugs do
//! not fire at once) and ConsumptionX every hour. Each poll runs on its own task with a
//! deadline, so a plug that stops answering never holds up the others.

use super::namespaces::{NS_CONSUMPTIONX, NS_ELECTRICITY, NS_ELECTRICITYX};
use super::{Engine, RequestError};
use crate::model::Ability;
use crate::protocol::Method;
use crate::shutdown::Shutdown;
use rand::Rng;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::debug;

/// Polls in flight at once.
const MAX_CONCURRENT_POLLS: usize = 32;
/// How often ConsumptionX is read: hourly, so that today's count (and the energy total
/// Home Assistant's Energy dashboard follows) moves within the day.
const CONSUMPTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Longest a poll waits for its answer.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Due {
    electricity: Option<Instant>,
    consumption: Option<Instant>,
}

/// `interval` plus or minus 10 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::thread_rng().gen_range(0.9..1.1))
}

/// Runs until shutdown.
pub async fn run_poller(engine: Engine, interval: Duration, mut shutdown: Shutdown) {
    let tick = (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let timeout = interval.min(MAX_POLL_TIMEOUT);
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_POLLS));
    engine.shared.sample_every_s.store(
        interval.as_secs().max(1),
        std::sync::atomic::Ordering::Relaxed,
    );
    let mut schedule: HashMap<String, Due> = HashMap::new();
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        let online = engine.online_metering();
        // A device that went away starts afresh when it is back.
        schedule.retain(|uuid, _| online.contains(uuid));
        for uuid in online {
            let due = schedule.entry(uuid.clone()).or_insert_with(|| Due {
                // Spread the first polls over one interval.
                electricity: Some(now + interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0))),
                consumption: Some(now),
            });
            for poll in [Poll::Electricity, Poll::Consumption] {
                let (slot, every) = match poll {
                    Poll::Electricity => (&mut due.electricity, interval),
                    Poll::Consumption => (&mut due.consumption, CONSUMPTION_INTERVAL),
                };
                if !slot.is_some_and(|t| t <= now) {
                    continue;
                }
                // Only a poll that starts moves its due time: one that finds every permit
                // taken is tried again next tick.
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    debug!("poll concurrency reached; the rest wait a tick");
                    break;
                };
                *slot = Some(now + jittered(every));
                let engine = engine.clone();
                let uuid = uuid.clone();
                engine.clone().spawn(async move {
                    if let Err(error) = poll.run(&engine, &uuid, timeout).await {
                        debug!(%uuid, ?poll, %error, "poll failed");
                    }
                    drop(permit);
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Poll {
    Electricity,
    Consumption,
}

impl Poll {
    /// The reply goes through the engine's `learn`, which keeps the reading.
    async fn run(self, engine: &Engine, uuid: &str, timeout: Duration) -> Result<(), RequestError> {
        let (namespace, payload) = match self {
            Poll::Electricity => match engine.device(uuid) {
                Some(d)
                    if !d.has_ability(Ability::Electricity)
                        && d.has_ability(Ability::ElectricityX) =>
                {
                    (NS_ELECTRICITYX, json!({"electricity": [{"channel": 0}]}))
                }
                _ => (NS_ELECTRICITY, json!({"electricity": {"channel": 0}})),
            },
            Poll::Consumption => {
                if !engine
                    .device(uuid)
                    .is_some_and(|d| d.has_ability(Ability::ConsumptionX))
                {
                    return Ok(());
                }
                (NS_CONSUMPTIONX, json!({}))
            }
        };
        engine
            .request(uuid, Method::Get, namespace, payload, timeout)
            .await
            .map(|_| ())
    }
}
