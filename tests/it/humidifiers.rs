//! A diffuser (MOD100) and a humidifier (MSXH0) from their traces: each spray takes its
//! own firmware's mode numbers, and each light its own namespace (the diffuser's
//! `Diffuser.Light` list, the humidifier's plain `Control.Light` with `onoff`, as it has
//! no ToggleX).

use crate::common::*;
use merossd::sim::{self, SimDevice};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_diffuser_and_a_humidifier_take_their_own_spray_modes_and_light_namespaces() {
    let d = daemon().await;
    let diffuser = sim::fleet(&sim_config(&d, trace("mod100")), "hm", 1, 1).remove(0);
    let humidifier = sim::fleet(&sim_config(&d, trace("msxh0")), "hm", 2, 1).remove(0);
    for dev in [&diffuser, &humidifier] {
        bound(dev).await;
    }
    let families = |dev: &SimDevice| {
        d.engine
            .device(&dev.uuid)
            .map(|x| merossd::model::family::of(&x))
            .unwrap_or_default()
    };
    eventually(
        "both read from their digests",
        Duration::from_secs(5),
        || {
            let (f, h) = (families(&diffuser), families(&humidifier));
            f.sprays
                .first()
                .is_some_and(|s| s.mode.as_deref() == Some("off"))
                && h.sprays
                    .first()
                    .is_some_and(|s| s.mode.as_deref() == Some("off"))
                && h.lights.first().is_some_and(|l| l.on == Some(false))
        },
    )
    .await;

    let (status, body) = post_device(
        &d,
        &format!("{}/spray", humidifier.uuid),
        json!({"mode": "intermittent"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&humidifier, "Appliance.Control.Spray"),
        [json!({"spray": {"channel": 0, "mode": 2}})]
    );
    let (status, body) = post_device(
        &d,
        &format!("{}/spray", humidifier.uuid),
        json!({"mode": "eco"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("mode")),
        "a diffuser's mode on a humidifier: {body}"
    );

    let (status, body) = post_device(
        &d,
        &format!("{}/light", humidifier.uuid),
        json!({"on": true, "brightness": 60}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&humidifier, "Appliance.Control.Light"),
        [json!({"light": {"channel": 0, "capacity": 4, "luminance": 60, "onoff": 1}})]
    );
    let (status, body) = post_device(
        &d,
        &format!("{}/light", diffuser.uuid),
        json!({"rgb": "00ff00", "brightness": 80}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sets(&diffuser, "Appliance.Control.Diffuser.Light"),
        [json!({"light": [{"channel": 0, "rgb": 0x00ff00, "luminance": 80, "mode": 1}]})]
    );
    eventually("the states followed", Duration::from_secs(5), || {
        let (f, h) = (families(&diffuser), families(&humidifier));
        h.sprays[0].mode.as_deref() == Some("intermittent")
            && h.lights[0].brightness == Some(60)
            && h.lights[0].on == Some(true)
            && f.lights[0].rgb.as_deref() == Some("00ff00")
    })
    .await;
    d.stop().await;
}
