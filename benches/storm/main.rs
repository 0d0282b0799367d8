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
//! When `mosquitto` is installed, the same storm runs against mosquitto plus a minimal
//! responder answering Bind and Clock (`anchor.rs`), and the ratio of the two storms is
//! printed (MEROSSD_STORM_ANCHOR=0 skips it). MEROSSD_STORM_TRACE=1 prints how many plugs
//! are connected and bound every 250 ms while waiting.
//!
//! The simulated plugs run in this process, on the same two cores as the server. Each
//! dials from its own loopback address (127.1.0.0 and up), as real plugs come from an
//! address each.

mod anchor;

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

/// N simulated metering plugs of account 1234 dialing `port`, each from its own loopback
/// address. The same timings for every server: reconnect 200 ms after a drop, Bind again
/// after 1 s unanswered.
pub fn fleet(port: u16, n: u32) -> Vec<SimDevice> {
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
    let first = u32::from(Ipv4Addr::new(127, 1, 0, 0));
    (1..=n)
        .map(|i| {
            let (uuid, mac) = sim::identity("5703000000000000000", i);
            SimDevice::start(SimConfig {
                uuid,
                mac,
                source: Some(Ipv4Addr::from(first + i).into()),
                ..base.clone()
            })
        })
        .collect()
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
    let fleet = fleet(server.tls.port(), n);
    all_bound(&fleet, PATIENCE).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_plug_kb = server.rss_kb().saturating_sub(idle_kb) as f64 / f64::from(n);

    server.kill();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restarted = Instant::now();
    server.start();
    let storm = all_bound(&fleet, PATIENCE)
        .await
        .map(|_| restarted.elapsed());
    let figures = Figures {
        cold,
        idle_kb,
        per_plug_kb,
        storm,
        toggle: None,
    };
    Some((figures, fleet))
}

/// merossd configured for the storm (account 1234, no Home Assistant); and its API.
fn merossd_server(dir: &std::path::Path) -> (Server, SocketAddr) {
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.join("merossd.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[mqtt]\ntls_listen = [\"{tls}\"]\nlocal_listen = \"\"\nmax_connections = 20000\n[api]\nlisten = \"{api}\"\ntoken = \"storm\"\n[homeassistant]\nenabled = false\n[[accounts]]\nuser_id = \"1234\"\nkey = \"stormkey\"\n",
            dir.join("data")
        ),
    )
    .expect("config");
    let command = [
        env!("CARGO_BIN_EXE_merossd").as_ref(),
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

async fn merossd(n: u32, toggles: usize) -> Option<Figures> {
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
            Some(figures)
        }
        None => None,
    };
    d.kill();
    let _ = std::fs::remove_dir_all(&dir);
    figures
}

fn row(server: &str, n: u32, f: &Figures) {
    let storm = f
        .storm
        .map(|s| format!("{:.2} s", s.as_secs_f64()))
        .unwrap_or_else(|| "> 300 s".into());
    let (p50, p99) = f
        .toggle
        .map(|(a, b)| (format!("{a:.2} ms"), format!("{b:.2} ms")))
        .unwrap_or_else(|| ("-".into(), "-".into()));
    println!(
        "{server:<9} | {n:>5} | {:>7.1} ms | {:>5.1} MB | {:>6.1} KB | {storm:>10} | {p50:>10} | {p99:>10}",
        f.cold.as_secs_f64() * 1e3,
        f.idle_kb as f64 / 1024.0,
        f.per_plug_kb,
    );
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
    println!(
        "server    | plugs | cold start | RSS idle | RSS/plug  | storm bind | toggle p50 | toggle p99"
    );
    for n in sizes {
        let ours = merossd(n, toggles).await;
        match &ours {
            Some(f) => row("merossd", n, f),
            None => println!("merossd   | {n:>5} | not all bound within {PATIENCE:?}"),
        }
        let Some(binary) = &mosquitto else { continue };
        let theirs = anchor::run(binary, n).await;
        match &theirs {
            Some(f) => row("mosquitto", n, f),
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
