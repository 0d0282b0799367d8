//! The first hour of a new user: one daemon per data directory, nothing generated when a
//! start fails, errors that name what to fix, logs that read well in a file or a log
//! shipper, and command-line tools that behave as Unix tools do.

use crate::common::*;
use crate::process::{merossd, spawn_daemon_with, strings};
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_is_refused_naming_the_first() {
    let dir = temp_dir("lock");
    let first = merossd::daemon::Daemon::start(config(dir.clone()))
        .await
        .unwrap();
    let error = merossd::daemon::Daemon::start(config(dir.clone()))
        .await
        .err()
        .expect("the second start must fail");
    assert_eq!(error.exit_code(), 2);
    let text = error.to_string();
    assert!(text.contains("in use by another merossd"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    first.stop().await;
    // The lock goes with the first daemon's file. A process another test forks in the
    // moment before it execs holds a copy of every descriptor for that moment: a start
    // refused then is tried again, a few times in two seconds.
    let mut again = None;
    for _ in 0..20 {
        match merossd::daemon::Daemon::start(config(dir.clone())).await {
            Ok(d) => {
                again = Some(d);
                break;
            }
            Err(e) if e.to_string().contains("in use by another merossd") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    again
        .expect("the data directory is free once the first stopped")
        .stop()
        .await;
}

#[tokio::test]
async fn a_taken_port_stops_the_start_before_anything_is_generated() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = temp_dir("taken");
    let mut c = config(dir.clone());
    c.accounts.clear(); // the account would be generated
    c.api.listen = taken.local_addr().unwrap();
    let error = merossd::daemon::Daemon::start(c).await.err().unwrap();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("api.listen"), "{error}");
    for file in ["account.json", "api-token", "cert.pem", "key.pem"] {
        assert!(
            !dir.join(file).exists(),
            "{file} was made by a start that failed"
        );
    }
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_written_is_named_with_exit_code_2() {
    let dir = temp_dir("unwritable");
    // A directory where the account file should be: no write can make it a file.
    std::fs::create_dir_all(dir.join("account.json")).unwrap();
    let mut c = config(dir.clone());
    c.accounts.clear();
    let error = merossd::daemon::Daemon::start(c).await.err().unwrap();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains(&dir.display().to_string()),
        "{error}"
    );
}

#[test]
fn logs_can_be_json_lines_without_debug_formatting() {
    let daemon = spawn_daemon_with("", "[log]\nformat = \"json\"\n", &[]);
    // The start line is written once every listener is bound: wait for it (bounded).
    let mut log = String::new();
    for _ in 0..200 {
        log = std::fs::read_to_string(&daemon.log).unwrap_or_default();
        if log.contains("merossd listening") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let listening = log
        .lines()
        .find(|l| l.contains("merossd listening"))
        .unwrap_or_else(|| panic!("no start line:\n{log}"));
    let line: serde_json::Value = serde_json::from_str(listening).expect("a JSON object");
    assert_eq!(line["level"], "INFO");
    assert!(
        !listening.contains("Some("),
        "Debug formatting: {listening}"
    );
    assert!(line["fields"]["local"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
}

#[test]
fn log_level_from_the_command_line_wins_over_the_config() {
    let daemon = spawn_daemon_with("", "[log]\nlevel = \"info\"\n", &["--log-level", "warn"]);
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(&daemon.log).unwrap();
    assert!(
        !log.contains("merossd listening"),
        "an info line at warn:\n{log}"
    );
}

#[tokio::test]
async fn the_command_line_reaches_every_device_feature() {
    let d = daemon().await;
    let plug = &plugs(&d, "h2", 1)[0];
    known(&d, plug).await;
    let uuid = plug.uuid.clone();
    let api = [
        "--url".to_owned(),
        format!("http://{}", d.api_addr),
        "--token".to_owned(),
        d.api_token.clone(),
    ];
    let run = |args: Vec<String>| {
        let all: Vec<String> = api.iter().cloned().chain(args).collect();
        async move { Ok::<_, ()>(merossd(all).await) }
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let (code, out, err) = run(args(&["toggle", &uuid, "ON"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is on"), "{out}");
    let (code, out, _) = run(args(&["toggle", &uuid, "toggle"])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("is off"), "{out}");
    assert!(!plug.state().relays[&0]);
    let (code, _, err) = run(args(&["toggle", &uuid, "on", "--channel", "3"]))
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("no channel 3"), "{err}");

    let (code, _, err) = run(args(&["rename", &uuid, "Kettle"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(args(&["device", &uuid])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.starts_with("Kettle"), "{out}");
    assert!(out.contains("channel 0 off"), "{out}");
    assert!(out.contains("last events:"), "{out}");
    assert!(out.lines().count() < 40, "not a human view:\n{out}");
    let (_, json_out, _) = run(args(&["device", &uuid, "--json"])).await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(parsed["name"], "Kettle");

    let (code, out, _) = run(args(&["events", &uuid, "--limit", "5"])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("state_changed"), "{out}");
    let (code, out, err) = run(args(&["timezone", &uuid, "Europe/Rome"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Europe/Rome"), "{out}");
    let (code, out, _) = run(args(&["consumption", &uuid])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("total"), "{out}");
    let (code, _, err) = run(args(&["forget", &uuid])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(d.engine.device(&uuid).is_none() || d.engine.device(&uuid).unwrap().online);
    d.stop().await;
}

#[tokio::test]
async fn a_reader_that_goes_away_ends_the_command_quietly() {
    let d = daemon().await;
    let _plugs = plugs(&d, "h3", 3);
    let (url, token) = (format!("http://{}", d.api_addr), d.api_token.clone());
    let status = tokio::task::spawn_blocking(move || {
        // The reader has gone before merossd writes: its first write meets a closed pipe.
        let script = format!(
            "set -o pipefail; (sleep 0.3; exec {} --url {url} --token {token} devices) | true",
            env!("CARGO_BIN_EXE_merossd")
        );
        Command::new("bash").args(["-c", &script]).output().unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.status.code(), Some(0), "{err}");
    d.stop().await;
}

/// The gate's lines about a device carry its name, the one a person gave it, so the log
/// says which plug in the house went away.
#[tokio::test]
async fn log_lines_about_a_device_carry_its_name() {
    let daemon = spawn_daemon_with("", "", &[]);
    let mut config = merossd::sim::SimConfig::new(
        "127.0.0.1",
        daemon.tls.port(),
        USER_ID,
        KEY,
        merossd::sim::Profile::metering_plug(),
    );
    config.timings = fast();
    let plug = merossd::sim::fleet(&config, "n1", 1, 1).remove(0);
    bound(&plug).await;
    let config_file = daemon.log.with_file_name("merossd.toml");
    let (code, _, err) = merossd(strings(&[
        "--config",
        config_file.to_str().unwrap(),
        "rename",
        &plug.uuid,
        "Kettle",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    drop(plug);
    let disconnect_line = || {
        std::fs::read_to_string(&daemon.log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("device disconnected"))
            .map(str::to_owned)
    };
    eventually("the disconnect line", Duration::from_secs(10), || {
        disconnect_line().is_some()
    })
    .await;
    let line = disconnect_line().unwrap_or_default();
    assert!(line.contains("Kettle"), "{line}");
}
