//! Every plug gets through the TLS handshake: one simulated plug per offer completes a
//! whole session, what no stack can serve is refused and named, records stay within a
//! plug's 4 KiB buffer, and the simulated plug is a faithful client of a real mosquitto.

use crate::common::*;
use crate::process::{free_port, spawn_daemon};
use merossd::protocol::{Message, Method};
use merossd::sim::tls::{TlsOffer, PLUG_RECORD_BYTES};
use merossd::sim::{self, Profile, SimDevice};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn plug_offering(d: &merossd::daemon::Daemon, prefix: &str, offer: TlsOffer) -> SimDevice {
    let mut config = sim_config(d, Profile::metering_plug());
    config.tls = offer;
    sim::fleet(&config, prefix, 1, 1).remove(0)
}

#[tokio::test]
async fn a_plug_restricted_to_each_offer_completes_a_session() {
    let d = daemon().await;
    // (offer, the stack that must serve it)
    let offers = [
        ("AES128-SHA", "openssl"),
        ("AES256-SHA", "openssl"),
        ("AES128-SHA256", "openssl"),
        ("AES128-GCM-SHA256", "openssl"),
        ("ECDHE-RSA-AES128-SHA", "openssl"),
        ("ECDHE-RSA-AES128-GCM-SHA256", "rustls"),
        ("TLSv1.3", "rustls"),
    ];
    let plugs: Vec<(&str, &str, SimDevice)> = offers
        .iter()
        .enumerate()
        .map(|(i, (offer, stack))| {
            let prefix = format!("a{i}");
            (
                *offer,
                *stack,
                plug_offering(&d, &prefix, TlsOffer::Only(offer.to_string())),
            )
        })
        .collect();
    for (offer, stack, plug) in &plugs {
        assert!(
            plug.wait_for(Duration::from_secs(10), |s| s.bound && s.clock_answered)
                .await,
            "{offer}: no whole session: {:?}",
            plug.state()
        );
        let tls = d.engine.device(&plug.uuid).unwrap().tls.unwrap_or_default();
        assert!(
            tls.ends_with(&format!("({stack})")),
            "{offer} served as {tls}"
        );
        let (_, body) = api(
            &d,
            "GET",
            &format!("/api/v1/devices/{}", plug.uuid),
            None,
            None,
        )
        .await;
        assert_eq!(body["tls"], json!(tls), "the API names the TLS of {offer}");
    }
    let s = d.counters.snapshot();
    assert!(
        s.tls_openssl_12 >= 5 && s.tls_rustls_12 >= 1 && s.tls_rustls_13 >= 1,
        "{s:?}"
    );
    d.stop().await;
}

/// A plug offering only TLS 1.0 with AES128-SHA, against a daemon in its own process.
fn tls10_plug(daemon: &crate::process::Process, prefix: &str) -> SimDevice {
    let mut config = merossd::sim::SimConfig::new(
        "127.0.0.1",
        daemon.tls.port(),
        USER_ID,
        KEY,
        Profile::metering_plug(),
    );
    config.timings = fast();
    config.tls = TlsOffer::Only("TLSv1.0:AES128-SHA".into());
    sim::fleet(&config, prefix, 1, 1).remove(0)
}

