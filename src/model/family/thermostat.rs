//! Thermostats. MTS200/205: `Thermostat.Mode {"mode": [{channel, onoff, mode, state,
//! currentTemp, heatTemp, coolTemp, ecoTemp, manualTemp, targetTemp, min, max}]}` in
//! tenths of a degree; modes 0 heat (comfort), 1 cool (night), 2 eco, 3 auto (schedule),
//! 4 manual; `state` 1 while heating; `Thermostat.WindowOpened` `[{channel, status}]`.
//! MTS960 (a socket): `Thermostat.ModeB {"modeB": [{channel, mode, targetTemp, working,
//! currentTemp, state, onoff}]}` in hundredths; mode 1 heat/cool, 2 schedule, 3 timer;
//! `working` 1 heat, 2 cool; `onoff` and `state` 1 on, **2 off**. Request keys are
//! camelCase: lower case gets an empty list.

use super::{entry, items, no_such, Command, CommandError, Families, Set};
use crate::model::Device;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// MTS200's namespace.
pub const NS_MODE: &str = "Appliance.Control.Thermostat.Mode";
/// MTS960's namespace.
pub const NS_MODE_B: &str = "Appliance.Control.Thermostat.ModeB";
/// Window-open detection.
pub const NS_WINDOW: &str = "Appliance.Control.Thermostat.WindowOpened";

/// MTS200 modes, by number.
const MODES: [&str; 5] = ["heat", "cool", "eco", "auto", "manual"];
/// MTS960 modes, by number (0 unused).
const MODES_B: [&str; 4] = ["", "heat_cool", "schedule", "timer"];

/// One thermostat channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thermostat {
    /// The channel (0).
    pub channel: u32,
    /// `mode` (MTS200) or `modeB` (MTS960): which payload it speaks.
    pub flavour: String,
    /// Switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<bool>,
    /// MTS200: heat, cool, eco, auto, manual. MTS960: heat_cool, schedule, timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Measured temperature, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_c: Option<f64>,
    /// What it regulates to now, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_c: Option<f64>,
    /// The lowest and highest target it takes, °C (MTS200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_c: Option<f64>,
    /// See `min_c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_c: Option<f64>,
    /// Heating now (MTS200 `state` 1; MTS960 on with `working` 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heating: Option<bool>,
    /// Cooling now (MTS960 on with `working` 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooling: Option<bool>,
    /// A window was detected open (MTS200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_open: Option<bool>,
    /// The set points of the MTS200's modes, °C: heat, cool, eco, manual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets_c: Option<[f64; 4]>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModeWire {
    #[serde(default)]
    channel: u32,
    onoff: Option<u8>,
    mode: Option<usize>,
    state: Option<u8>,
    current_temp: Option<i64>,
    target_temp: Option<i64>,
    heat_temp: Option<i64>,
    cool_temp: Option<i64>,
    eco_temp: Option<i64>,
    manual_temp: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
    working: Option<u8>,
}

#[derive(Debug, Deserialize)]
struct WindowWire {
    #[serde(default)]
    channel: u32,
    status: u8,
}

fn thermostat<'a>(families: &'a mut Families, channel: u32, flavour: &str) -> &'a mut Thermostat {
    let new = || Thermostat {
        channel,
        flavour: flavour.to_owned(),
        ..Thermostat::default()
    };
    entry(&mut families.thermostats, |t| t.channel == channel, new)
}

/// Reads `mode` (MTS200, tenths of a degree).
pub fn read_mode(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<ModeWire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let t = thermostat(families, w.channel, "mode");
        let deci = |v: Option<i64>| v.map(super::deci);
        if let Some(on) = w.onoff.map(|o| o != 0) {
            if t.on.is_some_and(|was| was != on) {
                changed.push(format!(
                    "thermostat {} {}",
                    w.channel,
                    if on { "on" } else { "off" }
                ));
            }
            t.on = Some(on);
        }
        if let Some(mode) = w.mode.and_then(|m| MODES.get(m)) {
            t.mode = Some((*mode).to_owned());
        }
        if let Some(state) = w.state {
            t.heating = Some(state == 1);
        }
        t.current_c = deci(w.current_temp).or(t.current_c);
        t.target_c = deci(w.target_temp).or(t.target_c);
        t.min_c = deci(w.min).or(t.min_c);
        t.max_c = deci(w.max).or(t.max_c);
        let presets = [w.heat_temp, w.cool_temp, w.eco_temp, w.manual_temp];
        if presets.iter().all(Option::is_some) {
            t.presets_c = Some(presets.map(|p| super::deci(p.unwrap_or(0))));
        }
    }
    Ok(changed)
}

