//! Lights and dimmers as Home Assistant `light` entities in the JSON schema. Home
//! Assistant reads a JSON light's whole state from one topic, so each light has its own,
//! `<base>/<uuid>/light_<channel>` (retained), and takes Home Assistant's JSON commands on
//! `<base>/<uuid>/light_<channel>/set`. Brightness is in percent (`brightness_scale`
//! 100) as the device has it; colour temperature is in mireds, the device's 1 (warm) to
//! 100 (cold) mapped onto 370 to 153.

use super::{channel, name, Order};
use crate::homeassistant::discovery::{common, Entity, Topics};
use crate::model::family::light::{parse_rgb, LUMINANCE, RGB, TEMPERATURE};
use crate::model::family::{Families, Light, LightCommand};
use crate::model::Device;
use serde_json::{json, Map, Value};

/// The warmest colour temperature Home Assistant is told of, in mireds (the device's 1).
pub const WARMEST_MIREDS: u32 = 370;
/// The coldest colour temperature, in mireds (the device's 100).
pub const COLDEST_MIREDS: u32 = 153;

/// The device's colour temperature (1 warmest to 100 coldest) in mireds.
pub fn mireds(temperature: u8) -> u32 {
    let t = f64::from(temperature.clamp(1, 100));
    let (warm, cold) = (f64::from(WARMEST_MIREDS), f64::from(COLDEST_MIREDS));
    (warm - (t - 1.0) * (warm - cold) / 99.0).round() as u32
}

/// Mireds back to the device's colour temperature, 1 (warmest) to 100 (coldest).
pub fn temperature(mireds: f64) -> i64 {
    let (warm, cold) = (f64::from(WARMEST_MIREDS), f64::from(COLDEST_MIREDS));
    let m = mireds.clamp(cold, warm);
    ((1.0 + (warm - m) * 99.0 / (warm - cold)).round() as i64).clamp(1, 100)
}

/// Home Assistant's colour modes for what a light can do (its `supports` bits).
pub fn color_modes(supports: u8) -> Vec<&'static str> {
    let mut modes = Vec::new();
    if supports & RGB != 0 {
        modes.push("rgb");
    }
    if supports & TEMPERATURE != 0 {
        modes.push("color_temp");
    }
    if modes.is_empty() {
        modes.push(if supports & LUMINANCE != 0 {
            "brightness"
        } else {
            "onoff"
        });
    }
    modes
}

/// The object of a light: `light_<channel>`.
fn object(channel: u32) -> String {
    format!("light_{channel}")
}

/// A `light` per light of the device.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let several = f.lights.len() > 1;
    let mut out = Vec::new();
    for light in &f.lights {
        let object = object(light.channel);
        let mut p = common(t, d, url, &object);
        p["name"] = name(several, "Light", light.channel);
        p["schema"] = json!("json");
        p["state_topic"] = json!(t.object(&d.uuid, &object));
        p["command_topic"] = json!(t.set(&d.uuid, &object));
        // Home Assistant 2024.3 reads colour modes only with this flag (later versions
        // ignore it).
        p["color_mode"] = json!(true);
        p["supported_color_modes"] = json!(color_modes(light.supports));
        if light.supports & LUMINANCE != 0 {
            p["brightness"] = json!(true);
            p["brightness_scale"] = json!(100);
        }
        if light.supports & TEMPERATURE != 0 {
            p["min_mireds"] = json!(COLDEST_MIREDS);
            p["max_mireds"] = json!(WARMEST_MIREDS);
        }
        out.push(Entity {
            topic: t.config("light", &d.uuid, &object),
            payload: p,
        });
    }
    out
}

/// A light's state as Home Assistant's JSON schema reads it: `state`, and what is known of
/// `brightness` (percent), `color` (`r`, `g`, `b`), `color_temp` (mireds) and
/// `color_mode`. `on` is the light's own on/off, or its channel's.
pub fn light_state(light: &Light, on: Option<bool>) -> Value {
    let mut s = Map::new();
    s.insert(
        "state".into(),
        on.map_or(Value::Null, |on| json!(super::on_off(on))),
    );
    if let Some(b) = light.brightness.filter(|_| light.supports & LUMINANCE != 0) {
        s.insert("brightness".into(), json!(b));
    }
    let rgb = light
        .rgb
        .as_deref()
        .filter(|_| light.supports & RGB != 0)
        .and_then(|hex| parse_rgb(hex).ok());
    if let Some(rgb) = rgb {
        let color = json!({"r": (rgb >> 16) & 0xff, "g": (rgb >> 8) & 0xff, "b": rgb & 0xff});
        s.insert("color".into(), color);
    }
    let white_mireds = light
        .temperature
        .filter(|_| light.supports & TEMPERATURE != 0)
        .map(mireds);
    if let Some(m) = white_mireds {
        s.insert("color_temp".into(), json!(m));
    }
    // What it shows now, as its last payload said: a white when only the temperature bit
    // was set, else a colour when it has one.
    let white = light.mode & TEMPERATURE != 0 && light.mode & RGB == 0;
    let mode = if white_mireds.is_some() && (white || rgb.is_none()) {
        Some("color_temp")
    } else if rgb.is_some() {
        Some("rgb")
    } else {
        None
    };
    if let Some(mode) = mode {
        s.insert("color_mode".into(), json!(mode));
    }
    Value::Object(s)
}

