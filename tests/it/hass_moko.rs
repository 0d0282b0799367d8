//! A MOKO plug beside the Meross plugs in the real Home Assistant of `hass`: its switch,
//! its power sensor and its countdown `number` appear under its default name; switching it
//! and setting a countdown from Home Assistant reach the plug.

use crate::common::*;
use crate::hass::Hass;
use merossd::daemon::Daemon;
use merossd::sim::moko::{sim_info, MokoConfig, MokoPlug};
use serde_json::{json, Value};
use std::time::Duration;

/// The simulated MOKO plug's number: its MAC ends `00:09`.
const N: u32 = 9;

pub(crate) struct MokoInHass {
    plug: MokoPlug,
}

impl MokoInHass {
    /// A MOKO plug with a login from the API, connected over TLS.
    pub(crate) async fn start(d: &Daemon) -> MokoInHass {
        let info = sim_info(N, true);
        let body = json!({"mac": info.device_mac, "topic_prefix": info.prefix(), "metering": true});
        let (status, login) = api(
            d,
            "POST",
            "/api/v1/moko/plugs",
            Some(&body.to_string()),
            None,
        )
        .await;
        assert_eq!(status, 201, "{login}");
        let config = MokoConfig::new(
            "127.0.0.1",
            d.tls_addrs[0].port(),
            login["username"].as_str().unwrap(),
            login["password"].as_str().unwrap(),
            info,
        );
        let plug = MokoPlug::start(config);
        assert!(
            plug.wait_for(Duration::from_secs(10), |s| s.connected)
                .await,
            "the MOKO plug did not connect: {:?}",
            plug.state()
        );
        MokoInHass { plug }
    }

    /// The simulated plug.
    pub(crate) fn plug(&self) -> &MokoPlug {
        &self.plug
    }

    /// Its id in merossd: `moko` and its MAC's hex digits.
    pub(crate) fn id(&self) -> String {
        let mac = sim_info(N, true).device_mac;
        format!("moko{}", mac.replace(':', "").to_ascii_lowercase())
    }

    /// Its available entity of `domain` whose name has `part`, waited for.
    async fn entity(hass: &Hass, domain: &str, part: &str) -> Value {
        let name = "MOKO plug_one 00:09";
        for _ in 0..120 {
            let states = hass.call("GET", "/api/states", None).await;
            let found = states.as_array().into_iter().flatten().find(|s| {
                let friendly = s["attributes"]["friendly_name"].as_str().unwrap_or("");
                s["entity_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&format!("{domain}.")))
                    && friendly.starts_with(name)
                    && friendly.contains(part)
                    && s["state"] != "unavailable"
            });
            if let Some(state) = found {
                return state.clone();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("no available {domain} entity {part:?} of the MOKO plug");
    }

    /// Home Assistant shows it and commands it.
    pub(crate) async fn check(&self, hass: &Hass) {
        let switch = Self::entity(hass, "switch", "").await;
        hass.call(
            "POST",
            "/api/services/switch/turn_on",
            Some(json!({"entity_id": switch["entity_id"]})),
        )
        .await;
        assert!(
            self.plug.wait_for(Duration::from_secs(10), |s| s.on).await,
            "Home Assistant's turn_on did not reach the MOKO plug"
        );
        let mut power = Value::Null;
        for _ in 0..80 {
            power = Self::entity(hass, "sensor", "Power").await;
            if power["state"] == "20.0" || power["state"] == "20" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(
            power["state"] == "20.0" || power["state"] == "20",
            "{power}"
        );
        let countdown = Self::entity(hass, "number", "Countdown").await;
        hass.call(
            "POST",
            "/api/services/number/set_value",
            Some(json!({"entity_id": countdown["entity_id"], "value": 5})),
        )
        .await;
        assert!(
            self.plug
                .wait_for(Duration::from_secs(10), |s| s
                    .countdown
                    .is_some_and(|(left, _)| left > 240))
                .await,
            "Home Assistant's countdown did not reach the MOKO plug: {:?}",
            self.plug.state()
        );
    }
}
