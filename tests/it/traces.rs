//! Every recorded device in tests/fixtures/device-traces binds as a simulated plug, and the
//! engine reports its type and firmware as the trace says.

use crate::common::*;
use merossd::sim::{self, Profile};
use std::path::PathBuf;
use std::time::Duration;

/// Every recorded device's file.
pub(crate) fn traces() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/device-traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('U'))
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_plug_from_each_of_the_eleven_traces_binds_and_is_recognised() {
    let files = traces();
    assert_eq!(files.len(), 11, "{files:?}");
    let d = daemon().await;
    let mut plugs = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let profile = Profile::from_trace(file).unwrap();
        let kind = profile.hardware_type().unwrap().to_owned();
        let firmware = profile.firmware_version().unwrap().to_owned();
        let plug = sim::fleet(&sim_config(&d, profile), "d1", i as u32 + 1, 1).remove(0);
        plugs.push((file, kind, firmware, plug));
    }
    for (file, kind, firmware, plug) in &plugs {
        recognised(&d, plug).await;
        let dev = d.engine.device(&plug.uuid).unwrap();
        assert_eq!(dev.kind(), Some(kind.as_str()), "{}", file.display());
        assert_eq!(
            dev.firmware_version(),
            Some(firmware.as_str()),
            "{}",
            file.display()
        );
    }
    d.stop().await;
}

#[test]
fn both_trace_formats_give_all_and_abilities() {
    for file in traces() {
        let p = Profile::from_trace(&file).unwrap();
        assert!(p.all.get("system").is_some(), "{}", file.display());
        assert!(
            p.ability.get("Appliance.System.All").is_some(),
            "{}",
            file.display()
        );
        assert!(p.uuid.is_some(), "{}", file.display());
    }
}

#[tokio::test]
async fn old_firmware_toggle_state_is_read_from_control() {
    // mss210 1.1.12 has `control.toggle` and the single-channel Toggle.
    let file = traces()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("mss210"))
        .unwrap();
    let d = daemon().await;
    let plug = sim::fleet(
        &sim_config(&d, Profile::from_trace(&file).unwrap()),
        "d2",
        1,
        1,
    )
    .remove(0);
    bound(&plug).await;
    eventually("channel 0 known", Duration::from_secs(5), || {
        d.engine
            .device(&plug.uuid)
            .is_some_and(|dev| dev.channels.contains_key(&0))
    })
    .await;
    d.stop().await;
}
