//! Devices do not get a router connection each: rumqttd allocates about 100 KB for every
//! connection, and a device only ever speaks on its own topics. The hub is one in-process
//! link for all of them: what a device publishes goes through it, and everything published
//! to `/appliance/<uuid>/subscribe` comes back through it and is handed to that device's
//! connection.

use crate::broker::{Incoming, Link, LinkClosed, Outbox};
use crate::metrics::{inc_logged, Counters};
use crate::protocol::topic::Topic;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Messages one device may have waiting to be written to it (the queue's memory is taken
/// only as it fills).
pub const DEVICE_QUEUE: usize = 1024;
/// What the hub reads: every message to any device.
const TO_DEVICES: &str = "/appliance/+/subscribe";

/// A message for a device: its topic and payload.
pub type Delivery = (String, Bytes);

/// uuid -> every subscribed connection of it: (connection number, its queue).
type Routes = HashMap<String, Vec<(u64, mpsc::Sender<Delivery>)>>;

/// The hub: a link to the router and which connection each device is on.
pub struct DeviceHub {
    outbox: Outbox,
    /// uuid -> every subscribed connection of it: (connection number, its queue). Usually
    /// one; a reconnecting plug's old connection stays until it is found dead.
    routes: Mutex<Routes>,
    counters: Arc<Counters>,
}

impl DeviceHub {
    /// Starts routing what the router has for devices.
    pub fn start(link: Link, counters: Arc<Counters>) -> Arc<DeviceHub> {
        let hub = Arc::new(DeviceHub {
            outbox: link.outbox.clone(),
            routes: Mutex::default(),
            counters,
        });
        tokio::spawn(route(hub.clone(), link));
        hub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Messages for `uuid` go (also) to connection `conn` from now on: it subscribed.
    pub fn register(&self, uuid: &str, conn: u64) -> mpsc::Receiver<Delivery> {
        let (tx, rx) = mpsc::channel(DEVICE_QUEUE);
        let mut routes = self.lock();
        let list = routes.entry(uuid.to_owned()).or_default();
        list.retain(|(c, _)| *c != conn);
        list.push((conn, tx));
        rx
    }

    /// Connection `conn` of `uuid` unsubscribed or is gone.
    pub fn unregister(&self, uuid: &str, conn: u64) {
        let mut routes = self.lock();
        if let Some(list) = routes.get_mut(uuid) {
            list.retain(|(c, _)| *c != conn);
            if list.is_empty() {
                routes.remove(uuid);
            }
        }
    }

    /// Publishes what a device said.
    pub async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), LinkClosed> {
        self.outbox
            .publish(topic.to_owned(), payload.to_vec())
            .await
    }
}

async fn route(hub: Arc<DeviceHub>, mut link: Link) {
    if link.outbox.subscribe(TO_DEVICES).await.is_err() {
        return;
    }
    while let Some(Incoming { topic, payload }) = link.incoming.recv().await {
        let Topic::DeviceSubscribe(uuid) = Topic::parse(&topic) else {
            continue;
        };
        let queues: Vec<mpsc::Sender<Delivery>> = hub
            .lock()
            .get(uuid)
            .map(|list| list.iter().map(|(_, tx)| tx.clone()).collect())
            .unwrap_or_default();
        if queues.is_empty() {
            debug!(%uuid, "a message for a device that is not connected; dropped");
        }
        for queue in queues {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                queue.try_send((topic.clone(), payload.clone()))
            {
                if let Some(total) = inc_logged(&hub.counters.device_queue_full) {
                    warn!(%topic, total, "a device does not read what it is sent; a message was dropped");
                }
            }
        }
    }
}
