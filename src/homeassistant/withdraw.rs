//! With Home Assistant discovery switched off, what merossd published for it is taken
//! back: an empty retained message on every config, state and availability topic of every
//! known device, at start and whenever Home Assistant announces itself (its birth
//! message), so that Home Assistant removes the entities instead of keeping them
//! "unavailable" for ever.

use super::discovery::{self, Topics};
use super::family;
use crate::broker::{Link, Outbox};
use crate::engine::Engine;
use crate::shutdown::Shutdown;
use tracing::{debug, info};

/// Runs until shutdown.
pub async fn run(engine: Engine, link: Link, topics: Topics, mut shutdown: Shutdown) {
    let mut incoming = link.incoming;
    let outbox = link.outbox;
    if outbox.subscribe(&topics.status()).await.is_err() {
        return;
    }
    let cleared = clear(&engine, &outbox, &topics).await;
    if cleared > 0 {
        info!(
            topics = cleared,
            "Home Assistant discovery is off: its configs were taken back"
        );
    }
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            message = incoming.recv() => match message {
                Some(m) if m.topic == topics.status() && m.payload.as_ref() == b"online" => {
                    let cleared = clear(&engine, &outbox, &topics).await;
                    debug!(topics = cleared, "Home Assistant announced itself; configs taken back again");
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    let _ = outbox.flush().await;
}

/// Publishes an empty retained message on every topic discovery would use; how many.
async fn clear(engine: &Engine, outbox: &Outbox, topics: &Topics) -> usize {
    let mut count = 0;
    for device in engine.devices() {
        let configs = discovery::entities(topics, &device, None)
            .into_iter()
            .map(|e| e.topic);
        let extras = family::retained(topics, &device)
            .into_iter()
            .map(|(t, _)| t);
        let own = [
            topics.state(&device.uuid),
            topics.availability(&device.uuid),
        ];
        for topic in configs.chain(extras).chain(own) {
            if outbox.publish_retained(topic, Vec::new()).await.is_err() {
                return count;
            }
            count += 1;
        }
    }
    count
}
