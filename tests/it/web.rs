//! The web page, in a real headless Chromium (Debian's `chromium` and `chromium-driver`)
//! driven by Selenium (from PyPI, in a venv under target/), against a real daemon and
//! simulated plugs: sign-in refused and accepted, a switch clicked turns the simulated
//! relay, a relay switched on the plug itself shows within 2 s with no reload, a metering
//! plug's chart draws its points, sign-out ends the session. Screenshots at 390 and 1280
//! px go to `target/tmp/web-shots`. The cookie, the headers and the refusals by hand over
//! HTTP are in `web_session`.

use crate::common::*;
use merossd::daemon::Daemon;
use merossd::sim::SimDevice;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const SELENIUM: &str = "selenium==4.51.0";

/// The venv's python, made on first use (`.ci/run` makes it beforehand).
fn python() -> PathBuf {
    venv_python("MEROSSD_WEB_PYTHON", "web-venv", SELENIUM)
}

/// A daemon whose API listens below 32768, reading power every second.
pub async fn web_daemon() -> Daemon {
    let mut c = config(temp_dir("web"));
    c.api.listen = format!("127.0.0.1:{}", low_port()).parse().unwrap();
    c.energy.poll_interval_s = 1;
    Daemon::start(c).await.unwrap()
}

async fn named(d: &Daemon, plug: &SimDevice, name: &str) {
    known(d, plug).await;
    rename(d, plug, name).await;
}

async fn rename(d: &Daemon, plug: &SimDevice, name: &str) {
    let body = json!({ "name": name }).to_string();
    let path = format!("/api/v1/devices/{}", plug.uuid);
    assert_eq!(api(d, "PATCH", &path, Some(&body), None).await.0, 200);
}

/// Devices of other families, by kind, for their pages' controls.
async fn family_devices(d: &Daemon) -> Vec<(&'static str, &'static str, SimDevice)> {
    let mut out = Vec::new();
    for (kind, name, trace_name) in [
        ("light", "Hall light", "msl450"),
        ("garage", "Garage", "msg100"),
        ("thermostat", "Bathroom", "mts200b"),
    ] {
        let dev =
            merossd::sim::fleet(&sim_config(d, trace(trace_name)), &kind[..2], 1, 1).remove(0);
        families_read(d, &dev).await;
        rename(d, &dev, name).await;
        out.push((kind, name, dev));
    }
    out
}

/// Answers the script's steps; returns what it measured.
async fn drive(
    d: &Daemon,
    plugs: &[SimDevice],
    names: &[&str],
    families: &[(&str, &str, SimDevice)],
) -> Value {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let listed: Vec<Value> = plugs
        .iter()
        .zip(names)
        .map(|(p, n)| json!({"uuid": p.uuid, "name": n, "metering": true}))
        .collect();
    let others: Vec<Value> = families
        .iter()
        .map(|(kind, name, dev)| json!({"uuid": dev.uuid, "name": name, "kind": kind}))
        .collect();
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let mut child = Command::new(python)
        .arg(format!("{}/tests/web/page.py", env!("CARGO_MANIFEST_DIR")))
        .arg(format!("http://{}", d.api_addr))
        .arg(&d.api_token)
        .arg(&shots)
        .arg(Value::Array(listed).to_string())
        .arg(Value::Array(others).to_string())
        // Selenium is given its driver and browser: it must not look for them online.
        .env("SE_OFFLINE", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python for the page test");
    let mut stdin = child.stdin.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut last = String::new();
    // Every step is bounded: the whole script must be done in two minutes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.recv()).await {
        let Ok(step) = serde_json::from_str::<Value>(&line) else {
            last = line;
            continue;
        };
        let Some(what) = step["step"].as_str() else {
            last = line;
            continue;
        };
        if what == "family" {
            let (_, _, dev) = families.iter().find(|f| f.2.uuid == step["uuid"]).unwrap();
            let namespace = step["namespace"].as_str().unwrap();
            let ok = dev
                .wait_for(Duration::from_secs(5), |_| !sets(dev, namespace).is_empty())
                .await;
            writeln!(stdin, "{}", json!({ "ok": ok })).unwrap();
            continue;
        }
        let plug = plugs.iter().find(|p| p.uuid == step["uuid"]).unwrap();
        if what == "stop" {
            plug.stop();
            writeln!(stdin, "{}", json!({ "ok": true })).unwrap();
            continue;
        }
        let on = step["on"].as_bool().unwrap();
        if what == "press" {
            plug.press(0);
        }
        let ok = plug
            .wait_for(Duration::from_secs(5), |s| s.relays.get(&0) == Some(&on))
            .await;
        writeln!(stdin, "{}", json!({ "ok": ok })).unwrap();
        stdin.flush().unwrap();
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the page test failed: {last}\n{stderr}"
    );
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}\n{stderr}"))
}

