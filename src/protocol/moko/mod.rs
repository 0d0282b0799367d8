//! The MOKO MK102/MK112 wire (the vendor's "MK102 MK112 V1 MQTT protocol", seeds/004):
//! topics `<function>/<name>/<region>/<mac>/{device,app}/<what>`, the JSON each carries,
//! and the AP-mode provisioning messages (headers 4001, 4002, 4003 over raw TCP).
//!
//! A MOKO plug is known to merossd by an id made of its MAC ([`id_of`]: `moko` and the
//! twelve hex digits), which stands where a Meross device's uuid stands.

use serde::{Deserialize, Serialize};

/// The id a MOKO plug has in merossd (API paths, the store, Home Assistant): `moko` and
/// its MAC's twelve lowercase hex digits; `None` if `mac` is not a MAC.
pub fn id_of(mac: &str) -> Option<String> {
    mac_hex(mac).map(|hex| format!("moko{hex}"))
}

pub use super::mac::{mac_colons, mac_hex};

/// The MQTT user name merossd gives a MOKO plug: `moko_` and its MAC's hex digits.
pub fn username_of(id: &str) -> String {
    format!("moko_{}", id.trim_start_matches("moko"))
}

/// Who speaks on a MOKO topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `.../device/<what>`: the plug says it.
    Device,
    /// `.../app/<what>`: said to the plug.
    App,
}

/// A MOKO topic, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MokoTopic<'a> {
    /// `<function>/<name>/<region>/<mac>`, as the plug writes it.
    pub prefix: &'a str,
    /// The MAC part of the prefix, as written.
    pub mac: &'a str,
    /// Who speaks.
    pub side: Side,
    /// What it is about (`switch_state`, ...); may be a filter's `+` or `#`.
    pub what: &'a str,
}

impl<'a> MokoTopic<'a> {
    /// Reads a topic (or a filter) of six levels whose fourth is a MAC and fifth `device`
    /// or `app`; anything else is not a MOKO topic.
    pub fn parse(topic: &'a str) -> Option<MokoTopic<'a>> {
        let levels: Vec<&str> = topic.split('/').collect();
        let [function, name, region, mac, side, what] = levels[..] else {
            return None;
        };
        if [function, name, region, what].iter().any(|l| l.is_empty()) || mac_hex(mac).is_none() {
            return None;
        }
        let side = match side {
            "device" => Side::Device,
            "app" => Side::App,
            _ => return None,
        };
        let prefix_len = function.len() + name.len() + region.len() + mac.len() + 3;
        Some(MokoTopic {
            prefix: &topic[..prefix_len],
            mac,
            side,
            what,
        })
    }

    /// The id of the plug the topic names.
    pub fn id(&self) -> Option<String> {
        id_of(self.mac)
    }
}

/// The topic a plug with `prefix` says `what` on.
pub fn device_topic(prefix: &str, what: &str) -> String {
    format!("{prefix}/device/{what}")
}

/// The topic `what` is said to a plug with `prefix` on.
pub fn app_topic(prefix: &str, what: &str) -> String {
    format!("{prefix}/app/{what}")
}

/// What a plug says and hears, by the last level of the topic.
pub mod what {
    /// On or off (`{"switch_state":"on"}`): the plug says it on connect, on change and
    /// every 30 s; said to it, it switches.
    pub const SWITCH_STATE: &str = "switch_state";
    /// Company, production date, model, firmware version and MAC.
    pub const FIRMWARE_INFOR: &str = "firmware_infor";
    /// The countdown: time left and the state it ends in (the plug, every second), or a
    /// countdown to start (to it).
    pub const DELAY_TIME: &str = "delay_time";
    /// The outcome of a firmware upgrade (`R1` to `R4`).
    pub const OTA_UPGRADE_STATE: &str = "ota_upgrade_state";
    /// The plug was reset with its button (held 10 s) while connected.
    pub const DELETE_DEVICE: &str = "delete_device";
    /// Voltage (dV), current (mA) and power (W), every second.
    pub const ELECTRICITY_INFORMATION: &str = "electricity_information";
    /// To the plug: reset to factory settings.
    pub const RESET: &str = "reset";
    /// To the plug: upgrade from this server and directory.
    pub const UPGRADE: &str = "upgrade";
    /// To the plug: say your `firmware_infor`.
    pub const READ_FIRMWARE_INFOR: &str = "read_firmware_infor";
}

/// `switch_state`, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchState {
    /// `"on"` or `"off"`.
    pub switch_state: String,
}

impl SwitchState {
    /// The message for `on`.
    pub fn new(on: bool) -> SwitchState {
        SwitchState {
            switch_state: if on { "on" } else { "off" }.to_owned(),
        }
    }

    /// True for on, false for off; `None` for anything else.
    pub fn on(&self) -> Option<bool> {
        match self.switch_state.trim() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        }
    }
}

