//! `cargo bench --bench storm`: the figures of docs/performance.md. For each N in
//! MEROSSD_STORM_PLUGS (default "100,1000,5000"), against `merossd serve` (release) in its
//! own process:
//!
//! - cold start: process start to the TLS port accepting, with an existing data dir;
//! - RSS added per connected plug, once N simulated plugs are bound;
//! - restart storm: the daemon is restarted with N plugs around; the time until all are
//!   bound again (they reconnect 200 ms after the drop);
//! - toggle round trip: MEROSSD_STORM_TOGGLES (default 1,000) sequential `POST /toggle`
//!   with the N plugs connected, p50 and p99.
//!
//! - the storm against its floor: the server's CPU for one RSA-2048 handshake (measured
//!   here, `floor.rs`) times N, over the cores;
//! - behind one address (`crowd.rs`): the storm again with every plug dialling from one
//!   address, against the storm from an address each; and a new plug's bind from another
//!   address, alone and past MEROSSD_STORM_SILENT (default 500) silent sockets from one
//!   address (MEROSSD_STORM_CROWD=0 skips both).
//!
//! When `mosquitto` is installed, the same storm runs against mosquitto plus a minimal
//! responder answering Bind and Clock (`anchor.rs`), and the ratio of the two storms is
//! printed (MEROSSD_STORM_ANCHOR=0 skips it). MEROSSD_STORM_TRACE=1 prints how many plugs
//! are connected and bound every 250 ms while waiting. MEROSSD_STORM_BINARY runs another
//! build of merossd as the server (another profile, say) with this bench's plugs.
//!
//! The simulated plugs run in this process, on the same two cores as the server. Each
//! dials from its own loopback address (127.1.0.0 and up), as real plugs come from an
//! address each, but for the storm behind one address.

mod anchor;
mod crowd;
mod floor;
mod report;

use merossd::sim::{self, Profile, SimConfig, SimDevice, Timings};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any step may take before the bench gives up on a size.
const PATIENCE: Duration = Duration::from_secs(300);

