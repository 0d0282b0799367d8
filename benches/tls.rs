//! `cargo bench --bench tls`: the daemon's CPU time per TLS handshake on each path.
//!
//! Starts `merossd serve` (release build) in its own process, then makes
//! MEROSSD_BENCH_HANDSHAKES (default 300) full handshakes one after another with a client
//! restricted to one offer, and reads the daemon's user+system CPU time from /proc before
//! and after. Offers: TLS 1.3 and ECDHE-RSA-AES128-GCM-SHA256 (served by rustls),
//! ECDHE-RSA-AES128-SHA and AES128-SHA (served by OpenSSL).

use merossd::sim::tls::{openssl_context, TlsOffer};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The process's user + system time, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn handshake(addr: SocketAddr, context: &openssl::ssl::SslContext) -> String {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let ssl = openssl::ssl::Ssl::new(context).expect("ssl");
    let mut stream = ssl.connect(tcp).expect("handshake");
    let agreed = format!(
        "{} {}",
        stream.ssl().version_str(),
        stream
            .ssl()
            .current_cipher()
            .map(|c| c.name())
            .unwrap_or("?")
    );
    let _ = stream.shutdown();
    let mut rest = [0u8; 64];
    let _ = stream.read(&mut rest);
    agreed
}

fn main() {
    let count: u64 = std::env::var("MEROSSD_BENCH_HANDSHAKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("merossd-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = format!(
        "data_dir = {:?}\n[mqtt]\ntls_listen = [\"{tls}\"]\nlocal_listen = \"\"\n[api]\nlisten = \"127.0.0.1:{}\"\n[[accounts]]\nuser_id = \"1234\"\nkey = \"benchkey\"\n",
        dir.join("data"),
        free_port()
    );
    std::fs::write(dir.join("merossd.toml"), config).expect("config");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_merossd"))
        .arg("--config")
        .arg(dir.join("merossd.toml"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("merossd starts");
    let started = Instant::now();
    while TcpStream::connect(tls).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "daemon did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tick_us = 1_000_000 / ticks_per_second();
    println!("{count} handshakes per offer, daemon CPU (user+system) per handshake:");
    for offer in [
        "TLSv1.3",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-SHA",
        "AES128-SHA",
    ] {
        let context = openssl_context(&TlsOffer::Only(offer.to_owned())).expect("client");
        let agreed = handshake(tls, &context); // warm-up
        let before = cpu_ticks(daemon.id());
        let wall = Instant::now();
        for _ in 0..count {
            handshake(tls, &context);
        }
        let wall = wall.elapsed();
        let used = (cpu_ticks(daemon.id()) - before) * tick_us;
        println!(
            "  {offer:<30} {:>6} us CPU  {:>6} us wall  ({agreed})",
            used / count,
            wall.as_micros() as u64 / count
        );
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
