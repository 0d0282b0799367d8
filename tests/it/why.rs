//! Why a device is offline, as a person asks it of `merossd device` and the API: each way a
//! plug fails to get in reproduced (its key changed, a TLS offer nothing serves, a socket
//! that says nothing, a login that never binds), and a plug merossd has never seen whose
//! key does not match listed by `merossd devices --unknown`.

use crate::common::*;
use crate::process::strings;
use merossd::daemon::Daemon;
use merossd::sim::tls::TlsOffer;
use merossd::sim::{self, Profile, SimDevice};
use serde_json::Value;
use std::time::Duration;

/// The same plug as `sim::fleet(.., prefix, 1, 1)`, with `change` applied to its config.
fn plug(d: &Daemon, prefix: &str, change: impl FnOnce(&mut sim::SimConfig)) -> SimDevice {
    let mut config = sim_config(d, Profile::metering_plug());
    change(&mut config);
    sim::fleet(&config, prefix, 1, 1).remove(0)
}

async fn detail(d: &Daemon, uuid: &str) -> Value {
    api(d, "GET", &format!("/api/v1/devices/{uuid}"), None, None)
        .await
        .1
}

/// Waits until the device view's `why_offline` holds `part`; returns the view.
async fn why_says(d: &Daemon, uuid: &str, part: &str) -> Value {
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = detail(d, uuid).await;
        if seen["why_offline"]
            .as_str()
            .is_some_and(|w| w.contains(part))
        {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("why_offline never said {part:?}: {seen}");
}

/// `merossd` with `args` against `d`: its exit code and output.
async fn cli(d: &Daemon, args: &[&str]) -> (i32, String) {
    let mut all = strings(&[
        "--url",
        &format!("http://{}", d.api_addr),
        "--token",
        &d.api_token,
    ]);
    all.extend(strings(args));
    let (code, out, err) = crate::process::merossd(all).await;
    (code, format!("{out}{err}"))
}

/// A plug that bound once, then went away: known, offline, its address known.
async fn gone(d: &Daemon, prefix: &str) -> String {
    let first = plug(d, prefix, |_| {});
    known(d, &first).await;
    let uuid = first.uuid.clone();
    first.stop();
    drop(first);
    why_says(d, &uuid, "has closed since").await;
    uuid
}

#[tokio::test]
async fn a_changed_key_a_refused_tls_offer_and_a_silent_socket_are_each_named() {
    let d = daemon().await;
    let uuid = gone(&d, "why1").await;

    // Its key changed (paired elsewhere): the login is refused, and said so.
    // Stopped at once: its retries would soon be held off by the login guard, and so
    // would the plug's own login when it comes back.
    let wrong = plug(&d, "why1", |c| c.key = "another-key".into());
    let seen = why_says(&d, &uuid, "was refused").await;
    wrong.stop();
    assert_eq!(seen["connection"]["last_login"]["outcome"], "refused");
    assert!(
        seen["why_offline"]
            .as_str()
            .unwrap()
            .contains("credentials (CONNACK 4)"),
        "{seen}"
    );
    let (code, shown) = cli(&d, &["device", &uuid]).await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("why       its last login"), "{shown}");
    assert!(shown.contains("last try"), "{shown}");

    // A TLS offer nothing serves (TLS 1.0 with legacy_tls off): named with what it offered.
    let old = plug(&d, "why1", |c| {
        c.tls = TlsOffer::Only("TLSv1.0:AES128-SHA".into())
    });
    let seen = why_says(&d, &uuid, "failed in TLS").await;
    let why = seen["why_offline"].as_str().unwrap();
    assert!(why.contains("TLSv1.0"), "{why}");
    old.stop();

    // A socket that sends nothing: said once the handshake deadline passed.
    let silent = tokio::net::TcpStream::connect(d.tls_addrs[0])
        .await
        .unwrap();
    let seen = why_says(&d, &uuid, "sent nothing in time").await;
    assert_eq!(
        seen["connection"]["failed_before_login"]["outcome"],
        "silent"
    );
    drop(silent);

    // It comes back with its key: it is online and bound, and nothing is said.
    let back = plug(&d, "why1", |_| {});
    known(&d, &back).await;
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = detail(&d, &uuid).await;
        if seen["why_offline"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen["why_offline"].is_null(), "{seen}");
    assert!(seen["connection"]["reconnects_24h"].as_u64().unwrap() >= 1);
    d.stop().await;
}

#[tokio::test]
async fn a_login_that_never_binds_says_what_it_sent_instead() {
    let d = daemon().await;
    let (uuid, client) = plug_that_never_binds(&d, "why2");
    let seen = why_says(&d, &uuid, "it has sent nothing since").await;
    assert_eq!(seen["online"], true, "{seen}");

    let clock = merossd::protocol::Message::new(
        merossd::protocol::Method::Push,
        "Appliance.System.Clock",
        serde_json::json!({"clock": {"timestamp": 0}}),
        &merossd::protocol::device_publish_topic(&uuid),
        KEY,
    );
    client
        .publish(
            merossd::protocol::device_publish_topic(&uuid),
            rumqttc::QoS::AtMostOnce,
            false,
            clock.to_bytes(),
        )
        .await
        .unwrap();
    let seen = why_says(&d, &uuid, "Appliance.System.Clock").await;
    assert_eq!(
        seen["connection"]["said_before_bind"],
        serde_json::json!(["Appliance.System.Clock"])
    );
    d.stop().await;
}

#[tokio::test]
async fn a_plug_never_seen_with_a_key_that_does_not_match_is_listed_as_unknown() {
    let d = daemon().await;
    let stranger = plug(&d, "why3", |c| c.key = "its-old-key".into());
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = api(&d, "GET", "/api/v1/logins/unknown", None, None).await.1;
        if listed["logins"][0]["uuid"] == stranger.uuid.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = &listed["logins"][0];
    assert_eq!(login["uuid"], stranger.uuid.as_str(), "{listed}");
    assert_eq!(login["user"], stranger.mac.as_str());
    assert_eq!(login["outcome"], "refused");
    let (status, _) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}", stranger.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "an unknown plug does not become a device");
    let (code, shown) = cli(&d, &["devices", "--unknown"]).await;
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("does not match") && shown.contains(&stranger.uuid),
        "{shown}"
    );
    d.stop().await;
}