#[tokio::test]
async fn an_offer_nothing_can_serve_is_refused_and_named_in_the_log() {
    let daemon = spawn_daemon("");
    let plug = tls10_plug(&daemon, "b1");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        plug.state().connects,
        0,
        "a TLS 1.0 plug got in with legacy_tls off"
    );
    drop(plug);
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("TLS handshake failed"))
        .unwrap_or_else(|| panic!("no warn line:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("TLSv1.0"), "{line}");
    assert!(line.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a log file: {line}"
    );
}

#[tokio::test]
async fn legacy_tls_lets_a_tls_1_0_plug_in_when_switched_on() {
    let daemon = spawn_daemon("legacy_tls = true");
    let plug = tls10_plug(&daemon, "b2");
    bound(&plug).await;
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(log.contains("TLS older than 1.2"), "{log}");
}

/// A request of over 8 KB reaches the plug in records a 4 KiB buffer takes, on both stacks.
#[tokio::test]
async fn no_record_to_a_plug_is_over_4_kib() {
    let d = daemon().await;
    let legacy = plug_offering(&d, "c1", TlsOffer::Legacy);
    let modern = plug_offering(
        &d,
        "c2",
        TlsOffer::Only("ECDHE-RSA-AES128-GCM-SHA256".into()),
    );
    for plug in [&legacy, &modern] {
        known(&d, plug).await;
        let big = json!({
            "method": "SET",
            "namespace": "Appliance.System.DNDMode",
            "payload": {"DNDMode": {"mode": 0}, "pad": "x".repeat(9000)},
        })
        .to_string();
        let path = format!("/api/v1/devices/{}/request", plug.uuid);
        let (status, body) = api(&d, "POST", &path, Some(&big), None).await;
        assert_eq!(status, 200, "{body}");
        let largest = plug.state().largest_record.load(Ordering::Relaxed);
        assert!(
            largest > 1000,
            "the request did not come through TLS records: {largest}"
        );
        assert!(
            largest <= PLUG_RECORD_BYTES + 256,
            "a record of {largest} bytes"
        );
        assert_eq!(plug.state().connects, 1, "the plug had to reconnect");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_configured_ec_key_is_refused_at_start_with_the_reason() {
    let dir = temp_dir("eckey");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let mut config = config(dir.join("data"));
    config.tls = Some(merossd::config::TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    });
    let error = merossd::daemon::Daemon::start(config).await.err().unwrap();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("not RSA"), "{error}");
}

/// The simulated plug binds against a real mosquitto 2 over TLS, with a minimal responder
/// answering Bind and Clock: what it does is what a broker none of us wrote accepts.
#[tokio::test]
async fn the_simulated_plug_binds_against_a_real_mosquitto() {
    let dir = temp_dir("mosquitto");
    merossd::gate::tls::generate(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    let (tls_port, plain_port) = (free_port(), free_port());
    let conf = format!(
        "per_listener_settings false\nallow_anonymous true\n# Run as root (CI), it would switch to a user that cannot read the 0600 key.\nuser root\nlistener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\nlistener {plain_port} 127.0.0.1\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display(),
    );
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    let mosquitto = which("mosquitto")
        .expect("mosquitto is needed (Debian package mosquitto; .ci/run installs it)");
    let mut broker = std::process::Command::new(mosquitto)
        .arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("mosquitto.log")).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", plain_port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "mosquitto did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The minimal responder: Bind -> SETACK, Clock -> the time.
    let mut options = rumqttc::MqttOptions::new("responder", "127.0.0.1", plain_port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 100);
    client
        .subscribe("/appliance/+/publish", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let responder = tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event else {
                continue;
            };
            let Ok(m) = Message::parse(&p.payload) else {
                continue;
            };
            let uuid = p
                .topic
                .trim_start_matches("/appliance/")
                .trim_end_matches("/publish");
            let to = format!("/appliance/{uuid}/subscribe");
            let answer = match (m.header.method, m.header.namespace.as_str()) {
                (Method::Set, "Appliance.Control.Bind") => {
                    m.reply(Method::SetAck, json!({}), "/cloud/hook/subscribe", KEY)
                }
                (Method::Push, "Appliance.System.Clock") => {
                    let now = merossd::protocol::now_secs();
                    m.reply(
                        Method::Push,
                        json!({"clock": {"timestamp": now}}),
                        "/cloud/hook/subscribe",
                        KEY,
                    )
                }
                _ => continue,
            };
            let _ = client
                .publish(to, rumqttc::QoS::AtLeastOnce, false, answer.to_bytes())
                .await;
        }
    });

    for (i, offer) in [TlsOffer::Modern, TlsOffer::Legacy].into_iter().enumerate() {
        let mut config = merossd::sim::SimConfig::new(
            "127.0.0.1",
            tls_port,
            USER_ID,
            KEY,
            Profile::metering_plug(),
        );
        config.timings = fast();
        config.tls = offer.clone();
        let plug = sim::fleet(&config, &format!("d{i}"), 1, 1).remove(0);
        let ok = plug
            .wait_for(Duration::from_secs(10), |s| s.bound && s.clock_answered)
            .await;
        let log = std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default();
        assert!(
            ok,
            "{offer:?}: not bound by mosquitto: {:?}\n{log}",
            plug.state()
        );
    }
    responder.abort();
    let _ = broker.kill();
    let _ = broker.wait();
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.exists())
}
