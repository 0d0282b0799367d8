//! The first day, round two: what tripped a new owner between the quick start and a
//! working house. Configured accounts add to the generated one; a wrong log level is an
//! error that names the key; backups refuse to create directories or overwrite files,
//! carry the configuration, and restores keep what they replace.

use crate::common::*;
use merossd::daemon::Daemon;
use merossd::sim::{self, Profile, SimConfig};
use std::path::Path;
use std::process::Command;

#[tokio::test]
async fn configured_accounts_add_to_the_generated_one() {
    let dir = temp_dir("accounts");
    let mut first = config(dir.clone());
    first.accounts.clear();
    let d = Daemon::start(first).await.unwrap();
    assert_eq!(d.accounts.len(), 1, "the generated account");
    let generated = d.accounts[0].clone();
    let port = d.tls_addrs[0].port();
    let mut paired = SimConfig::new(
        "127.0.0.1",
        port,
        &generated.user_id,
        &generated.key,
        Profile::metering_plug(),
    );
    paired.timings = fast();
    let plug = sim::fleet(&paired, "ac", 1, 1).remove(0);
    bound(&plug).await;
    plug.stop();
    d.stop().await;

    // As the README's MerossIot section says: an account of one's own in the config.
    let d = Daemon::start(config(dir)).await.unwrap();
    let ids: Vec<&str> = d.accounts.iter().map(|a| a.user_id.as_str()).collect();
    assert_eq!(
        ids,
        [generated.user_id.as_str(), USER_ID],
        "added, not replaced"
    );
    paired.port = d.tls_addrs[0].port();
    let again = sim::fleet(&paired, "ac", 1, 1).remove(0);
    bound(&again).await;
    let newly = &plugs(&d, "ad", 1)[0];
    bound(newly).await;
    d.stop().await;
}

fn merossd_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_merossd"))
        .args(args)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_wrong_log_level_is_refused_naming_the_key_and_warning_means_warn() {
    let dir = temp_dir("loglevel");
    let file = dir.join("merossd.toml");
    std::fs::write(&file, "[log]\nlevel = \"loud\"\n").unwrap();
    let (code, _, err) = merossd_cli(&["--config", file.to_str().unwrap(), "check-config"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("level") && err.contains("error, warn, info, debug or trace"),
        "{err}"
    );
    std::fs::write(&file, "[log]\nlevel = \"warning\"\n").unwrap();
    let (code, out, err) = merossd_cli(&["--config", file.to_str().unwrap(), "check-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Warn"), "{out}");
}

#[tokio::test]
async fn backups_refuse_a_missing_directory_and_an_existing_file_and_restores_keep_what_they_replace(
) {
    let dir = temp_dir("backups");
    let data = dir.join("data");
    let d = Daemon::start(config(data.clone())).await.unwrap();
    d.stop().await;
    let conf = dir.join("merossd.toml");
    std::fs::write(&conf, format!("data_dir = {:?}\n", data)).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", conf.to_str().unwrap()];
        all.extend_from_slice(args);
        merossd_cli(&all)
    };
    let missing = dir.join("no/such/dir/b.tar");
    let (code, _, err) = run(&["backup", missing.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.join("no").exists(), "a directory was made");

    let archive = dir.join("b.tar");
    let (code, out, err) = run(&["backup", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("merossd.toml"),
        "the configuration is in the archive: {out}"
    );
    let (code, _, err) = run(&["backup", archive.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("exists already") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = run(&["backup", archive.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "{err}");

    let (code, _, err) = run(&["restore", archive.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for kept in ["merossd.db.bak", "api-token.bak", "cert.pem.bak"] {
        assert!(Path::new(&data.join(kept)).exists(), "{kept} kept");
    }
}

#[test]
fn a_config_with_secrets_others_may_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("secrets");
    let file = dir.join("merossd.toml");
    std::fs::write(
        &file,
        "[[accounts]]\nuser_id = \"1234\"\nkey = \"0123456789abcdef\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = merossd_cli(&["check-config", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("warning:") && out.contains("chmod 600"),
        "{out}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, out, _) = merossd_cli(&["check-config", file.to_str().unwrap()]);
    assert!(!out.contains("warning:"), "{out}");
}
