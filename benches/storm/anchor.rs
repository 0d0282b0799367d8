//! The anchor: what a Meross local broker is made of without merossd. mosquitto 2 with
//! TLS and anonymous logins, and a minimal responder (here, in this process) that answers
//! each plug's Bind with a SETACK and its Clock with the time, over a plain listener.
//! Measured the way `main.rs` measures merossd, with the same plugs.

use super::{free_port, storm, Figures, Server};
use merossd::protocol::{now_secs, Message, Method};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const KEY: &str = "stormkey";

pub fn find_mosquitto() -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join("mosquitto"))
        .find(|p| p.exists())
}

/// mosquitto with TLS on one port and plain MQTT for the responder on another.
fn broker(binary: &Path, dir: &Path) -> (Server, u16) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    merossd::gate::tls::generate(&cert, &key).expect("certificate");
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let plain = free_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous true\nlog_type error\n\
             # Run as root, it would switch to a user that cannot read the 0600 key.\nuser root\n\
             listener {} 127.0.0.1\ncertfile {}\nkeyfile {}\nlistener {plain} 127.0.0.1\n",
            tls.port(),
            cert.display(),
            key.display(),
        ),
    )
    .expect("mosquitto.conf");
    let command = [binary.as_os_str(), "-c".as_ref(), conf.as_os_str()];
    (Server::new(&command, tls), plain)
}

/// Bind -> SETACK, Clock -> the time; everything else unanswered. Reconnects (and
/// subscribes again) whenever the broker comes back.
fn responder(port: u16) -> [JoinHandle<()>; 2] {
    let mut options = MqttOptions::new("responder", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(options, 10_000);
    let (tx, mut rx) = mpsc::unbounded_channel::<rumqttc::Publish>();
    let subscriber = client.clone();
    // The event loop only reads, so that answering never waits on itself.
    let reader = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = subscriber.try_subscribe("/appliance/+/publish", QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    let answerer = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let Ok(m) = Message::parse(&p.payload) else {
                continue;
            };
            let answer = match (m.header.method, m.header.namespace.as_str()) {
                (Method::Set, "Appliance.Control.Bind") => {
                    m.reply(Method::SetAck, json!({}), "/cloud/hook/subscribe", KEY)
                }
                (Method::Push, "Appliance.System.Clock") => m.reply(
                    Method::Push,
                    json!({"clock": {"timestamp": now_secs()}}),
                    "/cloud/hook/subscribe",
                    KEY,
                ),
                _ => continue,
            };
            let to = p.topic.replace("/publish", "/subscribe");
            let _ = client
                .publish(to, QoS::AtLeastOnce, false, answer.to_bytes())
                .await;
        }
    });
    [reader, answerer]
}

/// The storm against mosquitto + responder with `n` plugs.
pub async fn run(binary: &Path, n: u32) -> Option<Figures> {
    let dir = std::env::temp_dir().join(format!("merossd-anchor-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (mut broker, plain) = broker(binary, &dir);
    let cold = broker.start();
    let tasks = responder(plain);
    let figures = storm(&mut broker, n, cold).await.map(|(f, _)| f);
    tasks.iter().for_each(JoinHandle::abort);
    broker.kill();
    let _ = std::fs::remove_dir_all(&dir);
    figures
}
