//! Finding 6: resources a client could hold or grow without end. Reconnect churn must not
//! grow the daemon, slow or idle API clients must not take what plugs need, and this host
//! gets a higher cap on waiting connections, not none.

use crate::common::*;
use crate::process::spawn_daemon;
use crate::raw::{self, Got};
use merossd::mqtt::connect::Connect;
use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One client: connect with a fresh id, take the CONNACK, subscribe, leave.
fn cycle(addr: std::net::SocketAddr, n: u32) {
    let mut s = StdStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let connect = Connect::new(4, format!("soak-{n}-{}", rand::random::<u32>()), 30);
    s.write_all(&connect.encode()).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack)
        .unwrap_or_else(|e| panic!("cycle {n}: no CONNACK: {e}"));
    assert_eq!(ack, [0x20, 2, 0, 0]);
    s.write_all(&merossd::mqtt::packet::subscribe(1, &[("merossd/#", 0)]))
        .unwrap();
    // The SUBACK, maybe after a retained message or two.
    let mut got = Vec::new();
    while !got.windows(3).any(|w| w == [0x90, 3, 0]) {
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) | Err(_) => panic!("cycle {n}: closed before the SUBACK; got {got:02x?}"),
            Ok(k) => got.extend_from_slice(&buf[..k]),
        }
    }
    s.write_all(&[0xe0, 0]).unwrap(); // DISCONNECT
}

#[test]
fn five_thousand_connect_cycles_with_fresh_client_ids_do_not_grow_the_daemon() {
    let daemon = spawn_daemon("");
    let pid = daemon.child.id();
    for n in 0..1_000 {
        cycle(daemon.local, n);
    }
    std::thread::sleep(Duration::from_millis(500));
    let warm = rss_kb(pid);
    for n in 0..5_000 {
        cycle(daemon.local, 1_000 + n);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kb(pid);
    let growth = after.saturating_sub(warm);
    eprintln!("RSS after warm-up {warm} kB, after 5,000 more cycles {after} kB");
    // 6,000 ordinary connects and disconnects are not an error.
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(
        !log.contains("ERROR"),
        "ERROR lines in normal operation:\n{log}"
    );
    assert!(
        growth < 1024,
        "RSS grew {growth} kB over 5,000 cycles (warm {warm} kB, after {after} kB)"
    );
}

#[tokio::test]
async fn idle_api_clients_are_capped_and_timed_out_and_plugs_still_bind() {
    let mut config = config(temp_dir("apicap"));
    config.api.max_connections = 8;
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(d.api_addr).await.unwrap());
    }
    // Over the cap, the connection idle longest makes room: the first one.
    let _extra = TcpStream::connect(d.api_addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(2), idle[0].read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "over the cap: the idlest closed at once"
    );
    assert!(d.counters.snapshot().api_evicted >= 1);
    idle.remove(0);
    let plug = &plugs(&d, "g1", 1)[0];
    bound(plug).await;
    // A client that never sends its request header is closed at the header deadline.
    let started = Instant::now();
    let closed = tokio::time::timeout(
        merossd::api::HEADER_TIMEOUT + Duration::from_secs(5),
        idle[0].read(&mut buf),
    )
    .await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "idle client kept");
    assert!(started.elapsed() <= merossd::api::HEADER_TIMEOUT + Duration::from_secs(5));
    drop(idle);
    let (status, _) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert_eq!(status, 200);
    d.stop().await;
}

#[tokio::test]
async fn this_host_cannot_hold_every_connection_waiting_to_log_in() {
    let mut c = config(temp_dir("host-share"));
    // Long enough that the deadline does not end them first.
    c.mqtt.handshake_timeout_s = 60;
    let d = merossd::daemon::Daemon::start(c).await.unwrap();
    let mut silent = Vec::new();
    for _ in 0..600 {
        silent.push(TcpStream::connect(d.tls_addrs[0]).await.unwrap());
    }
    // A plug from the same address gets in at once: it speaks.
    let plug = &plugs(&d, "g2", 1)[0];
    bound(plug).await;
    assert_eq!(plug.state().connects, 1);
    // Once they have been silent a while, the next connection from this host trims them
    // to its share of the places waiting to log in.
    for _ in 0..40 {
        if d.counters.snapshot().handshakes_evicted >= 600 - 16 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        silent.push(TcpStream::connect(d.tls_addrs[0]).await.unwrap());
    }
    let evicted = d.counters.snapshot().handshakes_evicted;
    assert!(
        evicted >= 600 - 16,
        "only {evicted} silent connections displaced"
    );
    assert!(plug.state().bound, "the plug, logged in, is not displaced");
    drop(silent);
    d.stop().await;
}

#[tokio::test]
async fn an_oversized_packet_after_login_closes_the_connection() {
    let d = daemon().await;
    let (mut client, code) = raw::local(&d, &Connect::new(4, "big", 30)).await;
    assert_eq!(code, Some(0));
    // A PUBLISH claiming 2 MB.
    client.send(&[0x30, 0xff, 0xff, 0x7f]).await;
    assert_eq!(client.next(Duration::from_secs(3)).await, Got::Closed);
    assert!(d.counters.snapshot().bad_packets >= 1);
    d.stop().await;
}

/// A device message too large for the engine (a plug's are a few KB) is dropped and
/// counted; the device stays connected and its next Bind is answered as usual.
#[tokio::test]
async fn a_device_message_too_large_for_the_engine_is_dropped_and_counted() {
    let d = daemon().await;
    let (uuid, connect) = raw::device_connect("huge", 1, 4, "x");
    let (mut dev, code) = raw::local(&d, &connect).await;
    assert_eq!(code, Some(0));
    let topic = format!("/appliance/{uuid}/publish");
    let before = d.counters.snapshot().bad_messages;
    assert!(dev.publish(&topic, &vec![b'x'; 100 * 1024], false).await);
    let bind = merossd::protocol::Message::new(
        merossd::protocol::Method::Set,
        "Appliance.Control.Bind",
        serde_json::json!({"bind": {}}),
        &topic,
        KEY,
    );
    dev.subscribe(&[&format!("/appliance/{uuid}/subscribe")])
        .await;
    assert!(dev.publish(&topic, &bind.to_bytes(), false).await);
    let (_, answer) = dev
        .next_publish(Duration::from_secs(5))
        .await
        .expect("the Bind is answered");
    let answer = merossd::protocol::Message::parse(&answer).unwrap();
    assert_eq!(answer.header.method, merossd::protocol::Method::SetAck);
    assert_eq!(d.counters.snapshot().bad_messages, before + 1);
    d.stop().await;
}
