//! A real Home Assistant (2024.3.3, the last for Python 3.11) on merossd's local listener,
//! with 30 simulated metering plugs: every entity appears and is available, a plug added
//! while it runs becomes available, switching from its REST API reaches the plug, and a
//! plug that goes away goes unavailable; and a light, a thermostat and a garage door from
//! their traces show as a light, a climate and a cover whose commands reach the device, and
//! a MOKO plug as a switch, sensors and a countdown (`hass_moko`). `tests/homeassistant/ha.py` starts, onboards and
//! stops it; `.ci/homeassistant-install` installs it (`.ci/run` does that beforehand and
//! says where in `MEROSSD_HA_PYTHON`).

use crate::common::*;
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile, SimDevice};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A metering plug's entities: its switch; power, voltage, current and energy; its
/// do-not-disturb switch, its signal and its auto-off minutes.
const ENTITIES_PER_PLUG: usize = 8;

const PLUGS: u32 = 30;

/// The venv's python, installed on first use when `.ci/run` did not.
pub(crate) fn python() -> PathBuf {
    if let Some(given) = std::env::var_os("MEROSSD_HA_PYTHON") {
        return PathBuf::from(given);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ha-venv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/homeassistant-install");
    let status = Command::new(script).arg(&venv).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        ".ci/homeassistant-install failed"
    );
    venv.join("bin/python")
}

fn ha_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/homeassistant/ha.py")
}

/// A running Home Assistant: its URL and token; stopped when dropped.
pub(crate) struct Hass {
    dir: PathBuf,
    url: String,
    token: String,
}

