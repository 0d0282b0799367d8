//! Protocol traces as a user records them: a trace of a simulated device of each family,
//! recorded by the daemon (`merossd trace`), replays as a `merossd sim --trace` device and
//! binds; and every fixture, its masked identifiers filled with made-up ones, comes out of
//! the obfuscation with none of them left.

use crate::common::*;
use merossd::protocol::obfuscate::Obfuscator;
use merossd::sim::{self, Profile};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// One device of each family among the recordings.
const FAMILIES: [&str; 8] = [
    "mss310r", "msl450", "mts200b", "msg100", "mrs100", "mod100", "msxh0", "hp110a",
];

#[tokio::test]
async fn a_trace_of_each_family_replays_as_a_simulated_device_that_binds() {
    let d = daemon().await;
    let dir = temp_dir("traced");
    let mut devices = Vec::new();
    for (i, name) in FAMILIES.iter().enumerate() {
        let dev = sim::fleet(&sim_config(&d, trace(name)), "tr", i as u32 + 1, 1).remove(0);
        recognised(&d, &dev).await;
        devices.push((name, dev));
    }
    for (name, dev) in &devices {
        let path = format!("/api/v1/devices/{}/trace", dev.uuid);
        let (status, started) = api(&d, "POST", &path, Some(r#"{"seconds": 4}"#), None).await;
        assert_eq!(status, 202, "{name}: {started}");
        let _ = started["file"].as_str().expect("a file name");
        let _ = name;
    }
    for (i, (name, dev)) in devices.iter().enumerate() {
        let ability = "\tRX\tmqtt\tGETACK\tAppliance.System.Ability\t";
        let text = &trace_with(&d, &dev.uuid, ability).await;
        assert!(
            !text.contains(&dev.uuid),
            "{name}: its uuid is in the trace"
        );
        let mac_hex: String = dev.mac.chars().filter(char::is_ascii_hexdigit).collect();
        assert!(
            !text.contains(&dev.mac) && !text.contains(&mac_hex),
            "{name}: its MAC"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("\tRX\tmqtt\tGETACK\tAppliance.System.Ability\t")),
            "{name}: {text}"
        );
        let file = dir.join(format!("U{:032x}-merossd-{name}.csv", i + 1));
        std::fs::write(&file, text).unwrap();
        let profile = Profile::from_trace(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            profile.hardware_type(),
            trace(name).hardware_type(),
            "{name}"
        );
        let again = sim::fleet(&sim_config(&d, profile), "tr-again", i as u32 + 1, 1).remove(0);
        recognised(&d, &again).await;
    }
    // Without obfuscation the trace keeps the device's own uuid.
    let (name, dev) = &devices[0];
    let path = format!("/api/v1/devices/{}/trace", dev.uuid);
    let body = r#"{"seconds": 2, "obfuscate": false}"#;
    assert_eq!(
        api(&d, "POST", &path, Some(body), None).await.0,
        202,
        "{name}"
    );
    let text = trace_with(&d, &dev.uuid, &dev.uuid).await;
    assert!(text.contains(&dev.uuid), "{name}");
    // The command line records one and writes it where it is told.
    let out = dir.join("from-the-cli.csv");
    let args = crate::process::strings(&[
        "--url",
        &format!("http://{}", d.api_addr),
        "--token",
        &d.api_token,
        "trace",
        &dev.uuid,
        "--seconds",
        "2",
        "--out",
        &out.display().to_string(),
    ]);
    let (code, said, err) = crate::process::merossd(args).await;
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("messages written to"), "{said}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("\tAppliance.System.All\t") && !written.contains(&dev.uuid));
    let bad = r#"{"seconds": 7200}"#;
    let (status, why) = api(&d, "POST", &path, Some(bad), None).await;
    assert_eq!(
        (status, why["error"]["field"].as_str()),
        (400, Some("seconds")),
        "{why}"
    );
    d.stop().await;
}

/// Keys whose values are identifiers, looked for as text anywhere in the output.
const TEXT_KEYS: [&str; 13] = [
    "uuid",
    "wifiMac",
    "macAddress",
    "gatewayMac",
    "server",
    "secondServer",
    "innerIp",
    "token",
    "key",
    "setupCode",
    "setupId",
    "ssid",
    "bssid",
];
/// Keys whose values are numbers or short: checked where they stand.
const PLACE_KEYS: [&str; 6] = [
    "port",
    "secondPort",
    "userId",
    "latitude",
    "longitude",
    "domain",
];

/// A made-up value for a masked one (`####…`), the `n`-th.
fn made_up(key: &str, n: usize) -> Value {
    let text = match key {
        "uuid" => format!("4a1f{n:028x}"),
        "wifiMac" | "macAddress" | "gatewayMac" | "bssid" => {
            format!("48:e1:e9:7{:01x}:{:02x}:5a", n % 16, n % 256)
        }
        "server" | "secondServer" => format!("iot-{n}.home-example.net"),
        "innerIp" => format!("10.42.{}.{}", n / 200, n % 200 + 2),
        "userId" => format!("{}", 8_400_000 + n),
        "port" | "secondPort" => "18883".to_owned(),
        "setupCode" => format!("{:03}-77-{:03}", n % 1000, n % 997),
        "setupId" => format!("Q{n:03}"),
        _ => format!("secret-{key}-{n:06}"),
    };
    Value::String(text)
}

/// Fills the masked values of identifying keys with made-up ones, and collects every
/// identifier now in `v`: as text (`TEXT_KEYS`) and where it stands (`PLACE_KEYS`).
fn fill(
    v: &mut Value,
    n: &mut usize,
    text: &mut BTreeSet<String>,
    places: &mut Vec<(String, Value)>,
) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let masked = value
                    .as_str()
                    .is_some_and(|s| s.starts_with('#') || s.starts_with('@'));
                let named = TEXT_KEYS.contains(&key.as_str()) || PLACE_KEYS.contains(&key.as_str());
                if named && masked {
                    *n += 1;
                    *value = made_up(key, *n);
                }
                match value {
                    Value::String(s) if TEXT_KEYS.contains(&key.as_str()) && s.len() >= 4 => {
                        text.insert(s.clone());
                    }
                    Value::String(_) | Value::Number(_) if PLACE_KEYS.contains(&key.as_str()) => {
                        if value != &Value::from(0) && value != &Value::from("") {
                            places.push((key.clone(), value.clone()));
                        }
                    }
                    _ => fill(value, n, text, places),
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|x| fill(x, n, text, places)),
        _ => {}
    }
}

