//! Home Assistant MQTT discovery, states, availability and commands, seen by MQTT clients
//! on the local listener: rumqttc, and mosquitto_sub (a client none of us wrote).

use crate::common::*;
use merossd::daemon::Daemon;
use serde_json::Value;
use std::time::Duration;

async fn ha_daemon(tag: &str) -> Daemon {
    let mut c = config(temp_dir(tag));
    c.time.timezone = "Europe/London".into();
    c.energy.poll_interval_s = 1;
    Daemon::start(c).await.unwrap()
}

fn json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap_or(Value::Null)
}

/// Home Assistant's rule for node and object ids (and we hold unique ids to it too).
fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The retained discovery configs of one device, by topic.
async fn configs(d: &Daemon, uuid: &str, want: usize) -> Vec<(String, Value)> {
    let (_client, mut rx) = listen(
        d,
        &format!("ha-{}", rand::random::<u32>()),
        "homeassistant/#",
    )
    .await;
    let mut found = Vec::new();
    while found.len() < want {
        let Some((topic, payload, retained)) =
            receive_until(&mut rx, Duration::from_secs(5), |t, _| t.contains(uuid)).await
        else {
            break;
        };
        assert!(retained, "{topic} should be retained");
        found.push((topic, json(&payload)));
    }
    found
}

#[tokio::test]
async fn a_metering_plug_appears_with_a_switch_and_energy_dashboard_sensors() {
    let d = ha_daemon("ha1").await;
    let plug = &plugs(&d, "h1", 1)[0];
    known(&d, plug).await;
    first_reading(&d, plug).await;
    // A switch, four energy sensors, a do-not-disturb switch, the signal and the
    // auto-off minutes (its Ability lists TriggerX).
    let found = configs(&d, &plug.uuid, 8).await;
    assert_eq!(found.len(), 8, "{found:?}");

    for (topic, p) in &found {
        let parts: Vec<&str> = topic.split('/').collect();
        assert_eq!(parts.len(), 5, "{topic}");
        assert_eq!((parts[0], parts[4]), ("homeassistant", "config"));
        assert!(
            ["switch", "sensor", "number"].contains(&parts[1]),
            "{topic}"
        );
        assert!(valid_id(parts[2]) && valid_id(parts[3]), "{topic}");
        assert!(valid_id(p["unique_id"].as_str().unwrap()), "{p}");
        assert_eq!(p["state_topic"], format!("merossd/{}", plug.uuid));
        assert_eq!(
            p["availability"][0]["topic"],
            format!("merossd/{}/availability", plug.uuid)
        );
        assert_eq!(p["origin"]["name"], "merossd");
        let dev = &p["device"];
        assert_eq!(dev["identifiers"][0], format!("merossd_{}", plug.uuid));
        assert_eq!(dev["manufacturer"], "Meross");
        assert_eq!(dev["model"], "mss310");
        assert_eq!(dev["sw_version"], "2.1.17");
        assert_eq!(dev["hw_version"], "2.0.0");
        assert!(
            dev.get("configuration_url").is_none(),
            "no link unless configured"
        );
        if parts[3] == "switch_0" {
            assert_eq!(p["device_class"], "outlet");
        }
        assert!(p.get("object_id").is_none());
    }
    let by = |kind: &str| {
        found
            .iter()
            .find(|(t, _)| t.ends_with(&format!("/{kind}/config")))
            .unwrap()
            .1
            .clone()
    };
    let dnd = by("dnd");
    assert_eq!(dnd["entity_category"], "config", "{dnd}");
    let signal = by("signal");
    assert_eq!(
        (
            signal["entity_category"].as_str(),
            signal["unit_of_measurement"].as_str()
        ),
        (Some("diagnostic"), Some("%")),
        "{signal}"
    );
    let switch = by("switch_0");
    assert_eq!(
        switch["command_topic"],
        format!("merossd/{}/0/set", plug.uuid)
    );
    assert_eq!(
        (
            switch["payload_on"].as_str(),
            switch["payload_off"].as_str()
        ),
        (Some("ON"), Some("OFF"))
    );
    let power = by("power");
    assert_eq!(
        (
            power["device_class"].as_str(),
            power["state_class"].as_str()
        ),
        (Some("power"), Some("measurement"))
    );
    assert_eq!(power["unit_of_measurement"], "W");
    // What the Energy dashboard requires of an energy sensor.
    let energy = by("energy");
    assert_eq!(energy["device_class"], "energy");
    assert_eq!(energy["state_class"], "total_increasing");
    assert!(["Wh", "kWh", "MWh"].contains(&energy["unit_of_measurement"].as_str().unwrap()));
    assert_eq!(by("voltage")["unit_of_measurement"], "V");
    assert_eq!(by("current")["unit_of_measurement"], "A");

    // The retained state carries what the templates read, in SI units.
    let (_c, mut rx) = listen(&d, "ha-state", &format!("merossd/{}", plug.uuid)).await;
    let (_, state, _) = receive_until(&mut rx, Duration::from_secs(5), |_, _| true)
        .await
        .unwrap();
    let state = json(&state);
    assert_eq!(state["switch_0"], "OFF");
    assert!(
        state["voltage"].is_number() && state["power"].is_number(),
        "{state}"
    );
    d.stop().await;
}

