//! `cargo bench --bench page`: the web page's figures for the notes, in a real headless
//! Chromium (Debian's `chromium` and `chromium-driver`, Selenium in the venv the tests
//! make under target/, or `MEROSSD_WEB_PYTHON`) against a real daemon on loopback with
//! simulated plugs in the same process:
//!
//! - its size, raw and gzipped;
//! - the time from navigation to the device list on the screen, and to the first
//!   contentful paint, over MEROSSD_BENCH_LOADS loads (default 10) with
//!   MEROSSD_BENCH_PLUGS plugs (default 50): median and worst.

use merossd::config::{Account, Config};
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile, SimConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A free loopback port below the ephemeral range.
fn low_port() -> u16 {
    (0..200)
        .map(|_| 20_000 + rand::random::<u16>() % 12_000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free loopback port in 20000..32000")
}

fn python() -> PathBuf {
    std::env::var_os("MEROSSD_WEB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/web-venv/bin/python")
        })
}

fn middle_and_worst(values: &[serde_json::Value]) -> (f64, f64) {
    let v: Vec<f64> = values
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    (
        v.get(v.len() / 2).copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    )
}

#[tokio::main]
async fn main() {
    let plugs = env_or("MEROSSD_BENCH_PLUGS", 50) as u32;
    let loads = env_or("MEROSSD_BENCH_LOADS", 10);
    let dir = std::env::temp_dir().join(format!("merossd-bench-page-{}", std::process::id()));
    let config = Config {
        data_dir: dir.clone(),
        accounts: vec![Account {
            user_id: "1234".into(),
            key: "benchkey".into(),
            ..Default::default()
        }],
        mqtt: merossd::config::MqttConfig {
            tls_listen: vec![format!("127.0.0.1:{}", low_port()).parse().unwrap()],
            local_listen: None,
            ..Default::default()
        },
        api: merossd::config::ApiConfig {
            listen: format!("127.0.0.1:{}", low_port()).parse().unwrap(),
            ..Default::default()
        },
        mdns: merossd::config::MdnsConfig {
            enabled: false,
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
    let fleet = sim::fleet(&base, "bf000000000000000000", 1, plugs);
    let deadline = Instant::now() + Duration::from_secs(120);
    while fleet.iter().any(|p| !p.state().bound) {
        assert!(Instant::now() < deadline, "plugs did not bind in 120 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/page/render.py");
    let page = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/api/page");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(format!("http://{}", d.api_addr))
        .arg(&d.api_token)
        .arg(loads.to_string())
        .arg(page)
        .env("SE_OFFLINE", "true")
        .output()
        .expect("python with Selenium (the tests' web venv, or MEROSSD_WEB_PYTHON)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("the script's JSON");
    let (shown, shown_worst) = middle_and_worst(seen["devices_shown_ms"].as_array().unwrap());
    let (paint, paint_worst) = middle_and_worst(seen["first_paint_ms"].as_array().unwrap());
    println!(
        "page: {} bytes, {} gzipped",
        seen["bytes"], seen["gzip_bytes"]
    );
    println!(
        "{} devices on the screen after {shown:.0} ms (median of {loads} loads, worst {shown_worst:.0} ms); first contentful paint {paint:.0} ms (worst {paint_worst:.0} ms)",
        seen["cards"]
    );
    d.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
