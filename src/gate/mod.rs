//! The front door. Every MQTT connection, TLS from plugs or plain from local tools, gets
//! its own task: TLS handshake and CONNECT within a deadline, MQTT 3.1 turned into 3.1.1,
//! credentials checked (refusals get a real CONNACK code), then every packet between the
//! client and the router is read and held against the topic rules. The engine hears who
//! came and went.
//!
//! Where to find:
//! - the accept loop, caps and socket options: [`accept`]; the fair pool of connections
//!   not logged in yet: `pending`
//! - one connection from TLS to the end, and what each failure costs: `conn`
//! - who a login is: [`auth`]; which topics it may use: [`acl`]; how fast it may guess:
//!   [`guard`]; how many sessions it may hold: [`shares`]
//! - the router side of a connection (its CONNECT and client id): `upstream`, `slots`
//! - the packet loop of app and local clients: `proxy` (what its packets may do at the
//!   router: `routed`); of devices: `device`, which hands what they say to the
//!   [`crate::hub`]
//! - the certificate and both TLS stacks: [`tls`]; which one serves a client: [`hello`],
//!   [`handshake`]

pub mod accept;
pub mod acl;
pub mod auth;
mod conn;
mod device;
pub mod guard;
pub mod handshake;
pub mod hello;
mod peek;
mod peer;
mod pending;
mod proxy;
mod replies;
mod routed;
pub mod shares;
mod slots;
pub mod tls;
mod tries;
mod upstream;

pub use accept::serve;

use crate::broker::{CurrentUpstream, Retained, RouterBudget};
use crate::config::Account;
use crate::hub::{DeviceHub, GateEvent};
use crate::metrics::Counters;
use crate::registry::Registry;
use acl::Acl;
use pending::PendingTable;
use slots::Slots;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// MQTT over TLS, where plugs connect (`mqtt.tls_listen`).
    Tls,
    /// Plain MQTT; `open` lets clients in without credentials (loopback only).
    Plain {
        /// True when the listener is on loopback and `mqtt.local_login` is off.
        open: bool,
    },
    /// Plain MQTT for MOKO plugs set to `connect_mode` 0 (`mqtt.plain_device_listen`): their
    /// logins only, every other CONNACK 5.
    PlainDevices,
}

/// Everything the gate is built from.
pub struct GateOptions {
    /// The accounts devices and apps log in with.
    pub accounts: Vec<Account>,
    /// Both TLS stacks, built from the one certificate.
    pub tls: Arc<tls::TlsConfigs>,
    /// Where the router listens now (it moves when the router is started again).
    pub upstream: Arc<CurrentUpstream>,
    /// How long a new connection has for TLS and its CONNECT (`mqtt.handshake_timeout_s`).
    pub handshake_timeout: Duration,
    /// Connections held at once over all listeners; more are closed at once.
    pub max_connections: usize,
    /// Where the engine hears who came and went.
    pub events: mpsc::Sender<GateEvent>,
    /// The metrics counters the gate counts into.
    pub counters: Arc<Counters>,
    /// The topic rules, with the topics the configuration names.
    pub acl: Acl,
    /// Who owns which device, shared with the engine.
    pub registry: Arc<Registry>,
    /// Where devices' traffic goes, in place of a router connection each.
    pub hub: Arc<DeviceHub>,
    /// What merossd retains on the router, handed again to a client that subscribes again.
    pub retained: Arc<Retained>,
    /// What clients made the router hold.
    pub budget: Arc<RouterBudget>,
    /// Failed logins (shared with the cloud API's sign-in).
    pub guard: Arc<guard::LoginGuard>,
}

/// What every connection task shares.
pub struct Gate {
    accounts: Vec<Account>,
    tls: Arc<tls::TlsConfigs>,
    upstream: Arc<CurrentUpstream>,
    handshake_timeout: Duration,
    permits: Arc<Semaphore>,
    events: mpsc::Sender<GateEvent>,
    counters: Arc<Counters>,
    acl: Acl,
    registry: Arc<Registry>,
    hub: Arc<DeviceHub>,
    retained: Arc<Retained>,
    budget: Arc<RouterBudget>,
    next_conn: AtomicU64,
    /// Connections per address that have not logged in yet.
    pending: Arc<PendingTable>,
    /// The client ids the router sees.
    slots: Arc<Slots>,
    /// Failed logins, per source and per identity (shared with the cloud API's sign-in).
    guard: Arc<guard::LoginGuard>,
    /// Sessions per identity.
    shares: Arc<shares::Shares>,
}

impl Gate {
    /// The gate for every listener to share; no connection is taken until [`serve`] runs.
    pub fn new(o: GateOptions) -> Gate {
        Gate {
            accounts: o.accounts,
            tls: o.tls,
            upstream: o.upstream,
            handshake_timeout: o.handshake_timeout,
            permits: Arc::new(Semaphore::new(o.max_connections)),
            events: o.events,
            counters: o.counters,
            acl: o.acl,
            registry: o.registry,
            hub: o.hub,
            retained: o.retained,
            budget: o.budget,
            next_conn: AtomicU64::new(0),
            pending: Arc::new(PendingTable::new(
                o.max_connections.min(pending::MAX_PENDING),
            )),
            slots: Default::default(),
            guard: o.guard,
            shares: Arc::new(shares::Shares::new(o.max_connections)),
        }
    }
}
