//! Typed payloads for the namespaces the engine reads. Fields that vary between firmware
//! generations are optional; whatever is not modelled here stays in the raw JSON we keep.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `hardware` in `System.All` and in a Bind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hardware {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub sub_type: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub chip_type: String,
    #[serde(default)]
    pub uuid: String,
    #[serde(default)]
    pub mac_address: String,
}

/// `firmware` in `System.All` and in a Bind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firmware {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub compile_time: String,
    #[serde(default)]
    pub inner_ip: String,
    #[serde(default)]
    pub wifi_mac: String,
}

/// `SET Appliance.Control.Bind`: `{"bind":{"bindTime",..,"hardware","firmware"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct BindPayload {
    pub bind: Bind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bind {
    #[serde(default)]
    pub bind_time: Option<u64>,
    #[serde(default)]
    pub hardware: Option<Hardware>,
    #[serde(default)]
    pub firmware: Option<Firmware>,
}

/// `GETACK Appliance.System.All`: `{"all":{"system":{..},"digest"|"control":{..}}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct AllPayload {
    pub all: All,
}

#[derive(Debug, Clone, Deserialize)]
pub struct All {
    pub system: System,
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Old firmware (mss210 1.x) has `control` in place of `digest`.
    #[serde(default)]
    pub control: Option<Control>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct System {
    #[serde(default)]
    pub hardware: Hardware,
    #[serde(default)]
    pub firmware: Firmware,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Digest {
    #[serde(default)]
    pub togglex: Vec<ToggleX>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Control {
    #[serde(default)]
    pub toggle: Option<Toggle>,
}

/// One channel's switch state, as `ToggleX` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToggleX {
    #[serde(default)]
    pub channel: u32,
    pub onoff: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm_time: Option<u64>,
}

/// The single-channel `Toggle` of old firmware.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toggle {
    pub onoff: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm_time: Option<u64>,
}

/// `Appliance.Control.ToggleX`: a list on PUSH, one object on SET/GETACK.
#[derive(Debug, Clone, Deserialize)]
pub struct ToggleXPayload {
    #[serde(deserialize_with = "one_or_many")]
    pub togglex: Vec<ToggleX>,
}

/// `Appliance.Control.Toggle`: `{"channel":0,"toggle":{"onoff":1}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TogglePayload {
    #[serde(default)]
    pub channel: u32,
    pub toggle: Toggle,
}

/// `Appliance.System.Clock`: `{"clock":{"timestamp":..}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockPayload {
    pub clock: Clock,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clock {
    pub timestamp: u64,
}

/// `Appliance.Control.Electricity` (one object) or `ElectricityX` (a list): current in mA,
/// voltage in dV, power in mW.
#[derive(Debug, Clone, Deserialize)]
pub struct ElectricityPayload {
    #[serde(deserialize_with = "one_or_many")]
    pub electricity: Vec<Electricity>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Electricity {
    #[serde(default)]
    pub channel: u32,
    #[serde(default)]
    pub current: f64,
    #[serde(default)]
    pub voltage: f64,
    #[serde(default)]
    pub power: f64,
}

/// `Appliance.Control.ConsumptionX`: the Wh the plug counted per day, ~30 days.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumptionXPayload {
    pub consumptionx: Vec<ConsumptionDay>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConsumptionDay {
    pub date: String,
    #[serde(default)]
    pub value: f64,
}

fn one_or_many<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(de)? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom))
            .collect(),
        one => Ok(vec![
            serde_json::from_value(one).map_err(serde::de::Error::custom)?
        ]),
    }
}

/// The channel states a `System.All` answer carries, from `digest` or old `control`.
pub fn channels_of(all: &All) -> Vec<ToggleX> {
    if let Some(digest) = &all.digest {
        return digest.togglex.clone();
    }
    all.control
        .as_ref()
        .and_then(|c| c.toggle)
        .map(|t| {
            vec![ToggleX {
                channel: 0,
                onoff: t.onoff,
                lm_time: t.lm_time,
            }]
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn togglex_push_list_and_set_object_both_parse() {
        let push: ToggleXPayload =
            serde_json::from_value(json!({"togglex":[{"channel":0,"onoff":1,"lmTime":3}]}))
                .unwrap();
        let set: ToggleXPayload =
            serde_json::from_value(json!({"togglex":{"channel":2,"onoff":0}})).unwrap();
        assert_eq!(push.togglex[0].onoff, 1);
        assert_eq!(set.togglex[0].channel, 2);
    }

    #[test]
    fn electricity_object_and_list_parse() {
        let one: ElectricityPayload = serde_json::from_value(
            json!({"electricity":{"channel":0,"current":418,"voltage":2387,"power":67379}}),
        )
        .unwrap();
        let many: ElectricityPayload = serde_json::from_value(
            json!({"electricity":[{"channel":1,"current":1,"voltage":2,"power":3}]}),
        )
        .unwrap();
        assert_eq!(one.electricity[0].power, 67379.0);
        assert_eq!(many.electricity[0].channel, 1);
    }

    #[test]
    fn old_firmware_control_toggle_gives_channel_zero() {
        let all: AllPayload = serde_json::from_value(json!({"all":{"system":{"hardware":{"type":"mss210"},"firmware":{"version":"1.1.12"}},"control":{"toggle":{"onoff":1,"lmTime":7}}}})).unwrap();
        let ch = channels_of(&all.all);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].onoff, 1);
    }
}
