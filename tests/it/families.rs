//! Every device family beyond plugs, from its recorded trace (or the built-in hub): the
//! engine reads the recorded state, an API command reaches the simulated device as
//! exactly the SET its firmware takes, and the device's PUSH moves the state the API
//! shows. Bad values and bad payloads are refused without losing the state.

use crate::common::*;
use merossd::protocol::Method;
use merossd::sim::{self, Profile, SimDevice};
use serde_json::{json, Value};
use std::time::Duration;

/// A simulated device of `profile`, bound and with its families read.
async fn device(d: &merossd::daemon::Daemon, profile: Profile, prefix: &str) -> SimDevice {
    let dev = sim::fleet(&sim_config(d, profile), prefix, 1, 1).remove(0);
    bound(&dev).await;
    dev
}

async fn families(d: &merossd::daemon::Daemon, uuid: &str) -> Value {
    let (status, body) = api(d, "GET", &format!("/api/v1/devices/{uuid}"), None, None).await;
    assert_eq!(status, 200, "{body}");
    body["families"].clone()
}

/// Waits until the device's families, as the API shows them, pass `check`.
async fn shows(
    d: &merossd::daemon::Daemon,
    uuid: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) {
    for _ in 0..100 {
        if check(&families(d, uuid).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: families are {}", families(d, uuid).await);
}

#[tokio::test]
async fn a_light_reads_its_colour_and_takes_brightness_and_colour_as_its_firmware_does() {
    let d = daemon().await;
    let light = device(&d, trace("msl450"), "fl").await;
    let uuid = light.uuid.clone();
    shows(&d, &uuid, "the recorded light", |f| {
        f["lights"][0]["rgb"] == "00f4ff"
            && f["lights"][0]["brightness"] == 1
            && f["lights"][0]["supports"] == 7
    })
    .await;
    let (status, body) = post_device(
        &d,
        &format!("{uuid}/light"),
        json!({"brightness": 40, "rgb": "#ff8800"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&light, "Appliance.Control.Light"),
        [json!({"light": {"channel": 0, "capacity": 5, "rgb": 0xff8800, "luminance": 40}})]
    );
    shows(&d, &uuid, "the light's new state", |f| {
        f["lights"][0]["rgb"] == "ff8800" && f["lights"][0]["brightness"] == 40
    })
    .await;
    // Off and on go through ToggleX on this light, which has it.
    let (status, _) = post_device(&d, &format!("{uuid}/light"), json!({"on": false})).await;
    assert_eq!(status, 200);
    assert_eq!(
        sets(&light, "Appliance.Control.ToggleX").last(),
        Some(&json!({"togglex": {"channel": 0, "onoff": 0}}))
    );
    shows(&d, &uuid, "the light off", |f| {
        f["lights"][0]["on"] == false
    })
    .await;
    // Out of range: 400 naming the field; a channel it never reported: 422.
    let (status, body) =
        post_device(&d, &format!("{uuid}/light"), json!({"brightness": 300})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("brightness")),
        "{body}"
    );
    let (status, body) = post_device(
        &d,
        &format!("{uuid}/light"),
        json!({"channel": 3, "on": true}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post_device(&d, &format!("{uuid}/light"), json!({"rgb": "orange"})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("rgb")),
        "{body}"
    );
    assert_eq!(
        sets(&light, "Appliance.Control.Light").len(),
        1,
        "a refused command reached the light"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_thermostat_reads_in_degrees_and_takes_its_camel_case_set_point() {
    let d = daemon().await;
    let t = device(&d, trace("mts200b"), "ft").await;
    let uuid = t.uuid.clone();
    shows(&d, &uuid, "the recorded thermostat", |f| {
        let t = &f["thermostats"][0];
        t["current_c"] == 21.0
            && t["target_c"] == 21.0
            && t["mode"] == "manual"
            && t["min_c"] == 5.0
    })
    .await;
    let (status, body) =
        post_device(&d, &format!("{uuid}/thermostat"), json!({"target_c": 21.5})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&t, "Appliance.Control.Thermostat.Mode"),
        [json!({"mode": [{"channel": 0, "mode": 4, "manualTemp": 215}]})]
    );
    shows(&d, &uuid, "the new target", |f| {
        f["thermostats"][0]["target_c"] == 21.5
    })
    .await;
    let (status, body) =
        post_device(&d, &format!("{uuid}/thermostat"), json!({"target_c": 60})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("target_c")),
        "{body}"
    );
    let (status, body) = post_device(
        &d,
        &format!("{uuid}/thermostat"),
        json!({"mode": "tropical"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("mode")),
        "{body}"
    );
    let (status, _) = post_device(&d, &format!("{uuid}/thermostat"), json!({"on": false})).await;
    assert_eq!(status, 200);
    shows(&d, &uuid, "the thermostat off", |f| {
        f["thermostats"][0]["on"] == false
    })
    .await;
    d.stop().await;
}

#[tokio::test]
async fn a_garage_door_closes_with_its_firmware_set_and_says_so_when_it_is_down() {
    let d = daemon().await;
    let door = device(&d, trace("msg100"), "fg").await;
    let uuid = door.uuid.clone();
    shows(&d, &uuid, "the recorded door", |f| {
        f["garage_doors"][0]["open"] == true
    })
    .await;
    let (status, body) = post_device(&d, &format!("{uuid}/garage"), json!({"open": false})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&door, "Appliance.GarageDoor.State"),
        [json!({"state": {"channel": 0, "open": 0}})]
    );
    // Moving at once, closed once the door is down (the simulator takes 300 ms).
    assert_eq!(
        body["families"]["garage_doors"][0]["moving_to"], false,
        "{body}"
    );
    shows(&d, &uuid, "the door closed", |f| {
        f["garage_doors"][0]["open"] == false && f["garage_doors"][0].get("moving_to").is_none()
    })
    .await;
    let (status, _) = post_device(
        &d,
        &format!("{uuid}/garage"),
        json!({"channel": 2, "open": true}),
    )
    .await;
    assert_eq!(status, 422);
    d.stop().await;
}

#[tokio::test]
async fn a_shutter_moves_to_a_position_and_reports_its_motion() {
    let d = daemon().await;
    let shutter = device(&d, trace("mrs100"), "fs").await;
    let uuid = shutter.uuid.clone();
    shows(&d, &uuid, "the recorded shutter", |f| {
        f["shutters"][0]["position"] == 100 && f["shutters"][0]["motion"] == "idle"
    })
    .await;
    let (status, body) = post_device(&d, &format!("{uuid}/shutter"), json!({"position": 40})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&shutter, "Appliance.RollerShutter.Position"),
        [json!({"position": {"channel": 0, "position": 40}})]
    );
    shows(&d, &uuid, "the shutter there", |f| {
        f["shutters"][0]["position"] == 40 && f["shutters"][0]["motion"] == "idle"
    })
    .await;
    let (status, _) = post_device(&d, &format!("{uuid}/shutter"), json!({"action": "stop"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        sets(&shutter, "Appliance.RollerShutter.Position").last(),
        Some(&json!({"position": {"channel": 0, "position": -1}}))
    );
    let (status, body) =
        post_device(&d, &format!("{uuid}/shutter"), json!({"position": 140})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("position")),
        "{body}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_hub_lists_its_sub_devices_and_a_valve_takes_a_set_point() {
    let d = daemon().await;
    let hub = device(&d, Profile::hub(), "fh").await;
    let uuid = hub.uuid.clone();
    let valve = sim::hub::VALVE;
    shows(&d, &uuid, "the hub's sub-devices", |f| {
        let subs = f["subdevices"].as_array().cloned().unwrap_or_default();
        let by = |id: &str| {
            subs.iter()
                .find(|s| s["id"] == id)
                .cloned()
                .unwrap_or_default()
        };
        let (v, s) = (by(valve), by(sim::hub::SENSOR));
        v["temperature_c"] == 19.5
            && v["target_c"] == 21.0
            && v["battery_percent"] == 80
            && s["temperature_c"] == 21.5
            && s["humidity_percent"] == 55.3
            && s["kind"] == "ms100"
    })
    .await;
    let (status, body) = post_device(
        &d,
        &format!("{uuid}/subdevices/{valve}"),
        json!({"target_c": 22}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&hub, "Appliance.Hub.Mts100.Temperature"),
        [json!({"temperature": [{"id": valve, "custom": 220}]})]
    );
    assert_eq!(
        sets(&hub, "Appliance.Hub.Mts100.Mode"),
        [json!({"mode": [{"id": valve, "state": 0}]})]
    );
    shows(&d, &uuid, "the valve's new set point", |f| {
        f["subdevices"].as_array().is_some_and(|l| {
            l.iter()
                .any(|s| s["id"] == valve && s["target_c"] == 22.0 && s["mode"] == "custom")
        })
    })
    .await;
    let (status, _) = post_device(
        &d,
        &format!("{uuid}/subdevices/FFFF0000"),
        json!({"on": true}),
    )
    .await;
    assert_eq!(status, 422);
    d.stop().await;
}

#[tokio::test]
async fn a_diffuser_spray_and_do_not_disturb_take_their_modes() {
    let d = daemon().await;
    let diffuser = device(&d, trace("mod100"), "fd").await;
    let uuid = diffuser.uuid.clone();
    shows(&d, &uuid, "the recorded spray and light", |f| {
        f["sprays"][0]["mode"] == "off" && f["lights"][0]["rgb"].is_string()
    })
    .await;
    let (status, body) = post_device(&d, &format!("{uuid}/spray"), json!({"mode": "eco"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&diffuser, "Appliance.Control.Diffuser.Spray"),
        [json!({"spray": [{"channel": 0, "mode": 0}]})]
    );
    shows(&d, &uuid, "the spray on eco", |f| {
        f["sprays"][0]["mode"] == "eco"
    })
    .await;

    let plug = device(&d, Profile::metering_plug(), "fn").await;
    shows(&d, &plug.uuid, "do-not-disturb read", |f| {
        f["dnd"] == false && f["signal_percent"] == 80
    })
    .await;
    let (status, body) = post_device(&d, &format!("{}/dnd", plug.uuid), json!({"on": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&plug, "Appliance.System.DNDMode"),
        [json!({"DNDMode": {"mode": 1}})]
    );
    // No PUSH comes from the device: the acknowledged command is the state.
    assert_eq!(body["families"]["dnd"], true);
    d.stop().await;
}

#[tokio::test]
async fn a_malformed_or_huge_family_payload_is_counted_and_the_state_kept() {
    let d = daemon().await;
    let light = device(&d, trace("msl450"), "fm").await;
    let uuid = light.uuid.clone();
    // Every read after the bind has landed (the light, do-not-disturb and the
    // signal come in separate answers), so only a bad payload could change it.
    shows(&d, &uuid, "the recorded light, read in full", |f| {
        f["lights"][0]["brightness"] == 1
            && f["dnd"].is_boolean()
            && f["signal_percent"].is_number()
    })
    .await;
    let before = families(&d, &uuid).await;
    let bad_before = d.counters.snapshot().bad_messages;
    // The device itself PUSHes nonsense, signed with its key.
    let key = KEY;
    let topic = merossd::protocol::device_publish_topic(&uuid);
    let huge: String = "9".repeat(40_000);
    for payload in [
        json!({"light": {"channel": 0, "luminance": "bright", "rgb": [1, 2]}}),
        json!({"light": "off"}),
        json!({"light": [{"channel": 0, "luminance": huge}]}),
    ] {
        let mut m = merossd::protocol::Message::new(
            Method::Push,
            "Appliance.Control.Light",
            payload,
            &topic,
            key,
        );
        m.header.uuid = Some(uuid.clone());
        light.say(m);
    }
    eventually("three bad payloads counted", Duration::from_secs(5), || {
        d.counters.snapshot().bad_messages >= bad_before + 3
    })
    .await;
    assert_eq!(
        families(&d, &uuid).await,
        before,
        "a bad payload changed the state"
    );
    d.stop().await;
}
