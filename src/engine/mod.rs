//! The engine: answers each device's session (Bind, Clock, ...), keeps what every device
//! says about itself, and offers the rest of the program one call, [`Engine::request`],
//! that signs a message, publishes it and waits for the device's reply.

mod apps;
mod control;
mod error;
mod family;
mod gate_events;
mod learn;
mod namespaces;
mod poller;
mod records;
mod said;
mod session;
mod time;
mod trace;
pub mod upgrade;
mod waiting;

pub use error::RequestError;
pub use poller::run_poller;
pub use trace::StartError as TraceStartError;

use crate::broker::{LinkClosed, Outbox};
use crate::config::Account;
use crate::hub::{DeviceHub, GateEvent};
use crate::metrics::{inc, Counters};
use crate::model::{Change, Device, Event, EventKind, Notice};
use crate::protocol::topic::Topic;
use crate::protocol::{self, device_subscribe_topic, Message, Method};
use crate::registry::Registry;
use crate::shutdown::{Shutdown, Spawner};
use crate::store::Sink;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::debug;
use waiting::PendingGuard;

/// How long a device has to answer a request when the caller does not say.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine's shared state; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

struct Shared {
    /// Boxed: the table keeps room for more entries than it holds, and a record is large.
    devices: RwLock<HashMap<String, Box<Device>>>,
    /// The gate's live connections of each device, oldest first: a device is online while
    /// any of them is (a plug reconnecting before its old connection is found dead has
    /// two for a while).
    sessions: Mutex<HashMap<String, Vec<u64>>>,
    /// Requests whose switch command a later one replaced before it was sent (see
    /// `hub::pace`), until their caller hears it.
    superseded: Mutex<std::collections::HashSet<String>>,
    /// Requests waiting for a reply: messageId -> (uuid, waiter).
    pending: Mutex<HashMap<String, (String, oneshot::Sender<Message>)>>,
    outbox: Outbox,
    /// Messages to devices go straight to their connections.
    hub: Arc<DeviceHub>,
    /// Starts the engine's short tasks (see `shutdown`).
    tasks: Spawner,
    /// Where devices send the replies to our requests.
    reply_topic: String,
    accounts: Vec<Account>,
    counters: Arc<Counters>,
    sink: Sink,
    /// The zone devices get unless they have their own.
    timezone: String,
    notices: broadcast::Sender<Notice>,
    /// Who owns which uuid, for the gate; told when a device is forgotten.
    registry: Arc<Registry>,
    /// Counts up while the engine's loop runs: the watchdog's proof that it is not stuck.
    heartbeat: std::sync::atomic::AtomicU64,
    /// Hand device PUSHes on to app clients (see `apps`).
    push_bridge: std::sync::atomic::AtomicBool,
    /// Seconds between the history's samples of a MOKO plug, which says its power every
    /// second: the poll interval of Meross plugs (set by the poller).
    sample_every_s: std::sync::atomic::AtomicU64,
    /// When each MOKO plug's power was last sampled, epoch seconds.
    moko_sampled: Mutex<HashMap<String, u64>>,
    /// Each device's last firmware upgrade (see `upgrade`).
    upgrades: Mutex<HashMap<String, upgrade::UpgradeRun>>,
}

/// How often the engine's loop beats.
const HEARTBEAT: Duration = Duration::from_millis(250);

/// Notices an observer may fall behind by before it is told it lagged.
const NOTICE_CAPACITY: usize = 4096;

/// Where the engine's messages go.
pub struct Outlets {
    /// Everything but messages to devices (app pushes, say).
    pub router: Outbox,
    /// Messages to devices (`/appliance/<uuid>/subscribe`).
    pub devices: Arc<DeviceHub>,
    /// Where the engine's short tasks start (requests off its loop), drained at shutdown.
    pub tasks: Spawner,
}

impl Engine {
    /// A new engine. `known` are the devices remembered from before (all offline);
    /// `sink` receives every change for the store.
    pub fn new(
        outlets: Outlets,
        accounts: Vec<Account>,
        counters: Arc<Counters>,
        known: Vec<Device>,
        sink: Sink,
        timezone: String,
        registry: Arc<Registry>,
    ) -> Engine {
        let devices = known
            .into_iter()
            .map(|mut d| {
                d.online = false;
                (d.uuid.clone(), Box::new(d))
            })
            .collect();
        let reply_topic = format!(
            "/app/{}-{}/subscribe",
            protocol::topic::ENGINE_APP,
            &protocol::message_id()[..8]
        );
        Engine {
            shared: Arc::new(Shared {
                devices: RwLock::new(devices),
                sessions: Mutex::default(),
                superseded: Mutex::default(),
                pending: Mutex::new(HashMap::new()),
                outbox: outlets.router,
                hub: outlets.devices,
                tasks: outlets.tasks,
                reply_topic,
                accounts,
                counters,
                sink,
                timezone,
                notices: broadcast::channel(NOTICE_CAPACITY).0,
                registry,
                heartbeat: Default::default(),
                push_bridge: Default::default(),
                sample_every_s: std::sync::atomic::AtomicU64::new(30),
                moko_sampled: Mutex::default(),
                upgrades: Mutex::default(),
            }),
        }
    }

