//! What the engine knows of one device, and the changes it reports to the store.

use super::abilities::{Abilities, Ability};
use crate::protocol::payloads::{Firmware, Hardware, ToggleX};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One channel's relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Whether it is on (the device's `onoff` is not 0).
    pub on: bool,
    /// When it last changed (the device's `lmTime` if it sent one), epoch seconds.
    pub changed_at: u64,
}

/// One channel's latest electricity reading, in SI units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Active power in watts (the device sends mW).
    pub power_w: f64,
    /// Voltage in volts (the device sends dV).
    pub voltage_v: f64,
    /// Current in amperes (the device sends mA).
    pub current_a: f64,
    /// When it was read, epoch seconds.
    pub at: u64,
}

impl Reading {
    /// From the device's units: power in mW, voltage in dV, current in mA (as the traces
    /// show: 67379 mW at 418 mA and 238.7 V).
    pub fn from_device(power_mw: f64, voltage_dv: f64, current_ma: f64, at: u64) -> Reading {
        Reading {
            power_w: power_mw / 1000.0,
            voltage_v: voltage_dv / 10.0,
            current_a: current_ma / 1000.0,
            at,
        }
    }
}

/// A reading of one channel, for the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The device it was read from.
    pub uuid: String,
    /// The channel it measures (0 on single-channel plugs).
    pub channel: u32,
    /// The values and when they were read.
    pub reading: Reading,
}

/// Everything known about one device, keyed by uuid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// The device's uuid, from its MQTT client id (`fmware:<uuid>_...`).
    pub uuid: String,
    /// A name given through the API (`PATCH /api/v1/devices/{uuid}`); `None`: unnamed.
    pub name: Option<String>,
    /// The MAC it last logged in with (lowercase, with colons); `None` until it connects.
    pub mac: Option<String>,
    /// The account whose key verified its last login.
    pub user_id: Option<String>,
    /// True while it has a connection up; false for every device when the daemon starts.
    pub online: bool,
    /// Where its MQTT connection comes from.
    pub peer: Option<String>,
    /// How its connection's TLS was agreed (`TLSv1.2 AES128-SHA (openssl)`).
    #[serde(default)]
    pub tls: Option<String>,
    /// Type, version, chip and MAC as its Bind or System.All answer gave them.
    pub hardware: Option<Hardware>,
    /// Firmware version, build time and own address, from its Bind or System.All answer.
    pub firmware: Option<Firmware>,
    /// What the engine needs of its Ability answer (the answer itself is in the store).
    pub ability: Option<Abilities>,
    /// The relay of each channel it reported, by channel number (0 on one-channel plugs).
    pub channels: BTreeMap<u32, Channel>,
    /// When merossd first heard of it, epoch seconds.
    pub first_seen: u64,
    /// When it last connected or sent a message, epoch seconds.
    pub last_seen: u64,
    /// When it last sent a Bind whose sign verified, epoch seconds; `None` if it never
    /// did, or said since that it was reset (Unbind).
    pub bound_at: Option<u64>,
    /// A time zone of its own, instead of the configured one.
    pub timezone: Option<String>,
    /// Latest electricity reading per channel (metering plugs).
    #[serde(default)]
    pub electricity: BTreeMap<u32, Reading>,
    /// What its families beyond plugs report (lights, thermostats, doors, shutters, a
    /// hub's sub-devices, sprays, do-not-disturb, signal); none for a plain plug, so that
    /// it holds nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub families: Option<Box<super::Families>>,
    /// Names the user gave channels (a strip's outlets, a USB port), by channel.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channel_names: BTreeMap<u32, String>,
    /// When we last sent it `System.Time` (limits re-sends on clock drift).
    #[serde(skip)]
    pub time_set_at: Option<u64>,
    /// The current connection (tells a late Disconnected of an old one apart).
    #[serde(skip)]
    pub conn: Option<u64>,
    /// True once Ability and All were asked for on the current connection.
    #[serde(skip)]
    pub queried: bool,
}

impl Device {
    /// A device known by its uuid alone, first and last seen at `now` (epoch seconds).
    pub fn new(uuid: &str, now: u64) -> Device {
        Device {
            uuid: uuid.to_owned(),
            first_seen: now,
            last_seen: now,
            ..Default::default()
        }
    }

    /// The name a person sees everywhere (the CLI, the API's `display_name`, Home
    /// Assistant, the cloud API): the one given, else `Meross <type> <end of its MAC>`,
    /// the last two bytes as the plug's label prints them (`Meross mss310 BB:CC`), or the
    /// end of its uuid while the MAC is not known.
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let maker = if self.moko().is_some() {
            "MOKO"
        } else {
            "Meross"
        };
        let kind = self.kind().unwrap_or("device");
        let hex: Vec<char> = self
            .mac
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        if hex.len() >= 4 {
            let end: String = hex[hex.len() - 4..]
                .iter()
                .collect::<String>()
                .to_ascii_uppercase();
            return format!("{maker} {kind} {}:{}", &end[..2], &end[2..]);
        }
        let chars: Vec<char> = self.uuid.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(6)..].iter().collect();
        format!("{maker} {kind} {tail}")
    }

    /// The hardware type (`mss310`), if known.
    pub fn kind(&self) -> Option<&str> {
        self.hardware
            .as_ref()
            .map(|h| h.kind.as_str())
            .filter(|k| !k.is_empty())
    }

    /// The firmware version (`2.1.17`), if known.
    pub fn firmware_version(&self) -> Option<&str> {
        self.firmware
            .as_ref()
            .map(|f| f.version.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The device's own address on its network, as its firmware reports it.
    pub fn inner_ip(&self) -> Option<&str> {
        self.firmware
            .as_ref()
            .map(|f| f.inner_ip.as_str())
            .filter(|v| !v.is_empty())
    }

    /// True if the device lists `ability` among its abilities.
    pub fn has_ability(&self, ability: Ability) -> bool {
        self.ability.is_some_and(|a| a.has(ability))
    }

    /// True for devices that measure electricity.
    pub fn is_metering(&self) -> bool {
        self.has_ability(Ability::Electricity)
            || self.has_ability(Ability::ElectricityX)
            || self.moko().is_some_and(|m| m.metering)
    }

    /// What a MOKO plug says beyond on/off and power; `None` for a Meross device.
    pub fn moko(&self) -> Option<&super::family::moko::Moko> {
        self.families.as_ref()?.moko.as_deref()
    }

    /// Applies channel states; returns the channels that changed.
    pub fn apply_toggles(&mut self, toggles: &[ToggleX], now: u64) -> Vec<(u32, bool)> {
        let mut changed = Vec::new();
        for t in toggles {
            let on = t.onoff != 0;
            // A device's own lmTime, unless it is missing or not a plausible time.
            let at = t
                .lm_time
                .filter(|&t| t > 0 && t <= now + 86_400)
                .unwrap_or(now);
            let prev = self
                .channels
                .insert(t.channel, Channel { on, changed_at: at });
            if prev.map(|p| p.on) != Some(on) {
                changed.push((t.channel, on));
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_display_name_ends_with_what_the_label_prints() {
        let mut d = Device::new("2208022697555151200348e1e9b3ba37", 1);
        assert_eq!(
            d.display_name(),
            "Meross device b3ba37",
            "before the MAC is known"
        );
        d.mac = Some("48:e1:e9:b3:ba:37".into());
        d.hardware = Some(Hardware {
            kind: "mss310".into(),
            ..Hardware::default()
        });
        assert_eq!(d.display_name(), "Meross mss310 BA:37");
        d.name = Some("Kettle".into());
        assert_eq!(d.display_name(), "Kettle");
    }
}
