//! MerossIot, the Python library behind most Meross scripts and Home Assistant's cloud
//! integration, works unchanged against merossd: its real code (meross-iot 0.4.10.4, in a
//! venv under target/) logs in over merossd's cloud API, discovers, reads, switches and
//! meters a simulated plug over MQTT, and hears its pushes. Plus the API's refusals, by hand.

use crate::common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse";
const MEROSS_IOT: &str = "meross-iot==0.4.10.4";

/// The venv's python, made on first use (`.ci/run` makes it beforehand).
pub fn python() -> PathBuf {
    venv_python("MEROSSD_MEROSSIOT_PYTHON", "merossiot-venv", MEROSS_IOT)
}

pub async fn cloud_daemon() -> merossd::daemon::Daemon {
    let mut c = config(temp_dir("cloud"));
    c.cloud.listen = Some("127.0.0.1:0".parse().unwrap());
    c.accounts[0].email = Some(EMAIL.into());
    c.accounts[0].password = Some(PASSWORD.into());
    merossd::daemon::Daemon::start(c).await.unwrap()
}

/// Runs a MerossIot script (at most two minutes) and returns what it printed.
pub async fn run_script(python: PathBuf, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn meross_iot_logs_in_discovers_switches_meters_and_hears_pushes() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let d = cloud_daemon().await;
    let plug = &plugs(&d, "c9", 1)[0];
    known(&d, plug).await;
    let args = vec![
        format!("{}/tests/merossiot/client.py", env!("CARGO_MANIFEST_DIR")),
        format!("http://{}", d.cloud_addr.unwrap()),
        EMAIL.into(),
        PASSWORD.into(),
        "127.0.0.1".into(),
        d.tls_addrs[0].port().to_string(),
        plug.uuid.clone(),
    ];
    let out = run_script(python, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MerossIot failed:\n{stdout}\n{stderr}"
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(seen["wrong_password"], "BadLoginException", "{seen}");
    assert_eq!(seen["type"], "mss310", "{seen}");
    assert_eq!(seen["on_after_turn_on"], true, "{seen}");
    assert_eq!(seen["on_after_turn_off"], false, "{seen}");
    assert_eq!(seen["power_w"], json!(67.379), "{seen}");
    assert_eq!(seen["voltage_v"], json!(238.7), "{seen}");
    assert_eq!(seen["current_a"], json!(0.418), "{seen}");
    let pushes = seen["pushes"].as_array().cloned().unwrap_or_default();
    assert!(
        pushes.iter().any(|p| p == "Appliance.Control.ToggleX"),
        "no ToggleX push reached MerossIot's handler: {seen}"
    );
    assert_eq!(seen["logged_out"], true);
    // The commands came from MerossIot's own MQTT client, through the gate.
    let from_app = plug.state().received.iter().any(|m| {
        m.header.namespace == "Appliance.Control.ToggleX"
            && m.header.from.starts_with(&format!("/app/{USER_ID}-"))
    });
    assert!(from_app, "the plug got no command from the app");
    assert!(!plug.state().relays[&0]);
    d.stop().await;
}

/// The body of a signed cloud call as the Meross apps make it.
fn signed(params: &Value, tamper: bool) -> Value {
    let encoded = openssl::base64::encode_block(params.to_string().as_bytes());
    // A fresh nonce each call, as the apps send: merossd refuses a nonce used before.
    let (timestamp, nonce) = (
        merossd::protocol::now_secs() * 1000,
        format!("{:016X}", rand::random::<u64>()),
    );
    let mut sign =
        merossd::protocol::md5_hex(&format!("23x17ahWarFH6w29{timestamp}{nonce}{encoded}"));
    if tamper {
        sign = sign.chars().rev().collect();
    }
    json!({"params": encoded, "sign": sign, "timestamp": timestamp, "nonce": nonce})
}

/// Posts a body to the cloud API; its JSON answer.
fn post(cloud: std::net::SocketAddr, path: &str, body: &Value, token: Option<&str>) -> Value {
    let url = format!("http://{cloud}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Basic {}", token.unwrap_or("")))
        .send_json(body)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.body_mut().read_json().unwrap()
}

/// A signed cloud call as the Meross apps make it.
pub fn call(
    cloud: std::net::SocketAddr,
    path: &str,
    params: Value,
    token: Option<&str>,
    tamper: bool,
) -> Value {
    post(cloud, path, &signed(&params, tamper), token)
}

