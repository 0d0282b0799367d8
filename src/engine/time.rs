//! Keeping each device's clock and zone right: `SET Appliance.System.Time` after every bind,
//! again when its clock drifts, and when its zone is changed.

use super::{Engine, RequestError, REQUEST_TIMEOUT};
use crate::protocol::{now_secs, Method};
use crate::timezone;
use tracing::{debug, warn};

/// A device clock this far off (seconds) gets the time again.
pub const DRIFT_TOLERANCE_S: u64 = 5;
/// At most one drift-triggered re-send per device in this many seconds.
const RESYNC_MIN_INTERVAL_S: u64 = 300;

const NS_TIME: &str = "Appliance.System.Time";

impl Engine {
    /// The zone a device should have: its own, else the configured one.
    pub fn zone_of(&self, uuid: &str) -> String {
        super::read(&self.shared.devices)
            .get(uuid)
            .and_then(|d| d.timezone.clone())
            .unwrap_or_else(|| self.shared.timezone.clone())
    }

    /// Sends the device its zone, the current time and the zone's transition rules.
    pub async fn set_time(&self, uuid: &str) -> Result<(), RequestError> {
        let name = self.zone_of(uuid);
        let Some(tz) = timezone::zone(&name) else {
            warn!(%uuid, zone = %name, "unknown time zone; not sent");
            return Ok(());
        };
        let now = now_secs();
        self.modify(uuid, |d| d.time_set_at = Some(now));
        let payload = timezone::time_payload(&name, &tz, now as i64);
        self.request(uuid, Method::Set, NS_TIME, payload, REQUEST_TIMEOUT)
            .await?;
        debug!(%uuid, zone = %name, "time set");
        Ok(())
    }

    /// Sends the time again unless that was done recently (the device's clock drifted).
    pub(super) fn resync_time(&self, uuid: &str) {
        let now = now_secs();
        let mut due = false;
        self.modify(uuid, |d| {
            let recent = d
                .time_set_at
                .is_some_and(|t| now.saturating_sub(t) < RESYNC_MIN_INTERVAL_S);
            if d.online && !recent {
                d.time_set_at = Some(now);
                due = true;
            }
        });
        if due {
            let engine = self.clone();
            let uuid = uuid.to_owned();
            self.spawn(async move {
                if let Err(error) = engine.set_time(&uuid).await {
                    warn!(%uuid, %error, "could not correct the device's clock");
                }
            });
        }
    }

    /// Gives a device a zone of its own (`None`: the configured one) and sends it if online.
    pub async fn set_timezone(&self, uuid: &str, zone: Option<String>) -> Option<bool> {
        let device = self.update(uuid, |d| d.timezone = zone)?;
        if !device.online {
            return Some(false);
        }
        Some(self.set_time(uuid).await.is_ok())
    }
}