/// Reads `modeB` (MTS960, hundredths of a degree; 2 is off).
pub fn read_mode_b(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<ModeWire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let t = thermostat(families, w.channel, "modeB");
        let centi = |v: Option<i64>| v.map(|v| v as f64 / 100.0);
        if let Some(on) = w.onoff.map(|o| o == 1) {
            if t.on.is_some_and(|was| was != on) {
                changed.push(format!(
                    "thermostat {} {}",
                    w.channel,
                    if on { "on" } else { "off" }
                ));
            }
            t.on = Some(on);
        }
        if let Some(mode) = w
            .mode
            .and_then(|m| MODES_B.get(m))
            .filter(|m| !m.is_empty())
        {
            t.mode = Some((*mode).to_owned());
        }
        let active = w.state.map(|s| s == 1);
        if let (Some(active), Some(working)) = (active, w.working) {
            t.heating = Some(active && working == 1);
            t.cooling = Some(active && working == 2);
        }
        t.current_c = centi(w.current_temp).or(t.current_c);
        t.target_c = centi(w.target_temp).or(t.target_c);
    }
    Ok(changed)
}

/// Reads `windowOpened`.
pub fn read_window(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<WindowWire> = items(value)?;
    for w in wires {
        thermostat(families, w.channel, "mode").window_open = Some(w.status != 0);
    }
    Ok(Vec::new())
}

/// Reads the digest's `thermostat` (`{"mode": [...], "windowOpened": [...]}`).
pub fn read_digest(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    if let Some(mode) = value.get("mode") {
        changed.extend(read_mode(families, mode)?);
    }
    if let Some(mode_b) = value.get("modeB") {
        changed.extend(read_mode_b(families, mode_b)?);
    }
    if let Some(window) = value.get("windowOpened") {
        changed.extend(read_window(families, window)?);
    }
    Ok(changed)
}

/// What to change on a thermostat; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThermostatCommand {
    /// The channel (default 0).
    #[serde(default)]
    pub channel: u32,
    /// On or off.
    pub on: Option<bool>,
    /// A mode the thermostat has (see [`Thermostat::mode`]).
    pub mode: Option<String>,
    /// The temperature to regulate to, °C (in its min to max; steps of 0.5 on MTS200).
    pub target_c: Option<f64>,
}

