//! Home Assistant discovery switched off takes back what it published: Home Assistant
//! (here a client that announces itself as it does) gets an empty retained message on
//! each config topic of a known device, so it removes the entities.

use crate::common::*;
use merossd::daemon::Daemon;
use std::time::Duration;

#[tokio::test]
async fn discovery_switched_off_takes_back_each_config() {
    let dir = temp_dir("withdraw");
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    let plug = &plugs(&d, "wd", 1)[0];
    known(&d, plug).await;
    plug.stop();
    d.stop().await;

    let mut off = config(dir);
    off.homeassistant.enabled = false;
    let d = Daemon::start(off).await.unwrap();
    let (client, mut rx) = listen(&d, "ha-off", "homeassistant/#").await;
    client
        .publish(
            "homeassistant/status",
            rumqttc::QoS::AtLeastOnce,
            false,
            "online",
        )
        .await
        .unwrap();
    let config_topic = format!("homeassistant/switch/{}/switch_0/config", plug.uuid);
    let got = receive_until(&mut rx, Duration::from_secs(5), |topic, payload| {
        topic == config_topic && payload.is_empty()
    })
    .await;
    assert!(got.is_some(), "no empty config for {config_topic}");
    d.stop().await;
}
