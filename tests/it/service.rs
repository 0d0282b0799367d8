//! Running under systemd: readiness once every listener is bound, watchdog pings that
//! stop while a part is stuck, and STOPPING at shutdown, read off a notify socket the
//! test owns.

use crate::common::*;
use crate::process::{merossd, strings};
use merossd::notify::Notifier;
use std::time::Duration;
use tokio::net::UnixDatagram;

/// The next message within `within`, or `None`.
async fn next(socket: &UnixDatagram, within: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(within, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    }
}

/// Waits (bounded) for a message containing `what`.
async fn wait_for(socket: &UnixDatagram, what: &str, within: Duration) -> Option<String> {
    let end = tokio::time::Instant::now() + within;
    while let Some(m) = next(
        socket,
        end.saturating_duration_since(tokio::time::Instant::now()),
    )
    .await
    {
        if m.contains(what) {
            return Some(m);
        }
    }
    None
}

#[tokio::test]
async fn systemd_hears_ready_then_pings_that_stop_while_the_store_writer_is_wedged() {
    let dir = temp_dir("notify");
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let c = config(dir.join("data"));
    let notifier = Notifier::to_socket(path.clone(), Some(Duration::from_secs(2)));
    let d = merossd::daemon::Daemon::start_with(c, notifier)
        .await
        .unwrap();

    let ready = next(&socket, Duration::from_secs(2))
        .await
        .expect("a first message");
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(ready.contains("STATUS=0 of 0 plugs online"), "{ready}");
    // Ready means listening.
    tokio::net::TcpStream::connect(d.tls_addrs[0])
        .await
        .unwrap();
    let plug = &plugs(&d, "s1", 1)[0];
    bound(plug).await;
    let ping = wait_for(&socket, "WATCHDOG=1", Duration::from_secs(3))
        .await
        .expect("watchdog pings");
    assert!(ping.contains("STATUS="), "{ping}");

    d.store().stall_writer(Duration::from_secs(4)).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    while next(&socket, Duration::from_millis(10)).await.is_some() {}
    let mut during = Vec::new();
    while let Some(m) = next(&socket, Duration::from_millis(2000)).await {
        during.push(m);
        if during.len() > 10 {
            break;
        }
    }
    assert!(
        !during.iter().any(|m| m.contains("WATCHDOG=1")),
        "pinged while the writer was stuck: {during:?}"
    );
    assert!(
        wait_for(&socket, "WATCHDOG=1", Duration::from_secs(5))
            .await
            .is_some(),
        "no pings once the writer works again"
    );
    d.stop().await;
    assert!(wait_for(&socket, "STOPPING=1", Duration::from_secs(2))
        .await
        .is_some());
}

#[tokio::test]
async fn a_backup_taken_during_a_burst_restores_every_device_and_the_key() {
    let dir = temp_dir("backup");
    let data = dir.join("data");
    let mut c = config(data.clone());
    c.accounts.clear(); // the account is generated into the data directory
    let d = merossd::daemon::Daemon::start(c).await.unwrap();
    let account = d.accounts[0].clone();
    let mut sim = merossd::sim::SimConfig::new(
        "127.0.0.1",
        d.tls_addrs[0].port(),
        &account.user_id,
        &account.key,
        merossd::sim::Profile::metering_plug(),
    );
    sim.timings = fast();
    let fleet = merossd::sim::fleet(&sim, "b7", 1, 20);
    for plug in &fleet {
        known(&d, plug).await;
    }
    // A burst of writes (state changes, events) while the backup is taken.
    let engine = d.engine.clone();
    let uuids: Vec<String> = fleet.iter().map(|p| p.uuid.clone()).collect();
    let burst = tokio::spawn(async move {
        for round in 0..10 {
            for uuid in &uuids {
                let _ = engine
                    .switch(uuid, 0, round % 2 == 0, Duration::from_secs(2))
                    .await;
            }
        }
    });
    let archive = dir.join("merossd-backup.tar");
    let (code, out, err) = merossd(strings(&[
        "--data-dir",
        data.to_str().unwrap(),
        "backup",
        archive.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("merossd.db") && out.contains("account.json"),
        "{out}"
    );
    burst.await.unwrap();

    // A running daemon's data directory is not overwritten.
    let (code, _, err) = merossd(strings(&[
        "--data-dir",
        data.to_str().unwrap(),
        "restore",
        archive.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by another merossd"), "{err}");
    d.stop().await;
    drop(fleet);

    let restored = dir.join("restored");
    let (code, _, err) = merossd(strings(&[
        "--data-dir",
        restored.to_str().unwrap(),
        "restore",
        archive.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    let db = restored.join("merossd.db");
    assert_eq!(merossd::store::integrity_check(&db).unwrap(), "ok");
    assert_eq!(
        std::fs::read(restored.join("account.json")).unwrap(),
        std::fs::read(data.join("account.json")).unwrap()
    );
    // The restored daemon knows every device, and its plugs get back in with their key.
    let mut c = config(restored);
    c.accounts.clear();
    let again = merossd::daemon::Daemon::start(c).await.unwrap();
    assert_eq!(again.engine.devices().len(), 20);
    sim.port = again.tls_addrs[0].port();
    let back = merossd::sim::fleet(&sim, "b7", 1, 2);
    for plug in &back {
        bound(plug).await;
    }
    again.stop().await;
}

#[tokio::test]
async fn check_config_prints_the_settings_with_secrets_masked_or_exits_2() {
    let dir = temp_dir("checkconfig");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[api]\ntoken = \"s3cret-token\"\n[[accounts]]\nuser_id = \"1234\"\nkey = \"s3cret-key\"\n",
    )
    .unwrap();
    let (code, out, err) = merossd(strings(&[
        "--config",
        good.to_str().unwrap(),
        "check-config",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(out.contains("max_tls_record"), "{out}");
    assert!(!out.contains("s3cret"), "a secret in the output:\n{out}");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[mqtt]\nmax_connections = \"lots\"\n").unwrap();
    let (code, _, err) = merossd(strings(&[
        "--config",
        bad.to_str().unwrap(),
        "check-config",
    ]))
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("mqtt.max_connections"), "{err}");
}
