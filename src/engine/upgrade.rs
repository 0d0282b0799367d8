//! Firmware upgrades of Meross devices: `SET Appliance.Control.Upgrade {"upgrade": {md5,
//! url}}`, then the device downloads the image over HTTP (from `firmware`, which tells
//! when it was fetched), may PUSH `{"upgradeInfo": {"status": ..}}`, and comes back with a
//! new Bind. Its firmware version then says how it went: another version is done; the
//! same one after it fetched the image is a failure (it did not take it); no new Bind
//! before the deadline is a failure too. One run per device is kept, the last.

use super::{lock, Engine, RequestError};
use crate::model::EventKind;
use crate::protocol::{self, Method};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The upgrade namespace.
pub const NS_UPGRADE: &str = "Appliance.Control.Upgrade";

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeState {
    /// The device acknowledged the SET; it has not fetched the image yet.
    Sent,
    /// It fetched the image whole; merossd waits for it to come back.
    Downloaded,
    /// It came back with another firmware version.
    Done,
    /// It came back with the same version, or not at all in time.
    Failed,
}

/// One device's last upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeRun {
    /// Where it stands.
    pub state: UpgradeState,
    /// What happened, in words.
    pub detail: String,
    /// The image's md5, as sent.
    pub md5: String,
    /// Where the device was sent to fetch it.
    pub url: String,
    /// The firmware version before.
    pub version_before: Option<String>,
    /// The version it came back with.
    pub version_after: Option<String>,
    /// What it PUSHed about it (`upgradeInfo`), oldest first, at most 16.
    pub pushes: Vec<Value>,
    /// When the SET was acknowledged, epoch seconds.
    pub started_at: u64,
    /// Until when merossd waits for it to come back, epoch seconds.
    pub deadline: u64,
}

impl Engine {
    /// Sends the upgrade and starts following it; `wait` is how long the device gets to
    /// come back. The device must be online.
    pub async fn upgrade(
        &self,
        uuid: &str,
        md5: &str,
        url: &str,
        wait: Duration,
        timeout: Duration,
    ) -> Result<UpgradeRun, RequestError> {
        let before = self
            .device(uuid)
            .ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))?
            .firmware_version()
            .map(str::to_owned);
        // Kept before the SET goes: a device on a fast link fetches the image before
        // its acknowledgement is read here.
        let now = protocol::now_secs();
        let run = UpgradeRun {
            state: UpgradeState::Sent,
            detail: "sent: the device is to fetch the image".into(),
            md5: md5.to_owned(),
            url: url.to_owned(),
            version_before: before.clone(),
            version_after: None,
            pushes: Vec::new(),
            started_at: now,
            deadline: now + wait.as_secs(),
        };
        lock(&self.shared.upgrades).insert(uuid.to_owned(), run.clone());
        let payload = json!({"upgrade": {"md5": md5, "url": url}});
        if let Err(e) = (self.request(uuid, Method::Set, NS_UPGRADE, payload, timeout)).await {
            lock(&self.shared.upgrades).remove(uuid);
            return Err(e);
        }
        let from = before.as_deref().unwrap_or("?");
        self.event(
            Some(uuid),
            EventKind::StateChanged,
            format!("firmware upgrade from {from} sent"),
        );
        Ok(self.upgrade_status(uuid).unwrap_or(run))
    }

    /// The device's last upgrade, its deadline applied.
    pub fn upgrade_status(&self, uuid: &str) -> Option<UpgradeRun> {
        let mut runs = lock(&self.shared.upgrades);
        let run = runs.get_mut(uuid)?;
        let open = matches!(run.state, UpgradeState::Sent | UpgradeState::Downloaded);
        if open && protocol::now_secs() > run.deadline {
            run.detail = match run.state {
                UpgradeState::Downloaded => "it fetched the image but did not come back in time",
                _ => "it did not fetch the image in time",
            }
            .into();
            run.state = UpgradeState::Failed;
        }
        Some(run.clone())
    }

    /// The image was fetched whole (`firmware` tells).
    pub fn upgrade_fetched(&self, uuid: &str) {
        let mut runs = lock(&self.shared.upgrades);
        if let Some(run) = runs.get_mut(uuid).filter(|r| r.state == UpgradeState::Sent) {
            run.state = UpgradeState::Downloaded;
            run.detail = "the device was sent the image; waiting for it to come back".into();
        }
    }

    /// A PUSH (or reply) of the upgrade namespace.
    pub(super) fn learn_upgrade(&self, uuid: &str, payload: &Value) {
        let Some(info) = payload.get("upgradeInfo") else {
            return;
        };
        let mut runs = lock(&self.shared.upgrades);
        if let Some(run) = runs.get_mut(uuid) {
            if run.pushes.len() < 16 {
                run.pushes.push(info.clone());
            }
        }
    }

    /// A device bound on a new connection with `version`: an open run ends by it.
    pub(super) fn upgrade_bound(&self, uuid: &str, version: Option<&str>) {
        let said = {
            let mut runs = lock(&self.shared.upgrades);
            let Some(run) = runs.get_mut(uuid) else {
                return;
            };
            let changed = version.is_some() && version != run.version_before.as_deref();
            let version_text = version.unwrap_or("?");
            match run.state {
                UpgradeState::Sent | UpgradeState::Downloaded if changed => {
                    run.state = UpgradeState::Done;
                    run.detail = format!("it came back with firmware {version_text}");
                }
                UpgradeState::Downloaded => {
                    run.state = UpgradeState::Failed;
                    run.detail = format!(
                        "it came back with firmware {version_text}, as before: it did not take the image"
                    );
                }
                _ => return,
            }
            run.version_after = version.map(str::to_owned);
            format!("firmware upgrade: {}", run.detail)
        };
        self.event(Some(uuid), EventKind::StateChanged, said);
    }
}
