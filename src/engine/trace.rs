//! A device's protocol trace, started by the owner: the hub records every message (see
//! `hub::trace`), and the engine makes the trace complete by asking the device, one a
//! second, every GET namespace its Ability lists, leaving out those whose GET is not a
//! plain read (the session's, configuration, upgrades, encryption).

use super::error::RequestError;
use super::Engine;
use crate::hub::trace::TraceError;
use crate::protocol::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// Between two questions to the device.
const PACE: Duration = Duration::from_secs(1);
/// Namespaces asked, at most.
const MAX_ASKED: usize = 200;
/// How long each answer may take.
const ANSWER: Duration = Duration::from_secs(5);

/// Whether a GET of `namespace` is a read that changes nothing and is not the session's.
fn readable(namespace: &str) -> bool {
    const NEVER: [&str; 9] = [
        "Appliance.Control.Bind",
        "Appliance.Control.Unbind",
        "Appliance.Control.Multiple",
        "Appliance.System.Clock",
        "Appliance.System.Factory",
        "Appliance.System.Reboot",
        "Appliance.System.Ability",
        "Appliance.System.All",
        "Appliance.Control.Upgrade",
    ];
    !NEVER.contains(&namespace)
        && !namespace.starts_with("Appliance.Config.")
        && !namespace.starts_with("Appliance.Encrypt.")
        && !namespace.contains("Upgrade")
        && !namespace.contains("Firmware")
}

/// Why a trace cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No such device.
    #[error("{0}")]
    Device(RequestError),
    /// The tracer said no.
    #[error("{0}")]
    Trace(TraceError),
}

impl Engine {
    /// The recordings, for their download.
    pub fn tracer(&self) -> &crate::hub::trace::Tracer {
        self.shared.hub.tracer()
    }

    /// Starts recording `uuid`'s trace for `seconds`, and asks it what makes the trace
    /// complete while it is connected.
    pub fn trace(&self, uuid: &str, seconds: u64, obfuscate: bool) -> Result<(), StartError> {
        let device = self
            .device(uuid)
            .ok_or_else(|| StartError::Device(RequestError::UnknownDevice(uuid.to_owned())))?;
        self.shared
            .hub
            .tracer()
            .start(uuid, device.mac.as_deref(), seconds, obfuscate)
            .map_err(StartError::Trace)?;
        let until = Instant::now() + Duration::from_secs(seconds);
        let engine = self.clone();
        let uuid = uuid.to_owned();
        let moko = device.moko().is_some();
        self.spawn(async move {
            if moko {
                let _ = engine.moko_read_firmware(&uuid, ANSWER).await;
            } else {
                engine.ask_everything(&uuid, until).await;
            }
        });
        Ok(())
    }

    /// System.All and the Ability, then each readable namespace the Ability lists.
    async fn ask_everything(&self, uuid: &str, until: Instant) {
        let get = |namespace: String| async move {
            let asked = self
                .request(uuid, Method::Get, &namespace, json!({}), ANSWER)
                .await;
            tokio::time::sleep(PACE).await;
            asked.ok()
        };
        let _ = get("Appliance.System.All".to_owned()).await;
        let Some(ability) = get("Appliance.System.Ability".to_owned()).await else {
            return;
        };
        let listed = ability.payload.get("ability").unwrap_or(&ability.payload);
        let namespaces: Vec<String> = listed
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|n| readable(n))
            .take(MAX_ASKED)
            .cloned()
            .collect();
        for namespace in namespaces {
            if Instant::now() >= until {
                return;
            }
            let _ = get(namespace).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn only_plain_reads_are_asked() {
        assert!(readable("Appliance.Control.ToggleX"));
        assert!(readable("Appliance.System.Runtime"));
        for n in [
            "Appliance.Control.Bind",
            "Appliance.Config.Key",
            "Appliance.Config.WifiList",
            "Appliance.Encrypt.ECDHE",
            "Appliance.Mcu.Upgrade",
        ] {
            assert!(!readable(n), "{n}");
        }
    }
}