#[tokio::test]
async fn the_page_signs_in_shows_switches_follows_live_and_draws_power() {
    let d = web_daemon().await;
    let plugs = plugs(&d, "wb", 2);
    let names = ["Kettle", "Desk lamp"];
    for (plug, name) in plugs.iter().zip(names) {
        named(&d, plug, name).await;
        first_reading(&d, plug).await;
    }
    // A few readings in the history, for the chart.
    let history = format!("/api/v1/devices/{}/history", plugs[0].uuid);
    for _ in 0..100 {
        let (_, h) = api(&d, "GET", &history, None, None).await;
        if h["points"].as_array().is_some_and(|p| p.len() >= 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let families = family_devices(&d).await;
    let seen = drive(&d, &plugs, &names, &families).await;
    println!("page: {seen}");
    assert_eq!(seen["wrong_token_said"], "That is not the admin token.");
    let listed = json!(["Bathroom", "Desk lamp", "Garage", "Hall light", "Kettle"]);
    assert_eq!(seen["listed"], listed, "{seen}");
    // A slider for each of brightness and white the light says it supports.
    let light = d.engine.device(&families[0].2.uuid).unwrap();
    let supports = merossd::model::family::of(&light).lights[0].supports;
    let sliders = u64::from(supports & 4 != 0) + u64::from(supports & 2 != 0);
    assert!(sliders >= 1);
    assert_eq!(seen["families"]["light"]["sliders"], sliders, "{seen}");
    assert_eq!(seen["families"]["thermostat"]["modes"], 5, "{seen}");
    assert!(
        seen["families"]["garage"]["said"]
            .as_str()
            .unwrap()
            .starts_with("The door is"),
        "{seen}"
    );
    let sentences = seen["sentences"].to_string();
    assert!(sentences.contains("Kettle is off"), "{seen}");
    assert!(seen["press_to_page_ms"].as_u64().unwrap() < 2000, "{seen}");
    assert!(
        seen["sentence_after"]
            .as_str()
            .unwrap()
            .starts_with("Kettle is on"),
        "{seen}"
    );
    assert!(seen["chart_points"].as_u64().unwrap() >= 1, "{seen}");
    assert!(seen["chart_drawn"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!(seen["device_heading"], "Kettle");
    assert!(
        seen["pair_command"]
            .as_str()
            .unwrap()
            .contains("--wifi-ssid 'Home Net'"),
        "{seen}"
    );
    let offline = seen["offline_sentence"].as_str().unwrap();
    assert!(
        offline.starts_with("Desk lamp is offline; last seen"),
        "{seen}"
    );
    assert_eq!(seen["offline_switches"], 0, "{seen}");
    let why = seen["why_offline"].as_str().unwrap();
    assert!(
        why.contains("the connection has closed since") && why.contains("Last seen"),
        "{why}"
    );
    let system = seen["system"].as_str().unwrap();
    for said in [
        "4 of 5 online",
        "TLS handshakes by stack",
        "rustls",
        "Prometheus metrics",
    ] {
        assert!(system.contains(said), "{system}");
    }
    let strip = json!([
        ["Desk strip: all outlets", "true"],
        ["Desk strip: Lamp", "false"],
        ["Desk strip: outlet 2", "true"]
    ]);
    assert_eq!(seen["strip_switches"], strip, "{seen}");
    assert_eq!(seen["after_sign_out"], 401, "{seen}");
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    // The click reached the plug itself, not only merossd's idea of it.
    assert!(plugs[0].state().relays[&0]);
    d.stop().await;
}
