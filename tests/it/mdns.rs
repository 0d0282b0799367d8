//! merossd announced by mDNS/DNS-SD, as pairing apps that browse for it see it: an
//! independent resolver (python-zeroconf, installed with Home Assistant) browsing
//! `_meross-mqtt._tcp` and `_meross-api._tcp` on loopback finds merossd's TLS port and
//! its cloud API's port. The announcement is told to use loopback only: tests talk to
//! nothing else.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

/// What the resolver finds of `kind` on 127.0.0.1: {instance: [port, [addresses]]}.
async fn browse(kind: &str) -> Value {
    let python = crate::hass::python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mdns/browse.py");
    let kind = kind.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([kind.as_str(), "127.0.0.1"])
            .output()
            .expect("the resolver runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the resolver's JSON")
}

#[tokio::test]
async fn a_resolver_on_the_lan_finds_merossd_and_its_cloud_api() {
    let mut c = config(temp_dir("mdns"));
    c.mdns.enabled = true;
    c.mdns.interfaces = vec![std::net::Ipv4Addr::LOCALHOST];
    c.cloud.listen = Some(format!("127.0.0.1:{}", low_port()).parse().unwrap());
    let d = merossd::daemon::Daemon::start(c).await.unwrap();
    let mqtt = browse("_meross-mqtt._tcp.local.").await;
    let (name, found) = mqtt
        .as_object()
        .and_then(|m| m.iter().next())
        .unwrap_or_else(|| panic!("nothing found: {mqtt}"));
    assert!(name.starts_with("merossd on "), "{name}");
    assert_eq!(found[0], d.tls_addrs[0].port(), "{mqtt}");
    assert!(found[1].to_string().contains("127.0.0.1"), "{mqtt}");
    let api = browse("_meross-api._tcp.local.").await;
    let port = api
        .as_object()
        .and_then(|m| m.values().next())
        .map(|v| v[0].clone());
    assert_eq!(
        port,
        Some(Value::from(d.cloud_addr.unwrap().port())),
        "{api}"
    );
    d.stop().await;
}
