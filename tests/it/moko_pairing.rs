//! `merossd pair --moko` end to end: a daemon, a simulated MOKO plug in AP mode serving its
//! raw TCP provisioning (4001, 4002, 4003), and the command line against both. After a
//! good 4003 the simulated plug dials what it was told, over TLS, with the login the
//! daemon made for it; then it is switched from the CLI like any plug.

use crate::common::*;
use merossd::sim::moko::{sim_info, MokoConfig};
use merossd::sim::moko_pairing::MokoPairingPlug;
use std::time::Duration;

/// A MOKO plug in AP mode on a loopback port, the `n`-th simulated one.
async fn plug_in_ap_mode(n: u32) -> MokoPairingPlug {
    let info = sim_info(n, true);
    let mut template = MokoConfig::new("", 0, "", "", info.clone());
    template.reconnect_delay = Duration::from_millis(300);
    let listen = format!("127.0.0.1:{}", low_port()).parse().unwrap();
    MokoPairingPlug::start(listen, info, template)
        .await
        .unwrap()
}

/// Runs `merossd pair --moko` against `plug` and `d` with `extra` arguments.
async fn pair(
    d: &merossd::daemon::Daemon,
    plug: &MokoPairingPlug,
    extra: &[&str],
) -> (i32, String, String) {
    let config = account_config("moko-pair");
    let device = plug.addr.to_string();
    let server = format!("127.0.0.1:{}", d.tls_addrs[0].port());
    let mut command = vec!["pair", "--moko", "--device", &device];
    // This daemon's TLS listener, unless the test names another.
    if !extra.contains(&"--server") {
        command.extend(["--server", &server]);
    }
    command.extend(extra);
    crate::process::merossd(cli_args(d, &config, &command)).await
}

const WIFI: &[&str] = &[
    "--wifi-ssid",
    "HomeNet",
    "--wifi-pass",
    "hunter2 ünï",
    "--timeout-s",
    "20",
];

