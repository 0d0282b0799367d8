//! MerossIot's own light, garage-door and thermostat classes, unchanged, drive recorded
//! devices through merossd: its cloud API lists them with their types, its MQTT reaches
//! them through the gate, and the SETs they send are the ones the firmware takes.

use crate::common::*;
use crate::merossiot::{cloud_daemon, python, run_script, EMAIL, PASSWORD};
use merossd::protocol::Method;
use merossd::sim::{self, Profile};
use serde_json::{json, Value};

#[tokio::test]
async fn meross_iot_drives_a_light_a_garage_door_and_a_thermostat() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let d = cloud_daemon().await;
    let light = sim::fleet(&sim_config(&d, trace("msl450")), "mf", 1, 1).remove(0);
    let door = sim::fleet(&sim_config(&d, trace("msg100")), "mf", 2, 1).remove(0);
    let thermostat = sim::fleet(&sim_config(&d, trace("mts200b")), "mf", 3, 1).remove(0);
    for dev in [&light, &door, &thermostat] {
        bound(dev).await;
        eventually("its family read", std::time::Duration::from_secs(5), || {
            d.engine
                .device(&dev.uuid)
                .is_some_and(|x| x.families.is_some())
        })
        .await;
    }
    let args = vec![
        format!("{}/tests/merossiot/families.py", env!("CARGO_MANIFEST_DIR")),
        format!("http://{}", d.cloud_addr.unwrap()),
        EMAIL.into(),
        PASSWORD.into(),
        "127.0.0.1".into(),
        d.tls_addrs[0].port().to_string(),
        light.uuid.clone(),
        door.uuid.clone(),
        thermostat.uuid.clone(),
    ];
    let out = run_script(python, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MerossIot failed:\n{stdout}\n{stderr}"
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(
        (
            &seen["light_type"],
            &seen["door_type"],
            &seen["thermostat_type"]
        ),
        (&json!("msl450"), &json!("msg100"), &json!("mts200b")),
        "{seen}"
    );
    assert_eq!(seen["light_rgb_before"], json!([0, 244, 255]), "{seen}");
    assert_eq!(seen["light_rgb_after"], json!([255, 136, 0]), "{seen}");
    assert_eq!(seen["light_luminance_after"], 40, "{seen}");
    assert_eq!(
        (&seen["door_open_before"], &seen["door_open_after"]),
        (&json!(true), &json!(false)),
        "{seen}"
    );
    assert_eq!(seen["thermostat_current"], 21.0, "{seen}");
    assert_eq!(
        (
            &seen["thermostat_target_before"],
            &seen["thermostat_target_after"]
        ),
        (&json!(21.0), &json!(22.5)),
        "{seen}"
    );
    // merossd's own view follows what MerossIot did.
    let families = |uuid: &str| {
        d.engine
            .device(uuid)
            .map(|x| merossd::model::family::of(&x))
    };
    assert_eq!(
        families(&thermostat.uuid).unwrap().thermostats[0].target_c,
        Some(22.5)
    );
    assert!(!families(&door.uuid).unwrap().garage_doors[0].open);
    // The SETs came from MerossIot's own client, through the gate.
    let from_app = |dev: &merossd::sim::SimDevice, ns: &str| {
        dev.state().received.iter().any(|m| {
            m.header.method == Method::Set
                && m.header.namespace == ns
                && m.header.from.starts_with(&format!("/app/{USER_ID}-"))
        })
    };
    assert!(from_app(&light, "Appliance.Control.Light"));
    assert!(from_app(&door, "Appliance.GarageDoor.State"));
    assert!(from_app(&thermostat, "Appliance.Control.Thermostat.Mode"));
    d.stop().await;
}

#[tokio::test]
async fn the_cloud_api_names_channels_as_the_user_did_and_lists_a_hubs_sub_devices() {
    let d = cloud_daemon().await;
    let strip = &plugs(&d, "mg", 1)[0];
    known(&d, strip).await;
    let hub = sim::fleet(&sim_config(&d, Profile::hub()), "mg", 2, 1).remove(0);
    bound(&hub).await;
    eventually(
        "the hub's sub-devices read",
        std::time::Duration::from_secs(5),
        || {
            d.engine
                .device(&hub.uuid)
                .is_some_and(|x| merossd::model::family::of(&x).subdevices.len() == 2)
        },
    )
    .await;
    // A name for channel 0, through the admin API; a channel the plug lacks is refused.
    let path = format!("/api/v1/devices/{}", strip.uuid);
    let (status, body) = api(
        &d,
        "PATCH",
        &path,
        Some(r#"{"channel_names": {"0": "Kettle"}}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["channels"][0]["name"], "Kettle", "{body}");
    let (status, _) = api(
        &d,
        "PATCH",
        &path,
        Some(r#"{"channel_names": {"5": "Lamp"}}"#),
        None,
    )
    .await;
    assert_eq!(status, 422);

    let cloud = d.cloud_addr.unwrap();
    let run = |path: &'static str, params: Value, token: Option<String>| async move {
        tokio::task::spawn_blocking(move || {
            crate::merossiot::call(cloud, path, params, token.as_deref(), false)
        })
        .await
        .unwrap()
    };
    let login =
        json!({"email": EMAIL, "password": merossd::protocol::md5_hex(PASSWORD), "encryption": 1});
    let signed_in = run("/v1/Auth/signIn", login, None).await;
    let token = signed_in["data"]["token"].as_str().unwrap().to_owned();
    let list = run("/v1/Device/devList", json!({}), Some(token.clone())).await;
    let entry = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uuid"] == json!(strip.uuid))
        .cloned()
        .unwrap();
    assert_eq!(entry["channels"], json!([{"devName": "Kettle"}]), "{entry}");
    let subs = run(
        "/v1/Hub/getSubDevices",
        json!({"uuid": hub.uuid}),
        Some(token),
    )
    .await;
    let ids: Vec<&str> = subs["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["subDeviceId"].as_str())
        .collect();
    assert_eq!(ids, [sim::hub::VALVE, sim::hub::SENSOR], "{subs}");
    assert_eq!(subs["data"][0]["subDeviceType"], "mts100v3");
    d.stop().await;
}
