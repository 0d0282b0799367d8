//! Devices do not get a router connection each: rumqttd allocates about 100 KB for every
//! connection, and a device only ever speaks on its own topics. The hub is one in-process
//! link for all of them: what a device publishes goes through it, and everything published
//! to `/appliance/<uuid>/subscribe` comes back through it and is handed to that device's
//! connection.

pub use super::queue::Delivery;
use super::queue::DeviceQueue;
use crate::broker::{Incoming, Link, LinkClosed, Outbox};
use crate::metrics::{inc_logged, Counters};
use crate::protocol::topic::Topic;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tracing::{debug, warn};

/// Messages one device may have waiting to be written to it...
pub const DEVICE_QUEUE: usize = 1024;
/// ...and bytes: a device that does not read cannot make the daemon hold more than this.
pub const DEVICE_QUEUE_BYTES: usize = 1024 * 1024;
/// The largest message handed to a device (plugs read about 4 KiB at a time).
pub const MAX_DEVICE_MESSAGE: usize = 64 * 1024;
/// What the hub reads: every message to any device.
const TO_DEVICES: &str = "/appliance/+/subscribe";

/// One subscribed connection: its number and its queue.
struct Route {
    conn: u64,
    queue: Arc<DeviceQueue>,
}

/// uuid -> every subscribed connection of it.
type Routes = HashMap<String, Vec<Route>>;

/// A connection's end of its route.
pub struct Deliveries(Arc<DeviceQueue>);

impl Deliveries {
    /// The next message for the device.
    pub async fn recv(&mut self) -> Delivery {
        self.0.pop().await
    }
}

/// The hub: a link to the router and which connection each device is on.
pub struct DeviceHub {
    outbox: Outbox,
    /// Usually one connection a uuid; a reconnecting plug's old connection stays until it
    /// is found dead.
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
    pub fn register(&self, uuid: &str, conn: u64) -> Deliveries {
        let queue = Arc::new(DeviceQueue::new(DEVICE_QUEUE, DEVICE_QUEUE_BYTES));
        let mut routes = self.lock();
        let list = routes.entry(uuid.to_owned()).or_default();
        list.retain(|r| r.conn != conn);
        list.push(Route {
            conn,
            queue: queue.clone(),
        });
        Deliveries(queue)
    }

    /// Connection `conn` of `uuid` unsubscribed or is gone.
    pub fn unregister(&self, uuid: &str, conn: u64) {
        let mut routes = self.lock();
        if let Some(list) = routes.get_mut(uuid) {
            list.retain(|r| r.conn != conn);
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
        if payload.len() > MAX_DEVICE_MESSAGE {
            if let Some(total) = inc_logged(&hub.counters.device_queue_full) {
                warn!(%topic, bytes = payload.len(), total, "a message too large for a device; dropped");
            }
            continue;
        }
        let routes: Vec<Arc<DeviceQueue>> = hub
            .lock()
            .get(uuid)
            .map(|list| list.iter().map(|r| r.queue.clone()).collect())
            .unwrap_or_default();
        if routes.is_empty() {
            debug!(%uuid, "a message for a device that is not connected; dropped");
        }
        for queue in routes {
            if queue.push((topic.clone(), payload.clone())) {
                continue;
            }
            if let Some(total) = inc_logged(&hub.counters.device_queue_full) {
                warn!(%topic, total, "a device does not read what it is sent; a message was dropped");
            }
        }
    }
}
