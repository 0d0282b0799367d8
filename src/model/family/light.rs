//! Lights and dimmers (MSL100/120/320/420/430/450, MSS560/570, a diffuser's light):
//! `Appliance.Control.Light` `{"light": {channel, capacity, rgb, temperature, luminance,
//! onoff?}}`. `capacity` says which of colour (1), colour temperature (2), brightness (4)
//! and effect (8) the payload sets; in the Ability it says which the light can do.
//! Temperature and brightness are 1-100, `rgb` is 0xRRGGBB as an integer. On/off goes
//! through ToggleX where the device has it (the light payload then has no `onoff`), and
//! any Light SET may switch the light on (msl120j).

use super::{entry, items, no_such, within, Command, CommandError, Families, Set};
use crate::model::Device;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The light namespace.
pub const NS_LIGHT: &str = "Appliance.Control.Light";
/// A diffuser's light (MOD100): a list, with `mode` in place of `capacity`.
pub const NS_DIFFUSER_LIGHT: &str = "Appliance.Control.Diffuser.Light";

/// `capacity` bit: colour.
pub const RGB: u8 = 1;
/// `capacity` bit: colour temperature.
pub const TEMPERATURE: u8 = 2;
/// `capacity` bit: brightness.
pub const LUMINANCE: u8 = 4;

/// One light, as last reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Light {
    /// The channel (0 on every light seen so far).
    pub channel: u32,
    /// On or off, when the light payload says it (else the channel's ToggleX state is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<bool>,
    /// Which of colour, temperature and brightness the light can do (the Ability's
    /// `capacity`, or the highest seen): bits [`RGB`], [`TEMPERATURE`], [`LUMINANCE`].
    #[serde(default)]
    pub supports: u8,
    /// What it shows now: colour (`rgb`) or white (`temperature`), as `capacity` said.
    #[serde(default)]
    pub mode: u8,
    /// Colour, `rrggbb` in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rgb: Option<String>,
    /// Colour temperature, 1 (warmest) to 100 (coldest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<u8>,
    /// Brightness in percent, 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brightness: Option<u8>,
    /// The effect running, by its index in `Light.Effect`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<u32>,
    /// A diffuser's light (SET through `Diffuser.Light`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diffuser: bool,
}

/// A light item as the firmware sends it (every key optional: PUSHes carry what changed).
#[derive(Debug, Deserialize)]
struct Wire {
    #[serde(default)]
    channel: u32,
    onoff: Option<u8>,
    capacity: Option<u8>,
    /// A diffuser's: 0 rainbow, 1 colour, 2 temperature.
    mode: Option<u8>,
    rgb: Option<u32>,
    temperature: Option<i64>,
    luminance: Option<i64>,
    effect: Option<u32>,
}

fn hex(rgb: u32) -> String {
    format!("{:06x}", rgb & 0xff_ffff)
}

/// Reads `light` of a Light payload or of the digest.
pub fn read(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    read_lights(families, value, false)
}

/// Reads `light` of a `Diffuser.Light` payload or of a diffuser's digest.
pub fn read_diffuser(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    read_lights(families, value, true)
}

fn read_lights(
    families: &mut Families,
    value: &Value,
    diffuser: bool,
) -> Result<Vec<String>, String> {
    let wires: Vec<Wire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let new = || Light {
            channel: w.channel,
            diffuser,
            ..Light::default()
        };
        let light = entry(&mut families.lights, |l| l.channel == w.channel, new);
        if let Some(on) = w.onoff.map(|o| o != 0) {
            if light.on != Some(on) {
                changed.push(format!(
                    "light {} {}",
                    w.channel,
                    if on { "on" } else { "off" }
                ));
            }
            light.on = Some(on);
        }
        let capacity = match (w.capacity, w.mode, diffuser) {
            (Some(c), _, _) => Some(c),
            (None, Some(1), true) => Some(RGB | LUMINANCE),
            (None, Some(_), true) => Some(TEMPERATURE | LUMINANCE),
            _ => None,
        };
        if let Some(c) = capacity {
            light.mode = c;
            light.supports |= c & (RGB | TEMPERATURE | LUMINANCE);
        }
        if diffuser {
            // A diffuser's light does rainbow, colour and white, whatever it shows now.
            light.supports = RGB | TEMPERATURE | LUMINANCE;
        }
        if let Some(rgb) = w.rgb {
            light.rgb = Some(hex(rgb));
        }
        if let Some(t) = w.temperature {
            light.temperature = Some(t.clamp(1, 100) as u8);
        }
        if let Some(l) = w.luminance {
            light.brightness = Some(l.clamp(0, 100) as u8);
        }
        if w.effect.is_some() {
            light.effect = w.effect;
        }
    }
    Ok(changed)
}

/// Takes what the Ability says a light can do (`{"capacity": 15}`).
pub fn read_ability(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let capacity = value.get("capacity").and_then(Value::as_u64).unwrap_or(0) as u8;
    let light = entry(&mut families.lights, |l| l.channel == 0, Light::default);
    light.supports |= capacity & (RGB | TEMPERATURE | LUMINANCE);
    Ok(Vec::new())
}

