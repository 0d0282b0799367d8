//! `merossd pair` end to end: a daemon, a simulated plug in pairing mode serving the
//! plug's pairing API, and the command line against both.

use crate::common::*;
use merossd::sim::pairing::{PairingOptions, PairingPlug};
use std::time::{Duration, Instant};

async fn plug_in_pairing_mode(
    d: &merossd::daemon::Daemon,
    prefix: &str,
    options: PairingOptions,
) -> PairingPlug {
    let config = unpaired_config(d, prefix);
    PairingPlug::start("127.0.0.1:0".parse().unwrap(), config, options)
        .await
        .unwrap()
}

fn options(wifix: bool) -> PairingOptions {
    PairingOptions {
        wifix,
        refuse: None,
        stays_away: false,
        ecdhe: false,
        paired: false,
    }
}

/// Runs `merossd pair` against `plug` and `d` with `extra` arguments.
async fn pair(
    d: &merossd::daemon::Daemon,
    plug: &PairingPlug,
    extra: &[&str],
) -> (i32, String, String, Duration) {
    let config = account_config("pair");
    let mut args: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "--url".into(),
        format!("http://{}", d.api_addr),
        "--token".into(),
        d.api_token.clone(),
        "pair".into(),
        "--device".into(),
        format!("http://{}", plug.addr),
        "--server".into(),
        format!("127.0.0.1:{}", d.tls_addrs[0].port()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let started = Instant::now();
    let (code, out, err) = crate::process::merossd(args).await;
    (code, out, err, started.elapsed())
}

#[tokio::test]
async fn a_reset_plug_is_paired_and_binds_with_wifix_and_with_plain_wifi() {
    let d = daemon().await;
    for (i, wifix) in [true, false].into_iter().enumerate() {
        let plug = plug_in_pairing_mode(&d, &format!("e{i}"), options(wifix)).await;
        let (code, out, err, took) = pair(
            &d,
            &plug,
            &[
                "--wifi-ssid",
                "HomeNet",
                "--wifi-pass",
                "hunter2 ünï",
                "--timeout-s",
                "20",
            ],
        )
        .await;
        assert_eq!(code, 0, "wifix={wifix}\n{err}");
        assert!(out.contains("is connected and bound"), "{out}");
        eprintln!("simulated pairing (wifix={wifix}): command to bound in {took:?}");
        let told = plug.told();
        assert_eq!(told.ssid.as_deref(), Some("HomeNet"));
        assert_eq!(
            told.password.as_deref(),
            Some("hunter2 ünï"),
            "wifix={wifix}"
        );
        assert_eq!(told.user_id.as_deref(), Some(USER_ID));
        assert_eq!(told.key.as_deref(), Some(KEY));
        let server = Some(("127.0.0.1".to_owned(), d.tls_addrs[0].port()));
        assert_eq!(told.server, server);
        assert_eq!(told.second_server, server, "both gateways must be merossd");
        assert!(told.zone.is_some(), "the time and zone were not set");
        assert!(plug.device_state().is_some_and(|s| s.bound));
    }
    d.stop().await;
}

#[tokio::test]
async fn a_plug_that_encrypts_its_api_is_paired_over_the_agreed_key() {
    let d = daemon().await;
    let encrypting = PairingOptions {
        ecdhe: true,
        ..options(true)
    };
    let plug = plug_in_pairing_mode(&d, "e3", encrypting).await;
    let wifi = [
        "--wifi-ssid",
        "HomeNet",
        "--wifi-pass",
        "hunter2",
        "--timeout-s",
        "20",
    ];
    let (code, out, err, _) = pair(&d, &plug, &wifi).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is connected and bound"), "{out}");
    let told = plug.told();
    assert_eq!(told.key.as_deref(), Some(KEY));
    assert_eq!(told.password.as_deref(), Some("hunter2"));
    // WifiList, Config.Key, Time and WifiX went encrypted; nothing plain was dropped.
    assert!(told.encrypted >= 4, "{told:?}");
    assert_eq!(told.plain_dropped, 0, "{told:?}");
    assert!(plug.device_state().is_some_and(|s| s.bound));
    d.stop().await;
}

#[tokio::test]
async fn an_unknown_ssid_lists_what_the_plug_sees_and_changes_nothing() {
    let d = daemon().await;
    let plug = plug_in_pairing_mode(&d, "e2", options(true)).await;
    let (code, _, err, _) =
        pair(&d, &plug, &["--wifi-ssid", "Elsewhere", "--wifi-pass", "x"]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("\"HomeNet\"") && err.contains("\"Neighbour 5G\""),
        "{err}"
    );
    assert!(err.contains("Nothing was changed"), "{err}");
    assert!(plug.told().key.is_none());
    d.stop().await;
}

#[tokio::test]
async fn a_refusal_names_the_step_and_a_plug_that_never_comes_back_says_so() {
    let d = daemon().await;
    let refusing = plug_in_pairing_mode(
        &d,
        "e3",
        PairingOptions {
            refuse: Some("Appliance.Config.Key".into()),
            ..options(true)
        },
    )
    .await;
    let (code, _, err, _) = pair(
        &d,
        &refusing,
        &["--wifi-ssid", "HomeNet", "--wifi-pass", "x"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("giving it the server and key"), "{err}");
    assert!(err.contains("ERROR 5000"), "{err}");

    let away = plug_in_pairing_mode(
        &d,
        "e4",
        PairingOptions {
            stays_away: true,
            ..options(true)
        },
    )
    .await;
    let (code, _, err, _) = pair(
        &d,
        &away,
        &[
            "--wifi-ssid",
            "HomeNet",
            "--wifi-pass",
            "x",
            "--timeout-s",
            "2",
        ],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("never connected"), "{err}");
    d.stop().await;
}

#[tokio::test]
async fn scan_and_dry_run_change_nothing_and_show_no_secret() {
    let d = daemon().await;
    let plug = plug_in_pairing_mode(&d, "e5", options(true)).await;
    let (code, out, err, _) = pair(&d, &plug, &["--scan"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("HomeNet") && lines[1].contains("Neighbour 5G"),
        "{out}"
    );
    let (code, out, err, _) = pair(
        &d,
        &plug,
        &[
            "--wifi-ssid",
            "HomeNet",
            "--wifi-pass",
            "hunter2",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("SET Appliance.Config.Key") && out.contains("SET Appliance.Config.WifiX"),
        "{out}"
    );
    assert!(
        !out.contains(KEY) && !out.contains("hunter2"),
        "a secret in the dry run:\n{out}"
    );
    assert!(plug.told().key.is_none(), "a dry run changed the plug");
    d.stop().await;
}

#[tokio::test]
async fn a_plug_whose_http_lines_end_with_lf_alone_is_understood() {
    // A plug's HTTP server ends header lines with LF, not CRLF.
    let listener = std::net::TcpListener::bind(("127.0.0.1", low_port())).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).unwrap();
        let reply = merossd::protocol::Message::new(
            merossd::protocol::Method::GetAck,
            "Appliance.System.Runtime",
            serde_json::json!({"runtime": {"signal": 77}}),
            "",
            "",
        )
        .to_bytes();
        let head = format!(
            "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: {}\nConnection: close\n\n",
            reply.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&reply).unwrap();
    });
    let plug = merossd::pair::Plug::new(&format!("http://{addr}"), KEY);
    let answer = tokio::task::spawn_blocking(move || {
        plug.call(
            "reading its signal",
            merossd::protocol::Method::Get,
            "Appliance.System.Runtime",
            serde_json::json!({}),
        )
    })
    .await
    .unwrap()
    .expect("an answer with LF line ends");
    assert_eq!(answer.payload["runtime"]["signal"], 77);
    server.join().unwrap();
}
