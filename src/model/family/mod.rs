//! What a device is beyond its switches and meters: one typed model per family (lights,
//! thermostats, garage doors, shutters, a hub's sub-devices, sprays), what every
//! device has (do-not-disturb, signal), and what it keeps and runs by itself (timers and
//! auto-off, `schedule`). Each family's file reads its payloads (from
//! `System.All`'s digest, a GET's answer or a PUSH: the same shapes) and builds the SETs
//! its firmware takes. State is in SI units (°C, %, 0-100 positions), held compactly: a
//! plug with none of these holds nothing (see [`crate::model::Device::families`]).

pub mod autooff;
pub mod diffuser;
pub mod garage;
pub mod hub;
pub mod items;
pub mod light;
pub mod moko;
pub mod schedule;
pub mod shutter;
pub mod system;
pub mod thermostat;
pub mod timer;
pub mod trigger;
pub mod valve;
pub mod week;

use super::Device;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use diffuser::{Spray, SprayCommand};
pub use garage::{GarageCommand, GarageDoor};
pub use hub::SubDevice;
pub use light::{Light, LightCommand};
pub use schedule::Schedules;
pub use shutter::{Shutter, ShutterCommand};
pub use system::DndCommand;
pub use thermostat::{Thermostat, ThermostatCommand};
pub use valve::SubDeviceCommand;

/// Everything a device's families report, in one record per device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Families {
    /// Lights and dimmers, per channel (`Control.Light`, a diffuser's `Diffuser.Light`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lights: Vec<Light>,
    /// Thermostats, per channel (`Thermostat.Mode` or `ModeB`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thermostats: Vec<Thermostat>,
    /// Garage doors, per channel (`GarageDoor.State`; an MSG200's doors are 1 to 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub garage_doors: Vec<GarageDoor>,
    /// Roller shutters, per channel (`RollerShutter.Position` and `.State`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shutters: Vec<Shutter>,
    /// A hub's sub-devices, by their own id (`Digest.Hub` and the `Hub.*` namespaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subdevices: Vec<SubDevice>,
    /// A diffuser's or humidifier's spray, per channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sprays: Vec<Spray>,
    /// Do-not-disturb (`System.DNDMode`): true when the device's LED is kept off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Wi-Fi signal strength in percent (`System.Runtime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_percent: Option<u8>,
    /// Timers and auto-off rules the device keeps (`model::family::schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Box<schedule::Schedules>>,
    /// A MOKO plug's countdown, maker and upgrade (`model::family::moko`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moko: Option<Box<moko::Moko>>,
}

impl Families {
    /// Whether nothing is known: then the device holds no record at all.
    pub fn is_empty(&self) -> bool {
        *self == Families::default()
    }
}

/// Reads one payload into a device's families; what changed, in words, for its events.
/// A payload it cannot read changes nothing: the error says why.
pub type Reader = fn(&mut Families, &Value) -> Result<Vec<String>, String>;

/// A SET to send a device: its namespace and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    /// The namespace, e.g. `Appliance.Control.Light`.
    pub namespace: &'static str,
    /// The payload, exactly as the firmware takes it.
    pub payload: Value,
}

/// Why a command cannot be sent as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A channel or sub-device the device never reported, or a feature it lacks (the API
    /// answers 422).
    #[error("{0}")]
    Unsupported(String),
    /// A value out of range (the API answers 400, naming the field).
    #[error("`{field}`: {detail}")]
    Invalid {
        /// The field of the command, as the API names it.
        field: &'static str,
        /// What is wrong with it and what would be right.
        detail: String,
    },
}

/// A command to one of a device's families.
pub trait Command: Send + Sync + std::fmt::Debug {
    /// The SETs that carry it out, in order, checked against what the device reported.
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError>;
    /// What the device's state is once every SET was acknowledged, where neither the
    /// acknowledgement nor a PUSH says so (`System.DNDMode` sends none). Most families
    /// need nothing here: the engine reads their SETACKs and PUSHes.
    fn acknowledged(&self, _families: &mut Families) {}
    /// The method its requests are sent with: SET, or DELETE for what removes.
    fn method(&self) -> crate::protocol::Method {
        crate::protocol::Method::Set
    }
}

/// The families of a device, for a command to check against: none reported yet is empty.
pub fn of(device: &Device) -> Families {
    device.families.as_deref().cloned().unwrap_or_default()
}

/// The items under a payload's key: a list, or one object (firmware differs).
pub(crate) fn items<T: DeserializeOwned>(value: &Value) -> Result<Vec<T>, String> {
    let list = match value {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![value.clone()],
        other => return Err(format!("expected an object or a list, got {other}")),
    };
    list.into_iter()
        .map(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .collect()
}

/// The entry of `list` that `matches`, added (from `new`) if there is none.
pub(crate) fn entry<T>(
    list: &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    new: impl FnOnce() -> T,
) -> &mut T {
    match list.iter().position(matches) {
        Some(i) => &mut list[i],
        None => {
            list.push(new());
            let last = list.len() - 1;
            &mut list[last]
        }
    }
}

/// A value in `range`, or the error naming `field`.
pub(crate) fn within<T: PartialOrd + std::fmt::Display + Copy>(
    field: &'static str,
    value: T,
    low: T,
    high: T,
) -> Result<T, CommandError> {
    if value < low || value > high {
        return Err(CommandError::Invalid {
            field,
            detail: format!("{value} is out of range: from {low} to {high}"),
        });
    }
    Ok(value)
}

/// "This device has no <what> <n>; it has: ...", for a command to an unknown channel.
pub(crate) fn no_such<K: std::fmt::Display>(what: &str, asked: K, known: &[K]) -> CommandError {
    let list: Vec<String> = known.iter().map(ToString::to_string).collect();
    let has = if list.is_empty() {
        "none reported".to_owned()
    } else {
        format!("it has: {}", list.join(", "))
    };
    CommandError::Unsupported(format!("This device has no {what} {asked}; {has}."))
}

/// `1` / `0` for on / off, as most payloads say it.
pub(crate) fn onoff(on: bool) -> u8 {
    u8::from(on)
}

/// Tenths of a degree (most payloads) to °C.
pub(crate) fn deci(value: i64) -> f64 {
    value as f64 / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_without_families_holds_one_pointer_for_them() {
        assert_eq!(std::mem::size_of::<Option<Box<Families>>>(), 8);
        // The record itself, boxed once a family is known (lists are empty until then).
        eprintln!("Families: {} bytes", std::mem::size_of::<Families>());
        assert!(std::mem::size_of::<Families>() <= 168);
    }
}
