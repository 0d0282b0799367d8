//! The front door: logins, deadlines, and hostile input.

use crate::common::*;
use crate::raw;
use merossd::mqtt::connect::Connect;
use merossd::protocol::{Message, Method};
use merossd::sim::{self, Profile};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

async fn tls(d: &merossd::daemon::Daemon) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let connector = TlsConnector::from(sim::tls::client_config());
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until EOF or `within`; returns what came and whether the peer closed.
async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    within: Duration,
) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + within;
    loop {
        let mut buf = [0u8; 256];
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

#[tokio::test]
async fn wrong_password_gets_connack_4_and_unknown_user_is_refused() {
    let d = daemon().await;
    let mut wrong = sim_config(&d, Profile::metering_plug());
    wrong.key = "not-the-key".into();
    let mut stranger = sim_config(&d, Profile::metering_plug());
    stranger.user_id = "999".into();
    let w = &sim::fleet(&wrong, "c1", 1, 1)[0];
    let s = &sim::fleet(&stranger, "c2", 1, 1)[0];
    for plug in [w, s] {
        assert!(
            plug.wait_for(Duration::from_secs(5), |s| s.refused.is_some())
                .await
        );
        let st = plug.state();
        assert!(matches!(st.refused, Some(4) | Some(5)), "{st:?}");
        assert_eq!(st.connects, 0);
    }
    assert!(d.counters.snapshot().refused_logins >= 2);
    assert!(
        d.engine.device(&w.uuid).is_none(),
        "a refused plug is not a device"
    );
    d.stop().await;
}

#[tokio::test]
async fn refused_login_is_closed_after_its_connack() {
    let d = daemon().await;
    let mut s = tls(&d).await;
    let connect = Connect::new(3, "fmware:0123456789abcdef0123456789abcdef_x", 30)
        .login("48:e1:e9:00:00:01", "1234_00000000000000000000000000000000");
    s.write_all(&connect.encode()).await.unwrap();
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert_eq!(got, vec![0x20, 0x02, 0x00, 0x04]);
    assert!(closed);
    d.stop().await;
}

#[tokio::test]
async fn a_silent_client_does_not_delay_another_plug_and_is_dropped_at_the_deadline() {
    let d = daemon().await;
    let mut silent = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let started = tokio::time::Instant::now();
    let plug = &plugs(&d, "c3", 1)[0];
    assert!(
        plug.wait_for(Duration::from_secs(1), |s| s.bound).await,
        "the silent socket held up the bind"
    );
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed, "silent client still connected");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1500),
        "dropped too early: {after:?}"
    );
    assert!(d.counters.snapshot().handshake_timeouts >= 1);
    d.stop().await;
}

#[tokio::test]
async fn truncated_connect_is_dropped_and_the_daemon_still_serves() {
    let d = daemon().await;
    let mut s = tls(&d).await;
    let connect = Connect::new(3, "fmware:abc_x", 30).encode();
    s.write_all(&connect[..connect.len() / 2]).await.unwrap();
    s.shutdown().await.unwrap();
    drop(s);
    let mut plain = TcpStream::connect(d.local_addr.unwrap()).await.unwrap();
    plain.write_all(&connect[..7]).await.unwrap();
    drop(plain);
    let plug = &plugs(&d, "c4", 1)[0];
    bound(plug).await;
    eventually("bad connects counted", Duration::from_secs(3), || {
        d.counters.snapshot().bad_connects >= 1
    })
    .await;
    d.stop().await;
}

#[tokio::test]
async fn oversized_connect_is_refused_without_reading_it() {
    let d = daemon().await;
    let mut s = tls(&d).await;
    // CONNECT claiming ~2 MB of remaining length, followed by junk.
    let mut packet = vec![0x10, 0xff, 0xff, 0x7f];
    packet.extend(std::iter::repeat_n(b'A', 8192));
    let _ = s.write_all(&packet).await;
    let (got, closed) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(closed);
    assert!(got.is_empty());
    assert!(d.counters.snapshot().bad_connects >= 1);
    let plug = &plugs(&d, "c5", 1)[0];
    bound(plug).await;
    d.stop().await;
}

#[tokio::test]
async fn plain_mqtt_on_the_tls_port_fails_the_handshake_cleanly() {
    let d = daemon().await;
    let mut tcp = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let connect = Connect::new(4, "x", 30);
    tcp.write_all(&connect.encode()).await.unwrap();
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(3)).await;
    assert!(closed);
    eventually("failure counted", Duration::from_secs(2), || {
        d.counters.snapshot().handshake_failures >= 1
    })
    .await;
    d.stop().await;
}

