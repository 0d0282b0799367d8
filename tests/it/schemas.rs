//! Every answer the admin API gives validates against the schema `docs/openapi.json` gives
//! for its path, method and status, with a device of every family on the line: a field the
//! code adds or renames, a status the document does not list, or an example that drifted,
//! fails here. The request bodies the test sends are checked against the document too, so
//! the document describes what the server takes. JSON Schema 2020-12, as OpenAPI 3.1 uses.

use crate::common::*;
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile, SimDevice};
use serde_json::{json, Value};

pub(crate) mod doc;
use doc::Doc;

/// One call: method, the path as sent, the path as the document writes it, and a body.
struct Call<'a> {
    method: &'a str,
    path: String,
    template: &'a str,
    body: Option<Value>,
}

fn call<'a>(method: &'a str, path: String, template: &'a str, body: Option<Value>) -> Call<'a> {
    Call {
        method,
        path,
        template,
        body,
    }
}

/// Makes the call (with the token unless `token` says otherwise), checks the answer
/// against the document and returns its status.
async fn exchange(d: &Daemon, doc: &Doc, c: Call<'_>, token: Option<&str>) -> u16 {
    if let Some(body) = &c.body {
        doc.check_request(c.method, c.template, body);
    }
    let text = c.body.as_ref().map(Value::to_string);
    let (status, body) = api(d, c.method, &c.path, text.as_deref(), token).await;
    doc.check_response(c.method, c.template, status, &body);
    status
}

async fn device(d: &Daemon, profile: Profile, prefix: &str) -> SimDevice {
    let dev = sim::fleet(&sim_config(d, profile), prefix, 1, 1).remove(0);
    families_read(d, &dev).await;
    dev
}

/// The checker itself: a body with an unknown key, a wrong type or a missing field fails.
#[test]
fn a_body_unlike_its_schema_is_caught() {
    let doc = Doc::load();
    let health = "/components/schemas/Health";
    let ok = doc
        .at("/paths/~1api~1v1~1health/get/responses/200/content/application~1json/examples/ok/value")
        .clone();
    assert!(
        doc.errors(health, &ok).is_empty(),
        "the example itself fails"
    );
    let mut extra = ok.clone();
    extra["surprise"] = json!(1);
    assert!(
        !doc.errors(health, &extra).is_empty(),
        "an unknown key passed"
    );
    let mut wrong = ok.clone();
    wrong["status"] = json!(5);
    assert!(
        !doc.errors(health, &wrong).is_empty(),
        "a number for a string passed"
    );
    let missing = json!({});
    assert!(
        !doc.errors(health, &missing).is_empty(),
        "an empty body passed"
    );
}

#[test]
fn the_documents_examples_match_their_schemas() {
    let doc = Doc::load();
    let examples = doc.examples();
    assert!(
        examples.len() >= 10,
        "too few examples found: {}",
        examples.len()
    );
    for (schema, example) in examples {
        let what = format!("the example beside {schema} does not match it");
        doc.assert_valid(&schema, &example, &what);
    }
}