#[tokio::test]
async fn a_recorded_sign_in_cannot_be_played_again_and_guessing_is_slowed() {
    let d = cloud_daemon().await;
    let cloud = d.cloud_addr.unwrap();
    let login = |password: &str| json!({"email": EMAIL, "password": merossd::protocol::md5_hex(password), "encryption": 1});
    let right = signed(&login(PASSWORD), false);
    let body = right.clone();
    let (first, again) = tokio::task::spawn_blocking(move || {
        (
            post(cloud, "/v1/Auth/signIn", &body, None),
            post(cloud, "/v1/Auth/signIn", &body, None),
        )
    })
    .await
    .unwrap();
    assert_eq!(first["apiStatus"], 0, "{first}");
    assert_eq!(again["apiStatus"], 1043, "the same body again: {again}");

    // Guessing: a few wrong passwords, then every try waits, the right one too...
    let codes = tokio::task::spawn_blocking(move || {
        (0..8)
            .map(|_| {
                call(cloud, "/v1/Auth/signIn", login("guess"), None, false)["apiStatus"].clone()
            })
            .collect::<Vec<Value>>()
    })
    .await
    .unwrap();
    assert_eq!(codes[0], 1004);
    assert_eq!(codes[7], 1301, "{codes:?}");
    let now = tokio::task::spawn_blocking(move || {
        call(cloud, "/v1/Auth/signIn", login(PASSWORD), None, false)
    })
    .await
    .unwrap();
    assert_eq!(
        now["apiStatus"], 1301,
        "the right password during the delay: {now}"
    );
    // ...and once the delay has passed, the right password works.
    let mut signed_in = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = tokio::task::spawn_blocking(move || {
            call(cloud, "/v1/Auth/signIn", login(PASSWORD), None, false)
        })
        .await
        .unwrap();
        if answer["apiStatus"] == 0 {
            signed_in = true;
            break;
        }
    }
    assert!(signed_in, "the right password never worked again");
    assert!(metric(&d, "merossd_logins_throttled").await >= 1);
}

#[tokio::test]
async fn the_cloud_api_refuses_what_it_should() {
    let d = cloud_daemon().await;
    let plug = &plugs(&d, "c8", 1)[0];
    known(&d, plug).await;
    let login = |email: &str, password: &str| json!({"email": email, "password": merossd::protocol::md5_hex(password), "encryption": 1});
    let cloud = d.cloud_addr.unwrap();
    let run = |path: &'static str, params: Value, token: Option<String>, tamper: bool| async move {
        tokio::task::spawn_blocking(move || call(cloud, path, params, token.as_deref(), tamper))
            .await
            .unwrap()
    };
    assert_eq!(
        run("/v1/Auth/signIn", login(EMAIL, "nope"), None, false).await["apiStatus"],
        1004
    );
    // An unknown e-mail gets the same answer as a wrong password: e-mails cannot be told.
    assert_eq!(
        run("/v1/Auth/signIn", login("who@else", PASSWORD), None, false).await["apiStatus"],
        1004
    );
    assert_eq!(
        run("/v1/Auth/signIn", login(EMAIL, PASSWORD), None, true).await["apiStatus"],
        1043
    );
    let ok = run("/v1/Auth/signIn", login(EMAIL, PASSWORD), None, false).await;
    assert_eq!(ok["apiStatus"], 0, "{ok}");
    assert_eq!(
        ok["data"]["userid"],
        json!(USER_ID),
        "userid must be a string"
    );
    assert_eq!(ok["data"]["key"], KEY);
    let token = ok["data"]["token"].as_str().unwrap().to_owned();
    let list = run("/v1/Device/devList", json!({}), Some(token.clone()), false).await;
    assert_eq!(list["apiStatus"], 0);
    let entry = &list["data"][0];
    assert_eq!(entry["uuid"], json!(plug.uuid));
    assert_eq!(entry["onlineStatus"], 1);
    assert!(entry["domain"].is_string() && entry["reservedDomain"].is_string());
    assert_eq!(
        run(
            "/v1/Device/devList",
            json!({}),
            Some("forged".into()),
            false
        )
        .await["apiStatus"],
        1022
    );
    assert_eq!(
        run("/v1/Profile/logout", json!({}), Some(token.clone()), false).await["apiStatus"],
        0
    );
    assert_eq!(
        run("/v1/Device/devList", json!({}), Some(token), false).await["apiStatus"],
        1022
    );
    d.stop().await;
}

#[tokio::test]
async fn the_cloud_api_can_be_served_over_tls_with_the_daemons_certificate() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = config(temp_dir("cloud-tls"));
    c.cloud.listen = Some("127.0.0.1:0".parse().unwrap());
    c.cloud.tls = true;
    c.accounts[0].email = Some(EMAIL.into());
    c.accounts[0].password = Some(PASSWORD.into());
    let d = merossd::daemon::Daemon::start(c).await.unwrap();
    let login =
        json!({"email": EMAIL, "password": merossd::protocol::md5_hex(PASSWORD), "encryption": 1});
    let body = signed(&login, false).to_string();
    let tcp = tokio::net::TcpStream::connect(d.cloud_addr.unwrap())
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(merossd::sim::tls::client_config());
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("a TLS handshake");
    let request = format!(
        "POST /v1/Auth/signIn HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_string(&mut answer)).await;
    let json_start = answer.find('{').expect("a JSON body");
    let v: Value = serde_json::from_str(answer[json_start..].trim()).unwrap();
    assert_eq!(v["apiStatus"], 0, "{answer}");
    // Plain HTTP is not answered on that port.
    let mut plain = tokio::net::TcpStream::connect(d.cloud_addr.unwrap())
        .await
        .unwrap();
    plain.write_all(request.as_bytes()).await.unwrap();
    let mut back = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(12), plain.read_to_end(&mut back)).await;
    assert!(!String::from_utf8_lossy(&back).contains("apiStatus"));
}
