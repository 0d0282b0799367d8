//! Firmware upgrades of a simulated MSS310 (firmware 2.1.17 in its trace): the image is
//! served by merossd to that plug only, the plug fetches it, checks its md5 and comes back
//! with the new version; an image that arrives damaged is refused by the plug, which
//! keeps its version, and merossd says so. What is no image, a wrong published md5 and a
//! missing confirmation are refused before anything reaches the plug.

use crate::common::*;
use merossd::protocol::Method;
use merossd::sim::{self, SimDevice};
use serde_json::Value;
use std::time::Duration;

/// The route, as the document writes it.
const ROUTE: &str = "/api/v1/devices/{uuid}/upgrade";

/// An image the simulated firmware reads its new version from.
fn image(version: &str) -> Vec<u8> {
    let mut image = format!("merossd-sim-firmware {version}\n").into_bytes();
    image.extend((0..40_000u32).map(|i| (i % 251) as u8));
    image
}

async fn upgrade_daemon(tag: &str) -> merossd::daemon::Daemon {
    let mut c = config(temp_dir(tag));
    c.api.firmware_port = low_port();
    merossd::daemon::Daemon::start(c).await.unwrap()
}

async fn plug(d: &merossd::daemon::Daemon, prefix: &str) -> SimDevice {
    let dev = sim::fleet(&sim_config(d, trace("mss310")), prefix, 1, 1).remove(0);
    families_read(d, &dev).await;
    eventually("the Ability read", Duration::from_secs(5), || {
        let bits = d.engine.device(&dev.uuid).and_then(|x| x.ability);
        bits.is_some_and(|a| a.has(merossd::model::Ability::Upgrade))
    })
    .await;
    dev
}

/// POSTs `body` as the image, raw.
async fn post_image(
    d: &merossd::daemon::Daemon,
    uuid: &str,
    query: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let path = format!("/api/v1/devices/{uuid}/upgrade?{query}");
    let image = Some((body, "application/octet-stream"));
    let (status, body) = api_raw(d, "POST", &path, image, None).await;
    crate::schemas::doc::Doc::load().check_response("POST", ROUTE, status, &body);
    (status, body)
}

async fn outcome(d: &merossd::daemon::Daemon, uuid: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (status, body) = api(
            d,
            "GET",
            &format!("/api/v1/devices/{uuid}/upgrade"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        last = body["upgrade"].clone();
        if last["state"] == "done" || last["state"] == "failed" {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the upgrade did not end: {last}");
}

fn upgrades_sent(dev: &SimDevice) -> Vec<Value> {
    (dev.state().received.iter())
        .filter(|m| {
            m.header.method == Method::Set && m.header.namespace == "Appliance.Control.Upgrade"
        })
        .map(|m| m.payload.clone())
        .collect()
}

#[tokio::test]
async fn an_upgrade_with_the_right_md5_completes_and_the_version_changes() {
    let d = upgrade_daemon("upgrade-ok").await;
    let dev = plug(&d, "ug").await;
    let uuid = dev.uuid.clone();
    let image = image("2.1.18");
    let md5 = merossd::protocol::md5_bytes_hex(&image);
    let (status, body) = post_image(&d, &uuid, &format!("confirm=yes&md5={md5}"), image).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["upgrade"]["version_before"], "2.1.17");
    let sent = upgrades_sent(&dev);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["upgrade"]["md5"], md5.as_str());
    let url = sent[0]["upgrade"]["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with(".bin"),
        "{url}"
    );
    let run = outcome(&d, &uuid).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(
        (run["version_before"].clone(), run["version_after"].clone()),
        ("2.1.17".into(), "2.1.18".into())
    );
    assert_eq!(run["pushes"][0]["status"], 1, "{run}");
    let shown = d.engine.device(&uuid).unwrap();
    assert_eq!(shown.firmware_version(), Some("2.1.18"));
    // The image was for that one fetch: the server is gone.
    let gone = tokio::task::spawn_blocking(move || ureq::get(&url).call().is_err())
        .await
        .unwrap();
    assert!(gone, "the image is no longer served");
}

#[tokio::test]
async fn an_image_that_arrives_damaged_is_refused_and_the_plug_keeps_its_version() {
    let d = upgrade_daemon("upgrade-bad").await;
    let dev = plug(&d, "ub").await;
    let uuid = dev.uuid.clone();
    dev.damage_downloads(true);
    let (status, body) = post_image(&d, &uuid, "confirm=yes", image("9.0.0")).await;
    assert_eq!(status, 202, "{body}");
    let run = outcome(&d, &uuid).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["version_after"], "2.1.17");
    assert!(
        run["detail"]
            .as_str()
            .unwrap()
            .contains("did not take the image"),
        "{run}"
    );
    assert_eq!(
        d.engine.device(&uuid).unwrap().firmware_version(),
        Some("2.1.17")
    );
}

