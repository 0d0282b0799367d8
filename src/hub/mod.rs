//! Devices do not get a router connection each: rumqttd allocates about 100 KB for every
//! connection, and a device only ever speaks on its own topics. The hub stands for all of
//! them:
//! - what a device says to the engine (`/appliance/<uuid>/publish`, replies to the
//!   engine's inbox) goes straight to the engine, in order with the device's Connected
//!   and Disconnected, waiting for room rather than dropping anything;
//! - what the engine says to a device is put straight on that device's queue;
//! - the router sees what others may read (`/appliance/<uuid>/publish`, replies to apps),
//!   and what apps send to `/appliance/<uuid>/subscribe` comes back from it through one
//!   in-process link.
//!
//! A burst of plugs binding at once used to go through the router twice each way, where
//! rumqttd's fixed-size log dropped what a busy reader had not yet read.
//!
//! The hub stands between the gate and the engine, a floor below both, so that neither
//! imports the other: the gate hands it what devices say and the events of their
//! sessions (`event`), the engine reads those and puts what it says on each device's
//! queue (`queue`); every switch command on its way to a device keeps its pace (`pace`).
//! Everything to and from a device passes here, so its protocol trace is recorded here
//! too (`trace`).

mod event;
mod pace;
pub mod queue;
pub mod trace;

use crate::broker::budget;
use crate::broker::{Incoming, Link, LinkClosed, Outbox, RouterBudget};
use crate::metrics::{inc_logged, Counters};
use crate::protocol::moko::{MokoTopic, Side};
use crate::protocol::topic::{Topic, ENGINE_APP};
use crate::shutdown::Spawner;
use bytes::Bytes;
pub use event::{Addressed, DeviceMessage, GateEvent};
use pace::{Pace, Pacer};
use queue::{Delivery, DeviceQueue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{mpsc, Semaphore};
use tracing::{debug, warn};

/// Bytes of device messages handed to the engine and not yet handled: past this, devices
/// wait their turn (fairly: tokio's semaphore is first come, first served), so that no
/// plug can make the daemon hold more. A message is some hundreds of bytes.
pub const ENGINE_BUDGET: usize = 4 * 1024 * 1024;

/// Messages one device may have waiting to be written to it...
pub const DEVICE_QUEUE: usize = 1024;
/// ...and bytes: a device that does not read cannot make the daemon hold more than this.
pub const DEVICE_QUEUE_BYTES: usize = 1024 * 1024;
/// The largest message handed to a device (plugs read about 4 KiB at a time), and the
/// largest a device may hand the engine.
pub const MAX_DEVICE_MESSAGE: usize = 64 * 1024;
/// What the hub reads: every message to any device.
const TO_DEVICES: &str = "/appliance/+/subscribe";
/// ...and to any MOKO plug (`<function>/<name>/<region>/<mac>/app/<what>`), which local
/// tools may send.
const TO_MOKO_PLUGS: &str = "+/+/+/+/app/+";

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
    /// The engine's queue (shared with the gate's Connected and Disconnected).
    engine: mpsc::Sender<GateEvent>,
    /// Bytes the engine may have waiting (see [`ENGINE_BUDGET`]).
    engine_budget: Arc<Semaphore>,
    /// Usually one connection a uuid; a reconnecting plug's old connection stays until it
    /// is found dead.
    routes: Mutex<Routes>,
    /// Switch commands wait here for their channel's turn (see `pace`).
    pacer: Pacer,
    /// Itself, for the timers of held switch commands.
    me: Weak<DeviceHub>,
    /// Where those timers start, drained at shutdown.
    tasks: Spawner,
    /// What the router may be made to hold (a device's replies go where a request's
    /// `from` said, which an app chose).
    budget: Arc<RouterBudget>,
    counters: Arc<Counters>,
    /// Devices whose protocol trace is being recorded.
    tracer: trace::Tracer,
}

impl DeviceHub {
    /// Starts routing what the router has for devices.
    pub fn start(
        link: Link,
        engine: mpsc::Sender<GateEvent>,
        counters: Arc<Counters>,
        budget: Arc<RouterBudget>,
        tasks: Spawner,
    ) -> Arc<DeviceHub> {
        let hub = Arc::new_cyclic(|me| DeviceHub {
            budget,
            outbox: link.outbox.clone(),
            engine,
            engine_budget: Arc::new(Semaphore::new(ENGINE_BUDGET)),
            routes: Mutex::default(),
            pacer: Pacer::default(),
            me: me.clone(),
            counters,
            tasks,
            tracer: trace::Tracer::default(),
        });
        hub.tasks.spawn(route(hub.clone(), link));
        hub
    }