/// What to change on a light; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightCommand {
    /// The channel (default 0).
    #[serde(default)]
    pub channel: u32,
    /// On or off.
    pub on: Option<bool>,
    /// Brightness in percent, 1 to 100.
    pub brightness: Option<i64>,
    /// Colour as `rrggbb` hex (a leading `#` is fine).
    pub rgb: Option<String>,
    /// Colour temperature, 1 (warmest) to 100 (coldest).
    pub temperature: Option<i64>,
}

/// `rrggbb` (or `#rrggbb`) to its integer, or the error naming `rgb`.
pub fn parse_rgb(text: &str) -> Result<u32, CommandError> {
    let digits = text.trim().trim_start_matches('#');
    let invalid = || CommandError::Invalid {
        field: "rgb",
        detail: format!("`{text}` is not a colour: six hex digits, like ff8800"),
    };
    if digits.len() != 6 {
        return Err(invalid());
    }
    u32::from_str_radix(digits, 16).map_err(|_| invalid())
}

impl Command for LightCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let channels: Vec<u32> = families.lights.iter().map(|l| l.channel).collect();
        let Some(light) = families.lights.iter().find(|l| l.channel == self.channel) else {
            return Err(no_such("light channel", self.channel, &channels));
        };
        let mut light_set = Map::new();
        let mut capacity = 0u8;
        let can = |bit: u8, what: &str| {
            // A light that never said what it can do is taken at its word.
            if light.supports == 0 || light.supports & bit != 0 {
                Ok(())
            } else {
                Err(CommandError::Unsupported(format!(
                    "This light has no {what}."
                )))
            }
        };
        if let Some(rgb) = &self.rgb {
            can(RGB, "colour")?;
            light_set.insert("rgb".into(), json!(parse_rgb(rgb)?));
            capacity |= RGB;
        }
        if let Some(t) = self.temperature {
            can(TEMPERATURE, "colour temperature")?;
            if self.rgb.is_some() {
                return Err(CommandError::Invalid {
                    field: "temperature",
                    detail: "a light shows a colour or a white, not both: send rgb or temperature"
                        .into(),
                });
            }
            light_set.insert(
                "temperature".into(),
                json!(within("temperature", t, 1, 100)?),
            );
            capacity |= TEMPERATURE;
        }
        if let Some(b) = self.brightness {
            can(LUMINANCE, "brightness control")?;
            light_set.insert("luminance".into(), json!(within("brightness", b, 1, 100)?));
            capacity |= LUMINANCE;
        }
        let toggle = device.has_ability(crate::model::Ability::ToggleX) && !light.diffuser;
        let mut sets = Vec::new();
        match self.on {
            // Switched through ToggleX first, so that a change of colour lands on a lit
            // light; off goes last, after any change.
            Some(true) if toggle => sets.push(super::system::togglex(self.channel, true)),
            Some(on) if !toggle => {
                light_set.insert("onoff".into(), json!(super::onoff(on)));
            }
            _ => {}
        }
        if !light_set.is_empty() {
            light_set.insert("channel".into(), json!(self.channel));
            if light.diffuser {
                let mode = if capacity & RGB != 0 { 1 } else { 2 };
                if capacity & (RGB | TEMPERATURE) != 0 {
                    light_set.insert("mode".into(), json!(mode));
                }
                sets.push(Set {
                    namespace: NS_DIFFUSER_LIGHT,
                    payload: json!({"light": [Value::Object(light_set)]}),
                });
            } else {
                light_set.insert("capacity".into(), json!(capacity));
                sets.push(Set {
                    namespace: NS_LIGHT,
                    payload: json!({"light": Value::Object(light_set)}),
                });
            }
        }
        if self.on == Some(false) && toggle {
            sets.push(super::system::togglex(self.channel, false));
        }
        if sets.is_empty() {
            return Err(CommandError::Invalid {
                field: "on",
                detail: "nothing to change: send on, brightness, rgb or temperature".into(),
            });
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_msl450_digest_reads_as_a_white_light_at_one_percent() {
        let mut f = Families::default();
        let digest = json!({"capacity": 5, "channel": 0, "rgb": 62719, "temperature": 44, "luminance": 1, "transform": 0});
        read(&mut f, &digest).unwrap();
        let l = &f.lights[0];
        assert_eq!(l.rgb.as_deref(), Some("00f4ff"));
        assert_eq!(
            (l.temperature, l.brightness, l.mode),
            (Some(44), Some(1), 5)
        );
        assert_eq!(l.on, None, "on/off is ToggleX's");
    }

    #[test]
    fn a_malformed_light_changes_nothing() {
        let mut f = Families::default();
        read(&mut f, &json!({"channel": 0, "luminance": 40})).unwrap();
        let before = f.clone();
        assert!(read(&mut f, &json!({"channel": "x", "luminance": "bright"})).is_err());
        assert!(read(&mut f, &json!(7)).is_err());
        assert_eq!(f, before);
    }

    #[test]
    fn colours_parse_and_bad_ones_name_the_field() {
        assert_eq!(parse_rgb("#ff8800"), Ok(0xff8800));
        assert!(matches!(
            parse_rgb("orange"),
            Err(CommandError::Invalid { field: "rgb", .. })
        ));
    }
}
