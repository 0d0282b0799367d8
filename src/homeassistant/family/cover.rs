//! Garage doors and roller shutters as Home Assistant `cover` entities. A door opens or
//! closes (`OPEN`, `CLOSE` on `<base>/<uuid>/door_<ch>/set`; it cannot stop); a shutter
//! also stops (`STOP`) and goes to a position (0 closed to 100 open, on
//! `<base>/<uuid>/shutter_<ch>_position/set`). Their states are keys of the device's
//! state: `door_<ch>`, `shutter_<ch>` (open, closed, opening, closing) and
//! `shutter_<ch>_position`.

use super::{channel, name, number, put, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::shutter::ShutterAction;
use crate::model::family::{Families, GarageCommand, GarageDoor, Shutter, ShutterCommand};
use crate::model::Device;
use serde_json::{json, Value};

/// A door's state as a cover's: `opening` or `closing` while it moves, else `open` or
/// `closed`.
pub fn door_state(door: &GarageDoor) -> &'static str {
    match (door.moving_to, door.open) {
        (Some(true), _) => "opening",
        (Some(false), _) => "closing",
        (None, true) => "open",
        (None, false) => "closed",
    }
}

/// A shutter's state as a cover's: `opening` or `closing` while it moves, else `closed`
/// at 0 and `open` above; unknown before it said either.
pub fn shutter_state(shutter: &Shutter) -> Option<&'static str> {
    match (shutter.motion.as_deref(), shutter.position) {
        (Some("opening"), _) => Some("opening"),
        (Some("closing"), _) => Some("closing"),
        (_, Some(0)) => Some("closed"),
        (_, Some(_)) => Some("open"),
        (_, None) => None,
    }
}

/// A `cover` per garage door and per shutter.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let mut out = Vec::new();
    let several = f.garage_doors.len() > 1;
    for door in &f.garage_doors {
        let object = format!("door_{}", door.channel);
        let mut p = common(t, d, url, &object);
        p["name"] = name(several, "Door", door.channel);
        p["device_class"] = json!("garage");
        p["command_topic"] = json!(t.set(&d.uuid, &object));
        p["payload_open"] = json!("OPEN");
        p["payload_close"] = json!("CLOSE");
        // A door cannot stop halfway: no stop button.
        p["payload_stop"] = Value::Null;
        p["value_template"] = json!(read_key(&object));
        out.push(Entity {
            topic: t.config("cover", &d.uuid, &object),
            payload: p,
        });
    }
    let several = f.shutters.len() > 1;
    for shutter in &f.shutters {
        let object = format!("shutter_{}", shutter.channel);
        let position = format!("{object}_position");
        let mut p = common(t, d, url, &object);
        p["name"] = name(several, "Shutter", shutter.channel);
        p["device_class"] = json!("shutter");
        p["command_topic"] = json!(t.set(&d.uuid, &object));
        p["payload_open"] = json!("OPEN");
        p["payload_close"] = json!("CLOSE");
        p["payload_stop"] = json!("STOP");
        p["value_template"] = json!(read_key(&object));
        p["position_topic"] = json!(t.state(&d.uuid));
        p["position_template"] = json!(read_key(&position));
        p["set_position_topic"] = json!(t.set(&d.uuid, &position));
        p["position_open"] = json!(100);
        p["position_closed"] = json!(0);
        out.push(Entity {
            topic: t.config("cover", &d.uuid, &object),
            payload: p,
        });
    }
    out
}

/// Each door's `door_<ch>`, each shutter's `shutter_<ch>` and `shutter_<ch>_position`.
pub fn state(f: &Families, s: &mut Value) {
    for door in &f.garage_doors {
        put(s, format!("door_{}", door.channel), Some(door_state(door)));
    }
    for shutter in &f.shutters {
        let object = format!("shutter_{}", shutter.channel);
        put(s, format!("{object}_position"), shutter.position);
        put(s, object, shutter_state(shutter));
    }
}

/// Reads a command for `door_<rest>`: `OPEN` or `CLOSE`.
pub fn parse_door(rest: &str, payload: &str) -> Result<Order, String> {
    let channel = channel(rest)?;
    let open = match payload.to_ascii_uppercase().as_str() {
        "OPEN" => true,
        "CLOSE" => false,
        "STOP" => return Err("a garage door cannot stop halfway; STOP ignored".into()),
        other => return Err(format!("`{other}` is not OPEN or CLOSE")),
    };
    Ok(Order::Garage(GarageCommand { channel, open }))
}

