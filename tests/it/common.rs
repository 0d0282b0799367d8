//! A daemon on loopback port 0 with a temporary data directory, simulated plugs with fast
//! timings, and small clients for the API and the local MQTT listener.

use merossd::config::{Account, Config};
use merossd::daemon::Daemon;

use merossd::sim::{self, Profile, SimConfig, SimDevice, Timings};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub const USER_ID: &str = "1234";
pub const KEY: &str = "testkey";

/// A fresh directory under `$TMPDIR/merossd-it`; ones older than an hour (earlier runs)
/// are removed on the way.
pub fn temp_dir(tag: &str) -> PathBuf {
    let parent = std::env::temp_dir().join("merossd-it");
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(3600)));
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = parent.join(format!("{tag}-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn config(data_dir: PathBuf) -> Config {
    let mut c = Config {
        data_dir,
        ..Default::default()
    };
    c.mqtt.tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.mqtt.local_listen = Some("127.0.0.1:0".parse().unwrap());
    c.mqtt.handshake_timeout_s = 2;
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.api.request_timeout_s = 2;
    // Tests talk to loopback only: no announcements on the host's networks.
    c.mdns.enabled = false;
    c.accounts = vec![Account {
        user_id: USER_ID.into(),
        key: KEY.into(),
        ..Default::default()
    }];
    c
}

pub async fn daemon() -> Daemon {
    Daemon::start(config(temp_dir("d"))).await.unwrap()
}

/// A daemon that reads metering plugs' power every second, not every minute.
pub async fn polled_daemon(tag: &str) -> Daemon {
    let mut c = config(temp_dir(tag));
    c.energy.poll_interval_s = 1;
    Daemon::start(c).await.unwrap()
}

/// Firmware behaviour at ten times real speed or more.
pub fn fast() -> Timings {
    Timings {
        bind_interval: Duration::from_millis(300),
        binds_before_reconnect: 3,
        clock_interval: Duration::from_millis(300),
        clock_tries: 10,
        reconnect_delay: Duration::from_millis(300),
        keepalive: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        motion: Duration::from_millis(300),
        clock_speed: 1,
    }
}

pub fn sim_config(d: &Daemon, profile: Profile) -> SimConfig {
    let mut c = SimConfig::new("127.0.0.1", d.tls_addrs[0].port(), USER_ID, KEY, profile);
    c.timings = fast();
    c
}

/// `count` metering plugs; `prefix` keeps fleets of one test apart.
pub fn plugs(d: &Daemon, prefix: &str, count: u32) -> Vec<SimDevice> {
    sim::fleet(&sim_config(d, Profile::metering_plug()), prefix, 1, count)
}

pub async fn bound(plug: &SimDevice) {
    assert!(
        plug.wait_for(Duration::from_secs(10), |s| s.bound).await,
        "plug {} did not bind: {:?}",
        plug.uuid,
        plug.state()
    );
}

/// Waits until the plug bound and the engine has its abilities and System.All (which
/// gives its channels; the Bind already carries hardware and firmware).
pub async fn known(d: &merossd::daemon::Daemon, plug: &SimDevice) {
    bound(plug).await;
    eventually("abilities and state known", Duration::from_secs(5), || {
        d.engine
            .device(&plug.uuid)
            .is_some_and(|x| x.ability.is_some() && !x.channels.is_empty())
    })
    .await;
}

/// Waits (bounded) until `check` holds.
pub async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + within;
    while !check() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls the admin API; returns status and JSON body (Null when empty).
pub async fn api(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Value) {
    let body = body.map(|b| (b.as_bytes().to_vec(), "application/json"));
    api_raw(d, method, path, body, token).await
}

/// Calls the admin API with a body of `content_type` (a firmware image, say).
pub async fn api_raw(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<(Vec<u8>, &'static str)>,
    token: Option<&str>,
) -> (u16, Value) {
    let url = format!("http://{}{path}", d.api_addr);
    let token = token
        .map(str::to_owned)
        .unwrap_or_else(|| d.api_token.clone());
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let auth = format!("Bearer {token}");
        let request = http_request(&method, &url, &auth, body);
        let mut response = agent.run(request).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    })
    .await
    .unwrap()
}

fn http_request(
    method: &str,
    url: &str,
    auth: &str,
    body: Option<(Vec<u8>, &'static str)>,
) -> ureq::http::Request<Vec<u8>> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    if !auth.ends_with(' ') {
        b = b.header("Authorization", auth);
    }
    if let Some((_, content_type)) = &body {
        b = b.header("Content-Type", *content_type);
    }
    b.body(body.map(|(bytes, _)| bytes).unwrap_or_default())
        .unwrap()
}

