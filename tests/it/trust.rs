//! The trust boundary: one test per finding of the hostile-client campaign. Each failed on
//! the daemon before the gate read packets; they stay as the regression suite.

use crate::common::*;
use crate::raw::{self, device_connect, Got};
use merossd::mqtt::connect::Connect;
use merossd::protocol::{Message, Method};
use merossd::sim::Profile;
use serde_json::json;
use std::time::Duration;

fn anonymous(client_id: &str) -> Connect {
    Connect::new(4, client_id, 30)
}

/// Finding 1: a client id with `/`, `+`, `#` or `$` panicked rumqttd and stopped MQTT for
/// good. Such ids are the client's own business now; the router never sees them.
#[tokio::test]
async fn client_ids_the_router_cannot_take_do_not_stop_mqtt() {
    let d = daemon().await;
    for id in ["a/b", "+", "#", "$SYS", "x/#/+", ""] {
        let (_raw, code) = raw::local(&d, &anonymous(id)).await;
        assert_eq!(code, Some(0), "client id {id:?}");
    }
    let (_, plug_login) = device_connect("e1", 1, 3, "a/b");
    let (_raw, code) = raw::tls(&d, &plug_login).await;
    assert_eq!(code, Some(0), "a plug login with a / in its suffix");
    // MQTT still works for everyone after them.
    let plug = &plugs(&d, "e2", 1)[0];
    bound(plug).await;
    let (_raw, code) = raw::local(&d, &anonymous("after")).await;
    assert_eq!(code, Some(0));
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);
    d.stop().await;
}

/// Finding 2: a local client named like the engine's link took it over. No client id can
/// reach the router as one of merossd's own, and a link dropped anyway comes back.
#[tokio::test]
async fn the_daemons_own_client_ids_cannot_be_taken_and_a_dropped_link_comes_back() {
    let d = daemon().await;
    let plug = &plugs(&d, "e3", 1)[0];
    known(&d, plug).await;
    let (_a, code_a) = raw::local(&d, &anonymous("merossd-engine")).await;
    let (_b, code_b) = raw::local(&d, &anonymous("merossd-homeassistant")).await;
    assert_eq!((code_a, code_b), (Some(0), Some(0)));
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);

    // Drop the engine's link from inside the router (a duplicate id does that).
    let intruder = (d.router_links)("merossd-engine").expect("a link");
    eventually("the link was opened again", Duration::from_secs(5), || {
        d.counters.snapshot().link_restarts >= 1
    })
    .await;
    drop(intruder);
    let (status, health) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert_eq!(status, 200);
    let mut ok = health["status"] == "ok";
    for _ in 0..50 {
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ok = api(&d, "GET", "/api/v1/health", None, None).await.1["status"] == "ok";
    }
    assert!(ok, "health never came back to ok: {health}");
    assert_eq!(switch_via_api(&d, &plug.uuid, false).await, 200);
    assert!(!plug.state().relays[&0]);
    d.stop().await;
}

/// Finding 3: plug A's password let a client claim plug B's uuid, or any invented one.
#[tokio::test]
async fn a_login_cannot_claim_another_devices_uuid() {
    let mut config = config(temp_dir("claim"));
    config.accounts.push(merossd::config::Account {
        user_id: "999".into(),
        key: "otherkey".into(),
        ..Default::default()
    });
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    let a = &plugs(&d, "f1", 1)[0];
    let b = &plugs(&d, "f2", 1)[0];
    let mut other = sim_config(&d, Profile::metering_plug());
    other.user_id = "999".into();
    other.key = "otherkey".into();
    let c = &merossd::sim::fleet(&other, "f3", 1, 1)[0];
    for plug in [a, b, c] {
        known(&d, plug).await;
    }
    let before = d.engine.devices().len();
    let a_login = || {
        Connect::new(3, "", 30).login(a.mac.clone(), {
            merossd::protocol::device_password(&a.mac, USER_ID, KEY)
        })
    };

    // A's credentials with B's uuid.
    let mut claim_b = a_login();
    claim_b.client_id = format!("fmware:{}_x", b.uuid);
    assert_eq!(raw::tls(&d, &claim_b).await.1, Some(4));
    // A's credentials with 200 invented uuids, each ending with A's MAC.
    let hex: String = a.mac.replace(':', "");
    for i in 0..200u32 {
        let mut invented = a_login();
        invented.client_id = format!("fmware:{i:020x}{hex}_x");
        assert_eq!(raw::local(&d, &invented).await.1, Some(4), "invented #{i}");
    }
    // C's MAC and uuid, but the password of the other account.
    let mut cross = Connect::new(3, format!("fmware:{}_x", c.uuid), 30);
    cross = cross.login(
        c.mac.clone(),
        merossd::protocol::device_password(&c.mac, USER_ID, KEY),
    );
    assert_eq!(raw::tls(&d, &cross).await.1, Some(4));

    assert_eq!(
        d.engine.devices().len(),
        before,
        "an invented device was stored"
    );
    let b_now = d.engine.device(&b.uuid).unwrap();
    assert!(b_now.online, "B was taken offline");
    assert_eq!(b_now.mac.as_deref(), Some(b.mac.as_str()));
    assert_eq!(
        d.engine.device(&c.uuid).unwrap().user_id.as_deref(),
        Some("999")
    );
    assert_eq!(switch_via_api(&d, &b.uuid, true).await, 200);
    d.stop().await;
}

