//! A daemon in its own process: for what must be measured or read apart from the test
//! process (its memory, its log).

use crate::common::*;
use std::net::TcpStream as StdStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Process {
    pub child: Child,
    pub local: std::net::SocketAddr,
    pub tls: std::net::SocketAddr,
    pub log: std::path::PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `merossd serve` with `extra` appended to its `[mqtt]` section.
pub fn spawn_daemon(extra: &str) -> Process {
    spawn_daemon_with(extra, "", &[])
}

/// Starts `merossd serve` with `mqtt` appended to its `[mqtt]` section, `tail` (whole
/// sections) at the end of its config, and `args` before `serve`.
pub fn spawn_daemon_with(mqtt: &str, tail: &str, args: &[&str]) -> Process {
    let extra = mqtt;
    let dir = temp_dir("process");
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let tls = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = format!(
        "data_dir = {:?}\n[mqtt]\ntls_listen = [\"{tls}\"]\nlocal_listen = \"{local}\"\n{extra}\n[mdns]\nenabled = false\n[api]\nlisten = \"127.0.0.1:{}\"\n[[accounts]]\nuser_id = \"{USER_ID}\"\nkey = \"{KEY}\"\n{tail}\n",
        dir.join("data"),
        free_port(),
    );
    let path = dir.join("merossd.toml");
    std::fs::write(&path, config).unwrap();
    let log_path = dir.join("log");
    let log = std::fs::File::create(&log_path).unwrap();
    eprintln!("daemon log: {}", log_path.display());
    let child = Command::new(env!("CARGO_BIN_EXE_merossd"))
        .args(["--config", path.to_str().unwrap()])
        .args(args)
        .arg("serve")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while StdStream::connect(local).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Process {
        child,
        local,
        tls,
        log: log_path,
    }
}

/// Runs the merossd binary with `args` (no `MEROSSD_CONFIG` from the environment);
/// returns its exit code, stdout and stderr.
pub async fn merossd(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_merossd"))
            .args(&args)
            .env_remove("MEROSSD_CONFIG")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// `list` as owned strings, for [`merossd`].
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