/// `electricity_information`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Electricity {
    /// Decivolts.
    pub voltage: f64,
    /// Milliamperes.
    pub current: f64,
    /// Watts.
    pub power: f64,
}

/// `firmware_infor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareInfor {
    /// The maker (`moko`).
    #[serde(default)]
    pub company_name: String,
    /// When it was made (`201801`).
    #[serde(default)]
    pub production_date: String,
    /// The model (`plug_one`).
    #[serde(default)]
    pub product_model: String,
    /// The firmware version (`000001`).
    #[serde(default)]
    pub firmware_version: String,
    /// Its MAC, as it writes it.
    #[serde(default)]
    pub device_mac: String,
}

/// `delay_time` from the plug: time left, and the state the plug takes at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayLeft {
    /// 0 to 23.
    pub delay_hour: u32,
    /// 0 to 59.
    pub delay_minute: u32,
    /// 0 to 59.
    pub delay_second: u32,
    /// `"on"` or `"off"`.
    pub switch_state: String,
}

impl DelayLeft {
    /// Seconds left.
    pub fn seconds(&self) -> u32 {
        self.delay_hour * 3600 + self.delay_minute * 60 + self.delay_second
    }
}

/// `delay_time` to the plug: a countdown to start (0 h 0 min: none; merossd's way of
/// cancelling one, as a new countdown replaces the running one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelaySet {
    /// 0 to 23.
    pub delay_hour: u32,
    /// 0 to 59.
    pub delay_minute: u32,
}

/// `ota_upgrade_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtaState {
    /// `R1` to `R4`.
    pub ota_result: String,
}

/// What an `ota_result` means, in words.
pub fn ota_meaning(result: &str) -> &'static str {
    match result {
        "R1" => "upgraded",
        "R2" => "the upgrade failed after reaching the server",
        "R3" => "the upgrade server could not be reached",
        "R4" => "the upgrade server's name did not resolve",
        _ => "an upgrade outcome the plug's documentation does not list",
    }
}

/// `upgrade` to the plug: where its new firmware is (the plug picks the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    /// 0: `realm` is an IP address; 1: a domain name.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The server.
    pub realm: String,
    /// Its port.
    pub port: u16,
    /// The directory, under 100 bytes.
    pub catalogue: String,
}

pub mod setup;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moko_topic_is_six_levels_with_a_mac_fourth() {
        let t = MokoTopic::parse("iot_plug/plug_one/us/11:22:33:44:55:66/device/switch_state")
            .expect("a MOKO topic");
        assert_eq!(t.prefix, "iot_plug/plug_one/us/11:22:33:44:55:66");
        assert_eq!(t.side, Side::Device);
        assert_eq!(t.what, "switch_state");
        assert_eq!(t.id().as_deref(), Some("moko112233445566"));
        let f = MokoTopic::parse("iot_plug/plug_one/us/112233445566/app/#").expect("a filter");
        assert_eq!((f.side, f.what), (Side::App, "#"));
        for not in [
            "/appliance/abc/publish",
            "iot_plug/plug_one/us/not-a-mac/device/switch_state",
            "iot_plug/plug_one/us/11:22:33:44:55:66/other/switch_state",
            "iot_plug/plug_one/us/11:22:33:44:55:66/device",
            "iot_plug/plug_one/us/11:22:33:44:55:66/device/switch_state/x",
            "iot_plug//us/11:22:33:44:55:66/device/switch_state",
        ] {
            assert_eq!(MokoTopic::parse(not), None, "{not}");
        }
    }

    #[test]
    fn ids_and_user_names_come_from_the_mac() {
        assert_eq!(
            id_of("11:22:33:44:55:AA").as_deref(),
            Some("moko1122334455aa")
        );
        assert_eq!(id_of("1122"), None);
        assert_eq!(username_of("moko1122334455aa"), "moko_1122334455aa");
        assert_eq!(mac_colons("1122334455aa"), "11:22:33:44:55:aa");
    }

    #[test]
    fn payloads_read_as_the_seed_writes_them() {
        let s: SwitchState = serde_json::from_str(r#"{"switch_state":"on"}"#).unwrap();
        assert_eq!(s.on(), Some(true));
        let e: Electricity =
            serde_json::from_str(r#"{"voltage":2205,"current":200,"power":20}"#).unwrap();
        assert_eq!(e.power, 20.0);
        let d: DelayLeft = serde_json::from_str(
            r#"{"delay_hour":3,"delay_minute":3,"delay_second":59,"switch_state":"off"}"#,
        )
        .unwrap();
        assert_eq!(d.seconds(), 3 * 3600 + 3 * 60 + 59);
        assert_eq!(
            setup::code_meaning(3),
            "the MQTT settings must come before the Wi-Fi settings"
        );
    }
}
