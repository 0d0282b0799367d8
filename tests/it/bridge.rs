//! The README's mosquitto bridge, as written there, against a real mosquitto: a client
//! of mosquitto sees merossd's Home Assistant discovery and state, and a command sent to
//! mosquitto switches the plug.

use crate::common::*;
use merossd::daemon::Daemon;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bridge lines between "```" fences after "connection merossd" in the README; with
/// `defaults`, without its `notifications false` (mosquitto's default is a will on `$SYS`).
fn readme_bridge(merossd_port: u16, defaults: bool) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("connection merossd")
        .expect("the README has the bridge");
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end]
        .lines()
        .map(|l| l.trim())
        .filter(|l| !(defaults && l.starts_with("notifications")))
        .map(|l| {
            if l.starts_with("address ") {
                format!("address 127.0.0.1:{merossd_port}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_readmes_mosquitto_bridge_carries_discovery_and_commands() {
    bridged(false).await;
}

/// mosquitto's default bridge asks for a will on `$SYS`: it is taken all the same.
#[tokio::test]
async fn a_bridge_with_mosquittos_default_notifications_is_taken_too() {
    bridged(true).await;
}

async fn bridged(defaults: bool) {
    let mut c = config(temp_dir("bridge"));
    let merossd_port = low_port();
    c.mqtt.local_listen = Some(format!("127.0.0.1:{merossd_port}").parse().unwrap());
    let d = Daemon::start(c).await.unwrap();
    let plug = &plugs(&d, "br", 1)[0];
    known(&d, plug).await;

    let dir = temp_dir("mosquitto");
    let port = low_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{}\n",
            readme_bridge(merossd_port, defaults)
        ),
    )
    .unwrap();
    let _mosquitto = Mosquitto(
        Command::new("mosquitto")
            .args(["-c", conf.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is needed (Debian package mosquitto; .ci/run installs it)"),
    );
    // Discovery reaches a client of mosquitto (retained, through the bridge).
    let topic = format!("homeassistant/switch/{}/switch_0/config", plug.uuid);
    let mut seen = false;
    for _ in 0..40 {
        let out = tokio::task::spawn_blocking({
            let topic = topic.clone();
            move || {
                Command::new("mosquitto_sub")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "-t",
                        &topic,
                        "-C",
                        "1",
                        "-W",
                        "1",
                    ])
                    .output()
                    .expect("mosquitto_sub (Debian package mosquitto-clients)")
            }
        })
        .await
        .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("command_topic") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(seen, "no discovery config of the plug through the bridge");
    // A command sent to mosquitto reaches merossd and the plug.
    let on = !plug.state().relays[&0];
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            &format!("merossd/{}/0/set", plug.uuid),
            "-m",
            if on { "ON" } else { "OFF" },
        ])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(
        "the plug switched through the bridge",
        Duration::from_secs(10),
        || plug.state().relays.get(&0) == Some(&on),
    )
    .await;
    d.stop().await;
}
