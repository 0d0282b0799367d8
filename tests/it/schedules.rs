//! Timers and auto-off rules on a simulated MSS310 (its recorded Ability lists TimerX
//! and TriggerX with `sunOffsetSupport`): made, read, changed and removed through the API
//! with the exact payloads the firmware takes; a timer the device already held is read
//! after a bind; a timer fires at its minute and an auto-off rule turns the plug off,
//! each shown by the API from the device's own PUSH.

use crate::common::*;
use merossd::protocol::Method;
use merossd::sim::{self, SimDevice};
use serde_json::{json, Value};
use std::time::Duration;

async fn plug(d: &merossd::daemon::Daemon, prefix: &str, clock_speed: u32) -> SimDevice {
    let mut config = sim_config(d, trace("mss310"));
    config.timings.clock_speed = clock_speed;
    let dev = sim::fleet(&config, prefix, 1, 1).remove(0);
    families_read(d, &dev).await;
    dev
}

/// What the device received of `namespace` with `method`.
fn received(dev: &SimDevice, method: Method, namespace: &str) -> Vec<Value> {
    (dev.state().received.iter())
        .filter(|m| m.header.method == method && m.header.namespace == namespace)
        .map(|m| m.payload.clone())
        .collect()
}

async fn list(d: &merossd::daemon::Daemon, uuid: &str, what: &str) -> Value {
    let (status, body) = api(
        d,
        "GET",
        &format!("/api/v1/devices/{uuid}/{what}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn call(d: &merossd::daemon::Daemon, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = (!body.is_null()).then(|| body.to_string());
    api(
        d,
        method,
        &format!("/api/v1/devices/{path}"),
        body.as_deref(),
        None,
    )
    .await
}

#[tokio::test]
async fn a_timer_is_made_changed_and_removed_with_the_payloads_the_firmware_takes() {
    let d = daemon().await;
    let dev = plug(&d, "tm", 1).await;
    let uuid = dev.uuid.clone();
    eventually("the Ability read", Duration::from_secs(5), || {
        let bits = d.engine.device(&uuid).and_then(|x| x.ability);
        bits.is_some_and(|a| a.has(merossd::model::Ability::TimerX))
    })
    .await;
    let body = json!({"at": "07:00", "days": "mon-fri", "on": true, "name": "Coffee"});
    let (status, made) = call(&d, "POST", &format!("{uuid}/timers"), body).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let set = received(&dev, Method::Set, "Appliance.Control.TimerX");
    let created = &set[0]["timerx"]["createTime"];
    assert_eq!(
        set,
        [
            json!({"timerx": {"id": id, "channel": 0, "alias": "Coffee", "type": 1, "enable": 1,
            "week": 0b1011_1110, "time": 420, "sunOffset": 0, "duration": 0,
            "createTime": created, "extend": {"toggle": {"onoff": 1, "lmTime": 0}}}})
        ]
    );
    assert_eq!(dev.state().schedules.timers.len(), 1, "the device keeps it");
    let timers = list(&d, &uuid, "timers").await;
    assert_eq!(timers["writable"], true);
    assert_eq!(timers["sun_offset"], true);
    let t = &timers["timers"][0];
    assert_eq!(
        (t["at"].clone(), t["on"].clone(), t["name"].clone()),
        (json!("07:00"), json!(true), json!("Coffee"))
    );
    assert_eq!(t["days"], json!(["mon", "tue", "wed", "thu", "fri"]));

    let change = json!({"at": "06:30", "enabled": false});
    let (status, body) = call(&d, "PATCH", &format!("{uuid}/timers/{id}"), change).await;
    assert_eq!(status, 200, "{body}");
    let set = received(&dev, Method::Set, "Appliance.Control.TimerX");
    assert_eq!(
        (
            set[1]["timerx"]["time"].clone(),
            set[1]["timerx"]["enable"].clone()
        ),
        (json!(390), json!(0))
    );
    assert_eq!(
        set[1]["timerx"]["week"], 0b1011_1110,
        "what the change did not name stays"
    );
    assert_eq!(body["timers"][0]["at"], "06:30");

    // Bad input: a time past the day and no days are 400 naming the field, a channel the
    // plug has not 422, an id it has not 404; nothing reaches the device.
    for (body, status, field) in [
        (json!({"at": "25:00", "days": "mon", "on": true}), 400, "at"),
        (json!({"at": "07:00", "days": "", "on": true}), 400, "days"),
        (json!({"at": "07:00", "days": [], "on": true}), 400, "days"),
        (
            json!({"at": "07:00", "days": "mon", "on": true, "channel": 4}),
            422,
            "",
        ),
    ] {
        let (got, answer) = call(&d, "POST", &format!("{uuid}/timers"), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
    }
    let (status, _) = call(
        &d,
        "PATCH",
        &format!("{uuid}/timers/nosuchid"),
        json!({"on": false}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        received(&dev, Method::Set, "Appliance.Control.TimerX").len(),
        2
    );

    let (status, body) = call(&d, "DELETE", &format!("{uuid}/timers/{id}"), Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        received(&dev, Method::Delete, "Appliance.Control.TimerX"),
        [json!({"timerx": {"id": id}})]
    );
    assert!(dev.state().schedules.timers.is_empty());
    assert_eq!(body["timers"], json!([]));
}

#[tokio::test]
async fn a_timer_the_plug_already_held_is_read_after_a_bind_and_a_push_keeps_it_in_step() {
    let d = daemon().await;
    let dev = plug(&d, "th", 1).await;
    let uuid = dev.uuid.clone();
    // seeds/000's timer, left on the plug by the Meross app, with a channel as TimerX has.
    let item = json!({"id": "abcdefghijklm123", "channel": 0, "type": 1, "enable": 1,
        "alias": "on 20:52", "time": 1252, "week": 129, "sunOffset": 0, "duration": 0,
        "createTime": 1_560_513_180u64, "extend": {"toggle": {"onoff": 1, "lmTime": 0}}});
    dev.hold("timerx", item.clone());
    dev.drop_connection();
    let mut shown = Value::Null;
    for _ in 0..200 {
        shown = list(&d, &uuid, "timers").await;
        if shown["timers"][0]["at"] == "20:52" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["timers"][0]["at"], "20:52", "{shown}");
    assert_eq!(shown["timers"][0]["days"], json!(["sun"]));
    assert_eq!(
        received(&dev, Method::Get, "Appliance.Control.TimerX"),
        [json!({"timerx": {"id": "abcdefghijklm123"}})],
        "asked by the id its digest gave"
    );
    // A PUSH of the item changed on the device moves the store's copy.
    let mut changed = item;
    changed["time"] = json!(1253);
    let push = merossd::protocol::Message::new(
        Method::Push,
        "Appliance.Control.TimerX",
        json!({"timerx": [changed]}),
        &format!("/appliance/{uuid}/publish"),
        KEY,
    );
    dev.say(push);
    let mut at = Value::Null;
    for _ in 0..100 {
        at = list(&d, &uuid, "timers").await["timers"][0]["at"].clone();
        if at == "20:53" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(at, "20:53");
}

/// The day names, Sunday first, as the API takes them.
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

#[tokio::test]
async fn a_timer_fires_at_its_minute_and_the_api_shows_what_the_plug_pushed() {
    let d = daemon().await;
    // A minute a second: the timer two device minutes ahead fires in about two seconds.
    let dev = plug(&d, "tf", 60).await;
    let uuid = dev.uuid.clone();
    assert_eq!(switch_via_api(&d, &uuid, false).await, 200);
    let (minute, weekday) = dev.local_time();
    let at = (minute + 2) % 1440;
    let day = if at < minute {
        (weekday + 1) % 7
    } else {
        weekday
    };
    let body = json!({"at": format!("{:02}:{:02}", at / 60, at % 60), "days": DAYS[day as usize],
        "on": true, "repeat": false});
    let (status, made) = call(&d, "POST", &format!("{uuid}/timers"), body).await;
    assert_eq!(status, 201, "{made}");
    eventually("the plug on by its timer", Duration::from_secs(15), || {
        dev.state().relays.get(&0) == Some(&true)
    })
    .await;
    eventually("the API showing it on", Duration::from_secs(5), || {
        d.engine
            .device(&uuid)
            .is_some_and(|x| x.channels.get(&0).is_some_and(|c| c.on))
    })
    .await;
    // A one-off timer disables itself, and says so.
    let mut enabled = Value::Null;
    for _ in 0..100 {
        enabled = list(&d, &uuid, "timers").await["timers"][0]["enabled"].clone();
        if enabled == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(enabled, false);
}

#[tokio::test]
async fn an_auto_off_rule_turns_the_plug_off_after_its_minutes() {
    let d = daemon().await;
    let dev = plug(&d, "ta", 60).await;
    let uuid = dev.uuid.clone();
    let (status, made) = call(
        &d,
        "POST",
        &format!("{uuid}/triggers"),
        json!({"minutes": 2}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let set = received(&dev, Method::Set, "Appliance.Control.TriggerX");
    let id = made["id"].clone();
    assert_eq!(
        set,
        [
            json!({"triggerx": {"id": id, "type": 1, "enable": 1, "channel": 0,
            "alias": "auto-off 2 min", "createTime": set[0]["triggerx"]["createTime"],
            "rule": {"week": 255, "duration": 120}}})
        ]
    );
    assert_eq!(made["triggers"][0]["seconds"], 120);
    for (body, status) in [
        (json!({"minutes": 0}), 400),
        (json!({"minutes": 2, "channel": 7}), 422),
        (json!({"minutes": 2, "days": "someday"}), 400),
    ] {
        let (got, answer) = call(&d, "POST", &format!("{uuid}/triggers"), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
    }
    assert_eq!(switch_via_api(&d, &uuid, true).await, 200);
    // Two device minutes: two seconds here.
    eventually("the plug off by its rule", Duration::from_secs(15), || {
        dev.state().relays.get(&0) == Some(&false)
    })
    .await;
    eventually("the API showing it off", Duration::from_secs(5), || {
        d.engine
            .device(&uuid)
            .is_some_and(|x| x.channels.get(&0).is_some_and(|c| !c.on))
    })
    .await;
    let id = id.as_str().unwrap();
    let (status, _) = call(
        &d,
        "PATCH",
        &format!("{uuid}/triggers/{id}"),
        json!({"minutes": 20}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        received(&dev, Method::Set, "Appliance.Control.TriggerX")[1]["triggerx"]["rule"]
            ["duration"],
        1200
    );
    let (status, _) = call(&d, "DELETE", &format!("{uuid}/triggers/{id}"), Value::Null).await;
    assert_eq!(status, 200);
    assert!(dev.state().schedules.triggers.is_empty());
}

#[tokio::test]
async fn every_schedule_answer_matches_the_document() {
    let doc = crate::schemas::doc::Doc::load();
    let d = daemon().await;
    let dev = plug(&d, "tv", 1).await;
    let uuid = dev.uuid.clone();
    eventually("the Ability read", Duration::from_secs(5), || {
        let bits = d.engine.device(&uuid).and_then(|x| x.ability);
        bits.is_some_and(|a| a.has(merossd::model::Ability::TriggerX))
    })
    .await;
    for (what, new, change, bad) in [
        (
            "timers",
            json!({"at": "07:00", "days": ["sat", "sun"], "on": false}),
            json!({"days": "daily"}),
            json!({"at": "24:00", "days": "mon", "on": true}),
        ),
        (
            "triggers",
            json!({"minutes": 20, "days": "mon-fri"}),
            json!({"enabled": false}),
            json!({"minutes": 2000}),
        ),
    ] {
        let list = format!("/api/v1/devices/{{uuid}}/{what}");
        let one = format!("{list}/{{id}}");
        let path = format!("/api/v1/devices/{uuid}/{what}");
        let exchange =
            |method: &'static str, path: String, template: String, body: Option<Value>| {
                let doc = &doc;
                let d = &d;
                async move {
                    if let Some(body) = &body {
                        doc.check_request(method, &template, body);
                    }
                    let text = body.as_ref().map(Value::to_string);
                    let (status, answer) = api(d, method, &path, text.as_deref(), None).await;
                    doc.check_response(method, &template, status, &answer);
                    (status, answer)
                }
            };
        let (status, made) = exchange("POST", path.clone(), list.clone(), Some(new)).await;
        assert_eq!(status, 201, "{made}");
        let id = made["id"].as_str().unwrap().to_owned();
        assert_eq!(
            exchange("GET", path.clone(), list.clone(), None).await.0,
            200
        );
        assert_eq!(
            exchange(
                "PATCH",
                format!("{path}/{id}"),
                one.clone(),
                Some(change.clone())
            )
            .await
            .0,
            200
        );
        assert_eq!(
            exchange(
                "PATCH",
                format!("{path}/nosuchid"),
                one.clone(),
                Some(change)
            )
            .await
            .0,
            404
        );
        // Wrong on purpose: only the answer is checked.
        let (status, answer) = api(&d, "POST", &path, Some(&bad.to_string()), None).await;
        doc.check_response("POST", &list, status, &answer);
        assert_eq!(status, 400, "{answer}");
        assert_eq!(
            exchange("DELETE", format!("{path}/{id}"), one, None)
                .await
                .0,
            200
        );
    }
    let (status, detail) = api(&d, "GET", &format!("/api/v1/devices/{uuid}"), None, None).await;
    doc.check_response("GET", "/api/v1/devices/{uuid}", status, &detail);
}
