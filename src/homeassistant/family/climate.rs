//! Thermostats as Home Assistant `climate` entities, and the climate config a hub's
//! radiator valves share with them ([`Climate`]). Home Assistant's mode is on or off
//! (`off`, `heat`, and `cool` for an MTS960); the thermostat's own modes are its presets.
//! Everything is read from the device's state, under keys `<prefix>_mode`, `_target`,
//! `_preset` and `_action`; commands come on `<base>/<uuid>/<prefix>_mode/set`,
//! `_temperature/set` and `_preset/set`.

use super::{channel, name, number, put, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::{Families, Thermostat, ThermostatCommand};
use crate::model::Device;
use serde_json::{json, Value};

/// An MTS200's presets: its own modes.
pub const MODE_PRESETS: [&str; 5] = ["heat", "cool", "eco", "auto", "manual"];
/// An MTS960's presets.
pub const MODE_B_PRESETS: [&str; 3] = ["heat_cool", "schedule", "timer"];
/// Home Assistant's modes of a heater: off or heating.
pub const HEAT_MODES: [&str; 2] = ["off", "heat"];
/// Home Assistant's modes of a thermostat that also cools (an MTS960).
pub const HEAT_COOL_MODES: [&str; 3] = ["off", "heat", "cool"];

/// One climate entity: where its state keys and commands are, and what it offers.
#[derive(Debug, Clone)]
pub struct Climate<'a> {
    /// The prefix of its state keys and command objects: `climate_<ch>` or `sub_<id>`.
    pub prefix: String,
    /// The state key of the measured temperature.
    pub current: String,
    /// Home Assistant's modes (see [`HEAT_MODES`]).
    pub modes: &'a [&'a str],
    /// Its presets.
    pub presets: &'a [&'a str],
    /// The lowest target it takes, °C.
    pub min_c: f64,
    /// The highest target it takes, °C.
    pub max_c: f64,
}

impl Climate<'_> {
    /// Adds the climate options to `p`, an entity config from `common` (whose
    /// `state_topic`, no climate option, goes).
    pub fn fill(&self, t: &Topics, uuid: &str, p: &mut Value) {
        let key = |what: &str| json!(read_key(&format!("{}_{what}", self.prefix)));
        let set = |what: &str| json!(t.set(uuid, &format!("{}_{what}", self.prefix)));
        let state = json!(t.state(uuid));
        if let Some(map) = p.as_object_mut() {
            map.remove("state_topic");
        }
        p["modes"] = json!(self.modes);
        p["mode_state_topic"] = state.clone();
        p["mode_state_template"] = key("mode");
        p["mode_command_topic"] = set("mode");
        p["current_temperature_topic"] = state.clone();
        p["current_temperature_template"] = json!(read_key(&self.current));
        p["temperature_state_topic"] = state.clone();
        p["temperature_state_template"] = key("target");
        p["temperature_command_topic"] = set("temperature");
        p["min_temp"] = json!(self.min_c);
        p["max_temp"] = json!(self.max_c);
        p["temp_step"] = json!(0.5);
        p["temperature_unit"] = json!("C");
        p["preset_modes"] = json!(self.presets);
        p["preset_mode_state_topic"] = state.clone();
        p["preset_mode_value_template"] = key("preset");
        p["preset_mode_command_topic"] = set("preset");
        p["action_topic"] = state;
        p["action_template"] = key("action");
    }
}

/// Home Assistant's mode of a thermostat or valve: `off` or `heat`; unknown until it
/// said whether it is on.
pub fn mode(on: Option<bool>) -> Option<&'static str> {
    on.map(|on| if on { "heat" } else { "off" })
}

/// What it does now, as Home Assistant's `hvac_action`.
pub fn action(on: Option<bool>, heating: Option<bool>, cooling: Option<bool>) -> &'static str {
    if heating == Some(true) {
        "heating"
    } else if cooling == Some(true) {
        "cooling"
    } else if on == Some(false) {
        "off"
    } else {
        "idle"
    }
}

/// On or off for a mode Home Assistant sent: `off` is off, any other of `modes` on.
pub fn switched(payload: &str, modes: &[&str]) -> Result<bool, String> {
    if !modes.contains(&payload) {
        return Err(format!("`{payload}` is not a mode: {}", modes.join(", ")));
    }
    Ok(payload != "off")
}

