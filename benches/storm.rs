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
//! The simulated plugs run in this process, on the same two cores as the daemon.

use merossd::sim::{self, Profile, SimConfig, SimDevice, Timings};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Daemon {
    config: std::path::PathBuf,
    tls: SocketAddr,
    api: SocketAddr,
    child: Option<Child>,
}

impl Daemon {
    fn new(dir: &std::path::Path) -> Daemon {
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
        Daemon {
            config,
            tls,
            api,
            child: None,
        }
    }

    /// Starts the daemon; returns the time until its TLS port accepts.
    fn start(&mut self) -> Duration {
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_merossd"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("merossd starts");
        self.child = Some(child);
        while TcpStream::connect(self.tls).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "no TLS port");
            std::thread::sleep(Duration::from_millis(1));
        }
        started.elapsed()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }
}

async fn all_bound(fleet: &[SimDevice], within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while fleet.iter().any(|p| !p.state().bound) {
        if started.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Some(started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
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
    println!("plugs | cold start | RSS idle | RSS/plug | storm bind | toggle p50 | toggle p99");
    for n in sizes {
        let dir = std::env::temp_dir().join(format!("merossd-storm-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut d = Daemon::new(&dir);
        d.start(); // makes the data dir, certificate and database
        d.stop();
        let cold = d.start();
        std::thread::sleep(Duration::from_millis(300));
        let idle = rss_kb(d.pid());

        let mut base = SimConfig::new(
            "127.0.0.1",
            d.tls.port(),
            "1234",
            "stormkey",
            Profile::metering_plug(),
        );
        base.timings = Timings {
            reconnect_delay: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(30),
            ..Timings::default()
        };
        let fleet = sim::fleet(&base, "5703000000000000000", 1, n);
        if all_bound(&fleet, Duration::from_secs(300)).await.is_none() {
            println!("{n}: not all bound within 300 s");
            d.stop();
            continue;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let loaded = rss_kb(d.pid());
        let per_plug = (loaded.saturating_sub(idle)) as f64 / f64::from(n);

        // The storm: restart with every plug around.
        d.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let restarted = Instant::now();
        d.start();
        let storm = match all_bound(&fleet, Duration::from_secs(300)).await {
            Some(_) => format!("{:.2} s", restarted.elapsed().as_secs_f64()),
            None => "> 300 s".into(),
        };
        tokio::time::sleep(Duration::from_secs(3)).await;

        let api = d.api;
        let uuids: Vec<String> = fleet.iter().map(|p| p.uuid.clone()).collect();
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
        println!(
            "{n:>5} | {:>7.1} ms | {:>5.1} MB | {:>6.1} KB | {storm:>10} | {:>7.2} ms | {:>7.2} ms",
            cold.as_secs_f64() * 1e3,
            idle as f64 / 1024.0,
            per_plug,
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
        );
        drop(fleet);
        d.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