    /// Starts a short task (a request off a caller's loop) that shutdown ends and
    /// drains; nothing is started once shutdown began.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.shared.tasks.spawn(task);
    }

    /// Hears which devices changed.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.shared.notices.subscribe()
    }

    fn notify(&self, notice: Notice) {
        // No observer is not an error.
        let _ = self.shared.notices.send(notice);
    }

    /// The metrics counters the engine counts into, shared with the rest of the daemon.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.shared.counters
    }

    /// A number that grows while the engine's loop runs (several times a second).
    pub fn heartbeat(&self) -> u64 {
        self.shared
            .heartbeat
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends a signed request to a device and waits for its reply (same messageId).
    /// A timeout and an `ERROR` reply are distinct errors.
    pub async fn request(
        &self,
        uuid: &str,
        method: Method,
        namespace: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Message, RequestError> {
        let key = {
            let devices = read(&self.shared.devices);
            let device = devices
                .get(uuid)
                .ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))?;
            if device.moko().is_some() {
                return Err(RequestError::Unsupported(
                    "A MOKO plug speaks its own protocol, not Meross messages.".into(),
                ));
            }
            if !device.online {
                return Err(RequestError::Offline(uuid.to_owned()));
            }
            self.key_of(device).unwrap_or_default()
        };
        let message = Message::new(method, namespace, payload, &self.shared.reply_topic, &key);
        let id = message.header.message_id.clone();
        let message_id = id.clone();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id.clone(), (uuid.to_owned(), tx));
        // Removes the waiter however this call ends, also when its caller gives up.
        let _guard = PendingGuard {
            shared: &self.shared,
            id,
        };
        self.send(&device_subscribe_topic(uuid), &message).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) if reply.header.method == Method::Error => {
                Err(RequestError::DeviceError {
                    code: reply.error_code(),
                    reply: Box::new(reply),
                })
            }
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) if lock(&self.shared.superseded).remove(&message_id) => {
                Err(RequestError::Superseded)
            }
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => {
                inc(&self.shared.counters.request_timeouts);
                Err(RequestError::Timeout(timeout))
            }
        }
    }

    /// Publishes a message on a topic and counts it.
    async fn send(&self, topic: &str, message: &Message) -> Result<(), LinkClosed> {
        debug!(topic, method = %message.header.method, namespace = %message.header.namespace, "send");
        let bytes = message.to_bytes();
        if matches!(Topic::parse(topic), Topic::DeviceSubscribe(_)) {
            // Not connected or not reading: dropped (and counted) by the hub, as the
            // router would have; the request times out.
            self.shared.hub.deliver(topic, bytes.into());
        } else {
            self.shared.outbox.publish(topic.to_owned(), bytes).await?;
        }
        inc(&self.shared.counters.messages_out);
        Ok(())
    }

    /// The key of the account a device logged in with.
    fn key_of(&self, device: &Device) -> Option<String> {
        let user = device.user_id.as_deref()?;
        self.shared
            .accounts
            .iter()
            .find(|a| a.user_id == user)
            .map(|a| a.key.clone())
    }

    /// Changes a device in place, reports the new record, returns it.
    fn update(&self, uuid: &str, change: impl FnOnce(&mut Device)) -> Option<Device> {
        // Handed to the store under the lock, so the store sees changes in the order they
        // were made (emit never waits).
        let mut devices = write(&self.shared.devices);
        let device = devices.get_mut(uuid)?;
        change(device);
        let snapshot = Device::clone(device);
        self.emit(Change::Device(Box::new(snapshot.clone())));
        drop(devices);
        self.notify(Notice::Updated(uuid.to_owned()));
        Some(snapshot)
    }

    /// Changes a device in memory only (nothing for the store). False if unknown.
    fn modify(&self, uuid: &str, change: impl FnOnce(&mut Device)) -> bool {
        match write(&self.shared.devices).get_mut(uuid) {
            Some(device) => {
                change(device);
                true
            }
            None => false,
        }
    }

    /// Like [`Engine::update`], creating the device if it is new.
    fn upsert(&self, uuid: &str, change: impl FnOnce(&mut Device)) -> Device {
        let mut devices = write(&self.shared.devices);
        let device = devices
            .entry(uuid.to_owned())
            .or_insert_with(|| Box::new(Device::new(uuid, protocol::now_secs())));
        change(device);
        let snapshot = Device::clone(device);
        self.emit(Change::Device(Box::new(snapshot.clone())));
        drop(devices);
        self.notify(Notice::Updated(uuid.to_owned()));
        snapshot
    }

    fn event(&self, uuid: Option<&str>, kind: EventKind, detail: String) {
        self.emit(Change::Event(Event {
            at: protocol::now_secs(),
            uuid: uuid.map(str::to_owned),
            kind,
            detail,
        }));
    }

    /// Hands a change to the store without ever waiting.
    fn emit(&self, change: Change) {
        self.shared.sink.emit(change);
    }

    /// Runs the engine until shutdown, handling what the gate reports: devices' comings and
    /// goings and everything they say.
    pub async fn run(self, mut gate: mpsc::Receiver<GateEvent>, mut shutdown: Shutdown) {
        let mut beat = tokio::time::interval(HEARTBEAT);
        loop {
            // What devices say comes with the gate's events, in order: a device's
            // Connected is handled before its Bind.
            tokio::select! {
                biased;
                _ = shutdown.wait() => return,
                // Before the gate's events, which a flood could keep coming: the beat says
                // the loop turns, not that it idles.
                _ = beat.tick() => {
                    self.shared.heartbeat.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                event = gate.recv() => match event {
                    Some(event) => self.on_gate(event).await,
                    None => return,
                },
            }
        }
    }
}

// A poisoned lock means a panic elsewhere already; the data (plain records) is still
// usable, so take it rather than spread the panic.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}
