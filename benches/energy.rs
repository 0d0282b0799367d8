//! `cargo bench --bench energy`: the daemon's CPU while it polls N metering plugs every
//! 30 s, and how fast its database grows per plug per day.
//!
//! The daemon runs as its own process (so its CPU time is its own, read from /proc); the
//! simulated plugs run in this one. MEROSSD_BENCH_PLUGS (200), MEROSSD_BENCH_SECONDS (120)
//! and MEROSSD_BENCH_POLL (30, seconds) change the defaults.

use merossd::sim::{self, Profile, SimConfig};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    out.and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100)
}

/// Database size after folding the WAL back in.
fn db_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let pages: u64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    pages * size
}

fn count(path: &std::path::Path, table: &str) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::main]
async fn main() {
    let plugs = env_or("MEROSSD_BENCH_PLUGS", 200) as u32;
    let seconds = env_or("MEROSSD_BENCH_SECONDS", 120);
    let poll = env_or("MEROSSD_BENCH_POLL", 30);
    let dir = std::env::temp_dir().join(format!("merossd-bench-energy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mqtt, api) = (free_port(), free_port());
    let config = dir.join("merossd.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[mqtt]\ntls_listen = [\"127.0.0.1:{mqtt}\"]\nlocal_listen = \"\"\n[api]\nlisten = \"127.0.0.1:{api}\"\n[time]\ntimezone = \"Europe/London\"\n[energy]\npoll_interval_s = {poll}\n[[accounts]]\nuser_id = \"1234\"\nkey = \"benchkey\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_merossd"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", mqtt)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = SimConfig::new(
        "127.0.0.1",
        mqtt,
        "1234",
        "benchkey",
        Profile::metering_plug(),
    );
    let fleet = sim::fleet(&base, "be000000000000000001", 1, plugs);
    let deadline = Instant::now() + Duration::from_secs(120);
    while fleet.iter().any(|p| p.state().timezone.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "plugs did not all bind and get their zone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in &fleet {
        p.press(0); // relays on: real readings
    }
    // Let the first round of polls and the daily ConsumptionX reads pass.
    tokio::time::sleep(Duration::from_secs(poll + 5)).await;

    let db = dir.join("data").join("merossd.db");
    let (bytes0, samples0) = (db_bytes(&db), count(&db, "samples"));
    let (ticks0, t0) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (ticks1, elapsed) = (cpu_ticks(pid), t0.elapsed());
    let (bytes1, samples1) = (db_bytes(&db), count(&db, "samples"));

    let cpu = (ticks1 - ticks0) as f64 / ticks_per_second() as f64 / elapsed.as_secs_f64() * 100.0;
    let per_day = 86_400.0 / elapsed.as_secs_f64() / f64::from(plugs);
    println!(
        "energy: {plugs} metering plugs polled every {poll} s for {:.0} s: daemon CPU {cpu:.2} % of one core",
        elapsed.as_secs_f64()
    );
    println!(
        "energy: {} samples written ({:.0}/plug/day); database grew {} bytes = {:.1} KiB per plug per day (raw samples; hourly rows add ~24/plug/day)",
        samples1 - samples0,
        (samples1 - samples0) as f64 * per_day,
        bytes1.saturating_sub(bytes0),
        bytes1.saturating_sub(bytes0) as f64 * per_day / 1024.0
    );
    drop(fleet);
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(dir);
}