/// A preset Home Assistant sent, if it is one of `presets`.
pub fn preset(payload: &str, presets: &[&str]) -> Result<String, String> {
    if !presets.contains(&payload) {
        return Err(format!(
            "`{payload}` is not a preset: {}",
            presets.join(", ")
        ));
    }
    Ok(payload.to_owned())
}

/// A target temperature Home Assistant sent, if it is within `low` to `high` °C.
pub fn target(payload: &str, low: f64, high: f64) -> Result<f64, String> {
    let target = number(payload)?;
    if target < low || target > high {
        return Err(format!("{target} °C is out of range: from {low} to {high}"));
    }
    Ok(target)
}

/// A thermostat's presets.
fn presets(t: &Thermostat) -> &'static [&'static str] {
    if t.flavour == "modeB" {
        &MODE_B_PRESETS
    } else {
        &MODE_PRESETS
    }
}

/// A thermostat's lowest and highest target, °C.
fn range(t: &Thermostat) -> (f64, f64) {
    (t.min_c.unwrap_or(5.0), t.max_c.unwrap_or(35.0))
}

/// A `climate` per thermostat.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let several = f.thermostats.len() > 1;
    let mut out = Vec::new();
    for th in &f.thermostats {
        let object = format!("climate_{}", th.channel);
        let (min_c, max_c) = range(th);
        let modes: &[&str] = if th.flavour == "modeB" {
            &HEAT_COOL_MODES
        } else {
            &HEAT_MODES
        };
        let climate = Climate {
            prefix: object.clone(),
            current: format!("{object}_current"),
            modes,
            presets: presets(th),
            min_c,
            max_c,
        };
        let mut p = common(t, d, url, &object);
        p["name"] = name(several, "Thermostat", th.channel);
        climate.fill(t, &d.uuid, &mut p);
        out.push(Entity {
            topic: t.config("climate", &d.uuid, &object),
            payload: p,
        });
    }
    out
}

/// Each thermostat's keys: `climate_<ch>_mode`, `_current` and `_target` (°C),
/// `_preset` and `_action`.
pub fn state(f: &Families, s: &mut Value) {
    for th in &f.thermostats {
        let key = |what: &str| format!("climate_{}_{what}", th.channel);
        put(s, key("mode"), mode(th.on));
        put(s, key("current"), th.current_c);
        put(s, key("target"), th.target_c);
        put(s, key("preset"), th.mode.as_deref());
        put(
            s,
            key("action"),
            Some(action(th.on, th.heating, th.cooling)),
        );
    }
}

