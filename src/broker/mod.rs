//! The embedded rumqttd router: its configuration, its loopback port that only the gate can
//! log into, and the in-process links of the engine and the Home Assistant bridge (see
//! [`link`]). The router and its server are started by hand rather than through
//! `rumqttd::Broker`, so that links can be opened again at any time.

mod link;

pub use link::{Health, Incoming, Link, LinkClosed, LinkOpener, Outbox};

use crate::gate::Upstream;
use crate::metrics::Counters;
use rand::Rng;
use rumqttd::local::LinkBuilder;
use rumqttd::{ConnectionSettings, LinkType, RouterConfig, Server, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::Duration;
use tracing::error;

/// The engine's and the bridge's client ids at the router; the gate never gives a client
/// an id that could be one of these (its ids start with `gate-`).
pub const ENGINE_LINK: &str = "merossd-engine";
pub const HOMEASSISTANT_LINK: &str = "merossd-homeassistant";
/// The link between devices and everyone but the engine: what they publish that others
/// may read, and what apps send them (see `gate::hub`).
pub const DEVICES_LINK: &str = "merossd-devices";
/// Largest MQTT payload the router takes (devices cut replies at about 3 KB).
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Connections the router serves (the gate caps them first).
const MAX_ROUTER_CONNECTIONS: usize = 10_010;

/// The running router: where the gate connects, and the in-process links.
pub struct Router {
    pub upstream: Upstream,
    /// The engine's link.
    pub engine: Link,
    /// The Home Assistant bridge's link.
    pub homeassistant: Link,
    /// The devices' link.
    pub devices: Link,
    /// Whether every link is up.
    pub health: Health,
    /// Opens a link by client id (also what re-opens a dropped one).
    pub opener: LinkOpener,
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

/// Starts rumqttd on a free loopback port and opens the in-process links.
pub fn start(counters: Arc<Counters>) -> std::io::Result<Router> {
    let addr = free_loopback_port()?;
    let mut rng = rand::thread_rng();
    let user = format!("merossd-gate-{}", hex::encode(rng.gen::<[u8; 4]>()));
    let password = hex::encode(rng.gen::<[u8; 24]>());

    let mut auth = HashMap::new();
    auth.insert(user.clone(), password.clone());
    let connections = ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 100,
        auth: Some(auth),
        external_auth: None,
        dynamic_filters: true,
    };
    let settings = ServerSettings {
        name: "gate".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };

    let router_tx = rumqttd::Router::new(0, router_config()).spawn();
    let link_tx = router_tx.clone();
    let opener: LinkOpener = Arc::new(move |client_id: &str| {
        LinkBuilder::new(client_id, link_tx.clone())
            .build()
            .map(|(tx, rx, _ack)| (tx, rx))
            .map_err(|e| e.to_string())
    });
    // The links first: the router numbers connections and reuses numbers, and a late
    // disconnect of an early network client (the readiness probe) must not hit a link.
    let engine = Link::start(ENGINE_LINK, opener.clone(), counters.clone())?;
    let homeassistant = Link::start(HOMEASSISTANT_LINK, opener.clone(), counters.clone())?;
    let devices = Link::start(DEVICES_LINK, opener.clone(), counters)?;
    let mut server = Server::new(settings, router_tx.clone(), rumqttd::protocol::v4::V4);
    // The server's accept loop runs on its own thread and runtime, as rumqttd expects.
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
        })?;
    wait_listening(addr, &user, &password)?;
    Ok(Router {
        upstream: Upstream {
            addr,
            user,
            password,
        },
        health: Health(vec![
            (ENGINE_LINK, engine.up.clone()),
            (HOMEASSISTANT_LINK, homeassistant.up.clone()),
            (DEVICES_LINK, devices.up.clone()),
        ]),
        engine,
        homeassistant,
        devices,
        opener,
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
