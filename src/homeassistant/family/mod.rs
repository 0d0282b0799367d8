//! Home Assistant entities for the device families beyond plugs: lights, thermostats,
//! garage doors and shutters, sprays, a hub's sub-devices, and what every device has
//! (do-not-disturb, signal, auto-off). Each file builds its family's discovery configs and its keys
//! of the device's state, and reads Home Assistant's commands for it back into the
//! engine's family commands.
//!
//! Every command topic is `<base>/<uuid>/<object>/set`, so the bridge's one filter
//! `<base>/+/+/set` hears them all: [`parse`] takes the object and the payload.

pub mod autooff;
pub mod climate;
pub mod cover;
pub mod hub;
pub mod light;
pub mod moko;
pub mod spray;
pub mod system;

use super::discovery::{Entity, Topics};
use crate::model::family::{
    Command, DndCommand, GarageCommand, LightCommand, ShutterCommand, SprayCommand,
    SubDeviceCommand, ThermostatCommand,
};
use crate::model::Device;
use serde::Serialize;
use serde_json::{json, Value};

/// A command Home Assistant sent, as the engine takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Order {
    /// For a light.
    Light(LightCommand),
    /// For a thermostat.
    Thermostat(ThermostatCommand),
    /// For a garage door.
    Garage(GarageCommand),
    /// For a roller shutter.
    Shutter(ShutterCommand),
    /// For a diffuser's or humidifier's spray.
    Spray(SprayCommand),
    /// For do-not-disturb.
    Dnd(DndCommand),
    /// For a hub's sub-device (a valve).
    SubDevice(SubDeviceCommand),
    /// A MOKO plug's countdown, in minutes (0 cancels): not a Meross command.
    Countdown(u32),
    /// A channel's auto-off, in minutes (0: none).
    AutoOff(crate::model::family::autooff::AutoOff),
}

impl Order {
    /// The command itself, to hand to the engine; `None` for a MOKO plug's countdown.
    pub fn command(&self) -> Option<&dyn Command> {
        Some(match self {
            Order::Light(c) => c,
            Order::Thermostat(c) => c,
            Order::Garage(c) => c,
            Order::Shutter(c) => c,
            Order::Spray(c) => c,
            Order::Dnd(c) => c,
            Order::SubDevice(c) => c,
            Order::AutoOff(c) => c,
            Order::Countdown(_) => return None,
        })
    }
}

/// Every discovery config of the device's families (none for a plain plug).
pub fn entities(t: &Topics, d: &Device, configuration_url: Option<&str>) -> Vec<Entity> {
    let url = configuration_url;
    // Auto-off is the Ability's, before any rule exists.
    let mut out = autooff::entities(t, d, url);
    let Some(f) = d.families.as_deref() else {
        return out;
    };
    out.extend(light::entities(t, d, url, f));
    out.extend(climate::entities(t, d, url, f));
    out.extend(cover::entities(t, d, url, f));
    out.extend(spray::entities(t, d, url, f));
    out.extend(hub::entities(t, d, url, f));
    out.extend(system::entities(t, d, url, f));
    out.extend(moko::entities(t, d, url, f));
    out
}

/// Adds the families' keys to the device's state `s` (a JSON object). A light's state is
/// not among them: it has a topic of its own (see [`retained`]).
pub fn state(d: &Device, s: &mut Value) {
    autooff::state(d, s);
    let Some(f) = d.families.as_deref() else {
        return;
    };
    climate::state(f, s);
    cover::state(f, s);
    spray::state(f, s);
    hub::state(f, s);
    system::state(f, s);
    moko::state(f, s);
}

/// The retained messages beyond the device's state and availability, as (topic, payload):
/// each light's own state, and each sub-device's availability.
pub fn retained(t: &Topics, d: &Device) -> Vec<(String, String)> {
    let Some(f) = d.families.as_deref() else {
        return Vec::new();
    };
    let mut out = light::retained(t, d, f);
    out.extend(hub::retained(t, d, f));
    out
}

/// Reads a command Home Assistant sent to `<base>/<uuid>/<object>/set` for one of the
/// device's families. When it cannot be read (an unknown object, a payload that is not a
/// number or not an option), the error says why: the bridge warns and drops it.
pub fn parse(object: &str, payload: &str, d: &Device) -> Result<Order, String> {
    let f = crate::model::family::of(d);
    let payload = payload.trim();
    if object == "dnd" {
        return system::parse(payload, &f);
    }
    if object == "countdown" && f.moko.is_some() {
        return moko::parse(payload);
    }
    if let Some(rest) = object.strip_prefix("autooff_") {
        return autooff::parse(rest, payload);
    }
    if let Some(rest) = object.strip_prefix("light_") {
        return light::parse(rest, payload);
    }
    if let Some(rest) = object.strip_prefix("climate_") {
        return climate::parse(rest, payload, &f);
    }
    if let Some(rest) = object.strip_prefix("door_") {
        return cover::parse_door(rest, payload);
    }
    if let Some(rest) = object.strip_prefix("shutter_") {
        return cover::parse_shutter(rest, payload);
    }
    if let Some(rest) = object.strip_prefix("spray_") {
        return spray::parse(rest, payload, &f);
    }
    if let Some(rest) = object.strip_prefix("sub_") {
        return hub::parse(rest, payload, &f);
    }
    Err(format!("`{object}` is no object merossd knows"))
}

/// The channel number of an object's topic (the `0` of `light_0`).
fn channel(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a channel number"))
}

/// A number Home Assistant sent (a temperature, a position).
fn number(payload: &str) -> Result<f64, String> {
    payload
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("`{payload}` is not a number"))
}

/// An entity's name: none (Home Assistant then shows the device's name) for the only one
/// of its kind on the device, else `<word> <channel>`.
fn name(several: bool, word: &str, channel: u32) -> Value {
    if several {
        json!(format!("{word} {channel}"))
    } else {
        Value::Null
    }
}

/// `ON` or `OFF`, as switches and binary sensors read them.
fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

/// Sets `key` of the state `s` when the value is known. An unknown value leaves the key
/// out, so that its template renders empty and Home Assistant keeps what it had.
fn put<T: Serialize>(s: &mut Value, key: String, value: Option<T>) {
    if let Some(Ok(value)) = value.map(serde_json::to_value) {
        s[key] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_object_is_an_error_not_a_panic() {
        let d = Device::new("abc", 1);
        assert!(parse("nothing", "ON", &d).is_err());
        assert!(parse("light_x", "{}", &d).is_err());
        assert!(
            parse("climate_0_mode", "heat", &d).is_err(),
            "no thermostat 0"
        );
    }

    #[test]
    fn a_plain_plug_has_no_family_entities_or_keys() {
        let t = Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        };
        let d = Device::new("abc", 1);
        assert!(entities(&t, &d, None).is_empty());
        assert!(retained(&t, &d).is_empty());
        let mut s = json!({});
        state(&d, &mut s);
        assert_eq!(s, json!({}));
    }

    #[test]
    fn numbers_are_checked() {
        assert_eq!(number(" 21.5 "), Ok(21.5));
        assert!(number("warm").is_err());
        assert!(number("NaN").is_err());
        assert!(channel("-1").is_err());
    }
}
