//! Typed payloads for the namespaces the engine reads. Fields that vary between firmware
//! generations are optional; whatever is not modelled here stays in the raw JSON we keep.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `hardware` in `System.All` and in a Bind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hardware {
    /// `type`: the model, e.g. `mss310` or `msg100`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The regional variant, e.g. `us`, `eu` or `un`.
    #[serde(default)]
    pub sub_type: String,
    /// The hardware revision, e.g. `2.0.0`.
    #[serde(default)]
    pub version: String,
    /// The Wi-Fi chip, e.g. `MT7682` or `rtl8710cm`.
    #[serde(default)]
    pub chip_type: String,
    /// The device's uuid, as it reports it.
    #[serde(default)]
    pub uuid: String,
    /// `macAddress`: the device's MAC, as it reports it.
    #[serde(default)]
    pub mac_address: String,
}

/// `firmware` in `System.All` and in a Bind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firmware {
    /// The firmware version, e.g. `2.1.17`.
    #[serde(default)]
    pub version: String,
    /// When the firmware was built, as the device writes it, e.g.
    /// `2022/08/19 10:05:03 GMT +08:00`.
    #[serde(default)]
    pub compile_time: String,
    /// `innerIp`: the device's IP address on its own network.
    #[serde(default)]
    pub inner_ip: String,
    /// `wifiMac`: the MAC of the device's Wi-Fi interface.
    #[serde(default)]
    pub wifi_mac: String,
}

/// `SET Appliance.Control.Bind`: `{"bind":{"bindTime",..,"hardware","firmware"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct BindPayload {
    /// The body under `bind`.
    pub bind: Bind,
}

/// What a device says of itself when it binds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bind {
    /// `bindTime`: when it bound, in seconds since the Unix epoch by its clock, if sent.
    #[serde(default)]
    pub bind_time: Option<u64>,
    /// Its hardware, if sent.
    #[serde(default)]
    pub hardware: Option<Hardware>,
    /// Its firmware, if sent.
    #[serde(default)]
    pub firmware: Option<Firmware>,
}

/// `GETACK Appliance.System.All`: `{"all":{"system":{..},"digest"|"control":{..}}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct AllPayload {
    /// The body under `all`.
    pub all: All,
}

/// The parts of a `System.All` answer the engine reads; the answer is also kept raw.
#[derive(Debug, Clone, Deserialize)]
pub struct All {
    /// What the device is: its hardware and firmware.
    pub system: System,
    /// The state of what the device controls, on current firmware.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Old firmware (mss210 1.x) has `control` in place of `digest`.
    #[serde(default)]
    pub control: Option<Control>,
}

/// `system` in `System.All`.
#[derive(Debug, Clone, Deserialize)]
pub struct System {
    /// The device's hardware; empty fields when it is not sent.
    #[serde(default)]
    pub hardware: Hardware,
    /// The device's firmware; empty fields when it is not sent.
    #[serde(default)]
    pub firmware: Firmware,
}

/// `digest` in `System.All`: the current state of what the device controls.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Digest {
    /// Each channel's switch state; empty on a device without switches.
    #[serde(default)]
    pub togglex: Vec<ToggleX>,
}

/// `control` in the `System.All` of old firmware, which has it in place of `digest`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Control {
    /// The one channel's switch state, if sent.
    #[serde(default)]
    pub toggle: Option<Toggle>,
}

/// One channel's switch state, as `ToggleX` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToggleX {
    /// The channel: 0 for the first (or only) outlet, and when absent.
    #[serde(default)]
    pub channel: u32,
    /// 0 for off; anything else (the devices send 1) for on.
    pub onoff: u8,
    /// `lmTime`: when the switch last changed, in seconds since the Unix epoch by the
    /// device's clock, if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm_time: Option<u64>,
}

/// The single-channel `Toggle` of old firmware.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Toggle {
    /// 0 for off; anything else (the devices send 1) for on.
    pub onoff: u8,
    /// `lmTime`: when the switch last changed, in seconds since the Unix epoch by the
    /// device's clock, if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm_time: Option<u64>,
}

/// `Appliance.Control.ToggleX`: a list on PUSH, one object on SET/GETACK.
#[derive(Debug, Clone, Deserialize)]
pub struct ToggleXPayload {
    /// The channels it is about: one or more.
    #[serde(deserialize_with = "one_or_many")]
    pub togglex: Vec<ToggleX>,
}

/// `Appliance.Control.Toggle`: `{"channel":0,"toggle":{"onoff":1}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TogglePayload {
    /// The channel; 0 when absent (old firmware has just the one).
    #[serde(default)]
    pub channel: u32,
    /// That channel's switch state.
    pub toggle: Toggle,
}

/// `Appliance.System.Clock`: `{"clock":{"timestamp":..}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockPayload {
    /// The body under `clock`.
    pub clock: Clock,
}

/// A clock reading, either way: the device's in its PUSH, merossd's in the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clock {
    /// The time, in seconds since the Unix epoch.
    pub timestamp: u64,
}

/// `Appliance.Control.Electricity` (one object) or `ElectricityX` (a list): current in mA,
/// voltage in dV, power in mW.
#[derive(Debug, Clone, Deserialize)]
pub struct ElectricityPayload {
    /// One reading per channel measured.
    #[serde(deserialize_with = "one_or_many")]
    pub electricity: Vec<Electricity>,
}

/// One channel's reading, in the device's units; a field not sent reads 0.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Electricity {
    /// The channel measured: 0 on single-channel plugs.
    #[serde(default)]
    pub channel: u32,
    /// Current in mA.
    #[serde(default)]
    pub current: f64,
    /// Voltage in dV (tenths of a volt: 2387 is 238.7 V).
    #[serde(default)]
    pub voltage: f64,
    /// Power in mW.
    #[serde(default)]
    pub power: f64,
}

/// `Appliance.Control.ConsumptionX`: the Wh the plug counted per day, ~30 days.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumptionXPayload {
    /// One entry per day the plug still holds.
    pub consumptionx: Vec<ConsumptionDay>,
}

/// The energy a plug counted on one day.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumptionDay {
    /// The day as the plug dates it, `YYYY-MM-DD`.
    pub date: String,
    /// The energy used that day, in Wh; 0 when absent.
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
