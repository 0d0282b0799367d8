//! Stopping: every task the daemon started ends (each holds a drain token), within the
//! drain's bound, whatever is under way.

use crate::common::*;
use std::time::Duration;

#[tokio::test]
async fn stop_ends_every_task_while_plugs_apps_and_commands_are_under_way() {
    let d = daemon().await;
    let fleet = plugs(&d, "st", 3);
    for plug in &fleet {
        known(&d, plug).await;
    }
    // An app client with its subscription, and a connection that never says a word.
    let (client, mut events) = local_client(&d, "stop-app").await;
    client
        .subscribe("/appliance/+/publish", rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    let app = tokio::spawn(async move {
        for _ in 0..10_000 {
            if events.poll().await.is_err() {
                break;
            }
        }
    });
    let _silent = tokio::net::TcpStream::connect(d.tls_addrs[0])
        .await
        .unwrap();
    // Two switch commands for one channel: the second waits its turn (see `hub::pace`),
    // on a timer of the hub's; their callers wait for the plug's answers.
    let uuid = fleet[0].uuid.clone();
    for on in [true, false] {
        let engine = d.engine.clone();
        let uuid = uuid.clone();
        tokio::spawn(async move {
            let _ = engine.switch(&uuid, 0, on, Duration::from_secs(30)).await;
        });
    }
    tokio::task::yield_now().await;

    let drained = tokio::time::timeout(merossd::daemon::DRAIN_TIMEOUT * 2, d.stop())
        .await
        .expect("stop returned");
    assert!(drained, "some tasks had not ended at the drain's bound");
    // The app's connection was closed by the stop.
    tokio::time::timeout(Duration::from_secs(5), app)
        .await
        .expect("the app's connection ended")
        .unwrap();
}