/// A plain MQTT client on the daemon's local listener.
pub async fn local_client(d: &Daemon, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let addr = d.local_addr.unwrap();
    let mut options = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    rumqttc::AsyncClient::new(options, 2000)
}

/// An MQTT client logged in as the `n`-th device of fleet `prefix` (its uuid, MAC and
/// password), on the local listener; returns the device's uuid too.
pub fn device_client(
    d: &Daemon,
    prefix: &str,
    n: u32,
) -> (String, rumqttc::AsyncClient, rumqttc::EventLoop) {
    let (uuid, mac) = sim::identity(prefix, n);
    let addr = d.local_addr.unwrap();
    let id = format!("fmware:{uuid}_test{n}");
    let mut options = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    options.set_credentials(
        mac.clone(),
        merossd::protocol::device_password(&mac, USER_ID, KEY),
    );
    let (client, events) = rumqttc::AsyncClient::new(options, 2000);
    (uuid, client, events)
}

/// A local MQTT client subscribed to `filter`; what it receives comes out of the channel
/// as (topic, payload, retained).
pub async fn listen(
    d: &Daemon,
    id: &str,
    filter: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
) {
    let (client, mut events) = local_client(d, id).await;
    client
        .subscribe(filter, rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Bounded: ends when the connection does (the daemon stops, or the test ends).
        while let Ok(event) = events.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event {
                if tx
                    .send((p.topic.clone(), p.payload.to_vec(), p.retain))
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    (client, rx)
}

/// Receives until `check` matches a message, or `within` passes.
pub async fn receive_until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>, bool)>,
    within: Duration,
    mut check: impl FnMut(&str, &[u8]) -> bool,
) -> Option<(String, Vec<u8>, bool)> {
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(m)) if check(&m.0, &m.1) => return Some(m),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// Switches channel 0 of a device through the admin API; the HTTP status.
pub async fn switch_via_api(d: &merossd::daemon::Daemon, uuid: &str, on: bool) -> u16 {
    let body = json!({"channel": 0, "on": on}).to_string();
    api(
        d,
        "POST",
        &format!("/api/v1/devices/{uuid}/toggle"),
        Some(&body),
        None,
    )
    .await
    .0
}

/// The value of one metric in `/metrics` (0 when absent).
pub async fn metric(d: &Daemon, name: &str) -> u64 {
    let (_, body) = api(d, "GET", "/metrics", None, None).await;
    let text = body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (key, value) = l.split_once(' ')?;
            let key = key.split('{').next()?;
            (key == name || key == format!("{name}_total"))
                .then(|| value.trim().parse::<f64>().ok())?
        })
        .map_or(0, |v| v as u64)
}

/// `/api/v1/health`'s `status`.
pub async fn health_status(d: &Daemon) -> String {
    let (_, h) = api(d, "GET", "/api/v1/health", None, None).await;
    h["status"].as_str().unwrap_or_default().to_owned()
}

