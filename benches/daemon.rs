//! `cargo bench --bench daemon`: figures for the notes, measured against a real daemon on
//! loopback with simulated plugs in the same process.
//!
//! - how long N plugs take to all bind (N = MEROSSD_BENCH_PLUGS, default 200);
//! - the median and 99th percentile of `POST /toggle` (HTTP in, SETACK back, HTTP out)
//!   with those plugs connected (MEROSSD_BENCH_TOGGLES requests, default 1000).

use merossd::config::{Account, Config};
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile, SimConfig};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let plugs = env_or("MEROSSD_BENCH_PLUGS", 200) as u32;
    let toggles = env_or("MEROSSD_BENCH_TOGGLES", 1000);
    let dir = std::env::temp_dir().join(format!("merossd-bench-{}", std::process::id()));
    let config = Config {
        data_dir: dir.clone(),
        accounts: vec![Account {
            user_id: "1234".into(),
            key: "benchkey".into(),
            ..Default::default()
        }],
        mqtt: merossd::config::MqttConfig {
            tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
            local_listen: None,
            ..Default::default()
        },
        api: merossd::config::ApiConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
        ..Default::default()
    };
    let d = Daemon::start(config).await.expect("daemon starts");
    let base = SimConfig::new(
        "127.0.0.1",
        d.tls_addrs[0].port(),
        "1234",
        "benchkey",
        Profile::metering_plug(),
    );

    let started = Instant::now();
    let fleet = sim::fleet(&base, "be000000000000000000", 1, plugs);
    let deadline = started + Duration::from_secs(120);
    while fleet.iter().any(|p| !p.state().bound) {
        assert!(
            Instant::now() < deadline,
            "not all plugs bound within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let bind_time = started.elapsed();
    println!(
        "bind: {plugs} plugs all bound in {:.3} s",
        bind_time.as_secs_f64()
    );

    // Wait for the post-bind queries to settle so the toggles measure the steady state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let url = format!("http://{}/api/v1/devices", d.api_addr);
    let token = d.api_token.clone();
    let uuids: Vec<String> = fleet.iter().map(|p| p.uuid.clone()).collect();
    let samples = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        let mut samples = Vec::with_capacity(toggles);
        for i in 0..toggles {
            let uuid = &uuids[i % uuids.len()];
            let body = serde_json::json!({"channel": 0, "on": i % 2 == 0});
            let t = Instant::now();
            agent
                .post(&format!("{url}/{uuid}/toggle"))
                .header("Authorization", &format!("Bearer {token}"))
                .send_json(body)
                .expect("toggle succeeds");
            samples.push(t.elapsed());
        }
        samples
    })
    .await
    .unwrap();
    let mut sorted = samples;
    sorted.sort();
    println!(
        "toggle: {} sequential POST /toggle with {plugs} plugs connected: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().unwrap().as_secs_f64() * 1e3,
    );
    drop(fleet);
    d.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