/// Each light's own state topic and its state, to be retained.
pub fn retained(t: &Topics, d: &Device, f: &Families) -> Vec<(String, String)> {
    f.lights
        .iter()
        .map(|light| {
            let on = light
                .on
                .or_else(|| d.channels.get(&light.channel).map(|c| c.on));
            let topic = t.object(&d.uuid, &object(light.channel));
            (topic, light_state(light, on).to_string())
        })
        .collect()
}

/// A number of a JSON command, if it has the key.
fn field(v: &Value, key: &str) -> Result<Option<f64>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| format!("`{key}` {n} is not a number")),
    }
}

/// One of a colour's `r`, `g`, `b`, 0 to 255.
fn primary(color: &Value, key: &str) -> Result<u8, String> {
    let n = field(color, key)?
        .ok_or_else(|| format!("`color` has no `{key}`: only r, g and b are taken"))?;
    Ok(n.round().clamp(0.0, 255.0) as u8)
}

/// Reads Home Assistant's JSON command for `light_<rest>` (`{"state": "ON",
/// "brightness": 40, "color": {"r": 255, "g": 136, "b": 0}, "color_temp": 300}`).
pub fn parse(rest: &str, payload: &str) -> Result<Order, String> {
    let channel = channel(rest)?;
    let v: Value =
        serde_json::from_str(payload).map_err(|e| format!("the command is not JSON: {e}"))?;
    if !v.is_object() {
        return Err(format!("the command {v} is not a JSON object"));
    }
    let mut c = LightCommand {
        channel,
        ..LightCommand::default()
    };
    c.on = match v.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("ON") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("OFF") => Some(false),
        Some(other) => return Err(format!("`state` {other} is not ON or OFF")),
    };
    if c.on == Some(false) {
        // Off is off: whatever else came with it stays as it is.
        return Ok(Order::Light(c));
    }
    c.brightness = field(&v, "brightness")?.map(|b| (b.round() as i64).clamp(1, 100));
    if let Some(color) = v.get("color").filter(|c| !c.is_null()) {
        let (r, g, b) = (
            primary(color, "r")?,
            primary(color, "g")?,
            primary(color, "b")?,
        );
        c.rgb = Some(format!("{r:02x}{g:02x}{b:02x}"));
    }
    if c.rgb.is_none() {
        // A light shows a colour or a white: a colour wins, should both come.
        c.temperature = field(&v, "color_temp")?.map(temperature);
    }
    if c.on.is_none() && c.brightness.is_none() && c.rgb.is_none() && c.temperature.is_none() {
        return Err("nothing to change: no state, brightness, color or color_temp".into());
    }
    Ok(Order::Light(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;

    fn topics() -> Topics {
        Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        }
    }

    /// An MSL450-like bulb: colour, white and brightness, at 1 percent, switched by
    /// ToggleX.
    fn msl450() -> Device {
        let mut d = Device::new("2112140999800790813148e1e9000001", 1);
        d.channels.insert(
            0,
            Channel {
                on: true,
                changed_at: 1,
            },
        );
        let light = Light {
            channel: 0,
            supports: 15,
            mode: RGB | LUMINANCE,
            rgb: Some("00f4ff".into()),
            temperature: Some(44),
            brightness: Some(1),
            ..Light::default()
        };
        let f = Families {
            lights: vec![light],
            ..Families::default()
        };
        d.families = Some(Box::new(f));
        d
    }

    #[test]
    fn temperatures_map_onto_mireds_both_ways() {
        assert_eq!((mireds(1), mireds(100)), (370, 153));
        assert_eq!(mireds(44), 276);
        assert_eq!(temperature(276.0), 44);
        assert_eq!((temperature(370.0), temperature(153.0)), (1, 100));
        assert_eq!((temperature(1000.0), temperature(0.0)), (1, 100));
    }

    #[test]
    fn a_colour_bulb_is_a_json_light_with_rgb_and_white() {
        let d = msl450();
        let e = entities(&topics(), &d, None, &crate::model::family::of(&d));
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].topic,
            "homeassistant/light/2112140999800790813148e1e9000001/light_0/config"
        );
        let p = &e[0].payload;
        assert_eq!(p["schema"], "json");
        assert_eq!(p["supported_color_modes"], json!(["rgb", "color_temp"]));
        assert_eq!(
            (p["brightness"].clone(), p["brightness_scale"].clone()),
            (json!(true), json!(100))
        );
        assert_eq!(
            (p["min_mireds"].clone(), p["max_mireds"].clone()),
            (json!(153), json!(370))
        );
        assert_eq!(
            p["state_topic"],
            "merossd/2112140999800790813148e1e9000001/light_0"
        );
        assert_eq!(
            p["command_topic"],
            "merossd/2112140999800790813148e1e9000001/light_0/set"
        );
        assert_eq!(
            p["unique_id"],
            "merossd_2112140999800790813148e1e9000001_light_0"
        );
        assert_eq!(p["name"], Value::Null);
        assert!(
            p.get("value_template").is_none(),
            "a JSON light takes no template"
        );
    }

    #[test]
    fn its_state_is_the_json_schema_and_follows_togglex() {
        let d = msl450();
        let r = retained(&topics(), &d, &crate::model::family::of(&d));
        assert_eq!(r[0].0, "merossd/2112140999800790813148e1e9000001/light_0");
        let s: Value = serde_json::from_str(&r[0].1).unwrap();
        assert_eq!(
            s,
            json!({"state": "ON", "brightness": 1, "color": {"r": 0, "g": 244, "b": 255},
                   "color_temp": 276, "color_mode": "rgb"})
        );
        let white = Light {
            mode: TEMPERATURE | LUMINANCE,
            ..d.families.as_ref().unwrap().lights[0].clone()
        };
        assert_eq!(light_state(&white, Some(false))["color_mode"], "color_temp");
        assert_eq!(light_state(&white, None)["state"], Value::Null);
    }

    #[test]
    fn colour_modes_follow_what_it_supports() {
        assert_eq!(color_modes(15), ["rgb", "color_temp"]);
        assert_eq!(color_modes(RGB | LUMINANCE), ["rgb"]);
        assert_eq!(color_modes(TEMPERATURE | LUMINANCE), ["color_temp"]);
        assert_eq!(color_modes(LUMINANCE), ["brightness"]);
        assert_eq!(color_modes(0), ["onoff"]);
    }

    #[test]
    fn a_dimmer_has_brightness_and_no_mireds() {
        let mut d = msl450();
        if let Some(f) = d.families.as_mut() {
            f.lights[0].supports = LUMINANCE;
        }
        let e = entities(&topics(), &d, None, &crate::model::family::of(&d));
        assert_eq!(e[0].payload["supported_color_modes"], json!(["brightness"]));
        assert!(e[0].payload.get("min_mireds").is_none());
    }

    #[test]
    fn home_assistant_json_commands_become_light_commands() {
        let on = r#"{"state":"ON","brightness":40,"color":{"r":255,"g":136,"b":0}}"#;
        assert_eq!(
            parse("0", on),
            Ok(Order::Light(LightCommand {
                channel: 0,
                on: Some(true),
                brightness: Some(40),
                rgb: Some("ff8800".into()),
                temperature: None,
            }))
        );
        assert_eq!(
            parse("0", r#"{"state":"ON","color_temp":300}"#),
            Ok(Order::Light(LightCommand {
                on: Some(true),
                temperature: Some(33),
                ..LightCommand::default()
            }))
        );
        assert_eq!(
            parse("1", r#"{"state":"OFF","transition":2}"#),
            Ok(Order::Light(LightCommand {
                channel: 1,
                on: Some(false),
                ..LightCommand::default()
            }))
        );
    }

    #[test]
    fn bad_light_commands_are_errors() {
        assert!(parse("0", "ON").is_err());
        assert!(parse("0", "[1]").is_err());
        assert!(parse("0", r#"{"state":"MAYBE"}"#).is_err());
        assert!(parse("0", r#"{"state":"ON","brightness":"lots"}"#).is_err());
        assert!(parse("0", r#"{"color":{"h":20,"s":50}}"#).is_err());
        assert!(parse("0", "{}").is_err());
        assert!(parse("x", r#"{"state":"ON"}"#).is_err());
    }
}
