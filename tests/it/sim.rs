//! The simulated plug behaves as current firmware does when nobody answers it: against a
//! bare MQTT server (TLS, CONNACK, nothing more) it re-sends Bind, gives up after three,
//! and reconnects; answered Binds but unanswered Clocks make it restart after ten.

use crate::common::*;
use bytes::BytesMut;
use merossd::protocol::{Message, Method};
use merossd::sim::{Profile, SimConfig, SimDevice};
use rumqttc::mqttbytes::v4::{Packet, Publish};
use rumqttc::mqttbytes::QoS;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
struct Seen {
    connects: AtomicU32,
    binds: AtomicU32,
    clocks: AtomicU32,
}

/// A TLS MQTT server that accepts any login and, if `ack_binds`, answers Bind with a
/// SETACK; it never answers a Clock. Bounded: each connection ends when the plug goes.
async fn bare_server(ack_binds: bool) -> (u16, Arc<Seen>) {
    let dir = temp_dir("bare");
    let data = merossd::datadir::DataDir::create(&dir).unwrap();
    let options = merossd::gate::tls::TlsOptions {
        max_record: 4096,
        legacy: false,
    };
    let configs = merossd::gate::tls::server_configs(None, &data, options).unwrap();
    let tls = tokio_rustls::TlsAcceptor::from(configs.rustls);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (tls, seen) = (tls.clone(), counts.clone());
            tokio::spawn(async move {
                let Ok(mut s) = tls.accept(tcp).await else {
                    return;
                };
                let mut buf = BytesMut::new();
                let mut connected = false;
                loop {
                    // The plug's CONNECT is MQTT 3.1, which rumqttc's parser refuses: take
                    // it with the gate's parser, everything after with rumqttc's.
                    if !connected {
                        if let Ok((_, used)) = merossd::mqtt::connect::parse(&buf) {
                            let _ = buf.split_to(used);
                            connected = true;
                            seen.connects.fetch_add(1, Ordering::SeqCst);
                            if s.write_all(&[0x20, 2, 0, 0]).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    } else {
                        match Packet::read(&mut buf, 1 << 20) {
                            Ok(Packet::Publish(p)) => {
                                let Ok(m) = Message::parse(&p.payload) else {
                                    continue;
                                };
                                match m.header.namespace.as_str() {
                                    "Appliance.Control.Bind" => {
                                        seen.binds.fetch_add(1, Ordering::SeqCst);
                                        if ack_binds {
                                            let ack = m.reply(
                                                Method::SetAck,
                                                serde_json::json!({}),
                                                "/cloud/hook/subscribe",
                                                KEY,
                                            );
                                            let mut out = BytesMut::new();
                                            Publish::new(
                                                m.header.from.clone(),
                                                QoS::AtMostOnce,
                                                ack.to_bytes(),
                                            )
                                            .write(&mut out)
                                            .unwrap();
                                            if s.write_all(&out).await.is_err() {
                                                return;
                                            }
                                        }
                                    }
                                    "Appliance.System.Clock" => {
                                        seen.clocks.fetch_add(1, Ordering::SeqCst);
                                    }
                                    _ => {}
                                }
                                continue;
                            }
                            Ok(_) => continue,
                            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                            Err(_) => return,
                        }
                    }
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (port, seen)
}

fn plug(port: u16, prefix: &str) -> SimDevice {
    let mut c = SimConfig::new("127.0.0.1", port, USER_ID, KEY, Profile::metering_plug());
    c.timings = fast();
    c.timings.clock_interval = Duration::from_millis(50);
    merossd::sim::fleet(&c, prefix, 1, 1).remove(0)
}

#[tokio::test]
async fn without_a_setack_the_plug_binds_three_times_then_reconnects() {
    let (port, seen) = bare_server(false).await;
    let p = plug(port, "s1");
    // 3 binds 300 ms apart, give up 300 ms after the third, reconnect after 300 ms.
    eventually("a reconnect", Duration::from_secs(5), || {
        seen.connects.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert!(!p.state().bound);
    let binds = seen.binds.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&binds),
        "binds before the reconnect: {binds}"
    );
}

#[tokio::test]
async fn with_binds_answered_but_clocks_not_the_plug_restarts_after_ten_tries() {
    let (port, seen) = bare_server(true).await;
    let p = plug(port, "s2");
    assert!(p.wait_for(Duration::from_secs(5), |s| s.bound).await);
    eventually("a restart", Duration::from_secs(5), || {
        seen.connects.load(Ordering::SeqCst) >= 2
    })
    .await;
    let clocks = seen.clocks.load(Ordering::SeqCst);
    assert!(
        (10..=11).contains(&clocks),
        "clocks before the restart: {clocks}"
    );
}

/// meross_lan polls inside `Control.Multiple` with bare inner headers (no sign, no from):
/// devices answer those, and so does the simulator.
#[tokio::test]
async fn a_multiple_with_bare_inner_headers_is_answered_request_by_request() {
    let d = daemon().await;
    let plug = &plugs(&d, "mb", 1)[0];
    known(&d, plug).await;
    let body = serde_json::json!({"method": "SET", "namespace": "Appliance.Control.Multiple", "payload": {"multiple": [
        {"header": {"messageId": "a1", "method": "GET", "namespace": "Appliance.System.Runtime"}, "payload": {"runtime": {}}},
        {"header": {"messageId": "a2", "method": "GET", "namespace": "Appliance.Control.ToggleX"}, "payload": {"togglex": []}}
    ]}});
    let path = format!("/api/v1/devices/{}/request", plug.uuid);
    let (status, reply) = api(&d, "POST", &path, Some(&body.to_string()), None).await;
    assert_eq!(status, 200, "{reply}");
    let inner = reply["payload"]["multiple"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let methods: Vec<&str> = inner
        .iter()
        .filter_map(|m| m["header"]["method"].as_str())
        .collect();
    assert_eq!(methods, ["GETACK", "GETACK"], "{reply}");
    assert_eq!(inner[0]["payload"]["runtime"]["signal"], 80, "{reply}");
    d.stop().await;
}
