//! A MOKO plug, with the login `POST /api/v1/moko/plugs` gave it, served like any plug:
//! seen online, switched from the API, its power shown, its countdown run, its malformed
//! messages counted; a wrong login refused. The plug here is an MQTT client speaking the
//! MOKO topics (seeds/004) on the daemon's local listener, where the gate checks a MOKO
//! login as on its TLS one.

use crate::common::{api, daemon, metric};
use rumqttc::{ConnectReturnCode, Event, Incoming, QoS};
use serde_json::{json, Value};
use std::time::Duration;

const PREFIX: &str = "iot_plug/plug_one/us/11:22:33:44:55:66";
const ID: &str = "moko112233445566";

/// A MOKO plug's MQTT client with this login; its events go to a channel.
fn plug(
    d: &merossd::daemon::Daemon,
    user: &str,
    password: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<Result<Event, String>>,
) {
    let addr = d.local_addr.unwrap();
    let mut options = rumqttc::MqttOptions::new("112233445566", addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(60));
    options.set_credentials(user, password);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 100);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for _ in 0..10_000 {
            match events.poll().await {
                Ok(e) => {
                    if tx.send(Ok(e)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    (client, rx)
}

/// The CONNACK's code (rumqttc reports a refusal as the connection's error).
async fn next_connack(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Result<Event, String>>,
) -> Result<ConnectReturnCode, String> {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an answer to the CONNECT")
            .expect("the connection");
        match e {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => return Ok(ack.code),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}

async fn device(d: &merossd::daemon::Daemon) -> Value {
    api(d, "GET", &format!("/api/v1/devices/{ID}"), None, None)
        .await
        .1
}

#[tokio::test]
async fn a_paired_moko_plug_is_served_like_any_plug_and_a_wrong_login_is_refused() {
    let d = daemon().await;
    let body = json!({"mac": "11:22:33:44:55:66", "topic_prefix": PREFIX}).to_string();
    let (status, login) = api(&d, "POST", "/api/v1/moko/plugs", Some(&body), None).await;
    assert_eq!(status, 201, "{login}");
    let (user, password) = (
        login["username"].as_str().unwrap(),
        login["password"].as_str().unwrap(),
    );
    let bad =
        json!({"mac": "11:22:33:44:55:66", "topic_prefix": "iot_plug/x/us/11:22:33:44:55:77"});
    let (status, why) = api(
        &d,
        "POST",
        "/api/v1/moko/plugs",
        Some(&bad.to_string()),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        why["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topic_prefix"),
        "{why}"
    );

    // A wrong password: CONNACK 4.
    let (_stranger, mut rx) = plug(&d, user, "not-its-password");
    let refused = next_connack(&mut rx).await.unwrap_err();
    assert!(refused.contains("BadUserNamePassword"), "{refused}");

    let (client, mut rx) = plug(&d, user, password);
    assert_eq!(next_connack(&mut rx).await, Ok(ConnectReturnCode::Success));
    client
        .subscribe(format!("{PREFIX}/app/switch_state"), QoS::AtMostOnce)
        .await
        .unwrap();
    client
        .subscribe(format!("{PREFIX}/app/delay_time"), QoS::AtMostOnce)
        .await
        .unwrap();
    let say = |what: &str, payload: Value| {
        let client = client.clone();
        let topic = format!("{PREFIX}/device/{what}");
        async move {
            client
                .publish(topic, QoS::AtMostOnce, false, payload.to_string())
                .await
                .unwrap();
        }
    };
    say("switch_state", json!({"switch_state": "on"})).await;
    say(
        "electricity_information",
        json!({"voltage": 2205, "current": 200, "power": 20}),
    )
    .await;
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = device(&d).await;
        if seen["online"] == true
            && seen["channels"][0]["on"] == true
            && seen["channels"][0]["power_w"] == 20.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["online"], true, "{seen}");
    assert_eq!(seen["channels"][0]["on"], true, "{seen}");
    assert_eq!(seen["channels"][0]["power_w"], 20.0, "{seen}");
    assert!(
        seen["display_name"].as_str().unwrap().starts_with("MOKO"),
        "{seen}"
    );

    // Switched off from the API: the plug hears it on its app topic and says its state.
    let url = format!("/api/v1/devices/{ID}/toggle");
    let switching = api(&d, "POST", &url, Some(r#"{"on": false}"#), None);
    let answering = async {
        for _ in 0..200 {
            if let Ok(Some(Ok(Event::Incoming(Incoming::Publish(p))))) =
                tokio::time::timeout(Duration::from_secs(10), rx.recv()).await
            {
                if p.topic.ends_with("/app/switch_state") {
                    assert_eq!(
                        serde_json::from_slice::<Value>(&p.payload).unwrap(),
                        json!({"switch_state": "off"})
                    );
                    say("switch_state", json!({"switch_state": "off"})).await;
                    return;
                }
            }
        }
        panic!("the plug never heard the switch");
    };
    let ((status, answer), ()) = tokio::join!(switching, answering);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(device(&d).await["channels"][0]["on"], false);

    // A countdown the plug reports is shown.
    say(
        "delay_time",
        json!({"delay_hour": 0, "delay_minute": 19, "delay_second": 59, "switch_state": "on"}),
    )
    .await;
    let mut countdown = Value::Null;
    for _ in 0..100 {
        countdown = device(&d).await["families"]["moko"]["countdown"].clone();
        if countdown.is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(countdown["seconds_left"], 19 * 60 + 59, "{countdown}");
    assert_eq!(countdown["then_on"], true);

    // A malformed or out-of-range message is counted and changes nothing.
    let before = metric(&d, "merossd_bad_messages").await;
    say("switch_state", json!({"switch_state": 7})).await;
    say(
        "electricity_information",
        json!({"voltage": -1, "current": 1, "power": 1}),
    )
    .await;
    for _ in 0..100 {
        if metric(&d, "merossd_bad_messages").await >= before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metric(&d, "merossd_bad_messages").await >= before + 2);
    assert_eq!(device(&d).await["channels"][0]["on"], false);

    // A Meross route is not a MOKO plug's; a MOKO route is not a Meross device's.
    let (status, _) = api(
        &d,
        "POST",
        &format!("/api/v1/devices/{ID}/request"),
        Some(r#"{"method":"GET","namespace":"Appliance.System.All"}"#),
        None,
    )
    .await;
    assert!(status == 422 || status == 400, "{status}");
    d.stop().await;
}
