//! Time zones, electricity polling and history, and `/metrics`.

use crate::common::*;
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile};
use serde_json::Value;
use std::time::Duration;

async fn metering_daemon(tag: &str) -> Daemon {
    let mut c = config(temp_dir(tag));
    c.time.timezone = "Europe/London".into();
    c.energy.poll_interval_s = 1;
    Daemon::start(c).await.unwrap()
}

async fn metrics_text(d: &Daemon, token: Option<&str>) -> (u16, String) {
    let (status, body) = api(d, "GET", "/metrics", None, token).await;
    (status, body.as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_plug_gets_the_configured_zone_and_rules_after_bind_and_its_own_on_request() {
    let d = metering_daemon("tz").await;
    let plug = &plugs(&d, "g1", 1)[0];
    known(&d, plug).await;
    assert!(
        plug.wait_for(Duration::from_secs(5), |s| s.timezone == "Europe/London")
            .await,
        "{:?}",
        plug.state().timezone
    );
    let rules = plug.state().time_rules;
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), merossd::timezone::RULES);
    // The first rule is the one in effect now: GMT or BST.
    let now = merossd::protocol::now_secs() as i64;
    assert!(rules[0][0].as_i64().unwrap() <= now && now < rules[1][0].as_i64().unwrap());
    assert!(rules
        .iter()
        .all(|r| [0, 3600].contains(&r[1].as_i64().unwrap())));

    let (status, body) = api(
        &d,
        "PATCH",
        &format!("/api/v1/devices/{}", plug.uuid),
        Some(r#"{"timezone":"Asia/Kolkata"}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["timezone"], "Asia/Kolkata");
    assert!(
        plug.wait_for(Duration::from_secs(5), |s| s.timezone == "Asia/Kolkata")
            .await
    );
    let rules = plug.state().time_rules;
    assert_eq!(
        rules.as_array().unwrap().len(),
        1,
        "no DST, one rule: {rules}"
    );
    assert_eq!(rules[0][1], 19800);

    let (status, body) = api(
        &d,
        "PATCH",
        &format!("/api/v1/devices/{}", plug.uuid),
        Some(r#"{"timezone":"Mars/Olympus"}"#),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    d.stop().await;
}

#[tokio::test]
async fn metering_readings_reach_the_list_history_and_metrics_in_si_units() {
    let d = metering_daemon("si").await;
    let plug = &plugs(&d, "g2", 1)[0];
    known(&d, plug).await;
    let (s, _) = api(
        &d,
        "POST",
        &format!("/api/v1/devices/{}/toggle", plug.uuid),
        Some(r#"{"on":true}"#),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // Once the plug has its zone and the relay is on, it reads 67379 mW, 2387 dV, 418 mA.
    let power = |d: &Daemon| {
        d.engine
            .device(&plug.uuid)
            .and_then(|x| x.electricity.get(&0).map(|r| r.power_w))
    };
    eventually("a non-zero reading", Duration::from_secs(10), || {
        power(&d) == Some(67.379)
    })
    .await;

    let (_, list) = api(&d, "GET", "/api/v1/devices", None, None).await;
    let entry = &list["devices"][0];
    assert_eq!(entry["channels"][0]["power_w"], 67.379);

    let (s, live) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}/electricity", plug.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{live}");
    assert_eq!(live["channels"][0]["power_w"], 67.379);
    assert_eq!(live["channels"][0]["voltage_v"], 238.7);
    assert_eq!(live["channels"][0]["current_a"], 0.418);

    let has_point = |h: &Value| {
        h["points"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["power_w"] == 67.379))
    };
    let mut history = Value::Null;
    for _ in 0..50 {
        history = api(
            &d,
            "GET",
            &format!("/api/v1/devices/{}/history?step=raw", plug.uuid),
            None,
            None,
        )
        .await
        .1;
        if has_point(&history) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has_point(&history), "{history}");
    assert_eq!(history["step"], "raw");
    let (s, hourly) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}/history?step=hour&from=0", plug.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        hourly["points"][0]["max_w"].as_f64().unwrap() >= 67.379,
        "{hourly}"
    );

    let (s, days) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}/consumption?days=7", plug.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(days["days"].as_array().unwrap().len(), 7, "{days}");
    assert!(days["total_wh"].as_f64().unwrap() > 0.0);

    let (s, text) = metrics_text(&d, None).await;
    assert_eq!(s, 200);
    let label = format!("uuid=\"{}\"", plug.uuid);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&label))
            .map(str::to_owned)
    };
    assert!(
        line("merossd_power_watts").unwrap().ends_with(" 67.379"),
        "{text}"
    );
    assert!(line("merossd_voltage_volts").unwrap().ends_with(" 238.7"));
    assert!(line("merossd_current_amperes").unwrap().ends_with(" 0.418"));
    assert!(line("merossd_device_online").unwrap().ends_with(" 1"));
    assert!(line("merossd_energy_wh_total").is_some());
    assert!(text.contains("merossd_binds_total"));
    assert!(text.contains("merossd_store_queue_depth"));
    d.stop().await;
}