/// Finding 4: a logged-in plug could read every plug's traffic and switch any plug.
#[tokio::test]
async fn a_logged_in_plug_cannot_read_or_command_other_plugs() {
    let d = daemon().await;
    let victim = &plugs(&d, "f4", 1)[0];
    known(&d, victim).await;
    let (own, login) = device_connect("f5", 1, 4, "x");
    let (mut thief, code) = raw::tls(&d, &login).await;
    assert_eq!(code, Some(0));
    let own_topic = format!("/appliance/{own}/subscribe");
    assert_eq!(thief.subscribe(&["#"]).await, Some(vec![0x80]));
    assert_eq!(
        thief.subscribe(&["/appliance/+/publish"]).await,
        Some(vec![0x80])
    );
    assert_eq!(
        thief.subscribe(&[own_topic.as_str(), "#"]).await,
        Some(vec![1, 0x80]),
        "the allowed filter is granted, the other refused"
    );
    let before = d.counters.snapshot().acl_denied;
    // The Home Assistant command topic, and a signed SET into the victim's inbox.
    let set = format!("merossd/{}/0/set", victim.uuid);
    assert!(
        thief.publish(&set, b"ON", false).await,
        "a dropped QoS 1 publish is acked"
    );
    let command = Message::new(
        Method::Set,
        "Appliance.Control.ToggleX",
        json!({"togglex": {"channel": 0, "onoff": 1}}),
        &format!("/appliance/{own}/publish"),
        KEY,
    );
    let inbox = format!("/appliance/{}/subscribe", victim.uuid);
    assert!(thief.publish(&inbox, &command.to_bytes(), false).await);
    eventually("denials counted", Duration::from_secs(3), || {
        d.counters.snapshot().acl_denied >= before + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!victim.state().relays[&0], "the victim was switched");
    // And it reads nothing of the victim's: its traffic goes on while the thief listens.
    assert_eq!(switch_via_api(&d, &victim.uuid, true).await, 200);
    assert_eq!(thief.next_publish(Duration::from_millis(500)).await, None);

    // MQTT 3.1 has no refusal code: a refused filter closes the connection.
    let (_, old) = device_connect("f5", 2, 3, "x");
    let (mut old_thief, code) = raw::tls(&d, &old).await;
    assert_eq!(code, Some(0));
    assert_eq!(old_thief.subscribe(&["#"]).await, None);
    assert_eq!(old_thief.next(Duration::from_secs(1)).await, Got::Closed);
    d.stop().await;
}

/// Finding 5: the no-login local listener could forge a device's state, create devices and
/// plant retained discovery configs.
#[tokio::test]
async fn the_local_listener_cannot_speak_as_a_device_or_retain() {
    let d = daemon().await;
    let plug = &plugs(&d, "f6", 1)[0];
    known(&d, plug).await;
    let (mut forger, code) = raw::local(&d, &anonymous("forger")).await;
    assert_eq!(code, Some(0));
    let says = format!("/appliance/{}/publish", plug.uuid);
    // Correctly signed (a replayed header would be too): still not the device speaking.
    let push = Message::new(
        Method::Push,
        "Appliance.Control.ToggleX",
        json!({"togglex": [{"channel": 0, "onoff": 1}]}),
        &says,
        KEY,
    );
    assert!(forger.publish(&says, &push.to_bytes(), false).await);
    let fake = "2208022697555151200348e1e9fa4e00";
    let bind = Message::new(
        Method::Set,
        "Appliance.Control.Bind",
        json!({"bind": {"hardware": {"type": "evil"}}}),
        &format!("/appliance/{fake}/subscribe"),
        KEY,
    );
    assert!(
        forger
            .publish(
                &format!("/appliance/{fake}/publish"),
                &bind.to_bytes(),
                false
            )
            .await
    );
    let planted = "homeassistant/switch/planted/config";
    assert!(
        forger
            .publish(planted, b"{\"name\":\"planted\"}", true)
            .await
    );
    eventually("denials counted", Duration::from_secs(3), || {
        d.counters.snapshot().acl_denied >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dev = d.engine.device(&plug.uuid).unwrap();
    assert!(
        !dev.channels[&0].on,
        "a forged PUSH changed the stored state"
    );
    assert!(
        d.engine.device(fake).is_none(),
        "a forged Bind created a device"
    );
    // Home Assistant, arriving later, is not handed the planted config.
    let (mut reader, _) = raw::local(&d, &anonymous("ha")).await;
    assert_eq!(reader.subscribe(&["homeassistant/#"]).await, Some(vec![1]));
    let mut topics = Vec::new();
    while let Some((topic, _)) = reader.next_publish(Duration::from_millis(500)).await {
        topics.push(topic);
    }
    assert!(!topics.is_empty(), "merossd's own configs are retained");
    assert!(!topics.iter().any(|t| t == planted), "{topics:?}");
    d.stop().await;
}

/// Finding 7: out-of-range times were a 500, any channel number was taken.
#[tokio::test]
async fn out_of_range_times_and_channels_are_client_errors() {
    let d = daemon().await;
    let plug = &plugs(&d, "f7", 1)[0];
    known(&d, plug).await;
    let history = format!(
        "/api/v1/devices/{}/history?to=18446744073709551615",
        plug.uuid
    );
    let (status, body) = api(&d, "GET", &history, None, None).await;
    assert_eq!(status, 400, "{body}");
    for channel in [3u64, 4_294_967_295] {
        let toggle = json!({"channel": channel, "on": true}).to_string();
        let path = format!("/api/v1/devices/{}/toggle", plug.uuid);
        let (status, body) = api(&d, "POST", &path, Some(&toggle), None).await;
        assert_eq!(status, 422, "channel {channel}: {body}");
    }
    assert!(!d
        .engine
        .device(&plug.uuid)
        .unwrap()
        .channels
        .contains_key(&3));
    d.stop().await;
}

/// An app client of one account reads and commands only that account's devices.
#[tokio::test]
async fn an_app_client_sees_and_commands_only_its_accounts_devices() {
    let mut config = config(temp_dir("app"));
    config.accounts.push(merossd::config::Account {
        user_id: "999".into(),
        key: "otherkey".into(),
        ..Default::default()
    });
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    let mine = &plugs(&d, "f8", 1)[0];
    let mut other = sim_config(&d, Profile::metering_plug());
    other.user_id = "999".into();
    other.key = "otherkey".into();
    let theirs = &merossd::sim::fleet(&other, "f9", 1, 1)[0];
    known(&d, mine).await;
    known(&d, theirs).await;
    let login = Connect::new(4, "app:test", 30).login(
        USER_ID,
        merossd::protocol::md5_hex(&format!("{USER_ID}{KEY}")),
    );
    let (mut app, code) = raw::tls(&d, &login).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        app.subscribe(&["/appliance/+/publish"]).await,
        Some(vec![1])
    );
    assert_eq!(
        app.subscribe(&["/app/999/subscribe"]).await,
        Some(vec![0x80])
    );
    // Its own device's command topic is open to it, the other account's is not.
    let command = |key: &str| {
        Message::new(
            Method::Set,
            "Appliance.Control.ToggleX",
            json!({"togglex": {"channel": 0, "onoff": 1}}),
            "/app/1234-test/subscribe",
            key,
        )
        .to_bytes()
    };
    let before = d.counters.snapshot().acl_denied;
    app.publish(
        &format!("/appliance/{}/subscribe", theirs.uuid),
        &command("otherkey"),
        false,
    )
    .await;
    app.publish(
        &format!("/appliance/{}/subscribe", mine.uuid),
        &command(KEY),
        false,
    )
    .await;
    eventually("its own plug switched", Duration::from_secs(3), || {
        mine.state().relays[&0]
    })
    .await;
    assert!(
        !theirs.state().relays[&0],
        "another account's plug was switched"
    );
    assert_eq!(d.counters.snapshot().acl_denied, before + 1);
    // Both plugs push their state; the app hears only its own.
    assert_eq!(switch_via_api(&d, &theirs.uuid, true).await, 200);
    let mut heard = Vec::new();
    while let Some((topic, _)) = app.next_publish(Duration::from_millis(700)).await {
        heard.push(topic);
    }
    let own_topic = format!("/appliance/{}/publish", mine.uuid);
    assert!(heard.contains(&own_topic), "{heard:?}");
    assert!(!heard.iter().any(|t| t.contains(&theirs.uuid)), "{heard:?}");
    d.stop().await;
}

/// `[mqtt] local_login = true`: the loopback listener wants an app login too.
#[tokio::test]
async fn local_login_turns_off_anonymous_local_clients() {
    let mut config = config(temp_dir("locallogin"));
    config.mqtt.local_login = true;
    let d = merossd::daemon::Daemon::start(config).await.unwrap();
    assert_eq!(raw::local(&d, &anonymous("tool")).await.1, Some(5));
    let wrong = anonymous("tool").login(USER_ID, "nope");
    assert_eq!(raw::local(&d, &wrong).await.1, Some(4));
    let app = anonymous("tool").login(
        USER_ID,
        merossd::protocol::md5_hex(&format!("{USER_ID}{KEY}")),
    );
    assert_eq!(raw::local(&d, &app).await.1, Some(0));
    d.stop().await;
}