    /// The protocol traces being recorded.
    pub fn tracer(&self) -> &trace::Tracer {
        &self.tracer
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

    /// Passes on what device `sender` (the uuid its connection logged in as) said: to the
    /// engine if it is for the engine, to the router if anyone else may read it. Waits
    /// while the engine's queue is full.
    pub async fn publish(
        &self,
        sender: &str,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), LinkClosed> {
        self.tracer.tap(sender, true, topic, payload);
        let parsed = Topic::parse(topic);
        let moko = MokoTopic::parse(topic).filter(|t| t.side == Side::Device);
        let (to_engine, to_router) = match parsed {
            _ if moko.is_some() => (moko.map(|t| Addressed::Moko(t.what.to_owned())), true),
            Topic::DevicePublish(_) => (Some(Addressed::OwnTopic), true),
            Topic::App { user } if user == ENGINE_APP => {
                (Some(Addressed::Inbox(topic.to_owned())), false)
            }
            _ => (None, true),
        };
        match to_engine {
            Some(_) if payload.len() > MAX_DEVICE_MESSAGE => {
                if let Some(total) = inc_logged(&self.counters.bad_messages) {
                    warn!(%topic, bytes = payload.len(), total, "a device message too large for the engine; dropped");
                }
            }
            Some(to) => {
                // Topic and payload, at most 64 KiB + a topic: within u32 and the budget.
                let cost = u32::try_from(topic.len() + payload.len()).unwrap_or(u32::MAX);
                let _budget = self
                    .engine_budget
                    .clone()
                    .acquire_many_owned(cost)
                    .await
                    .map_err(|_| LinkClosed)?;
                let message = DeviceMessage {
                    sender: sender.to_owned(),
                    to,
                    payload: Bytes::copy_from_slice(payload),
                    _budget,
                };
                let event = GateEvent::Message(message);
                self.engine.send(event).await.map_err(|_| LinkClosed)?;
            }
            None => {}
        }
        let own = matches!(parsed, Topic::DevicePublish(_)) || moko.is_some();
        if to_router && (own || self.routable(topic)) {
            self.outbox
                .publish(topic.to_owned(), payload.to_vec())
                .await?;
        }
        Ok(())
    }

    /// Whether a device's reply to a `from` may go to the router: only where the router
    /// can take that topic and its budget has room.
    fn routable(&self, topic: &str) -> bool {
        if budget::routable_topic(topic) && self.budget.topic(topic, 0).is_ok() {
            return true;
        }
        if let Some(total) = inc_logged(&self.counters.router_refused) {
            let topic: String = topic.chars().take(120).collect();
            warn!(%topic, total, "a device's reply kept from the router");
        }
        false
    }

    /// Puts a message on the queue of each connection of the device `topic` names
    /// (`/appliance/<uuid>/subscribe`); false if none took it. A switch command may wait
    /// for its channel's turn first (true then: it was taken).
    pub fn deliver(&self, topic: &str, payload: Bytes) -> bool {
        let Topic::DeviceSubscribe(uuid) = Topic::parse(topic) else {
            return self.deliver_moko(topic, payload);
        };
        if payload.len() > MAX_DEVICE_MESSAGE {
            if let Some(total) = inc_logged(&self.counters.device_queue_full) {
                warn!(%topic, bytes = payload.len(), total, "a message too large for a device; dropped");
            }
            return false;
        }
        match self.pacer.offer(uuid, topic, &payload) {
            Pace::Now => self.enqueue(uuid, topic, payload),
            Pace::Later { at, replaced } => {
                match replaced {
                    Some(id) => self.superseded(id),
                    None => self.deliver_at(uuid, &payload, at),
                }
                true
            }
        }
    }

    /// Puts what is said to a MOKO plug (`<prefix>/app/<what>`) on its connections'
    /// queues, unpaced: its switch is one message with no id to answer.
    fn deliver_moko(&self, topic: &str, payload: Bytes) -> bool {
        let Some(id) = MokoTopic::parse(topic)
            .filter(|t| t.side == Side::App && !t.what.contains(['+', '#']))
            .and_then(|t| t.id())
        else {
            return false;
        };
        if payload.len() > MAX_DEVICE_MESSAGE {
            return false;
        }
        self.enqueue(&id, topic, payload)
    }

    /// A held switch command was replaced by a later one: counted, and the engine told,
    /// in case it waits for that command's answer.
    fn superseded(&self, message_id: String) {
        if let Some(total) = inc_logged(&self.counters.commands_coalesced) {
            debug!(
                total,
                "a switch command was replaced by a later one for the same channel"
            );
        }
        let _ = self.engine.try_send(GateEvent::Superseded { message_id });
    }

    /// Delivers the command held for `payload`'s channel at `at`.
    fn deliver_at(&self, uuid: &str, payload: &[u8], at: tokio::time::Instant) {
        let (Some(hub), Some(channel)) = (self.me.upgrade(), Pacer::channel_of(payload)) else {
            return;
        };
        let uuid = uuid.to_owned();
        self.tasks.spawn(async move {
            tokio::time::sleep_until(at).await;
            if let Some((topic, payload)) = hub.pacer.due(&uuid, channel) {
                hub.enqueue(&uuid, &topic, payload);
            }
        });
    }

    /// Puts a message on the queue of each connection of `uuid`; false if none took it.
    fn enqueue(&self, uuid: &str, topic: &str, payload: Bytes) -> bool {
        self.tracer.tap(uuid, false, topic, &payload);
        let routes: Vec<Arc<DeviceQueue>> = self
            .lock()
            .get(uuid)
            .map(|list| list.iter().map(|r| r.queue.clone()).collect())
            .unwrap_or_default();
        if routes.is_empty() {
            debug!(%uuid, "a message for a device that is not connected; dropped");
        }
        let mut delivered = false;
        for queue in routes {
            if queue.push((topic.to_owned(), payload.clone())) {
                delivered = true;
            } else if let Some(total) = inc_logged(&self.counters.device_queue_full) {
                warn!(%topic, total, "a device does not read what it is sent; a message was dropped");
            }
        }
        delivered
    }
}

async fn route(hub: Arc<DeviceHub>, mut link: Link) {
    for filter in [TO_DEVICES, TO_MOKO_PLUGS] {
        if link.outbox.subscribe(filter).await.is_err() {
            return;
        }
    }
    while let Some(Incoming { topic, payload }) = link.incoming.recv().await {
        hub.deliver(&topic, payload);
    }
}