/// Every value at `key` in `v`.
fn at(v: &Value, key: &str, out: &mut Vec<Value>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == key {
                    out.push(x.clone());
                }
                at(x, key, out);
            }
        }
        Value::Array(list) => list.iter().for_each(|x| at(x, key, out)),
        _ => {}
    }
}

/// The rows' namespaces and data of a fixture in either format.
fn rows(file: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(file).unwrap();
    if text.trim_start().starts_with('{') {
        return vec![("".to_owned(), serde_json::from_str(&text).unwrap())];
    }
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (ns, data) = match cols.len() {
                6 => (cols[4], cols[5]),
                5 => (cols[3], cols[4]),
                _ => return None,
            };
            Some((ns.to_owned(), serde_json::from_str(data).ok()?))
        })
        .collect()
}

#[test]
fn no_identifier_of_any_fixture_survives_the_obfuscation() {
    let files = crate::traces::traces();
    assert_eq!(files.len(), 11);
    let mut n = 0;
    for file in files {
        let mut o = Obfuscator::default();
        let (mut text, mut places) = (BTreeSet::new(), Vec::new());
        let mut out = Vec::new();
        for (ns, mut data) in rows(&file) {
            fill(&mut data, &mut n, &mut text, &mut places);
            out.push(o.data(&data, ns.starts_with("Appliance.Hub.")));
        }
        let shown = serde_json::to_string(&out).unwrap();
        for original in &text {
            assert!(
                !shown.contains(original.as_str()),
                "{}: {original} is left",
                file.display()
            );
        }
        for (key, original) in &places {
            let mut now = Vec::new();
            for row in &out {
                at(row, key, &mut now);
            }
            assert!(
                !now.contains(original),
                "{}: {key} {original} is left",
                file.display()
            );
        }
        assert!(!shown.contains("\"sign\":\"") || shown.contains("<redacted>"));
    }
    assert!(
        n > 300,
        "only {n} masked values were filled: the fixtures changed?"
    );
}