/// What one server did with N plugs.
pub struct Figures {
    pub cold: Duration,
    pub idle_kb: u64,
    pub per_plug_kb: f64,
    pub storm: Option<Duration>,
    /// p50 and p99 in ms; `None` where the server has no admin API.
    pub toggle: Option<(f64, f64)>,
    /// The storm again with every plug behind one address (merossd only).
    pub one_address: Option<Duration>,
    /// A new plug's bind alone and past the silent sockets (merossd only).
    pub silent: Option<(Duration, Duration)>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Waits until `addr` accepts; the time it took from `since`.
pub fn wait_port(addr: SocketAddr, since: Instant) -> Duration {
    while TcpStream::connect(addr).is_err() {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "{addr} never listened"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    since.elapsed()
}

/// Where a fleet's plugs dial from.
#[derive(Clone, Copy)]
pub enum Sources {
    /// An address each (127.1.0.1 and up), as plugs on a home network.
    Each,
    /// One address for all, as plugs behind a NAT (a guest or IoT network).
    One(Ipv4Addr),
}

/// N simulated metering plugs of account 1234 dialing `port`, numbered from `first`
/// (uuids differ between fleets). The same timings for every server: reconnect 200 ms
/// after a drop, Bind again after 1 s unanswered.
pub fn fleet(port: u16, n: u32, from: Sources) -> Vec<SimDevice> {
    fleet_from(port, 1, n, from)
}

/// As [`fleet`], numbered `first..first + n`.
pub fn fleet_from(port: u16, first: u32, n: u32, from: Sources) -> Vec<SimDevice> {
    let mut base = SimConfig::new(
        "127.0.0.1",
        port,
        "1234",
        "stormkey",
        Profile::metering_plug(),
    );
    base.timings = Timings {
        reconnect_delay: Duration::from_millis(200),
        bind_interval: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(30),
        ..Timings::default()
    };
    let each = u32::from(Ipv4Addr::new(127, 1, 0, 0));
    (first..first + n)
        .map(|i| {
            let (uuid, mac) = sim::identity("5703000000000000000", i);
            let source = match from {
                Sources::Each => Ipv4Addr::from(each + i),
                Sources::One(address) => address,
            };
            SimDevice::start(SimConfig {
                uuid,
                mac,
                source: Some(source.into()),
                user_id: account(i).to_string(),
                ..base.clone()
            })
        })
        .collect()
}

/// Plugs per account: an account holds at most 4,096 devices (`registry`), so larger
/// fleets are spread over accounts 1234, 1235, ... that share the key.
const PLUGS_PER_ACCOUNT: u32 = 4000;
/// Accounts the bench's merossd knows (enough for 40,000 plugs, and the crowd's).
const ACCOUNTS: u32 = 11;

/// The account of plug number `i`.
fn account(i: u32) -> u32 {
    1234 + ((i - 1) / PLUGS_PER_ACCOUNT) % ACCOUNTS
}

/// Waits until every plug is bound; how long that took, or `None` past `within`.
pub async fn all_bound(fleet: &[SimDevice], within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let trace = std::env::var_os("MEROSSD_STORM_TRACE").is_some();
    let mut next_trace = Duration::ZERO;
    while fleet.iter().any(|p| !p.state().bound) {
        if started.elapsed() > within {
            return None;
        }
        if trace && started.elapsed() >= next_trace {
            let bound = fleet.iter().filter(|p| p.state().bound).count();
            let connected = fleet.iter().filter(|p| p.state().connected).count();
            eprintln!(
                "  {:>6.2} s: {connected} connected, {bound} bound",
                started.elapsed().as_secs_f64()
            );
            next_trace += Duration::from_millis(250);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Some(started.elapsed())
}

/// A server the storm runs against, in a process of its own.
pub struct Server {
    command: Vec<std::ffi::OsString>,
    /// Where its plugs dial.
    pub tls: SocketAddr,
    child: Option<Child>,
}

impl Server {
    /// `command` is the program and its arguments.
    pub fn new<S: AsRef<std::ffi::OsStr>>(command: &[S], tls: SocketAddr) -> Server {
        Server {
            command: command.iter().map(|a| a.as_ref().to_owned()).collect(),
            tls,
            child: None,
        }
    }

    /// Starts it; the time until its TLS port accepts.
    pub fn start(&mut self) -> Duration {
        let started = Instant::now();
        let child = Command::new(&self.command[0])
            .args(&self.command[1..])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        wait_port(self.tls, started)
    }

    /// Stops it with SIGKILL: a crash or power cut, as far as the plugs can tell.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn rss_kb(&self) -> u64 {
        self.child.as_ref().map(|c| rss_kb(c.id())).unwrap_or(0)
    }
}

/// With the server just started (`cold` it took): binds N plugs, measures memory,
/// restarts the server with them around and times the storm. Returns the figures (no
/// toggles) and the plugs, connected again; `None` if they did not all bind at first.
pub async fn storm(
    server: &mut Server,
    n: u32,
    cold: Duration,
) -> Option<(Figures, Vec<SimDevice>)> {
    std::thread::sleep(Duration::from_millis(300));
    let idle_kb = server.rss_kb();
    let fleet = fleet(server.tls.port(), n, Sources::Each);
    all_bound(&fleet, PATIENCE).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_plug_kb = server.rss_kb().saturating_sub(idle_kb) as f64 / f64::from(n);
    let storm = restart_storm(server, &fleet).await;
    let figures = Figures {
        cold,
        idle_kb,
        per_plug_kb,
        storm,
        toggle: None,
        one_address: None,
        silent: None,
    };
    Some((figures, fleet))
}

/// Kills the server with `fleet` bound to it and starts it again: the time until every
/// plug is bound again.
pub async fn restart_storm(server: &mut Server, fleet: &[SimDevice]) -> Option<Duration> {
    server.kill();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restarted = Instant::now();
    server.start();
    all_bound(fleet, PATIENCE)
        .await
        .map(|_| restarted.elapsed())
}

/// merossd configured for the storm (account 1234, no Home Assistant); and its API.
fn merossd_server(dir: &std::path::Path) -> (Server, SocketAddr) {
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.join("merossd.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[mqtt]\ntls_listen = [\"{tls}\"]\nlocal_listen = \"\"\nmax_connections = 20000\n[api]\nlisten = \"{api}\"\ntoken = \"storm\"\n[homeassistant]\nenabled = false\n{}",
            dir.join("data"),
            (0..ACCOUNTS)
                .map(|a| format!("[[accounts]]\nuser_id = \"{}\"\nkey = \"stormkey\"\n", 1234 + a))
                .collect::<String>()
        ),
    )
    .expect("config");
    let binary = std::env::var_os("MEROSSD_STORM_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_merossd").into());
    let command = [
        binary.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "serve".as_ref(),
    ];
    (Server::new::<&std::ffi::OsStr>(&command, tls), api)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// `toggles` sequential toggles over the fleet through the admin API; p50 and p99 in ms.
async fn toggle_round_trips(api: SocketAddr, uuids: Vec<String>, toggles: usize) -> (f64, f64) {
    let mut samples = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        (0..toggles)
            .map(|i| {
                let uuid = &uuids[i % uuids.len()];
                let t = Instant::now();
                let _ = agent
                    .post(&format!("http://{api}/api/v1/devices/{uuid}/toggle"))
                    .header("Authorization", "Bearer storm")
                    .send_json(serde_json::json!({"channel": 0, "on": i % 2 == 0}));
                t.elapsed()
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("toggles");
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// How many silent sockets the crowd figures open (MEROSSD_STORM_SILENT, default 500).
pub fn silent_sockets() -> usize {
    std::env::var("MEROSSD_STORM_SILENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// The figures against merossd; with `crowd`, also the storm from one address and the
/// cost of silent sockets.
async fn merossd(n: u32, toggles: usize, crowd: bool) -> Option<Figures> {
    let dir = std::env::temp_dir().join(format!("merossd-storm-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (mut d, api) = merossd_server(&dir);
    d.start(); // makes the data dir, certificate and database
    d.kill();
    let cold = d.start();
    let figures = match storm(&mut d, n, cold).await {
        Some((mut figures, fleet)) => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let uuids = fleet.iter().map(|p| p.uuid.clone()).collect();
            figures.toggle = Some(toggle_round_trips(api, uuids, toggles).await);
            if crowd {
                figures.silent = crowd::silent_cost(&d, silent_sockets()).await;
                drop(fleet);
                figures.one_address = crowd::one_address_storm(&mut d, n).await;
            }
            Some(figures)
        }
        None => None,
    };
    d.kill();
    let _ = std::fs::remove_dir_all(&dir);
    figures
}

#[tokio::main]
async fn main() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let sizes: Vec<u32> = std::env::var("MEROSSD_STORM_PLUGS")
        .unwrap_or_else(|_| "100,1000,5000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let toggles: usize = std::env::var("MEROSSD_STORM_TOGGLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mosquitto = match std::env::var("MEROSSD_STORM_ANCHOR").as_deref() {
        Ok("0") => None,
        _ => anchor::find_mosquitto(),
    };
    if mosquitto.is_none() {
        println!("(no mosquitto, or MEROSSD_STORM_ANCHOR=0: the comparison is skipped)");
    }
    let crowd = std::env::var("MEROSSD_STORM_CROWD").as_deref() != Ok("0");
    let per_handshake = floor::per_handshake(200);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "handshake floor: {:.3} ms of server CPU per RSA-2048 handshake (rustls, one core), {:.3} ms the client's, {cores} cores",
        per_handshake.server.as_secs_f64() * 1e3,
        per_handshake.client.as_secs_f64() * 1e3
    );
    println!(
        "server    | plugs | cold start | RSS idle | RSS/plug  | storm bind | toggle p50 | toggle p99"
    );
    for n in sizes {
        let ours = merossd(n, toggles, crowd).await;
        match &ours {
            Some(f) => {
                report::row("merossd", n, f);
                let floors = [
                    floor::storm_floor(per_handshake.server, n, cores),
                    floor::storm_floor(per_handshake.server + per_handshake.client, n, cores),
                ];
                report::fairness(n, f, floors);
            }
            None => println!("merossd   | {n:>5} | not all bound within {PATIENCE:?}"),
        }
        let Some(binary) = &mosquitto else { continue };
        let theirs = anchor::run(binary, n).await;
        match &theirs {
            Some(f) => report::row("mosquitto", n, f),
            None => println!("mosquitto | {n:>5} | not all bound within {PATIENCE:?}"),
        }
        let storms = ours.and_then(|f| f.storm).zip(theirs.and_then(|f| f.storm));
        if let Some((a, b)) = storms {
            println!(
                "{n:>5} plugs: merossd's storm takes {:.2} of mosquitto + responder's",
                a.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}
