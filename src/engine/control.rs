//! Switching a relay, the one command both the API and Home Assistant send.

use super::{Engine, RequestError};
use crate::model::Ability;
use crate::protocol::payloads::ToggleX;
use crate::protocol::{now_secs, Method};
use serde_json::json;
use std::time::Duration;

impl Engine {
    /// Switches a channel and, once the device acknowledged, records the new state.
    /// Old firmware knows only the single-channel `Toggle`; everything newer has `ToggleX`.
    pub async fn switch(
        &self,
        uuid: &str,
        channel: u32,
        on: bool,
        timeout: Duration,
    ) -> Result<(), RequestError> {
        let device = self
            .device(uuid)
            .ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))?;
        if device.moko().is_some() && channel == 0 {
            return self.moko_switch(uuid, on, timeout).await;
        }
        // Only channels the device said it has (before it said anything: channel 0).
        let known =
            device.channels.contains_key(&channel) || (device.channels.is_empty() && channel == 0);
        if !known {
            let list: Vec<String> = device.channels.keys().map(u32::to_string).collect();
            return Err(RequestError::Unsupported(format!(
                "This device has no channel {channel}; it has: {}.",
                if list.is_empty() {
                    "0".to_owned()
                } else {
                    list.join(", ")
                }
            )));
        }
        let onoff = u8::from(on);
        let legacy = !device.has_ability(Ability::ToggleX) && device.has_ability(Ability::Toggle);
        let (namespace, payload) = if legacy {
            if channel != 0 {
                return Err(RequestError::Unsupported(
                    "This device has one channel: 0.".to_owned(),
                ));
            }
            (
                "Appliance.Control.Toggle",
                json!({"channel": 0, "toggle": {"onoff": onoff}}),
            )
        } else {
            (
                "Appliance.Control.ToggleX",
                json!({"togglex": {"channel": channel, "onoff": onoff}}),
            )
        };
        self.request(uuid, Method::Set, namespace, payload, timeout)
            .await?;
        let toggles = [ToggleX {
            channel,
            onoff,
            lm_time: None,
        }];
        self.record_toggles(uuid, &toggles, now_secs());
        Ok(())
    }
}
