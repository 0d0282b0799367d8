//! What the store keeps: across a restart, and across a SIGKILL in the middle of a burst.

use crate::common::*;
use merossd::daemon::Daemon;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = temp_dir("restart");
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    let fleet = plugs(&d, "f1", 3);
    for p in &fleet {
        known(&d, p).await;
    }
    let uuid = fleet[0].uuid.clone();
    let (s, _) = api(
        &d,
        "PATCH",
        &format!("/api/v1/devices/{uuid}"),
        Some(r#"{"name":"Heater"}"#),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &d,
        "POST",
        &format!("/api/v1/devices/{uuid}/toggle"),
        Some(r#"{"on":true}"#),
        None,
    )
    .await;
    assert_eq!(s, 200);
    drop(fleet);
    d.stop().await;

    let again = Daemon::start(config(dir)).await.unwrap();
    let (s, list) = api(&again, "GET", "/api/v1/devices", None, None).await;
    assert_eq!(s, 200);
    let devices = list["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    let heater = devices.iter().find(|x| x["uuid"] == uuid).unwrap();
    assert_eq!(heater["name"], "Heater");
    assert_eq!(heater["type"], "mss310");
    assert_eq!(
        heater["online"], false,
        "nothing is online before it reconnects"
    );
    assert_eq!(heater["channels"][0]["on"], true);
    let (_, detail) = api(
        &again,
        "GET",
        &format!("/api/v1/devices/{uuid}"),
        None,
        None,
    )
    .await;
    assert!(detail["abilities"]["Appliance.Control.ToggleX"].is_object());
    assert!(detail["events"].as_array().unwrap().len() >= 3);
    again.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sigkill_during_a_burst_leaves_a_sound_database_with_every_bound_device() {
    let dir = temp_dir("kill");
    let (mqtt, api_port) = (free_port(), free_port());
    let config_path = dir.join("merossd.toml");
    std::fs::write(
        &config_path,
        format!(
            "data_dir = \"{}\"\n[mqtt]\ntls_listen = [\"127.0.0.1:{mqtt}\"]\nlocal_listen = \"\"\n[mdns]\nenabled = false\n[api]\nlisten = \"127.0.0.1:{api_port}\"\n[[accounts]]\nuser_id = \"{USER_ID}\"\nkey = \"{KEY}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_merossd"))
        .args(["--config", config_path.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut child = Killed(child);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = rx.recv().await {
            if line.contains("merossd listening") {
                return;
            }
        }
    })
    .await
    .expect("daemon did not start");

    let mut sim = sim_config_for(mqtt);
    sim.timings = fast();
    let fleet = merossd::sim::fleet(&sim, "f2", 1, 20);
    for p in &fleet {
        bound(p).await;
    }
    // Give the batch with the last bind a moment to commit, then press buttons in a burst
    // and kill the daemon in the middle of it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for round in 0..20 {
        for p in &fleet {
            p.press(0);
        }
        if round == 10 {
            child.0.kill().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.0.wait().unwrap();
    drop(fleet);

    let db = dir.join("data").join("merossd.db");
    assert_eq!(merossd::store::integrity_check(&db).unwrap(), "ok");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT uuid FROM devices WHERE bound_at IS NOT NULL")
        .unwrap();
    let uuids: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(uuids.len(), 20, "{uuids:?}");
}

fn sim_config_for(port: u16) -> merossd::sim::SimConfig {
    let mut c = merossd::sim::SimConfig::new(
        "127.0.0.1",
        port,
        USER_ID,
        KEY,
        merossd::sim::Profile::metering_plug(),
    );
    c.timings = fast();
    c
}
