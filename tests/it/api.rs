//! The admin API end to end with simulated plugs.

use crate::common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn ready(d: &merossd::daemon::Daemon, prefix: &str, n: u32) -> Vec<merossd::sim::SimDevice> {
    let fleet = plugs(d, prefix, n);
    for p in &fleet {
        known(d, p).await;
    }
    fleet
}

fn error_code(v: &Value) -> &str {
    v.pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("<none>")
}

#[tokio::test]
async fn list_detail_rename_toggle_request_forget() {
    let d = daemon().await;
    let fleet = ready(&d, "e1", 2).await;
    let uuid = &fleet[0].uuid;

    let (status, health) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["devices"], json!({"known": 2, "online": 2}));

    let (status, list) = api(&d, "GET", "/api/v1/devices", None, None).await;
    assert_eq!(status, 200);
    let entry = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["uuid"] == *uuid)
        .unwrap()
        .clone();
    assert_eq!(entry["type"], "mss310");
    assert_eq!(entry["firmware"], "2.1.17");
    assert_eq!(entry["online"], true);
    assert_eq!(entry["ip"], "127.0.0.1");
    assert_eq!(entry["channels"][0]["channel"], 0);
    assert_eq!(entry["channels"][0]["on"], false);

    let (status, renamed) = api(
        &d,
        "PATCH",
        &format!("/api/v1/devices/{uuid}"),
        Some(r#"{"name":"Fridge"}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Fridge");

    let (status, detail) = api(&d, "GET", &format!("/api/v1/devices/{uuid}"), None, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["name"], "Fridge");
    assert_eq!(detail["hardware"]["type"], "mss310");
    assert!(detail["abilities"]["Appliance.Control.ToggleX"].is_object());
    assert!(detail["system_all"]["system"].is_object());
    assert!(detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "bound"));

    // Switch on through the API: the simulated relay really changes.
    let (status, t) = api(
        &d,
        "POST",
        &format!("/api/v1/devices/{uuid}/toggle"),
        Some(r#"{"channel":0,"on":true}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["on"], true);
    assert!(fleet[0].state().relays[&0]);
    let (_, list) = api(&d, "GET", "/api/v1/devices", None, None).await;
    let entry = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["uuid"] == *uuid)
        .unwrap()
        .clone();
    assert_eq!(entry["channels"][0]["on"], true);

    // A press on the plug (its PUSH) shows in the list.
    fleet[0].press(0);
    eventually("PUSH reached the list", Duration::from_secs(5), || {
        !d.engine.device(uuid).unwrap().channels[&0].on
    })
    .await;

    let (status, reply) = api(
        &d,
        "POST",
        &format!("/api/v1/devices/{uuid}/request"),
        Some(r#"{"method":"GET","namespace":"Appliance.System.Runtime","payload":{}}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["header"]["method"], "GETACK");
    assert_eq!(reply["payload"]["runtime"]["signal"], 80);

    let (status, events) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{uuid}/events?limit=3"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(
        events[0]["at"].as_u64() >= events[2]["at"].as_u64(),
        "newest first"
    );

    let (status, _) = api(&d, "DELETE", &format!("/api/v1/devices/{uuid}"), None, None).await;
    assert_eq!(status, 204);
    let (status, body) = api(&d, "GET", &format!("/api/v1/devices/{uuid}"), None, None).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "unknown_device");
    // It comes back when it connects again.
    fleet[0].drop_connection();
    eventually("back after reconnect", Duration::from_secs(5), || {
        d.engine.device(uuid).is_some_and(|x| x.online)
    })
    .await;
    d.stop().await;
}

/// Calls the API and checks the status and the error code of its JSON body.
async fn expect_error(
    d: &merossd::daemon::Daemon,
    method: &str,
    path: &str,
    body: Option<&str>,
    want: (u16, &str),
) {
    let (s, v) = api(d, method, path, body, None).await;
    assert_eq!((s, error_code(&v)), want, "{method} {path} {body:?}: {v}");
}

#[tokio::test]
async fn every_error_status_has_a_json_body() {
    let d = daemon().await;
    let fleet = ready(&d, "e2", 2).await;
    let (a, b) = (&fleet[0].uuid, &fleet[1].uuid);
    let toggle_a = &format!("/api/v1/devices/{a}/toggle")[..];
    let request_a = &format!("/api/v1/devices/{a}/request")[..];
    let cases = [
        (
            "GET",
            "/api/v1/devices/0000000000000000000000000000dead",
            None,
            (404, "unknown_device"),
        ),
        (
            "POST",
            toggle_a,
            Some(r#"{"channel":0,"on":"yes"}"#),
            (422, "invalid_body"),
        ),
        (
            "POST",
            toggle_a,
            Some(r#"{"channel":0,"#),
            (422, "malformed_json"),
        ),
        (
            "POST",
            toggle_a,
            Some(r#"{"channel":0,"on":true,"extra":1}"#),
            (422, "invalid_body"),
        ),
        (
            "POST",
            request_a,
            Some(r#"{"method":"PUSH","namespace":"Appliance.System.All"}"#),
            (422, "invalid_body"),
        ),
        // The device answers ERROR.
        (
            "POST",
            request_a,
            Some(r#"{"method":"GET","namespace":"Appliance.No.Such"}"#),
            (502, "device_error"),
        ),
    ];
    for (method, path, body, want) in cases {
        expect_error(&d, method, path, body, want).await;
    }

    let toggle_b = format!("/api/v1/devices/{b}/toggle");
    // A plug that never answers.
    fleet[1].mute(true);
    expect_error(
        &d,
        "POST",
        &toggle_b,
        Some(r#"{"on":true}"#),
        (504, "device_timeout"),
    )
    .await;
    // A plug that is gone.
    fleet[1].stop();
    eventually("offline", Duration::from_secs(5), || {
        !d.engine.device(b).unwrap().online
    })
    .await;
    expect_error(
        &d,
        "POST",
        &toggle_b,
        Some(r#"{"on":true}"#),
        (409, "device_offline"),
    )
    .await;
    d.stop().await;
}

#[tokio::test]
async fn no_token_or_wrong_token_is_401_and_changes_nothing() {
    let d = daemon().await;
    let fleet = ready(&d, "e3", 1).await;
    let uuid = &fleet[0].uuid;
    for token in [Some(" "), Some("wrong"), Some("")] {
        let (s, v) = api(&d, "GET", "/api/v1/devices", None, token).await;
        assert_eq!((s, error_code(&v)), (401, "unauthorized"));
        let (s, _) = api(
            &d,
            "PATCH",
            &format!("/api/v1/devices/{uuid}"),
            Some(r#"{"name":"evil"}"#),
            token,
        )
        .await;
        assert_eq!(s, 401);
        let (s, _) = api(
            &d,
            "POST",
            &format!("/api/v1/devices/{uuid}/toggle"),
            Some(r#"{"on":true}"#),
            token,
        )
        .await;
        assert_eq!(s, 401);
        let (s, _) = api(
            &d,
            "DELETE",
            &format!("/api/v1/devices/{uuid}"),
            None,
            token,
        )
        .await;
        assert_eq!(s, 401);
    }
    let dev = d.engine.device(uuid).unwrap();
    assert_eq!(dev.name, None);
    assert!(!fleet[0].state().relays[&0]);
    d.stop().await;
}

#[tokio::test]
async fn hostile_requests_get_4xx_with_json() {
    let d = daemon().await;
    let fleet = ready(&d, "e4", 1).await;
    let uuid = &fleet[0].uuid;
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(200_000));
    let (s, v) = api(
        &d,
        "PATCH",
        &format!("/api/v1/devices/{uuid}"),
        Some(&huge),
        None,
    )
    .await;
    assert_eq!((s, error_code(&v)), (413, "body_too_large"));
    for path in [
        "/api/v1/devices/..%2F..%2Fetc",
        "/api/v1/devices/abc%2Fdef/toggle",
        "/api/v1/devices/a%00b",
    ] {
        let (s, v) = api(&d, "GET", path, None, None).await;
        assert!((400..500).contains(&s), "{path}: {s}");
        assert!(v.get("error").is_some(), "{path}: {v}");
    }
    let (s, v) = api(&d, "GET", "/api/v1/nothing-here", None, None).await;
    assert_eq!((s, error_code(&v)), (404, "not_found"));
    let (s, v) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{uuid}/events?limit=abc"),
        None,
        None,
    )
    .await;
    assert_eq!((s, error_code(&v)), (400, "invalid_query"));
    let (s, _) = api(&d, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);
    d.stop().await;
}