impl ThermostatCommand {
    fn mode_number(&self, names: &[&str]) -> Result<Option<usize>, CommandError> {
        let Some(mode) = &self.mode else {
            return Ok(None);
        };
        match names.iter().position(|n| !n.is_empty() && n == mode) {
            Some(i) => Ok(Some(i)),
            None => Err(CommandError::Invalid {
                field: "mode",
                detail: format!(
                    "`{mode}` is not a mode of this thermostat: {}",
                    names
                        .iter()
                        .filter(|n| !n.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    fn target(&self, t: &Thermostat, low: f64, high: f64) -> Result<Option<f64>, CommandError> {
        let Some(target) = self.target_c else {
            return Ok(None);
        };
        let (low, high) = (t.min_c.unwrap_or(low), t.max_c.unwrap_or(high));
        if !target.is_finite() || target < low || target > high {
            return Err(CommandError::Invalid {
                field: "target_c",
                detail: format!("{target} °C is out of range: from {low} to {high}"),
            });
        }
        Ok(Some(target))
    }

    /// MTS200: the target is the set point of the mode it is in; in auto, the
    /// thermostat goes manual to hold it.
    fn mode_set(&self, t: &Thermostat) -> Result<Set, CommandError> {
        let mut item = Map::new();
        item.insert("channel".into(), json!(self.channel));
        if let Some(on) = self.on {
            item.insert("onoff".into(), json!(super::onoff(on)));
        }
        let asked = self.mode_number(&MODES)?;
        let current = t
            .mode
            .as_deref()
            .and_then(|m| MODES.iter().position(|n| *n == m));
        if let Some(mode) = asked {
            item.insert("mode".into(), json!(mode));
        }
        if let (Some(_), Some(3)) = (self.target_c, asked) {
            return Err(CommandError::Invalid {
                field: "target_c",
                detail: "in auto mode the schedule sets the target: leave out target_c, or send another mode".into(),
            });
        }
        if let Some(target) = self.target(t, 5.0, 35.0)? {
            // Heat, cool and eco hold their own set points; anything else goes manual.
            let mode = asked.or(current).filter(|m| *m <= 2).unwrap_or(4);
            let key = ["heatTemp", "coolTemp", "ecoTemp", "", "manualTemp"][mode];
            item.insert("mode".into(), json!(mode));
            item.insert(key.into(), json!((target * 10.0).round() as i64));
        }
        Ok(Set {
            namespace: NS_MODE,
            payload: json!({"mode": [Value::Object(item)]}),
        })
    }

    /// MTS960: hundredths, and 2 for off.
    fn mode_b_set(&self, t: &Thermostat) -> Result<Set, CommandError> {
        let mut item = Map::new();
        item.insert("channel".into(), json!(self.channel));
        if let Some(on) = self.on {
            item.insert("onoff".into(), json!(if on { 1 } else { 2 }));
        }
        if let Some(mode) = self.mode_number(&MODES_B)? {
            item.insert("mode".into(), json!(mode));
        }
        if let Some(target) = self.target(t, 5.0, 35.0)? {
            item.insert("targetTemp".into(), json!((target * 100.0).round() as i64));
        }
        Ok(Set {
            namespace: NS_MODE_B,
            payload: json!({"modeB": [Value::Object(item)]}),
        })
    }
}

impl Command for ThermostatCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let known: Vec<u32> = families.thermostats.iter().map(|t| t.channel).collect();
        let Some(t) = families
            .thermostats
            .iter()
            .find(|t| t.channel == self.channel)
        else {
            return Err(no_such("thermostat channel", self.channel, &known));
        };
        if self.on.is_none() && self.mode.is_none() && self.target_c.is_none() {
            return Err(CommandError::Invalid {
                field: "target_c",
                detail: "nothing to change: send on, mode or target_c".into(),
            });
        }
        let set = if t.flavour == "modeB" {
            self.mode_b_set(t)?
        } else {
            self.mode_set(t)?
        };
        Ok(vec![set])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mts200() -> Families {
        let mut f = Families::default();
        let digest = json!({"mode": [{"channel": 0, "onoff": 1, "mode": 4, "state": 0, "currentTemp": 210, "heatTemp": 200, "coolTemp": 190, "ecoTemp": 180, "manualTemp": 210, "warning": 0, "targetTemp": 210, "min": 50, "max": 350, "lmTime": 1674112153}], "windowOpened": [{"channel": 0, "status": 0, "detect": 1, "lmTime": 1674112153}]});
        read_digest(&mut f, &digest).unwrap();
        f
    }

    #[test]
    fn the_mts200_digest_reads_in_degrees() {
        let t = &mts200().thermostats[0];
        assert_eq!(
            (t.current_c, t.target_c, t.min_c, t.max_c),
            (Some(21.0), Some(21.0), Some(5.0), Some(35.0))
        );
        assert_eq!(t.mode.as_deref(), Some("manual"));
        assert_eq!(
            (t.heating, t.window_open, t.on),
            (Some(false), Some(false), Some(true))
        );
    }

    #[test]
    fn a_target_in_manual_mode_is_the_manual_set_point() {
        let t = &mts200().thermostats[0];
        let c = ThermostatCommand {
            target_c: Some(21.5),
            ..Default::default()
        };
        assert_eq!(
            c.mode_set(t).unwrap().payload,
            json!({"mode": [{"channel": 0, "mode": 4, "manualTemp": 215}]})
        );
        let far = ThermostatCommand {
            target_c: Some(60.0),
            ..Default::default()
        };
        assert!(matches!(
            far.mode_set(t),
            Err(CommandError::Invalid {
                field: "target_c",
                ..
            })
        ));
    }

    #[test]
    fn the_mts960_says_two_for_off() {
        let mut f = Families::default();
        read_mode_b(&mut f, &json!([{"channel": 0, "mode": 1, "targetTemp": 2150, "working": 1, "currentTemp": 2000, "state": 1, "onoff": 1}])).unwrap();
        let t = &f.thermostats[0];
        assert_eq!(
            (t.target_c, t.heating, t.cooling),
            (Some(21.5), Some(true), Some(false))
        );
        let off = ThermostatCommand {
            on: Some(false),
            ..Default::default()
        };
        assert_eq!(
            off.mode_b_set(t).unwrap().payload,
            json!({"modeB": [{"channel": 0, "onoff": 2}]})
        );
    }
}