impl Hass {
    fn start(dir: &Path, mqtt_port: u16) -> Hass {
        let http_port = low_port();
        let out = Command::new(python())
            .arg(ha_script())
            .args(["start", "--config"])
            .arg(dir)
            .args(["--http-port", &http_port.to_string()])
            .args([
                "--mqtt-host",
                "127.0.0.1",
                "--mqtt-port",
                &mqtt_port.to_string(),
            ])
            .args(["--watch-pid", &std::process::id().to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("ha.py runs");
        assert!(out.status.success(), "Home Assistant did not start");
        let started: Value = serde_json::from_slice(&out.stdout).expect("ha.py's JSON line");
        Hass {
            dir: dir.to_owned(),
            url: started["url"].as_str().unwrap().to_owned(),
            token: started["token"].as_str().unwrap().to_owned(),
        }
    }

    /// One call of Home Assistant's REST API.
    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let auth = format!("Bearer {}", self.token);
        let method = method.to_owned();
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(20)))
                .build()
                .into();
            let request = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .body(body.map(|b| b.to_string()).unwrap_or_default().into_bytes())
                .unwrap();
            let mut response = agent.run(request).expect("Home Assistant answers");
            let text = response.body_mut().read_to_string().unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
        .await
        .unwrap()
    }

    /// The states of a plug's entities (its switch and sensors), by entity id.
    async fn entities_of(&self, plug: &SimDevice) -> Vec<(String, String)> {
        self.states_of(plug, "mss310")
            .await
            .into_iter()
            .map(|s| {
                let id = s["entity_id"].as_str().unwrap_or_default().to_owned();
                (id, s["state"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// The whole states (with attributes) of a device's entities: those whose name starts
    /// with the device's default name.
    async fn states_of(&self, device: &SimDevice, kind: &str) -> Vec<Value> {
        let states = self.call("GET", "/api/states", None).await;
        // Its default name ends with the end of its MAC, as on the plug's label.
        let mac: String = device.mac.chars().filter(char::is_ascii_hexdigit).collect();
        let end = mac[mac.len() - 4..].to_ascii_uppercase();
        let name = format!("Meross {kind} {}:{}", &end[..2], &end[2..]);
        states
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["attributes"]["friendly_name"]
                    .as_str()
                    .is_some_and(|f| f.starts_with(&name))
            })
            .cloned()
            .collect()
    }

    /// Waits until every plug has its entities, all of them available.
    async fn all_available(&self, plugs: &[SimDevice], within: Duration) {
        let end = tokio::time::Instant::now() + within;
        loop {
            let mut missing = Vec::new();
            for plug in plugs {
                let e = self.entities_of(plug).await;
                if e.len() != ENTITIES_PER_PLUG || e.iter().any(|(_, s)| s == "unavailable") {
                    missing.push((plug.uuid.clone(), e));
                }
            }
            if missing.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "{} plugs not all available in Home Assistant, e.g. {:?}",
                missing.len(),
                missing.first()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn switch_state(&self, plug: &SimDevice) -> Option<(String, String)> {
        self.entities_of(plug)
            .await
            .into_iter()
            // Its outlet, not its do-not-disturb switch.
            .find(|(id, _)| id.starts_with("switch.") && !id.ends_with("do_not_disturb"))
    }
}

impl Drop for Hass {
    // Blocks the test's thread for a second or two at its very end; the daemon it stops
    // talking to is of no use any more by then.
    fn drop(&mut self) {
        let _ = Command::new(python())
            .arg(ha_script())
            .args(["stop", "--config"])
            .arg(&self.dir)
            .status();
    }
}

/// Waits until `check` holds for the state of the plug's switch in Home Assistant.
async fn switch_becomes(hass: &Hass, plug: &SimDevice, want: &str, within: Duration) {
    let end = tokio::time::Instant::now() + within;
    loop {
        let now = hass.switch_state(plug).await;
        if now.as_ref().is_some_and(|(_, s)| s == want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "switch of {} is {now:?}, not {want}",
            plug.uuid
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_real_home_assistant_sees_every_plug_switches_them_and_sees_them_go() {
    let mut c = config(temp_dir("hass"));
    let mqtt_port = low_port();
    c.mqtt.local_listen = Some(format!("127.0.0.1:{mqtt_port}").parse().unwrap());
    c.energy.poll_interval_s = 5;
    let d = Daemon::start(c).await.unwrap();
    let profile = Profile::metering_plug();
    let plugs = sim::fleet(&sim_config(&d, profile.clone()), "ha30", 1, PLUGS);
    for plug in &plugs {
        known(&d, plug).await;
    }
    let families = FamilyDevices::start(&d).await;
    let moko = crate::hass_moko::MokoInHass::start(&d).await;
    let dir = temp_dir("hass-config");
    // Off the test's runtime, which serves the daemon Home Assistant connects to.
    let hass = tokio::task::spawn_blocking(move || Hass::start(&dir, mqtt_port))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    hass.all_available(&plugs, Duration::from_secs(60)).await;
    eprintln!(
        "Home Assistant: all {} entities of {PLUGS} plugs available {:?} after it was up",
        PLUGS as usize * ENTITIES_PER_PLUG,
        started.elapsed()
    );

    // A plug added while Home Assistant runs becomes available.
    let late = sim::fleet(&sim_config(&d, profile), "ha30", PLUGS + 1, 1);
    let added = std::time::Instant::now();
    known(&d, &late[0]).await;
    hass.all_available(&late, Duration::from_secs(30)).await;
    eprintln!(
        "Home Assistant: a plug added later available after {:?}",
        added.elapsed()
    );

    // Switching from Home Assistant reaches the plug, and Home Assistant sees it.
    let plug = &plugs[3];
    let (entity, before) = hass.switch_state(plug).await.expect("a switch entity");
    let (service, want) = if before == "on" {
        ("turn_off", "off")
    } else {
        ("turn_on", "on")
    };
    hass.call(
        "POST",
        &format!("/api/services/switch/{service}"),
        Some(json!({"entity_id": entity})),
    )
    .await;
    eventually("the plug switched", Duration::from_secs(10), || {
        plug.state().relays.get(&0) == Some(&(want == "on"))
    })
    .await;
    switch_becomes(&hass, plug, want, Duration::from_secs(10)).await;

    // Auto-off minutes set in Home Assistant become the plug's own rule.
    let entities = hass.entities_of(plug).await;
    let (number, _) = (entities.iter())
        .find(|(id, _)| id.starts_with("number.") && id.ends_with("_auto_off"))
        .expect("an auto-off number");
    hass.call(
        "POST",
        "/api/services/number/set_value",
        Some(json!({"entity_id": number, "value": 25})),
    )
    .await;
    eventually(
        "the plug holds a 25-minute auto-off",
        Duration::from_secs(10),
        || {
            let triggers = plug.state().schedules.triggers;
            triggers
                .first()
                .and_then(|t| t.pointer("/rule/duration").cloned())
                == Some(json!(1500))
        },
    )
    .await;

    // A plug that goes away goes unavailable; the others stay.
    let gone = &plugs[7];
    gone.stop();
    let stopped = std::time::Instant::now();
    switch_becomes(&hass, gone, "unavailable", Duration::from_secs(30)).await;
    eprintln!(
        "Home Assistant: a gone plug unavailable after {:?}",
        stopped.elapsed()
    );
    assert_ne!(
        hass.switch_state(&plugs[8]).await.map(|(_, s)| s),
        Some("unavailable".to_owned())
    );
    families.check(&hass).await;
    moko.check(&hass).await;
}

/// A light, a thermostat and a garage door from their traces, beside the plugs.
struct FamilyDevices {
    light: SimDevice,
    thermostat: SimDevice,
    door: SimDevice,
}

impl FamilyDevices {
    async fn start(d: &Daemon) -> FamilyDevices {
        let one = |name, n| sim::fleet(&sim_config(d, trace(name)), "hafam", n, 1).remove(0);
        let f = FamilyDevices {
            light: one("msl450", 1),
            thermostat: one("mts200b", 2),
            door: one("msg100", 3),
        };
        for dev in [&f.light, &f.thermostat, &f.door] {
            bound(dev).await;
            eventually("its family read", Duration::from_secs(5), || {
                d.engine
                    .device(&dev.uuid)
                    .is_some_and(|x| x.families.is_some())
            })
            .await;
        }
        f
    }

    /// Waits for the one entity of `domain` of a device, available.
    async fn entity(hass: &Hass, dev: &SimDevice, kind: &str, domain: &str) -> Value {
        let prefix = format!("{domain}.");
        for _ in 0..120 {
            let found = hass.states_of(dev, kind).await.into_iter().find(|s| {
                s["entity_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&prefix))
                    && s["state"] != "unavailable"
            });
            if let Some(state) = found {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "no available {domain} entity of {kind} {}: {:?}",
            dev.uuid,
            hass.states_of(dev, kind).await
        );
    }

    /// Home Assistant shows each as its kind of entity, with the recorded state, and its
    /// commands reach the device as the SET its firmware takes.
    async fn check(&self, hass: &Hass) {
        let light = Self::entity(hass, &self.light, "msl450", "light").await;
        let modes = light["attributes"]["supported_color_modes"].to_string();
        assert!(
            modes.contains("rgb") && modes.contains("color_temp"),
            "{light}"
        );
        let climate = Self::entity(hass, &self.thermostat, "mts200b", "climate").await;
        assert_eq!(
            climate["attributes"]["current_temperature"], 21.0,
            "{climate}"
        );
        assert_eq!(climate["attributes"]["temperature"], 21.0, "{climate}");
        let cover = Self::entity(hass, &self.door, "msg100", "cover").await;
        assert_eq!(
            (&cover["state"], &cover["attributes"]["device_class"]),
            (&json!("open"), &json!("garage")),
            "{cover}"
        );

        let id = |v: &Value| v["entity_id"].clone();
        hass.call(
            "POST",
            "/api/services/light/turn_on",
            Some(
                json!({"entity_id": id(&light), "brightness_pct": 40, "rgb_color": [255, 136, 0]}),
            ),
        )
        .await;
        hass.call(
            "POST",
            "/api/services/climate/set_temperature",
            Some(json!({"entity_id": id(&climate), "temperature": 22.5})),
        )
        .await;
        hass.call(
            "POST",
            "/api/services/cover/close_cover",
            Some(json!({"entity_id": id(&cover)})),
        )
        .await;
        let sent = |dev: &SimDevice, ns: &str| {
            dev.state()
                .received
                .iter()
                .filter(|m| {
                    m.header.namespace == ns && m.header.method == merossd::protocol::Method::Set
                })
                .map(|m| m.payload.clone())
                .collect::<Vec<_>>()
        };
        eventually(
            "Home Assistant's commands reached the devices",
            Duration::from_secs(15),
            || {
                sent(&self.light, "Appliance.Control.Light")
                    .iter()
                    .any(|p| p["light"]["rgb"] == 0xff8800 && p["light"]["luminance"] == 40)
                    && sent(&self.thermostat, "Appliance.Control.Thermostat.Mode")
                        .contains(&json!({"mode": [{"channel": 0, "mode": 4, "manualTemp": 225}]}))
                    && sent(&self.door, "Appliance.GarageDoor.State")
                        .contains(&json!({"state": {"channel": 0, "open": 0}}))
            },
        )
        .await;
        for _ in 0..60 {
            let now = Self::entity(hass, &self.door, "msg100", "cover").await;
            if now["state"] == "closed" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("Home Assistant never showed the door closed");
    }
}