/// Reads a command for `climate_<rest>`: `<ch>_mode` (off, heat, cool), `<ch>_temperature`
/// (°C) or `<ch>_preset` (a mode of the thermostat's).
pub fn parse(rest: &str, payload: &str, f: &Families) -> Result<Order, String> {
    let Some((ch, what)) = rest.split_once('_') else {
        return Err(format!("`climate_{rest}` takes no commands"));
    };
    let channel = channel(ch)?;
    let Some(th) = f.thermostats.iter().find(|t| t.channel == channel) else {
        return Err(format!("the device has no thermostat {channel}"));
    };
    let mut c = ThermostatCommand {
        channel,
        ..ThermostatCommand::default()
    };
    match what {
        "mode" => c.on = Some(switched(payload, &HEAT_COOL_MODES)?),
        "temperature" => {
            let (low, high) = range(th);
            c.target_c = Some(target(payload, low, high)?);
        }
        "preset" => c.mode = Some(preset(payload, presets(th))?),
        other => return Err(format!("a thermostat has no `{other}` to set")),
    }
    Ok(Order::Thermostat(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        }
    }

    fn mts200() -> Device {
        let mut f = Families::default();
        let digest = json!({"mode": [{"channel": 0, "onoff": 1, "mode": 4, "state": 1,
            "currentTemp": 210, "heatTemp": 200, "coolTemp": 190, "ecoTemp": 180,
            "manualTemp": 215, "targetTemp": 215, "min": 50, "max": 350}]});
        crate::model::family::thermostat::read_digest(&mut f, &digest).unwrap();
        let mut d = Device::new("2101011234567890123448e1e9000002", 1);
        d.families = Some(Box::new(f));
        d
    }

    #[test]
    fn an_mts200_is_a_heating_climate_with_its_modes_as_presets() {
        let d = mts200();
        let e = entities(&topics(), &d, None, &crate::model::family::of(&d));
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].topic,
            "homeassistant/climate/2101011234567890123448e1e9000002/climate_0/config"
        );
        let p = &e[0].payload;
        let base = "merossd/2101011234567890123448e1e9000002";
        assert_eq!(p["modes"], json!(["off", "heat"]));
        assert_eq!(
            p["preset_modes"],
            json!(["heat", "cool", "eco", "auto", "manual"])
        );
        assert_eq!(p["mode_state_topic"], base);
        assert_eq!(
            p["mode_command_topic"],
            format!("{base}/climate_0_mode/set")
        );
        assert_eq!(
            p["temperature_command_topic"],
            format!("{base}/climate_0_temperature/set")
        );
        assert_eq!(
            p["preset_mode_command_topic"],
            format!("{base}/climate_0_preset/set")
        );
        assert_eq!(
            p["current_temperature_template"],
            json!(read_key("climate_0_current"))
        );
        assert_eq!(
            p["temperature_state_template"],
            json!(read_key("climate_0_target"))
        );
        assert_eq!(p["action_template"], json!(read_key("climate_0_action")));
        assert_eq!(
            (p["min_temp"].clone(), p["max_temp"].clone()),
            (json!(5.0), json!(35.0))
        );
        assert_eq!(
            (p["temp_step"].clone(), p["temperature_unit"].clone()),
            (json!(0.5), json!("C"))
        );
        assert!(
            p.get("state_topic").is_none(),
            "a climate has no state_topic"
        );
        assert_eq!(p["name"], Value::Null);
    }

    #[test]
    fn its_state_is_in_degrees_with_what_it_does() {
        let d = mts200();
        let mut s = json!({});
        state(&crate::model::family::of(&d), &mut s);
        assert_eq!(
            s,
            json!({"climate_0_mode": "heat", "climate_0_current": 21.0, "climate_0_target": 21.5,
                   "climate_0_preset": "manual", "climate_0_action": "heating"})
        );
        assert_eq!(action(Some(false), Some(false), None), "off");
        assert_eq!(action(Some(true), Some(false), Some(false)), "idle");
        assert_eq!(action(Some(true), None, Some(true)), "cooling");
    }

    #[test]
    fn an_mts960_may_cool_and_has_its_own_presets() {
        let mut f = Families::default();
        let mode_b = json!([{"channel": 0, "mode": 1, "targetTemp": 2150, "working": 2,
            "currentTemp": 2000, "state": 1, "onoff": 1}]);
        crate::model::family::thermostat::read_mode_b(&mut f, &mode_b).unwrap();
        let mut d = Device::new("abc", 1);
        d.families = Some(Box::new(f));
        let e = entities(&topics(), &d, None, &crate::model::family::of(&d));
        assert_eq!(e[0].payload["modes"], json!(["off", "heat", "cool"]));
        assert_eq!(
            e[0].payload["preset_modes"],
            json!(["heat_cool", "schedule", "timer"])
        );
    }

    #[test]
    fn home_assistant_commands_become_thermostat_commands() {
        let f = crate::model::family::of(&mts200());
        let command = |on, mode: Option<&str>, target_c| {
            Ok(Order::Thermostat(ThermostatCommand {
                channel: 0,
                on,
                mode: mode.map(str::to_owned),
                target_c,
            }))
        };
        assert_eq!(parse("0_mode", "off", &f), command(Some(false), None, None));
        assert_eq!(parse("0_mode", "heat", &f), command(Some(true), None, None));
        assert_eq!(parse("0_mode", "cool", &f), command(Some(true), None, None));
        assert_eq!(
            parse("0_temperature", "21.5", &f),
            command(None, None, Some(21.5))
        );
        assert_eq!(
            parse("0_preset", "eco", &f),
            command(None, Some("eco"), None)
        );
    }

    #[test]
    fn bad_thermostat_commands_are_errors() {
        let f = crate::model::family::of(&mts200());
        assert!(parse("0_mode", "dry", &f).is_err());
        assert!(parse("0_temperature", "warm", &f).is_err());
        assert!(parse("0_temperature", "60", &f).is_err());
        assert!(parse("0_preset", "schedule", &f).is_err());
        assert!(parse("1_mode", "heat", &f).is_err());
        assert!(parse("0_fan", "on", &f).is_err());
        assert!(parse("0", "heat", &f).is_err());
    }
}
