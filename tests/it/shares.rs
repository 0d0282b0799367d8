//! No client gets more than its share: sessions per identity, a bounded number of QoS 2
//! publishes left open, a deadline for a packet begun, slowed login guessing, floods of
//! silent connections to the MQTT and API ports, and what a clean stop, a damaged
//! database and a clock set ahead do to the store.

use crate::common::*;
use crate::raw::{self, device_connect, Got};
use merossd::daemon::Daemon;
use merossd::mqtt::connect::Connect;
use merossd::mqtt::packet;
use std::time::Duration;

#[tokio::test]
async fn anonymous_sessions_and_one_plugs_password_cannot_fill_the_cap() {
    let mut c = config(temp_dir("share"));
    c.mqtt.max_connections = 64;
    let d = Daemon::start(c).await.unwrap();
    // Anonymous local clients get a quarter of the cap.
    let mut anonymous = Vec::new();
    let mut refused = 0;
    for n in 0..40 {
        let (client, code) = raw::local(&d, &Connect::new(4, format!("anon-{n}"), 30)).await;
        match code {
            Some(0) => anonymous.push(client),
            Some(3) => refused += 1,
            other => panic!("anonymous login {n}: {other:?}"),
        }
    }
    assert_eq!((anonymous.len(), refused), (16, 24));
    // Sessions with one plug's password: each is let in, and the newest three are kept.
    let mut thief = Vec::new();
    for n in 0..20 {
        let (_, connect) = device_connect("sh", 9, 4, &format!("s{n}"));
        let (client, code) = raw::local(&d, &connect).await;
        assert_eq!(code, Some(0));
        thief.push(client);
    }
    let mut closed = 0;
    for client in &mut thief {
        if client.next(Duration::from_millis(200)).await == Got::Closed {
            closed += 1;
        }
    }
    assert_eq!(closed, 17, "the newest three of one device's sessions stay");
    // A plug still binds on its first try.
    let plug = &plugs(&d, "sh", 1)[0];
    bound(plug).await;
    assert_eq!(plug.state().connects, 1);
    assert!(metric(&d, "merossd_sessions_over_share").await >= 24);
}

#[tokio::test]
async fn qos2_publishes_left_without_pubrel_are_bounded() {
    let d = daemon().await;
    let (mut c, _) = raw::local(&d, &Connect::new(4, "qos2-hoarder", 30)).await;
    let mut pubrecs = 0;
    for pkid in 1..=80u16 {
        c.send(&packet::publish("hoard/x", &[0u8; 1024], 2, false, pkid))
            .await;
    }
    let mut closed = false;
    for _ in 0..200 {
        match c.next(Duration::from_secs(2)).await {
            Got::Packet(p) if p[0] >> 4 == packet::PUBREC => pubrecs += 1,
            Got::Packet(_) => {}
            Got::Closed => {
                closed = true;
                break;
            }
            Got::Nothing => break,
        }
    }
    assert!(
        closed,
        "a client with 80 QoS 2 publishes open was kept ({pubrecs} PUBRECs)"
    );
    assert!(pubrecs <= 64, "{pubrecs}");
    assert!(metric(&d, "merossd_sessions_over_budget").await >= 1);
}

#[tokio::test]
async fn a_packet_begun_and_never_finished_is_closed_at_its_deadline() {
    let d = daemon().await;
    let (mut c, _) = raw::local(&d, &Connect::new(4, "half-packet", 0)).await;
    // A PUBLISH announcing 200 KiB, and all of it but one byte.
    let mut frame = packet::publish("slow/x", &vec![b'x'; 200 * 1024], 0, false, 0);
    frame.pop();
    c.send(&frame).await;
    let start = std::time::Instant::now();
    let closed = c
        .next(merossd::mqtt::framed::PACKET_DEADLINE + Duration::from_secs(5))
        .await;
    assert_eq!(closed, Got::Closed);
    assert!(start.elapsed() >= merossd::mqtt::framed::PACKET_DEADLINE - Duration::from_secs(1));
    assert!(d.counters.snapshot().bad_packets >= 1);
}

#[tokio::test]
async fn mqtt_login_guessing_is_slowed_and_then_the_right_password_works() {
    let d = daemon().await;
    let (uuid, right) = device_connect("gs", 1, 4, "x");
    let mut wrong = right.clone();
    wrong.password = Some(b"1234_0123456789abcdef0123456789ab".to_vec());
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(raw::local(&d, &wrong).await.1);
    }
    assert_eq!(&codes[..5], &[Some(4); 5], "{codes:?}");
    assert_eq!(
        codes[7],
        Some(3),
        "guessing goes on at full speed: {codes:?}"
    );
    assert_eq!(
        raw::local(&d, &right).await.1,
        Some(3),
        "the right password at once"
    );
    let mut accepted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if raw::local(&d, &right).await.1 == Some(0) {
            accepted = true;
            break;
        }
    }
    assert!(accepted, "{uuid}: the right password never worked again");
    assert!(metric(&d, "merossd_logins_throttled").await >= 1);
}