#[tokio::test]
async fn on_off_and_toggle_commands_switch_the_relay_and_the_state_follows() {
    let d = ha_daemon("ha2").await;
    let plug = &plugs(&d, "h2", 1)[0];
    known(&d, plug).await;
    let (client, mut rx) = listen(&d, "ha-cmd", &format!("merossd/{}", plug.uuid)).await;
    let set = format!("merossd/{}/0/set", plug.uuid);
    for (command, expect) in [("ON", true), ("OFF", false), ("TOGGLE", true)] {
        client
            .publish(&set, rumqttc::QoS::AtLeastOnce, false, command)
            .await
            .unwrap();
        let want = if expect { "ON" } else { "OFF" };
        let got = receive_until(&mut rx, Duration::from_secs(5), |_, p| {
            json(p)["switch_0"] == want
        })
        .await;
        assert!(got.is_some(), "{command}: no state {want}");
        assert_eq!(plug.state().relays[&0], expect, "{command}");
    }
    d.stop().await;
}

#[tokio::test]
async fn availability_flips_when_a_plug_goes_offline() {
    let d = ha_daemon("ha3").await;
    let plug = &plugs(&d, "h3", 1)[0];
    known(&d, plug).await;
    let (_c, mut rx) = listen(
        &d,
        "ha-avail",
        &format!("merossd/{}/availability", plug.uuid),
    )
    .await;
    assert!(
        receive_until(&mut rx, Duration::from_secs(5), |_, p| p == b"online")
            .await
            .is_some()
    );
    plug.stop();
    assert!(
        receive_until(&mut rx, Duration::from_secs(5), |_, p| p == b"offline")
            .await
            .is_some()
    );
    d.stop().await;
}

#[tokio::test]
async fn home_assistant_birth_republishes_and_forgetting_clears_the_config() {
    let d = ha_daemon("ha4").await;
    let plug = &plugs(&d, "h4", 1)[0];
    known(&d, plug).await;
    let (client, mut rx) = listen(&d, "ha-birth", "homeassistant/+/+/+/config").await;
    assert!(receive_until(&mut rx, Duration::from_secs(5), |t, _| t
        .contains(&plug.uuid))
    .await
    .is_some());
    while rx.try_recv().is_ok() {}
    client
        .publish(
            "homeassistant/status",
            rumqttc::QoS::AtLeastOnce,
            false,
            "online",
        )
        .await
        .unwrap();
    let again = receive_until(&mut rx, Duration::from_secs(5), |t, _| {
        t.contains(&plug.uuid)
    })
    .await;
    assert!(again.is_some(), "no republish after the birth message");

    plug.stop();
    let (s, _) = api(
        &d,
        "DELETE",
        &format!("/api/v1/devices/{}", plug.uuid),
        None,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let cleared = receive_until(&mut rx, Duration::from_secs(5), |t, p| {
        t.contains(&plug.uuid) && p.is_empty()
    })
    .await;
    assert!(cleared.is_some(), "no empty config after forgetting");
    // A newcomer sees no retained config for it.
    assert!(configs(&d, &plug.uuid, 1).await.is_empty());
    d.stop().await;
}

#[tokio::test]
async fn the_bridge_state_is_online_and_goes_offline_on_shutdown() {
    let d = ha_daemon("ha5").await;
    let (_c, mut rx) = listen(&d, "ha-bridge", "merossd/bridge/state").await;
    assert!(
        receive_until(&mut rx, Duration::from_secs(5), |_, p| p == b"online")
            .await
            .is_some()
    );
    let stopping = tokio::spawn(d.stop());
    assert!(
        receive_until(&mut rx, Duration::from_secs(5), |_, p| p == b"offline")
            .await
            .is_some()
    );
    stopping.await.unwrap();
}

#[tokio::test]
async fn mosquitto_sub_sees_the_retained_discovery_topics() {
    let d = ha_daemon("ha6").await;
    let plug = &plugs(&d, "h6", 1)[0];
    known(&d, plug).await;
    let port = d.local_addr.unwrap().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "homeassistant/#",
                "-v",
                "-W",
                "3",
                "-C",
                "8",
                "-i",
                "mosquitto-sub-test",
            ])
            .output()
            .expect(
                "mosquitto_sub is needed (Debian package mosquitto-clients; .ci/run installs it)",
            )
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for object in [
        "switch_0",
        "power",
        "voltage",
        "current",
        "energy",
        "dnd",
        "signal",
        "autooff_0",
    ] {
        assert!(
            text.contains(&format!("/{}/{object}/config {{", plug.uuid)),
            "{object} missing in:\n{text}"
        );
    }
    d.stop().await;
}
