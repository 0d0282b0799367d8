//! The embedded rumqttd router: its configuration, its loopback port that only the gate can
//! log into, and the in-process links of the engine and the Home Assistant bridge (see
//! [`link`]). The router and its server are started by hand rather than through
//! `rumqttd::Broker`, so that links can be opened again at any time, and a router that
//! dies is started again ([`supervise`]) with merossd's retained messages ([`Retained`]).
//! What clients may make it hold is counted in [`budget`].

pub mod budget;
mod link;
mod retained;
pub mod supervise;

pub use budget::RouterBudget;
pub use link::{Health, Incoming, Link, LinkClosed, LinkOpener, Outbox};
pub use retained::Retained;

use crate::metrics::Counters;
use rand::Rng;
use rumqttd::local::{LinkBuilder, LinkRx, LinkTx};
use rumqttd::protocol::v4::V4;
use rumqttd::{ConnectionSettings, LinkType, RouterConfig, Server, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::error;

/// The engine's and the bridge's client ids at the router; the gate never gives a client
/// an id that could be one of these (its ids start with `gate-`).
pub const ENGINE_LINK: &str = "merossd-engine";
/// The Home Assistant bridge's client id at the router.
pub const HOMEASSISTANT_LINK: &str = "merossd-homeassistant";
/// The link between devices and everyone but the engine: what they publish that others
/// may read, and what apps send them (see `hub`).
pub const DEVICES_LINK: &str = "merossd-devices";
/// Largest MQTT payload the router takes (devices cut replies at about 3 KB).
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Connections the router serves (the gate caps them first).
const MAX_ROUTER_CONNECTIONS: usize = 10_010;

/// How to reach the router's loopback port, and the login only the gate knows.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The router's address: a free port on 127.0.0.1, new for every router started.
    pub addr: SocketAddr,
    /// The login name: `merossd-gate-` and 8 random hex digits.
    pub user: String,
    /// The password: 48 random hex digits, new for every router started.
    pub password: String,
}

/// Where the router listens now: a router started again (see [`supervise`]) listens on
/// another port, and connections made after that go there.
#[derive(Debug)]
pub struct CurrentUpstream(RwLock<Upstream>);

impl CurrentUpstream {
    /// A copy of where the router listens now, with its login.
    pub fn get(&self) -> Upstream {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, upstream: Upstream) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = upstream;
    }
}

/// The running router: where the gate connects, and the in-process links.
pub struct Router {
    /// Where the gate connects its clients; it changes when the router is started again.
    pub upstream: Arc<CurrentUpstream>,
    /// The engine's link.
    pub engine: Link,
    /// The Home Assistant bridge's link.
    pub homeassistant: Link,
    /// The devices' link.
    pub devices: Link,
    /// Whether the router and every link are up.
    pub health: Health,
    /// Opens a link by client id (also what re-opens a dropped one).
    pub opener: LinkOpener,
    /// Every retained message merossd holds on the router.
    pub retained: Arc<Retained>,
    /// What clients made the router hold.
    pub budget: Arc<RouterBudget>,
    /// Watches the router and starts it again if it dies: run it as a task.
    pub supervisor: supervise::Supervisor,
}

fn router_config() -> RouterConfig {
    // RouterConfig::default() has zero segments and panics the router on the first
    // subscribe: every field is set. Small segments keep memory low on a Pi.
    RouterConfig {
        max_connections: MAX_ROUTER_CONNECTIONS,
        // Also the most retained messages a new QoS 0 subscriber is handed (rumqttd cuts
        // the rest): room for the discovery configs of a few hundred plugs.
        max_outgoing_packet_count: 2048,
        max_segment_size: 256 * 1024,
        max_segment_count: 2,
        custom_segment: None,
        initialized_filters: None,
        ..Default::default()
    }
}

/// One rumqttd router: how to open links to it, and whether it still runs.
pub(crate) struct Running {
    open: OpenLink,
    alive: Box<dyn Fn() -> bool + Send + Sync>,
    /// A link kept open for as long as the router runs (the one that gave a router
    /// started again its retained messages).
    keep: Option<(LinkTx, LinkRx)>,
}

/// Opens a link to one router.
type OpenLink = Arc<dyn Fn(&str) -> Result<(LinkTx, LinkRx), String> + Send + Sync>;

/// How long opening a link may take. rumqttd's `LinkBuilder::build` waits without end for
/// a router that died after it took the request; such a wait is left behind on its own
/// thread (one per link at most, once per router death) and the link tries again.
const OPEN_TIMEOUT: Duration = Duration::from_millis(300);

/// Opens a link with `open`, within [`OPEN_TIMEOUT`].
fn open_within(open: OpenLink, client_id: &str) -> Result<(LinkTx, LinkRx), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let id = client_id.to_owned();
    std::thread::Builder::new()
        .name("router-link-open".into())
        .spawn(move || {
            let _ = tx.send(open(&id));
        })
        .map_err(|e| e.to_string())?;
    rx.recv_timeout(OPEN_TIMEOUT)
        .map_err(|_| "the router did not answer".to_owned())?
}

/// Starts the server of a router.
type Listen = Box<dyn FnOnce() -> std::io::Result<Upstream> + Send>;

