//! The family commands of the CLI, run as a user runs them, against a daemon with a
//! recorded thermostat and garage door: each reaches the device and says the outcome in
//! one line; a bad value is refused with the field named and a non-zero exit.

use crate::common::*;
use merossd::sim;
use std::process::Command;
use std::time::Duration;

/// Runs `merossd <args>` against the daemon: exit code, stdout, stderr.
pub(crate) async fn merossd(d: &merossd::daemon::Daemon, args: &[&str]) -> (i32, String, String) {
    let (url, token) = (format!("http://{}", d.api_addr), d.api_token.clone());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_merossd"))
            .args(["--url", &url, "--token", &token])
            .args(&args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn thermostat_garage_and_device_commands_say_what_the_device_did() {
    let d = daemon().await;
    let thermostat = sim::fleet(&sim_config(&d, trace("mts200b")), "fc", 1, 1).remove(0);
    let door = sim::fleet(&sim_config(&d, trace("msg100")), "fc", 2, 1).remove(0);
    for dev in [&thermostat, &door] {
        bound(dev).await;
    }
    eventually("families read", Duration::from_secs(5), || {
        [&thermostat, &door].iter().all(|dev| {
            d.engine
                .device(&dev.uuid)
                .is_some_and(|x| x.families.is_some())
        })
    })
    .await;

    let (code, out, err) = merossd(&d, &["thermostat", &thermostat.uuid, "--target", "22.5"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("target 22.5 °C"), "{out}");
    let (code, _, err) = merossd(&d, &["thermostat", &thermostat.uuid, "--target", "70"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("target_c"), "the field is named: {err}");

    let (code, out, err) = merossd(&d, &["garage", &door.uuid, "close"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("door 0 is closing"), "{out}");
    let (code, out, _) = merossd(&d, &["device", &door.uuid]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("door 0 is"),
        "merossd device shows the door: {out}"
    );
    d.stop().await;
}
