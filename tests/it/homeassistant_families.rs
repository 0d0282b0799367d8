//! Home Assistant's commands for the families the real Home Assistant test does not
//! drive (a shutter's position and stop, a spray's mode, a hub valve's set point, a plug's
//! do-not-disturb), sent as Home Assistant sends them on `<base>/<uuid>/<object>/set`:
//! each reaches the device as the SET its firmware takes, and the state follows.

use crate::common::*;
use merossd::sim::{self, Profile, SimDevice};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn shutter_spray_valve_and_dnd_commands_from_home_assistant_reach_the_devices() {
    let d = daemon().await;
    let shutter = sim::fleet(&sim_config(&d, trace("mrs100")), "hx", 1, 1).remove(0);
    let diffuser = sim::fleet(&sim_config(&d, trace("mod100")), "hx", 2, 1).remove(0);
    let hub = sim::fleet(&sim_config(&d, Profile::hub()), "hx", 3, 1).remove(0);
    let plug = sim::fleet(&sim_config(&d, Profile::metering_plug()), "hx", 4, 1).remove(0);
    for dev in [&shutter, &diffuser, &hub, &plug] {
        families_read(&d, dev).await;
    }
    eventually(
        "the plug's do-not-disturb read",
        Duration::from_secs(5),
        || {
            d.engine
                .device(&plug.uuid)
                .is_some_and(|x| merossd::model::family::of(&x).dnd.is_some())
        },
    )
    .await;
    let (client, mut events) = local_client(&d, "ha-families").await;
    tokio::spawn(async move {
        for _ in 0..10_000 {
            if events.poll().await.is_err() {
                break;
            }
        }
    });
    let say = |uuid: &str, object: &str, payload: &str| {
        let (client, topic, payload) = (
            client.clone(),
            format!("merossd/{uuid}/{object}/set"),
            payload.to_owned(),
        );
        async move {
            client
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
    };
    let valve = sim::hub::VALVE;
    say(&shutter.uuid, "shutter_0_position", "40").await;
    say(&diffuser.uuid, "spray_0", "eco").await;
    say(&hub.uuid, &format!("sub_{valve}_temperature"), "22").await;
    say(&plug.uuid, "dnd", "ON").await;
    eventually(
        "every command reached its device",
        Duration::from_secs(10),
        || {
            sets(&shutter, "Appliance.RollerShutter.Position")
                == [json!({"position": {"channel": 0, "position": 40}})]
                && sets(&diffuser, "Appliance.Control.Diffuser.Spray")
                    == [json!({"spray": [{"channel": 0, "mode": 0}]})]
                && sets(&hub, "Appliance.Hub.Mts100.Temperature")
                    == [json!({"temperature": [{"id": valve, "custom": 220}]})]
                && sets(&plug, "Appliance.System.DNDMode") == [json!({"DNDMode": {"mode": 1}})]
        },
    )
    .await;
    eventually("the states followed", Duration::from_secs(10), || {
        let f = |dev: &SimDevice| merossd::model::family::of(&d.engine.device(&dev.uuid).unwrap());
        f(&shutter).shutters[0].position == Some(40)
            && f(&diffuser).sprays[0].mode.as_deref() == Some("eco")
            && f(&hub)
                .subdevices
                .iter()
                .any(|s| s.id == valve && s.target_c == Some(22.0))
            && f(&plug).dnd == Some(true)
    })
    .await;
    // STOP on the shutter's own command topic sends position -1.
    say(&shutter.uuid, "shutter_0", "STOP").await;
    eventually(
        "the stop reached the shutter",
        Duration::from_secs(5),
        || {
            sets(&shutter, "Appliance.RollerShutter.Position").last()
                == Some(&json!({"position": {"channel": 0, "position": -1}}))
        },
    )
    .await;
    // Nonsense is ignored, and nothing reaches the device.
    say(&diffuser.uuid, "spray_0", "tropical").await;
    say(&shutter.uuid, "shutter_0_position", "lots").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sets(&diffuser, "Appliance.Control.Diffuser.Spray").len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn an_auto_off_number_from_home_assistant_makes_changes_and_removes_the_plugs_rule() {
    let d = daemon().await;
    let plug = sim::fleet(&sim_config(&d, trace("mss310")), "ho", 1, 1).remove(0);
    families_read(&d, &plug).await;
    let uuid = plug.uuid.clone();
    let config = format!("homeassistant/number/{uuid}/autooff_0/config");
    let (_, mut discovered) = listen(&d, "ha-autooff-config", &config).await;
    // The device's state topic, `<base>/<uuid>`.
    let state = format!("merossd/{uuid}");
    let (client, mut events) = listen(&d, "ha-autooff", &state).await;
    let found = receive_until(&mut discovered, Duration::from_secs(10), |topic, _| {
        topic == config
    })
    .await;
    let discovery: serde_json::Value =
        serde_json::from_slice(&found.expect("an auto-off number").1).unwrap();
    assert_eq!(discovery["unit_of_measurement"], "min");
    assert_eq!(
        discovery["command_topic"],
        format!("merossd/{uuid}/autooff_0/set")
    );
    let say = |payload: &'static str| {
        let client = client.clone();
        let topic = format!("merossd/{uuid}/autooff_0/set");
        async move {
            client
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
        }
    };
    let state_says = |minutes: u64| {
        let topic = state.clone();
        move |t: &str, p: &[u8]| {
            t == topic
                && serde_json::from_slice::<serde_json::Value>(p)
                    .is_ok_and(|s| s["autooff_0"] == minutes)
        }
    };
    say("20").await;
    let shown = receive_until(&mut events, Duration::from_secs(10), state_says(20)).await;
    assert!(shown.is_some(), "the state shows 20 minutes");
    let rule = &sets(&plug, "Appliance.Control.TriggerX")[0]["triggerx"];
    assert_eq!(
        (rule["channel"].clone(), rule["rule"]["duration"].clone()),
        (json!(0), json!(1200))
    );
    say("45").await;
    assert!(
        receive_until(&mut events, Duration::from_secs(10), state_says(45))
            .await
            .is_some()
    );
    let second = &sets(&plug, "Appliance.Control.TriggerX")[1]["triggerx"];
    assert_eq!(second["id"], rule["id"], "the same rule, changed");
    say("0").await;
    assert!(
        receive_until(&mut events, Duration::from_secs(10), state_says(0))
            .await
            .is_some()
    );
    assert!(
        plug.state().schedules.triggers.is_empty(),
        "0 removes it from the plug"
    );
}