#[tokio::test]
async fn a_clean_stop_leaves_everything_in_the_main_file() {
    let dir = temp_dir("ckpt");
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    for plug in &plugs(&d, "ck", 3) {
        known(&d, plug).await;
    }
    d.stop().await;
    let wal = std::fs::metadata(dir.join("merossd.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL still holds data after a clean stop");
    assert!(std::fs::metadata(dir.join("merossd.db")).unwrap().len() > 4096);
}

#[tokio::test]
async fn a_damaged_database_exits_2_with_its_path_and_the_way_out() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("merossd.db"), vec![0x5a; 64 * 1024]).unwrap();
    let error = Daemon::start(config(dir.clone()))
        .await
        .err()
        .expect("refused");
    assert_eq!(error.exit_code(), 2, "{error}");
    let text = error.to_string();
    assert!(
        text.contains(&dir.join("merossd.db").display().to_string()),
        "{text}"
    );
    assert!(text.contains("merossd restore"), "{text}");
}

#[tokio::test]
async fn a_clock_set_years_ahead_does_not_prune_real_history() {
    let dir = temp_dir("clock");
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    let plug = &plugs(&d, "cl", 1)[0];
    known(&d, plug).await;
    d.stop().await;
    plug.stop();
    // As if the clock now stood two years after all that history.
    let two_years = 2 * 365 * 86_400;
    let db = rusqlite::Connection::open(dir.join("merossd.db")).unwrap();
    db.execute("UPDATE events SET at = at - ?1", [two_years])
        .unwrap();
    let before: i64 = db
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    drop(db);
    assert!(before > 0);
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    d.store().flush().await.unwrap();
    let (_, health) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert!(
        health["warnings"]
            .to_string()
            .contains("days past the newest stored event"),
        "{health}"
    );
    d.stop().await;
    let db = rusqlite::Connection::open(dir.join("merossd.db")).unwrap();
    let old: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM events WHERE at < ?1",
            [merossd::protocol::now_secs() - 86_400],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, before, "history was pruned");
}

#[tokio::test]
async fn every_metric_the_docs_name_is_served() {
    let d = polled_daemon("metrics").await;
    let plug = &plugs(&d, "mt", 1)[0];
    known(&d, plug).await;
    first_reading(&d, plug).await;
    let (_, body) = api(&d, "GET", "/metrics", None, None).await;
    let served = body.as_str().unwrap_or_default().to_owned();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(docs).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for (i, _) in text.match_indices("merossd_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            let base = name.trim_end_matches("_total");
            // Only metric names: `merossd_` alone, package names and the like are not.
            if base.len() <= "merossd_".len()
                || base.ends_with('_')
                || base.contains(char::is_numeric)
            {
                continue;
            }
            if !served.lines().any(|l| {
                l.split([' ', '{']).next() == Some(base) || l.starts_with(&format!("{base}_total"))
            }) {
                missing.push(name);
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "named in docs/ but not in /metrics: {missing:?}"
    );
}

/// `count` TCP connections to `to` that never say a word, from `sources` loopback
/// addresses (127.0.10.1, ...), as a flood of half-open handshakes looks to the gate.
async fn silent_sockets(
    to: std::net::SocketAddr,
    sources: u8,
    count: usize,
) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let from =
            std::net::SocketAddr::from(([127, 0, 10, 1 + (i % usize::from(sources)) as u8], 0));
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(from).unwrap();
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(2), socket.connect(to)).await
        {
            held.push(stream);
        }
    }
    held
}

#[tokio::test]
async fn a_flood_of_silent_connections_from_many_addresses_delays_a_new_plug_by_under_a_second() {
    let mut c = config(temp_dir("flood"));
    c.mqtt.max_connections = 200;
    // Long enough that waiting out the flood is no way in.
    c.mqtt.handshake_timeout_s = 60;
    let d = Daemon::start(c).await.unwrap();
    let flood = silent_sockets(d.tls_addrs[0], 20, 400).await;
    assert!(flood.len() >= 390, "{} of the flood connected", flood.len());
    let plug = &plugs(&d, "fl", 1)[0];
    let start = std::time::Instant::now();
    bound(plug).await;
    let took = start.elapsed();
    assert_eq!(
        plug.state().connects,
        1,
        "the plug needed more than one try"
    );
    assert!(took < Duration::from_secs(3), "bound after {took:?}");
    eprintln!(
        "a plug bound {took:?} after a flood of {} silent connections",
        flood.len()
    );
    assert!(metric(&d, "merossd_handshakes_evicted").await >= 200);
    drop(flood);
}

#[tokio::test]
async fn idle_api_connections_are_the_first_to_go_when_the_api_is_full() {
    let mut c = config(temp_dir("api-idle"));
    c.api.max_connections = 50;
    let d = Daemon::start(c).await.unwrap();
    let plug = &plugs(&d, "ai", 1)[0];
    known(&d, plug).await;
    let idle = silent_sockets(d.api_addr, 1, 60).await;
    assert!(idle.len() >= 50);
    let start = std::time::Instant::now();
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "a toggle took {took:?}");
    eprintln!(
        "a toggle past {} idle API connections took {took:?}",
        idle.len()
    );
    assert!(metric(&d, "merossd_api_evicted").await >= 1);
    drop(idle);
}
