//! Running under systemd: readiness once every listener is bound, watchdog pings that
//! stop while a part is stuck, and STOPPING at shutdown, read off a notify socket the
//! test owns.

use crate::common::*;
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
    let mut c = config(dir.join("data"));
    c.notifier = Notifier::to_socket(path.clone(), Some(Duration::from_secs(2)));
    let d = merossd::daemon::Daemon::start(c).await.unwrap();

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