/// Starts a router; its server (on a free loopback port, with a fresh login) starts when
/// the second half is called, so that links can be opened before anything else connects.
fn spawn_router() -> (Running, Listen) {
    let router_tx = rumqttd::Router::new(0, router_config()).spawn();
    let link_tx = router_tx.clone();
    let open: OpenLink = Arc::new(move |client_id: &str| {
        LinkBuilder::new(client_id, link_tx.clone())
            .build()
            .map(|(tx, rx, _ack)| (tx, rx))
            .map_err(|e| e.to_string())
    });
    let watch_tx = router_tx.clone();
    // The router's thread owns the receiving end: it is gone once the thread is.
    let alive = Box::new(move || !watch_tx.is_disconnected());
    let listen: Listen = Box::new(move || {
        let upstream = fresh_login()?;
        let settings = server_settings(&upstream);
        run_server(Server::new(settings, router_tx, V4))?;
        wait_listening(upstream.addr, &upstream.user, &upstream.password)?;
        Ok(upstream)
    });
    let running = Running {
        open,
        alive,
        keep: None,
    };
    (running, listen)
}

/// A free loopback port and a login only the gate will know.
fn fresh_login() -> std::io::Result<Upstream> {
    let mut rng = rand::thread_rng();
    Ok(Upstream {
        addr: free_loopback_port()?,
        user: format!("merossd-gate-{}", hex::encode(rng.gen::<[u8; 4]>())),
        password: hex::encode(rng.gen::<[u8; 24]>()),
    })
}

fn server_settings(upstream: &Upstream) -> ServerSettings {
    let mut auth = HashMap::new();
    auth.insert(upstream.user.clone(), upstream.password.clone());
    let connections = ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 100,
        auth: Some(auth),
        external_auth: None,
        dynamic_filters: true,
    };
    ServerSettings {
        name: "gate".to_owned(),
        listen: upstream.addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    }
}

/// Runs the server's accept loop on its own thread and runtime, as rumqttd expects.
/// rumqttd cannot stop it: after its router dies, it stays, failing every login.
fn run_server(mut server: Server<V4>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return error!(error = %e, "cannot start the router's server"),
            };
            if let Err(e) = runtime.block_on(server.start(LinkType::Remote)) {
                error!(error = %e, "router server stopped");
            }
        })
        .map(drop)
}

/// Starts rumqttd on a free loopback port and opens the in-process links.
pub fn start(counters: Arc<Counters>) -> std::io::Result<Router> {
    let (running, listen) = spawn_router();
    let current = Arc::new(RwLock::new(running));
    let link_to = current.clone();
    let opener: LinkOpener = Arc::new(move |client_id: &str| {
        // Not under the lock: a router being started again must be able to take it.
        let open = link_to
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .open
            .clone();
        open_within(open, client_id)
    });
    let retained = Arc::new(Retained::default());
    let link = |name| Link::start(name, opener.clone(), counters.clone(), retained.clone());
    // The links first: the router numbers connections and reuses numbers, and a late
    // disconnect of an early network client (the readiness probe) must not hit a link.
    let engine = link(ENGINE_LINK)?;
    let homeassistant = link(HOMEASSISTANT_LINK)?;
    let devices = link(DEVICES_LINK)?;
    let upstream = Arc::new(CurrentUpstream(RwLock::new(listen()?)));
    let router_up = Arc::new(AtomicBool::new(true));
    let budget = Arc::new(RouterBudget::default());
    let supervisor = supervise::Supervisor {
        current,
        upstream: upstream.clone(),
        retained: retained.clone(),
        budget: budget.clone(),
        up: router_up.clone(),
        counters,
    };
    Ok(Router {
        upstream,
        health: Health(vec![
            ("router", router_up),
            (ENGINE_LINK, engine.up.clone()),
            (HOMEASSISTANT_LINK, homeassistant.up.clone()),
            (DEVICES_LINK, devices.up.clone()),
        ]),
        engine,
        homeassistant,
        devices,
        opener,
        retained,
        budget,
        supervisor,
    })
}

fn free_loopback_port() -> std::io::Result<SocketAddr> {
    // rumqttd binds by address and cannot tell us a port it chose: ask the OS for a free
    // one and hand it over. The race with another process is short and would show as a
    // start-up error, not a silent fault.
    let probe = StdListener::bind("127.0.0.1:0")?;
    probe.local_addr()
}

/// Waits until the router answers a real login: a bare TCP probe would make it log an
/// error for a connection closed before its CONNECT.
fn wait_listening(addr: SocketAddr, user: &str, password: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let probe = crate::mqtt::connect::Connect::new(4, "merossd-probe", 5).login(user, password);
    for _ in 0..200 {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(&probe.encode())?;
            let mut ack = [0u8; 4];
            s.read_exact(&mut ack)?;
            s.write_all(&[0xe0, 0x00])?; // DISCONNECT
            return if ack == [0x20, 0x02, 0x00, 0x00] {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "router refused its own login: {ack:?}"
                )))
            };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(std::io::Error::other(format!(
        "router did not listen on {addr}"
    )))
}