/// A free loopback port below 32768 (where servers of tests listen: busy client sockets
/// take the ephemeral ports above), for a server that cannot be handed port 0.
pub fn low_port() -> u16 {
    for _ in 0..200 {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 20000..32000");
}

/// Waits until the engine has a metering plug's first electricity reading.
pub async fn first_reading(d: &Daemon, plug: &SimDevice) {
    eventually("a reading", Duration::from_secs(10), || {
        d.engine
            .device(&plug.uuid)
            .is_some_and(|x| !x.electricity.is_empty())
    })
    .await;
}

/// The recorded device whose trace file name holds `name` (`msl450`, `mts200b`...), from
/// `tests/fixtures/device-traces`.
pub fn trace(name: &str) -> merossd::sim::Profile {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/device-traces");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(name))
        .unwrap_or_else(|| panic!("no trace {name} in {}", dir.display()));
    merossd::sim::Profile::from_trace(&file).unwrap()
}

/// The SETs of `namespace` a simulated device received, payloads only, oldest first.
pub fn sets(dev: &merossd::sim::SimDevice, namespace: &str) -> Vec<Value> {
    dev.state()
        .received
        .iter()
        .filter(|m| {
            m.header.method == merossd::protocol::Method::Set && m.header.namespace == namespace
        })
        .map(|m| m.payload.clone())
        .collect()
}

/// `POST /api/v1/devices/<path>` with a JSON body.
pub async fn post_device(d: &Daemon, path: &str, body: Value) -> (u16, Value) {
    api(
        d,
        "POST",
        &format!("/api/v1/devices/{path}"),
        Some(&body.to_string()),
        None,
    )
    .await
}

/// Waits until the engine has read some family state of `dev` (bound, then asked).
pub async fn families_read(d: &Daemon, dev: &merossd::sim::SimDevice) {
    bound(dev).await;
    eventually("its families read", Duration::from_secs(5), || {
        d.engine
            .device(&dev.uuid)
            .is_some_and(|x| x.families.is_some())
    })
    .await;
}

/// A client that logs in to `d`'s local listener as a plug (the `prefix` fleet's first:
/// its uuid and MAC, the test account's key) and sends nothing itself; its uuid.
pub fn plug_that_never_binds(d: &Daemon, prefix: &str) -> (String, rumqttc::AsyncClient) {
    let (uuid, mac) = sim::identity(prefix, 1);
    let addr = d.local_addr.unwrap();
    let mut options = rumqttc::MqttOptions::new(
        format!("fmware:{uuid}_mute"),
        addr.ip().to_string(),
        addr.port(),
    );
    let password = merossd::protocol::device_password(&mac, USER_ID, KEY);
    options.set_credentials(mac, password);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
    tokio::spawn(async move {
        for _ in 0..1000 {
            if events.poll().await.is_err() {
                return;
            }
        }
    });
    (uuid, client)
}

/// Waits until `dev` bound and the engine has its hardware and abilities (not every
/// family has channels).
pub async fn recognised(d: &Daemon, dev: &SimDevice) {
    bound(dev).await;
    eventually(
        "hardware and abilities known",
        Duration::from_secs(5),
        || {
            d.engine
                .device(&dev.uuid)
                .is_some_and(|x| x.hardware.is_some() && x.ability.is_some())
        },
    )
    .await;
}

/// A config file for the command line naming the test account, in a directory of its own.
pub fn account_config(tag: &str) -> PathBuf {
    let config = temp_dir(tag).join("merossd.toml");
    std::fs::write(
        &config,
        format!("[[accounts]]\nuser_id = \"{USER_ID}\"\nkey = \"{KEY}\"\n"),
    )
    .unwrap();
    config
}

/// The CLI's connection to `d`, with `config` as its config file.
pub fn cli_args(d: &Daemon, config: &std::path::Path, command: &[&str]) -> Vec<String> {
    let mut args = crate::process::strings(&[
        "--config",
        &config.display().to_string(),
        "--url",
        &format!("http://{}", d.api_addr),
        "--token",
        &d.api_token,
    ]);
    args.extend(crate::process::strings(command));
    args
}

/// A metering plug's config for a plug in pairing mode, the `prefix` fleet's first: what
/// it dials after pairing comes from pairing, not from here.
pub fn unpaired_config(d: &Daemon, prefix: &str) -> SimConfig {
    let (uuid, mac) = sim::identity(prefix, 1);
    let mut config = sim_config(d, Profile::metering_plug());
    config.host = "192.0.2.1".into();
    config.port = 1;
    config.user_id = "0".into();
    config.key = String::new();
    config.uuid = uuid;
    config.mac = mac;
    config
}

/// The trace of `uuid` as the daemon holds it, once it has a row holding `part` (asked
/// every 100 ms, for 10 s at most; as it stands then, if never).
pub async fn trace_with(d: &Daemon, uuid: &str, part: &str) -> String {
    let path = format!("/api/v1/devices/{uuid}/trace");
    let mut text = String::new();
    for _ in 0..100 {
        let (status, body) = api(d, "GET", &path, None, None).await;
        assert_eq!(status, 200, "{body}");
        text = body.as_str().unwrap_or_default().to_owned();
        if text.contains(part) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text
}

/// The python of a venv under target/ holding `requirement` (`pkg==version`), made on
/// first use unless `env_var` names one (`.ci/run` makes them beforehand).
pub fn venv_python(env_var: &str, venv: &str, requirement: &str) -> PathBuf {
    use std::process::{Command, Stdio};
    if let Some(given) = std::env::var_os(env_var) {
        return PathBuf::from(given);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(venv);
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if !ready.exists() {
        let ok = |mut c: Command| c.stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        let mut make = Command::new("python3");
        make.args(["-m", "venv"]).arg(&venv);
        assert!(ok(make), "python3 -m venv failed (Debian: python3-venv)");
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "-q", requirement]);
        assert!(ok(pip), "pip install {requirement} failed");
        std::fs::write(&ready, requirement).unwrap();
    }
    python
}