#[tokio::test]
async fn what_is_no_image_a_wrong_md5_or_no_confirmation_is_refused_before_the_plug_hears_of_it() {
    let d = upgrade_daemon("upgrade-refused").await;
    let dev = plug(&d, "ur").await;
    let uuid = dev.uuid.clone();
    let (status, body) = post_image(&d, &uuid, "", image("3.0.0")).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, "confirm".into()),
        "{body}"
    );
    let (status, body) = post_image(
        &d,
        &uuid,
        "confirm=yes&md5=00112233445566778899aabbccddeeff",
        image("3.0.0"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, "md5".into()),
        "{body}"
    );
    let mut zip = image("3.0.0");
    zip[..4].copy_from_slice(b"PK\x03\x04");
    let (status, body) = post_image(&d, &uuid, "confirm=yes", zip).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, "not_firmware".into()),
        "{body}"
    );
    let (status, body) = post_image(&d, &uuid, "confirm=yes", b"tiny".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{uuid}/upgrade"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "no upgrade was started");
    assert!(upgrades_sent(&dev).is_empty());
}

#[tokio::test]
async fn merossd_upgrade_says_the_version_before_and_after() {
    let d = upgrade_daemon("upgrade-cli").await;
    let dev = plug(&d, "uc").await;
    let file = temp_dir("upgrade-cli-image").join("mss310-2.1.19.bin");
    std::fs::write(&file, image("2.1.19")).unwrap();
    let file = file.display().to_string();
    let (code, _, err) = crate::family_cli::merossd(&d, &["upgrade", &dev.uuid, &file]).await;
    assert_ne!(code, 0);
    assert!(err.contains("--yes"), "{err}");
    assert!(upgrades_sent(&dev).is_empty());
    let (code, out, err) =
        crate::family_cli::merossd(&d, &["upgrade", &dev.uuid, &file, "--yes"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("upgrade from 2.1.17 sent"), "{out}");
    assert!(out.contains("done: firmware 2.1.17 -> 2.1.19"), "{out}");
}

#[tokio::test]
async fn a_moko_plug_is_told_to_upgrade_from_the_owners_server_on_the_same_route() {
    let d = upgrade_daemon("upgrade-moko").await;
    let moko = crate::hass_moko::MokoInHass::start(&d).await;
    let (plug, id) = (moko.plug(), moko.id());
    // The owner's firmware server: the plug only has to reach it.
    let server = tokio::net::TcpListener::bind(("127.0.0.1", low_port()))
        .await
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{}/fw/",
        server.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        for _ in 0..4 {
            if server.accept().await.is_err() {
                return;
            }
        }
    });
    let (code, out, err) =
        crate::family_cli::merossd(&d, &["upgrade", &id, "--from", &url, "--yes"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("told to upgrade from"), "{out}");
    assert!(
        plug.wait_for(Duration::from_secs(15), |s| s.firmware_version == "000002")
            .await,
        "the MOKO plug upgraded: {:?}",
        plug.state().firmware_version
    );
}
