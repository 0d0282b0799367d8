//! `merossd timers`, `timer add | change | rm` and `autooff`, run as a user runs them
//! against a simulated MSS310: each reaches the plug as the SET (or DELETE) its firmware
//! takes and says the outcome in words; a bad time is refused naming the field.

use crate::common::*;
use crate::family_cli::merossd;
use merossd::protocol::Method;
use merossd::sim;
use serde_json::Value;
use std::time::Duration;

fn received(dev: &sim::SimDevice, method: Method, namespace: &str) -> Vec<Value> {
    (dev.state().received.iter())
        .filter(|m| m.header.method == method && m.header.namespace == namespace)
        .map(|m| m.payload.clone())
        .collect()
}

#[tokio::test]
async fn timers_and_auto_off_from_the_command_line() {
    let d = daemon().await;
    let dev = sim::fleet(&sim_config(&d, trace("mss310")), "sc", 1, 1).remove(0);
    families_read(&d, &dev).await;
    let uuid = dev.uuid.clone();
    eventually("the Ability read", Duration::from_secs(5), || {
        let bits = d.engine.device(&uuid).and_then(|x| x.ability);
        bits.is_some_and(|a| a.has(merossd::model::Ability::TriggerX))
    })
    .await;

    let (code, out, err) = merossd(&d, &["timers", &uuid]).await;
    assert_eq!((code, out.trim()), (0, "no timers\nno auto-off"), "{err}");
    let add = [
        "timer", "add", &uuid, "--at", "07:00", "--days", "mon-fri", "--on", "--name", "Coffee",
    ];
    let (code, out, err) = merossd(&d, &add).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("timer 07:00 mon-fri: on (channel 0) \"Coffee\""),
        "{out}"
    );
    let set = received(&dev, Method::Set, "Appliance.Control.TimerX");
    assert_eq!(
        (
            set[0]["timerx"]["time"].clone(),
            set[0]["timerx"]["week"].clone()
        ),
        (420.into(), 190.into())
    );
    let id = set[0]["timerx"]["id"].as_str().unwrap().to_owned();

    let (code, out, err) = merossd(
        &d,
        &["timer", "change", &uuid, &id, "--at", "06:45", "--disable"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("timer 06:45 mon-fri") && out.contains("disabled"),
        "{out}"
    );
    let (code, _, err) = merossd(
        &d,
        &[
            "timer", "add", &uuid, "--at", "25:00", "--days", "mon", "--on",
        ],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("`at`"), "the field is named: {err}");

    let (code, out, err) =
        merossd(&d, &["autooff", &uuid, "--channel", "0", "--minutes", "20"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("auto-off channel 0: off 20 min after on, every day"),
        "{out}"
    );
    // A second call changes the channel's rule rather than making another.
    let (code, out, err) = merossd(
        &d,
        &["autooff", &uuid, "--minutes", "30", "--days", "weekends"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("off 30 min after on, weekends"), "{out}");
    assert_eq!(dev.state().schedules.triggers.len(), 1);
    let rule = &received(&dev, Method::Set, "Appliance.Control.TriggerX")[1]["triggerx"]["rule"];
    assert_eq!(
        (rule["duration"].clone(), rule["week"].clone()),
        (1800.into(), 0xc1.into())
    );

    let (code, out, _) = merossd(&d, &["device", &uuid]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("timer 06:45") && out.contains("auto-off channel 0"),
        "{out}"
    );

    let (code, out, err) = merossd(&d, &["autooff", &uuid, "--remove"]).await;
    assert_eq!((code, out.trim()), (0, "no auto-off"), "{err}");
    let (code, out, err) = merossd(&d, &["timer", "rm", &uuid, &id]).await;
    assert_eq!((code, out.trim()), (0, "no timers"), "{err}");
    assert_eq!(
        received(&dev, Method::Delete, "Appliance.Control.TimerX").len(),
        1
    );
    assert!(dev.state().schedules.timers.is_empty() && dev.state().schedules.triggers.is_empty());
}