#[tokio::test]
async fn invalid_json_and_wrong_signs_are_counted_and_dropped() {
    let d = daemon().await;
    let plug = &plugs(&d, "c6", 1)[0];
    known(&d, plug).await;
    // The plug's own login, as a replaying or broken firmware would use it.
    let (_, client, mut events) = device_client(&d, "c6", 1);
    let poll = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = format!("/appliance/{}/publish", plug.uuid);
    let before = d.counters.snapshot();
    client
        .publish(
            &topic,
            rumqttc::QoS::AtLeastOnce,
            false,
            b"{not json".to_vec(),
        )
        .await
        .unwrap();
    client
        .publish(&topic, rumqttc::QoS::AtLeastOnce, false, vec![0xff; 3000])
        .await
        .unwrap();
    // A state PUSH signed with the wrong key must not change the state.
    let forged = Message::new(
        Method::Push,
        "Appliance.Control.ToggleX",
        serde_json::json!({"togglex": [{"channel": 0, "onoff": 1}]}),
        &topic,
        "wrong-key",
    );
    client
        .publish(&topic, rumqttc::QoS::AtLeastOnce, false, forged.to_bytes())
        .await
        .unwrap();
    eventually("counted", Duration::from_secs(5), || {
        let now = d.counters.snapshot();
        now.bad_messages >= before.bad_messages + 2 && now.sign_failures > before.sign_failures
    })
    .await;
    assert!(
        !d.engine.device(&plug.uuid).unwrap().channels[&0].on,
        "forged PUSH changed state"
    );
    // And the daemon still serves.
    let reply = d
        .engine
        .request(
            &plug.uuid,
            Method::Get,
            "Appliance.System.Runtime",
            serde_json::json!({}),
            Duration::from_secs(3),
        )
        .await;
    assert!(reply.is_ok());
    poll.abort();
    d.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_the_oldest_connection_not_logged_in_makes_room() {
    let mut config = config(temp_dir("cap"));
    config.mqtt.max_connections = 2;
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    let mut a = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let _b = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    eventually("both held", Duration::from_secs(3), || {
        d.counters.snapshot().connections_open == 2
    })
    .await;
    let _c = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let (_, closed) = read_until_closed(&mut a, Duration::from_secs(2)).await;
    assert!(closed, "the oldest silent connection should make room");
    assert!(d.counters.snapshot().handshakes_evicted >= 1);
    d.stop().await;
}

#[tokio::test]
async fn a_cap_of_logged_in_clients_closes_a_new_connection_at_once() {
    let mut config = config(temp_dir("cap-in"));
    config.mqtt.max_connections = 2;
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    let (_a, code_a) = raw::local(&d, &Connect::new(4, "in-a", 30)).await;
    let (_b, code_b) = raw::local(&d, &Connect::new(4, "in-b", 30)).await;
    assert_eq!((code_a, code_b), (Some(0), Some(0)));
    let mut c = TcpStream::connect(d.tls_addrs[0]).await.unwrap();
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(1)).await;
    assert!(closed, "third connection should be closed at once");
    assert!(d.counters.snapshot().connections_over_cap >= 1);
    d.stop().await;
}

#[tokio::test]
async fn a_forged_bind_with_a_bad_sign_changes_nothing() {
    let d = daemon().await;
    let plug = &plugs(&d, "c7", 1)[0];
    known(&d, plug).await;
    let (_, client, mut events) = device_client(&d, "c7", 1);
    let poll = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let bind = Message::new(
        Method::Set,
        "Appliance.Control.Bind",
        serde_json::json!({"bind": {"hardware": {"type": "evil"}, "firmware": {"version": "6.6.6"}}}),
        &format!("/appliance/{}/subscribe", plug.uuid),
        "wrong",
    );
    let before = d.counters.snapshot();
    let topic = format!("/appliance/{}/publish", plug.uuid);
    client
        .publish(&topic, rumqttc::QoS::AtLeastOnce, false, bind.to_bytes())
        .await
        .unwrap();
    eventually("counted", Duration::from_secs(5), || {
        d.counters.snapshot().sign_failures > before.sign_failures
    })
    .await;
    let dev = d.engine.device(&plug.uuid).unwrap();
    assert_eq!(
        dev.kind(),
        Some("mss310"),
        "a Bind with a bad sign rewrote the device"
    );
    assert_eq!(dev.firmware_version(), Some("2.1.17"));
    poll.abort();
    d.stop().await;
}
