//! A diffuser's or humidifier's spray as a Home Assistant `select` of its modes: a
//! diffuser's (MOD100) eco, full and off, a humidifier's (MSXH0) off, continuous and
//! intermittent. The mode is the state's `spray_<ch>`; Home Assistant picks one on
//! `<base>/<uuid>/spray_<ch>/set`.

use super::{channel, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::{Families, Spray, SprayCommand};
use crate::model::Device;
use serde_json::{json, Value};

/// A diffuser's spray modes.
pub const DIFFUSER_MODES: [&str; 3] = ["eco", "full", "off"];
/// A humidifier's spray modes.
pub const HUMIDIFIER_MODES: [&str; 3] = ["off", "continuous", "intermittent"];

/// The modes of a spray.
pub fn options(spray: &Spray) -> &'static [&'static str] {
    if spray.diffuser {
        &DIFFUSER_MODES
    } else {
        &HUMIDIFIER_MODES
    }
}

/// A `select` per spray.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let several = f.sprays.len() > 1;
    let mut out = Vec::new();
    for spray in &f.sprays {
        let object = format!("spray_{}", spray.channel);
        let mut p = common(t, d, url, &object);
        p["name"] = if several {
            json!(format!("Spray {}", spray.channel))
        } else {
            json!("Spray")
        };
        p["options"] = json!(options(spray));
        p["command_topic"] = json!(t.set(&d.uuid, &object));
        p["value_template"] = json!(read_key(&object));
        out.push(Entity {
            topic: t.config("select", &d.uuid, &object),
            payload: p,
        });
    }
    out
}

/// Each spray's `spray_<ch>`: its mode, or null (Home Assistant's "unknown") before it
/// said one.
pub fn state(f: &Families, s: &mut Value) {
    for spray in &f.sprays {
        s[format!("spray_{}", spray.channel)] = json!(spray.mode);
    }
}

/// Reads a command for `spray_<rest>`: one of the spray's modes.
pub fn parse(rest: &str, payload: &str, f: &Families) -> Result<Order, String> {
    let channel = channel(rest)?;
    let Some(spray) = f.sprays.iter().find(|s| s.channel == channel) else {
        return Err(format!("the device has no spray {channel}"));
    };
    let modes = options(spray);
    if !modes.contains(&payload) {
        return Err(format!(
            "`{payload}` is not a mode of this spray: {}",
            modes.join(", ")
        ));
    }
    Ok(Order::Spray(SprayCommand {
        channel,
        mode: payload.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diffuser() -> Families {
        let mut f = Families::default();
        let spray = json!([{"channel": 0, "mode": 1}]);
        crate::model::family::diffuser::read_diffuser_spray(&mut f, &spray).unwrap();
        f
    }

    #[test]
    fn a_diffuser_spray_is_a_select_of_its_modes() {
        let t = Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        };
        let mut d = Device::new("abc", 1);
        d.families = Some(Box::new(diffuser()));
        let e = entities(&t, &d, None, &diffuser());
        assert_eq!(e[0].topic, "homeassistant/select/abc/spray_0/config");
        assert_eq!(e[0].payload["options"], json!(["eco", "full", "off"]));
        assert_eq!(e[0].payload["command_topic"], "merossd/abc/spray_0/set");
        let mut s = json!({});
        state(&diffuser(), &mut s);
        assert_eq!(s, json!({"spray_0": "full"}));
    }

    #[test]
    fn only_its_own_modes_are_taken() {
        let f = diffuser();
        assert_eq!(
            parse("0", "eco", &f),
            Ok(Order::Spray(SprayCommand {
                channel: 0,
                mode: "eco".into()
            }))
        );
        assert!(parse("0", "continuous", &f).is_err());
        assert!(parse("1", "eco", &f).is_err());
    }
}
