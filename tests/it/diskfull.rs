//! A full disk: what the API acknowledges is on disk or refused, `/health` says so, and
//! nothing acknowledged is lost once there is room again. The data directory is a small
//! tmpfs of its own (mounting needs root, as CI has; elsewhere the test says it skipped).

use crate::common::*;
use merossd::daemon::Daemon;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = temp_dir("tmpfs");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system `dir` is on; returns the filler file.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    for _ in 0..100_000 {
        if f.write_all(&chunk).and_then(|_| f.flush()).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    filler
}

async fn rename(d: &Daemon, uuid: &str, name: &str) -> (u16, serde_json::Value) {
    let body = json!({ "name": name }).to_string();
    api(
        d,
        "PATCH",
        &format!("/api/v1/devices/{uuid}"),
        Some(&body),
        None,
    )
    .await
}

#[tokio::test]
async fn a_full_disk_refuses_what_it_cannot_keep_and_loses_nothing_it_acknowledged() {
    let Some(fs) = Tmpfs::mount("8m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let data = fs.0.join("data");
    let d = Daemon::start(config(data.clone())).await.unwrap();
    let plug = &plugs(&d, "df", 1)[0];
    known(&d, plug).await;
    assert_eq!(rename(&d, &plug.uuid, "Kettle").await.0, 200);

    let filler = fill(&fs.0);
    // Renames until the store cannot write one: each 200 was written. The first 503 is
    // either a change made and kept for later, or (when another write found the disk
    // full first) one refused before it was made: its message says which.
    let mut last_on_disk = "Kettle".to_owned();
    let mut kept = None;
    for i in 0..2000 {
        let name = format!("Kettle {i} {}", "x".repeat(80));
        let (status, body) = rename(&d, &plug.uuid, &name).await;
        match status {
            200 => last_on_disk = name,
            503 => {
                assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
                let refused = body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Nothing was changed"));
                kept = Some(if refused { last_on_disk.clone() } else { name });
                break;
            }
            other => panic!("rename answered {other}: {body}"),
        }
    }
    let kept = kept.expect("the store never found the disk full");
    let (_, health) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["store"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("full"),
        "{health}"
    );
    assert!(metric(&d, "merossd_store_write_failures").await >= 1);
    // Now a change is refused before it is made.
    let (status, body) = rename(&d, &plug.uuid, "Refused").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Nothing was changed"));
    assert_eq!(
        d.engine.device(&plug.uuid).unwrap().name.as_deref(),
        Some(kept.as_str())
    );
    // The plug goes on working meanwhile.
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);

    // Room again: the kept change is written, and health is ok.
    std::fs::remove_file(&filler).unwrap();
    eventually("the store writes again", Duration::from_secs(10), || {
        d.store().problem().is_none()
    })
    .await;
    assert_eq!(health_status(&d).await, "ok");
    d.stop().await;
    plug.stop();
    let again = Daemon::start(config(data)).await.unwrap();
    let name = again.engine.device(&plug.uuid).unwrap().name;
    assert_eq!(
        name.as_deref(),
        Some(kept.as_str()),
        "last acknowledged: {last_on_disk}"
    );
    again.stop().await;
}

#[tokio::test]
async fn a_database_gone_beside_its_log_and_a_shrunk_fleet_are_said_at_start() {
    let dir = temp_dir("gone");
    let d = Daemon::start(config(dir.clone())).await.unwrap();
    let fleet = plugs(&d, "gn", 6);
    for plug in &fleet {
        known(&d, plug).await;
    }
    assert!(d.stop().await, "the first daemon's tasks did not all end");
    for plug in &fleet {
        plug.stop();
    }
    // The main file goes, its log stays (as after a careless clean-up).
    std::fs::remove_file(dir.join("merossd.db")).unwrap();
    std::fs::write(dir.join("merossd.db-wal"), b"not applicable").unwrap();
    let d = Daemon::start(config(dir)).await.unwrap();
    let (_, health) = api(&d, "GET", "/api/v1/health", None, None).await;
    let warnings = health["warnings"].to_string();
    assert!(
        warnings.contains("is missing but its write-ahead log"),
        "{health}"
    );
    assert!(warnings.contains("the last run knew 6"), "{health}");
    d.stop().await;
}
