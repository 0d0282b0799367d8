//! A simulated device's firmware upgrade, as firmware does it: `SET Appliance.Control.Upgrade
//! {"upgrade": {md5, url}}` is acknowledged, then the device fetches the image over HTTP
//! (answering nothing meanwhile), checks its md5 and restarts: with the new version when
//! it matched (PUSHing `{"upgradeInfo": {"status": 1}}` first), with the old one when it did
//! not. The new version is the image's first line `merossd-sim-firmware <version>` when it
//! has one, else the old one with its last number one up.

use super::device::{lock, SimState};
use super::says::{device_message, Answer, Ask};
use super::SimConfig;
use crate::protocol::{Message, Method};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;
use tracing::info;

/// `SET Appliance.Control.Upgrade`: acknowledged; the fetch starts on the device's loop.
pub(super) fn answer(ask: &Ask<'_>) -> Answer {
    let url = ask
        .payload()
        .pointer("/upgrade/url")
        .and_then(Value::as_str);
    let md5 = ask
        .payload()
        .pointer("/upgrade/md5")
        .and_then(Value::as_str);
    let (Some(url), Some(md5)) = (url, md5) else {
        return ask.error(5000, "upgrade needs md5 and url");
    };
    lock(ask.state).upgrade = Some((url.to_owned(), md5.to_ascii_lowercase()));
    ask.ack(json!({}))
}

/// Fetches and checks the image it was sent, if any: the PUSH to send before it restarts,
/// and why it restarts (`None`: no upgrade was asked).
pub(super) async fn run(
    config: &SimConfig,
    state: &Mutex<SimState>,
    pub_topic: &str,
) -> Option<(Option<Message>, &'static str)> {
    let (url, md5) = lock(state).upgrade.take()?;
    let fetched = tokio::task::spawn_blocking(move || fetch(&url)).await;
    let mut image = match fetched {
        Ok(Ok(image)) => image,
        Ok(Err(why)) => {
            info!(uuid = %config.uuid, %why, "upgrade image not fetched; restarting as it was");
            return Some((None, "upgrade image not fetched"));
        }
        Err(_) => return Some((None, "upgrade fetch stopped")),
    };
    let mut s = lock(state);
    if s.damage_downloads {
        if let Some(b) = image.last_mut() {
            *b ^= 0xff;
        }
    }
    if crate::protocol::md5_bytes_hex(&image) != md5 {
        info!(uuid = %config.uuid, "upgrade image's md5 does not match; restarting as it was");
        return Some((None, "upgrade image refused: md5 mismatch"));
    }
    let before = s
        .firmware
        .clone()
        .or_else(|| profile_version(config))
        .unwrap_or_default();
    let after = version_in(&image).unwrap_or_else(|| bump(&before));
    info!(uuid = %config.uuid, %before, %after, "upgraded; restarting");
    s.firmware = Some(after);
    drop(s);
    let push = device_message(
        config,
        Method::Push,
        "Appliance.Control.Upgrade",
        json!({"upgradeInfo": {"status": 1}}),
        pub_topic,
    );
    Some((Some(push), "restarting after an upgrade"))
}

fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    response
        .body_mut()
        .with_config()
        .limit(crate::firmware::MAX_IMAGE_BYTES as u64)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

/// The version its profile gives.
pub(super) fn profile_version(config: &SimConfig) -> Option<String> {
    let v = config.profile.all.pointer("/system/firmware/version")?;
    v.as_str().map(str::to_owned)
}

/// `merossd-sim-firmware 6.3.0` on the image's first line.
fn version_in(image: &[u8]) -> Option<String> {
    let line = image.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("merossd-sim-firmware ")
        .map(|v| v.trim().to_owned())
}

/// `1.1.13` -> `1.1.14`.
fn bump(version: &str) -> String {
    match version.rsplit_once('.') {
        Some((head, last)) => match last.parse::<u64>() {
            Ok(n) => format!("{head}.{}", n + 1),
            Err(_) => format!("{version}.1"),
        },
        None => format!("{version}.1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_version_comes_from_the_image_or_one_up() {
        assert_eq!(
            version_in(b"merossd-sim-firmware 6.3.0\n\x00\x01"),
            Some("6.3.0".into())
        );
        assert_eq!(version_in(b"\xe9\x00"), None);
        assert_eq!(bump("1.1.13"), "1.1.14");
        assert_eq!(bump("x"), "x.1");
    }
}