#[tokio::test]
async fn a_moko_plug_in_ap_mode_is_paired_over_tls_and_switched_from_the_cli() {
    let dir = temp_dir("moko-paired");
    let d = merossd::daemon::Daemon::start(config(dir.clone()))
        .await
        .unwrap();
    let plug = plug_in_ap_mode(1).await;
    let (code, out, err) = pair(&d, &plug, WIFI).await;
    assert_eq!(code, 0, "{err}");
    let id = format!(
        "moko{}",
        merossd::protocol::moko::mac_hex(&sim_info(1, true).device_mac).unwrap()
    );
    assert!(out.contains(&format!("{id} is connected")), "{out}");

    // What it was told: this merossd over TLS, a login of its own, the Wi-Fi as given.
    let server = plug.told_server().expect("a 4002");
    assert_eq!(
        (server.host.as_str(), server.port, server.connect_mode),
        ("127.0.0.1", d.tls_addrs[0].port(), 1)
    );
    assert_eq!(server.username, merossd::protocol::moko::username_of(&id));
    assert!(server.password.len() >= 16, "a strong password");
    let wifi = plug.told_wifi().expect("a 4003");
    assert_eq!(
        (wifi.wifi_ssid.as_str(), wifi.wifi_pwd.as_str()),
        ("HomeNet", "hunter2 ünï")
    );
    let state = plug.plug_state().expect("it dialled");
    assert!(state.connected && state.connects >= 1, "{state:?}");

    // Only a hash of its password is kept, in a file only the daemon's user reads.
    let file = dir.join("moko-plugs.json");
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(!kept.contains(&server.password), "{kept}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Switched from the CLI: the plug's relay follows, and `merossd device` says so.
    let config = account_config("moko-pair");
    for (word, on) in [("on", true), ("off", false)] {
        let (code, _, err) =
            crate::process::merossd(cli_args(&d, &config, &["toggle", &id, word])).await;
        assert_eq!(code, 0, "{err}");
        let inner = plug.plug().expect("the plug it became");
        assert!(
            inner.wait_for(Duration::from_secs(5), |s| s.on == on).await,
            "the relay did not go {word}"
        );
    }
    eventually("a power reading", Duration::from_secs(5), || {
        d.engine
            .device(&id)
            .is_some_and(|x| !x.electricity.is_empty())
    })
    .await;
    let (code, shown, err) = crate::process::merossd(cli_args(&d, &config, &["device", &id])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("MOKO") && shown.contains("made by"),
        "{shown}"
    );
    assert!(
        shown.contains("channel 0 off") && shown.contains(" W"),
        "{shown}"
    );
    let (code, power, err) = crate::process::merossd(cli_args(&d, &config, &["power", &id])).await;
    assert_eq!(code, 0, "{err}");
    assert!(power.contains("0.0"), "{power}");

    // Its protocol trace records its MOKO messages, its MAC obfuscated.
    let path = format!("/api/v1/devices/{id}/trace");
    let (status, _) = api(&d, "POST", &path, Some(r#"{"seconds": 2}"#), None).await;
    assert_eq!(status, 202);
    let trace = &trace_with(&d, &id, "\tRX\tmoko\tPUBLISH\tfirmware_infor\t").await;
    assert!(
        trace.contains("\tTX\tmoko\tPUBLISH\tread_firmware_infor\t"),
        "{trace}"
    );
    assert!(
        trace.contains("\tRX\tmoko\tPUBLISH\tfirmware_infor\t"),
        "{trace}"
    );
    assert!(!trace.contains(&sim_info(1, true).device_mac), "{trace}");
    plug.stop();
    d.stop().await;
}

#[tokio::test]
async fn each_refusal_names_the_step_and_the_codes_meaning() {
    let d = daemon().await;
    let plug = plug_in_ap_mode(2).await;
    for code in 1..=6 {
        plug.force_code(Some(code));
        let (exit, _, err) = pair(&d, &plug, WIFI).await;
        assert_ne!(exit, 0);
        let meaning = merossd::protocol::moko::setup::code_meaning(code);
        assert!(
            err.contains("4001") && err.contains(&format!("code {code}")) && err.contains(meaning),
            "code {code}: {err}"
        );
    }
    plug.force_code(None);
    assert!(plug.told_server().is_none() && plug.told_wifi().is_none());

    // A dry run shows the messages, masks the passwords and changes nothing.
    let (exit, out, err) = pair(&d, &plug, &[WIFI, &["--dry-run"]].concat()).await;
    assert_eq!(exit, 0, "{err}");
    assert!(out.contains("4002") && out.contains("4003"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(plug.told_server().is_none());
    plug.stop();
    d.stop().await;
}

#[tokio::test]
async fn a_moko_plug_cannot_speak_for_another() {
    let d = daemon().await;
    let (one, two) = (plug_in_ap_mode(3).await, plug_in_ap_mode(4).await);
    for plug in [&one, &two] {
        let (code, _, err) = pair(&d, plug, WIFI).await;
        assert_eq!(code, 0, "{err}");
    }
    let (one, two) = (one.plug().unwrap(), two.plug().unwrap());
    let two_id = format!(
        "moko{}",
        merossd::protocol::moko::mac_hex(&sim_info(4, true).device_mac).unwrap()
    );
    let on = |d: &merossd::daemon::Daemon| {
        d.engine
            .device(&two_id)
            .and_then(|x| x.channels.get(&0).map(|c| c.on))
    };
    assert_eq!(on(&d), Some(false));
    // Plug one says "on" under plug two's device topic, and tells plug two to switch on.
    let prefix = sim_info(4, true).prefix();
    let denied = || {
        d.counters
            .acl_denied
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = denied();
    one.publish_raw(
        &format!("{prefix}/device/switch_state"),
        br#"{"switch_state":"on"}"#.to_vec(),
    );
    one.publish_raw(
        &format!("{prefix}/app/switch_state"),
        br#"{"switch_state":"on"}"#.to_vec(),
    );
    eventually("both refused", Duration::from_secs(5), || {
        denied() >= before + 2
    })
    .await;
    assert_eq!(on(&d), Some(false), "plug two's state was not changed");
    assert!(!two.state().on, "plug two's relay was not switched");
    d.stop().await;
}

#[tokio::test]
async fn a_plug_set_to_plain_mqtt_is_served_only_on_a_plain_device_listener() {
    let mut c = config(temp_dir("moko-plain"));
    let port = low_port();
    c.mqtt.plain_device_listen = vec![format!("127.0.0.1:{port}").parse().unwrap()];
    let d = merossd::daemon::Daemon::start(c).await.unwrap();
    assert_eq!(d.plain_device_addrs[0].port(), port);
    let plug = plug_in_ap_mode(5).await;
    let server = format!("127.0.0.1:{port}");
    let extra = [WIFI, &["--plain", "--server", &server]].concat();
    let (code, out, err) = pair(&d, &plug, &extra).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is connected"), "{out}");
    assert_eq!(plug.told_server().unwrap().connect_mode, 0);
    assert!(err.contains("in plain MQTT"), "{err}");

    // Nobody else logs in there: an app login with the account's key is CONNACK 5.
    let mut options = rumqttc::MqttOptions::new("app:someone", "127.0.0.1", port);
    let hash = merossd::protocol::md5_hex(&format!("{USER_ID}{KEY}"));
    options.set_credentials(USER_ID, hash);
    let (_client, mut events) = rumqttc::AsyncClient::new(options, 10);
    let refused = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .expect("an answer to the CONNECT");
    let text = format!("{refused:?}");
    assert!(text.contains("NotAuthorized"), "{text}");
    plug.stop();
    d.stop().await;
}