#[tokio::test]
async fn every_answer_matches_the_document() {
    let doc = Doc::load();
    let d = polled_daemon("schemas").await;
    let plug = &plugs(&d, "sv", 1)[0];
    known(&d, plug).await;
    first_reading(&d, plug).await;
    let families = [
        ("light", device(&d, trace("msl450"), "sl").await),
        ("thermostat", device(&d, trace("mts200b"), "st").await),
        ("garage", device(&d, trace("msg100"), "sg").await),
        ("shutter", device(&d, trace("mrs100"), "ss").await),
        ("spray", device(&d, trace("mod100"), "sp").await),
        ("hub", device(&d, Profile::hub(), "sh").await),
    ];
    let p = plug.uuid.clone();
    let week_ago = merossd::protocol::now_secs() - 7 * 86_400;
    let dev = "/api/v1/devices/{uuid}";
    let mut calls = vec![
        call("GET", "/api/v1/health".into(), "/api/v1/health", None),
        call(
            "GET",
            "/api/v1/openapi.json".into(),
            "/api/v1/openapi.json",
            None,
        ),
        call("GET", "/api/v1/devices".into(), "/api/v1/devices", None),
        call("GET", "/api/v1/system".into(), "/api/v1/system", None),
        call("GET", "/api/v1/pairing".into(), "/api/v1/pairing", None),
        call(
            "PATCH",
            format!("/api/v1/devices/{p}"),
            dev,
            Some(
                json!({"name": "Kettle", "timezone": "Europe/Berlin", "channel_names": {"0": "kettle"}}),
            ),
        ),
        call(
            "POST",
            format!("/api/v1/devices/{p}/toggle"),
            "/api/v1/devices/{uuid}/toggle",
            Some(json!({"channel": 0, "on": false})),
        ),
        call(
            "POST",
            format!("/api/v1/devices/{p}/request"),
            "/api/v1/devices/{uuid}/request",
            Some(json!({"method": "GET", "namespace": "Appliance.System.All"})),
        ),
        call(
            "GET",
            format!("/api/v1/devices/{p}/events?limit=5"),
            "/api/v1/devices/{uuid}/events",
            None,
        ),
        call(
            "GET",
            format!("/api/v1/devices/{p}/electricity"),
            "/api/v1/devices/{uuid}/electricity",
            None,
        ),
        call(
            "GET",
            format!("/api/v1/devices/{p}/history?step=raw"),
            "/api/v1/devices/{uuid}/history",
            None,
        ),
        call(
            "GET",
            format!("/api/v1/devices/{p}/history?from={week_ago}&step=hour"),
            "/api/v1/devices/{uuid}/history",
            None,
        ),
        call(
            "GET",
            format!("/api/v1/devices/{p}/consumption?days=7"),
            "/api/v1/devices/{uuid}/consumption",
            None,
        ),
        call(
            "POST",
            format!("/api/v1/devices/{p}/dnd"),
            "/api/v1/devices/{uuid}/dnd",
            Some(json!({"on": true})),
        ),
    ];
    for (_, device) in &families {
        calls.push(call(
            "GET",
            format!("/api/v1/devices/{}", device.uuid),
            dev,
            None,
        ));
    }
    let uuid = |family: &str| {
        families
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, dev)| dev.uuid.clone())
            .unwrap()
    };
    let commands = [
        ("light", json!({"brightness": 40, "rgb": "#ff8800"})),
        ("thermostat", json!({"target_c": 21.5})),
        ("garage", json!({"open": false})),
        ("shutter", json!({"position": 40})),
        ("spray", json!({"mode": "eco"})),
    ];
    for (family, body) in commands {
        let template = match family {
            "light" => "/api/v1/devices/{uuid}/light",
            "thermostat" => "/api/v1/devices/{uuid}/thermostat",
            "garage" => "/api/v1/devices/{uuid}/garage",
            "shutter" => "/api/v1/devices/{uuid}/shutter",
            _ => "/api/v1/devices/{uuid}/spray",
        };
        let path = format!("/api/v1/devices/{}/{family}", uuid(family));
        calls.push(call("POST", path, template, Some(body)));
    }
    calls.push(call(
        "POST",
        format!(
            "/api/v1/devices/{}/subdevices/{}",
            uuid("hub"),
            sim::hub::VALVE
        ),
        "/api/v1/devices/{uuid}/subdevices/{id}",
        Some(json!({"target_c": 22})),
    ));
    for c in calls {
        let what = format!("{} {}", c.method, c.path);
        let status = exchange(&d, &doc, c, None).await;
        assert!((200..300).contains(&status), "{what} answered {status}");
    }
    refusals_match_the_document(&d, &doc, &p, &uuid("light")).await;
    let status = exchange(
        &d,
        &doc,
        call("DELETE", format!("/api/v1/devices/{p}"), dev, None),
        None,
    )
    .await;
    assert_eq!(status, 204);
    d.stop().await;
}

/// The error answers a user meets: each with the status the test expects, and a body the
/// document describes.
async fn refusals_match_the_document(d: &Daemon, doc: &Doc, plug: &str, light: &str) {
    let dev = "/api/v1/devices/{uuid}";
    let unknown = "0".repeat(32);
    let cases = [
        (
            401,
            call("GET", "/api/v1/devices".into(), "/api/v1/devices", None),
            Some("wrong"),
        ),
        (
            404,
            call("GET", format!("/api/v1/devices/{unknown}"), dev, None),
            None,
        ),
        (
            400,
            call(
                "GET",
                format!("/api/v1/devices/{plug}/history?foo=1"),
                "/api/v1/devices/{uuid}/history",
                None,
            ),
            None,
        ),
        (
            400,
            call(
                "GET",
                format!("/api/v1/devices/{plug}/consumption?days=-1"),
                "/api/v1/devices/{uuid}/consumption",
                None,
            ),
            None,
        ),
        (
            422,
            call(
                "POST",
                format!("/api/v1/devices/{light}/garage"),
                "/api/v1/devices/{uuid}/garage",
                Some(json!({"open": true})),
            ),
            None,
        ),
        (
            422,
            call(
                "POST",
                format!("/api/v1/devices/{plug}/toggle"),
                "/api/v1/devices/{uuid}/toggle",
                None,
            ),
            None,
        ),
    ];
    for (expected, c, token) in cases {
        let what = format!("{} {}", c.method, c.path);
        let status = exchange(d, doc, c, token).await;
        assert_eq!(status, expected, "{what}");
    }
    // A value out of range: the request is wrong on purpose, so it is not checked against
    // the request schema, only the answer against the response's.
    let (status, body) =
        post_device(d, &format!("{light}/light"), json!({"brightness": 300})).await;
    doc.check_response("POST", "/api/v1/devices/{uuid}/light", status, &body);
    assert_eq!(status, 400, "{body}");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70_000));
    let (status, body) = api(
        d,
        "PATCH",
        &format!("/api/v1/devices/{plug}"),
        Some(&big),
        None,
    )
    .await;
    doc.check_response("PATCH", dev, status, &body);
    assert_eq!(status, 413, "{body}");
}
