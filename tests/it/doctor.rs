//! `merossd doctor` against a good setup (every line `ok`, exit 0) and against each broken
//! condition a test can make: a listener on loopback only, an expired certificate, a
//! refused login, a plug that never binds, and no daemon at all (exit 1, naming each).

use crate::common::*;
use crate::process::strings;
use merossd::daemon::Daemon;
use merossd::sim;
use std::path::{Path, PathBuf};

/// A config file for the CLI: the daemon's data directory, `mqtt` lines, `tail` sections.
fn cli_config(dir: &Path, mqtt: &str, tail: &str) -> PathBuf {
    let file = temp_dir("doctor-config").join("merossd.toml");
    let text = format!(
        "data_dir = {:?}\n[mqtt]\n{mqtt}\n{tail}\n[[accounts]]\nuser_id = \"{USER_ID}\"\nkey = \"{KEY}\"\n",
        dir.display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// `merossd doctor` with `config`, against `d` when given: its exit code and output.
async fn doctor(config: &Path, d: Option<&Daemon>) -> (i32, String) {
    let mut args = strings(&["--config", &config.display().to_string()]);
    if let Some(d) = d {
        args.extend(strings(&[
            "--url",
            &format!("http://{}", d.api_addr),
            "--token",
            &d.api_token,
        ]));
    }
    args.push("doctor".into());
    let (code, out, err) = crate::process::merossd(args).await;
    (code, format!("{out}{err}"))
}

fn failed(out: &str, check: &str) -> bool {
    out.lines()
        .any(|l| l.starts_with("FAIL") && l[4..].trim_start().starts_with(check))
}

/// A self-signed RSA certificate that ended in 2021, and its key.
fn expired_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let mut params = rcgen::CertificateParams::new(merossd::host::names()).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("old-cert.pem"), dir.join("old-key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[tokio::test]
async fn doctor_passes_a_good_setup_and_names_each_broken_condition() {
    let dir = temp_dir("doctor");
    let port = low_port();
    let mut c = config(dir.clone());
    // Plugs must reach it from the network: every address (the test dials loopback only).
    c.mqtt.tls_listen = vec![format!("0.0.0.0:{port}").parse().unwrap()];
    let d = Daemon::start(c).await.unwrap();
    let plug = plugs(&d, "doc", 1).remove(0);
    known(&d, &plug).await;
    let good = cli_config(&dir, &format!("tls_listen = [\"0.0.0.0:{port}\"]"), "");
    let (code, out) = doctor(&good, Some(&d)).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    for check in [
        "tls listener",
        "certificate",
        "clock",
        "disk",
        "data dir",
        "api",
        "bound",
        "logins",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check}: {out}"
        );
    }

    // A listener on loopback only.
    let local = cli_config(&dir, &format!("tls_listen = [\"127.0.0.1:{port}\"]"), "");
    let (code, out) = doctor(&local, Some(&d)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        failed(&out, "tls listener") && out.contains("loopback only"),
        "{out}"
    );

    // An expired certificate.
    let (cert, key) = expired_cert(&temp_dir("doctor-cert"));
    let tls = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let old = cli_config(&dir, &format!("tls_listen = [\"0.0.0.0:{port}\"]"), &tls);
    let (code, out) = doctor(&old, Some(&d)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        failed(&out, "certificate") && out.contains("expired"),
        "{out}"
    );

    // A plug whose key does not match, and one that logs in and never binds.
    let stranger = sim::fleet(
        &{
            let mut c = sim_config(&d, merossd::sim::Profile::metering_plug());
            c.key = "another-key".into();
            c
        },
        "doc-stranger",
        1,
        1,
    )
    .remove(0);
    let (uuid, _mute) = plug_that_never_binds(&d, "doc-mute");
    eventually(
        "both tries seen",
        std::time::Duration::from_secs(10),
        || {
            d.engine.device(&uuid).is_some_and(|x| x.online)
                && d.engine
                    .unknown_logins()
                    .iter()
                    .any(|l| l.uuid == stranger.uuid)
        },
    )
    .await;
    let (code, out) = doctor(&good, Some(&d)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        failed(&out, "bound") && out.contains("did not bind"),
        "{out}"
    );
    assert!(
        failed(&out, "logins") && out.contains(&stranger.uuid),
        "{out}"
    );
    d.stop().await;
}

#[tokio::test]
async fn doctor_without_a_daemon_says_what_is_missing() {
    let dir = temp_dir("doctor-none");
    let port = low_port();
    let config = cli_config(&dir, &format!("tls_listen = [\"0.0.0.0:{port}\"]"), "");
    let (code, out) = doctor(&config, None).await;
    assert_eq!(code, 1, "{out}");
    for check in ["tls answers", "certificate", "data dir", "api"] {
        assert!(failed(&out, check), "{check}: {out}");
    }
    assert!(out.contains("is merossd running?"), "{out}");
}