/// Reads a command for `shutter_<rest>`: `<ch>` takes `OPEN`, `CLOSE` or `STOP`,
/// `<ch>_position` a position from 0 (closed) to 100 (open).
pub fn parse_shutter(rest: &str, payload: &str) -> Result<Order, String> {
    let (ch, to_position) = match rest.split_once('_') {
        None => (rest, false),
        Some((ch, "position")) => (ch, true),
        Some(_) => return Err(format!("`shutter_{rest}` takes no commands")),
    };
    let channel = channel(ch)?;
    let command = if to_position {
        let position = number(payload)?;
        if !(0.0..=100.0).contains(&position) {
            return Err(format!("position {position} is not from 0 to 100"));
        }
        ShutterCommand {
            channel,
            position: Some(position.round() as i64),
            action: None,
        }
    } else {
        let action = match payload.to_ascii_uppercase().as_str() {
            "OPEN" => ShutterAction::Open,
            "CLOSE" => ShutterAction::Close,
            "STOP" => ShutterAction::Stop,
            other => return Err(format!("`{other}` is not OPEN, CLOSE or STOP")),
        };
        ShutterCommand {
            channel,
            position: None,
            action: Some(action),
        }
    };
    Ok(Order::Shutter(command))
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

    fn opener(doors: &Value) -> Device {
        let mut f = Families::default();
        crate::model::family::garage::read(&mut f, doors).unwrap();
        let mut d = Device::new("1909131234567890123448e1e9000003", 1);
        d.families = Some(Box::new(f));
        d
    }

    #[test]
    fn a_garage_door_is_a_garage_cover_named_after_its_device() {
        let d = opener(&json!([{"channel": 0, "open": 1, "lmTime": 0}]));
        let f = crate::model::family::of(&d);
        let e = entities(&topics(), &d, None, &f);
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].topic,
            "homeassistant/cover/1909131234567890123448e1e9000003/door_0/config"
        );
        let p = &e[0].payload;
        assert_eq!(p["device_class"], "garage");
        assert_eq!(p["name"], Value::Null);
        assert_eq!(
            p["command_topic"],
            "merossd/1909131234567890123448e1e9000003/door_0/set"
        );
        assert_eq!(
            (p["payload_open"].clone(), p["payload_close"].clone()),
            (json!("OPEN"), json!("CLOSE"))
        );
        assert_eq!(p["payload_stop"], Value::Null);
        assert_eq!(p["value_template"], json!(read_key("door_0")));
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s, json!({"door_0": "open"}));
    }

    #[test]
    fn an_msg200_names_its_doors_and_shows_them_moving() {
        let d = opener(&json!([{"channel": 1, "open": 0}, {"channel": 2, "open": 1}]));
        let mut f = crate::model::family::of(&d);
        let e = entities(&topics(), &d, None, &f);
        assert_eq!(e[0].payload["name"], "Door 1");
        assert_eq!(e[1].payload["name"], "Door 2");
        f.garage_doors[0].moving_to = Some(true);
        f.garage_doors[1].moving_to = Some(false);
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s, json!({"door_1": "opening", "door_2": "closing"}));
    }

    #[test]
    fn a_shutter_has_a_position() {
        let mut f = Families::default();
        let position = json!([{"channel": 0, "position": 40}]);
        crate::model::family::shutter::read_position(&mut f, &position).unwrap();
        let mut d = Device::new("abc", 1);
        d.families = Some(Box::new(f.clone()));
        let e = entities(&topics(), &d, None, &f);
        let p = &e[0].payload;
        assert_eq!(p["device_class"], "shutter");
        assert_eq!(
            p["set_position_topic"],
            "merossd/abc/shutter_0_position/set"
        );
        assert_eq!(p["position_topic"], "merossd/abc");
        assert_eq!(
            p["position_template"],
            json!(read_key("shutter_0_position"))
        );
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s, json!({"shutter_0": "open", "shutter_0_position": 40}));
        f.shutters[0].motion = Some("closing".into());
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s["shutter_0"], "closing");
    }

    #[test]
    fn cover_commands_become_garage_and_shutter_commands() {
        let garage = |channel, open| Ok(Order::Garage(GarageCommand { channel, open }));
        assert_eq!(parse_door("0", "OPEN"), garage(0, true));
        assert_eq!(parse_door("2", "close"), garage(2, false));
        assert!(parse_door("0", "STOP").is_err(), "ignored, with a warning");
        assert!(parse_door("0", "UP").is_err());
        let shutter = |position, action| {
            Ok(Order::Shutter(ShutterCommand {
                channel: 0,
                position,
                action,
            }))
        };
        assert_eq!(
            parse_shutter("0", "STOP"),
            shutter(None, Some(ShutterAction::Stop))
        );
        assert_eq!(
            parse_shutter("0", "OPEN"),
            shutter(None, Some(ShutterAction::Open))
        );
        assert_eq!(parse_shutter("0_position", "35"), shutter(Some(35), None));
        assert!(parse_shutter("0_position", "135").is_err());
        assert!(parse_shutter("0_position", "half").is_err());
        assert!(parse_shutter("0_tilt", "3").is_err());
    }
}