#[tokio::test]
async fn a_plug_that_stops_answering_does_not_stall_polling_of_the_others() {
    let d = metering_daemon("stall").await;
    let fleet = plugs(&d, "g3", 3);
    for p in &fleet {
        known(&d, p).await;
    }
    let read_at = |uuid: &str| {
        d.engine
            .device(uuid)
            .and_then(|x| x.electricity.get(&0).map(|r| r.at))
    };
    fleet[0].mute(true);
    let start: Vec<Option<u64>> = fleet.iter().map(|p| read_at(&p.uuid)).collect();
    let before = d.counters.snapshot().request_timeouts;
    // With a 1 s interval, the answering plugs get newer readings every second or so.
    eventually(
        "every answering plug polled again",
        Duration::from_secs(10),
        || {
            fleet
                .iter()
                .enumerate()
                .skip(1)
                .all(|(i, p)| read_at(&p.uuid).is_some_and(|now| Some(now) > start[i]))
        },
    )
    .await;
    eventually(
        "the muted plug's polls time out",
        Duration::from_secs(15),
        || d.counters.snapshot().request_timeouts > before,
    )
    .await;
    let (s, v) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}/electricity", fleet[0].uuid),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (504, Some("device_timeout"))
    );
    d.stop().await;
}

#[tokio::test]
async fn metrics_need_the_token_unless_public_and_non_metering_plugs_have_no_history() {
    let d = metering_daemon("auth").await;
    let (s, _) = metrics_text(&d, Some("wrong")).await;
    assert_eq!(s, 401);
    let trace = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/device-traces/U01234567890123456789012345678920-Kpippo-mss100.json.txt",
    );
    let plain = sim::fleet(
        &sim_config(&d, Profile::from_trace(&trace).unwrap()),
        "g4",
        1,
        1,
    )
    .remove(0);
    known(&d, &plain).await;
    let (s, v) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{}/history", plain.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("not_metering"))
    );
    // A name with a quote, a backslash and a newline must not break the exposition.
    let uri = format!("/api/v1/devices/{}", plain.uuid);
    let (s, _) = api(
        &d,
        "PATCH",
        &uri,
        Some(r#"{"name":"TV 65\" \\ x\ny"}"#),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, text) = metrics_text(&d, None).await;
    let line = text
        .lines()
        .find(|l| l.starts_with("merossd_device_online") && l.contains(&plain.uuid))
        .unwrap();
    assert!(line.contains(r#"name="TV 65\" \\ x\ny""#), "{line}");
    d.stop().await;

    let mut c = config(temp_dir("pub"));
    c.api.metrics_public = true;
    let open = Daemon::start(c).await.unwrap();
    let (s, text) = metrics_text(&open, Some("wrong")).await;
    assert_eq!(s, 200, "{text}");
    let (s, _) = api(&open, "GET", "/api/v1/devices", None, Some("wrong")).await;
    assert_eq!(s, 401, "only /metrics is public");
    open.stop().await;
}
