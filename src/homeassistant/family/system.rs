//! What every device may have: do-not-disturb, a configuration `switch` (on: the LED
//! stays off) taking `ON` and `OFF` on `<base>/<uuid>/dnd/set`, and its Wi-Fi signal, a
//! diagnostic `sensor` in percent. Each only once the device reported it; their state
//! keys are `dnd` and `signal`.

use super::{on_off, put, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::{DndCommand, Families};
use crate::model::Device;
use serde_json::{json, Value};

/// The do-not-disturb switch and the signal sensor, when the device reported them.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let mut out = Vec::new();
    if f.dnd.is_some() {
        let mut p = common(t, d, url, "dnd");
        p["name"] = json!("Do not disturb");
        p["entity_category"] = json!("config");
        p["icon"] = json!("mdi:led-off");
        p["command_topic"] = json!(t.set(&d.uuid, "dnd"));
        p["value_template"] = json!(read_key("dnd"));
        p["payload_on"] = json!("ON");
        p["payload_off"] = json!("OFF");
        p["state_on"] = json!("ON");
        p["state_off"] = json!("OFF");
        out.push(Entity {
            topic: t.config("switch", &d.uuid, "dnd"),
            payload: p,
        });
    }
    if f.signal_percent.is_some() {
        let mut p = common(t, d, url, "signal");
        p["name"] = json!("Signal");
        p["entity_category"] = json!("diagnostic");
        p["icon"] = json!("mdi:wifi");
        p["state_class"] = json!("measurement");
        p["unit_of_measurement"] = json!("%");
        p["value_template"] = json!(read_key("signal"));
        out.push(Entity {
            topic: t.config("sensor", &d.uuid, "signal"),
            payload: p,
        });
    }
    out
}

/// `dnd` (`ON`, `OFF`) and `signal` (percent), when known.
pub fn state(f: &Families, s: &mut Value) {
    put(s, "dnd".into(), f.dnd.map(on_off));
    put(s, "signal".into(), f.signal_percent);
}

/// Reads a command for `dnd`: `ON`, `OFF` or `TOGGLE`.
pub fn parse(payload: &str, f: &Families) -> Result<Order, String> {
    let on = match payload.to_ascii_uppercase().as_str() {
        "ON" => true,
        "OFF" => false,
        "TOGGLE" => !f.dnd.unwrap_or(false),
        other => return Err(format!("`{other}` is not ON, OFF or TOGGLE")),
    };
    Ok(Order::Dnd(DndCommand { on }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnd_and_signal_appear_once_reported() {
        let t = Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        };
        let mut d = Device::new("abc", 1);
        let mut f = Families::default();
        assert!(entities(&t, &d, None, &f).is_empty());
        f.dnd = Some(true);
        f.signal_percent = Some(57);
        d.families = Some(Box::new(f.clone()));
        let e = entities(&t, &d, None, &f);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].topic, "homeassistant/switch/abc/dnd/config");
        assert_eq!(e[0].payload["entity_category"], "config");
        assert_eq!(e[0].payload["name"], "Do not disturb");
        assert_eq!(e[0].payload["command_topic"], "merossd/abc/dnd/set");
        assert_eq!(e[1].topic, "homeassistant/sensor/abc/signal/config");
        assert_eq!(e[1].payload["entity_category"], "diagnostic");
        assert_eq!(e[1].payload["unit_of_measurement"], "%");
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s, json!({"dnd": "ON", "signal": 57}));
    }

    #[test]
    fn dnd_commands_become_dnd_commands() {
        let f = Families {
            dnd: Some(true),
            ..Families::default()
        };
        assert_eq!(parse("ON", &f), Ok(Order::Dnd(DndCommand { on: true })));
        assert_eq!(parse("off", &f), Ok(Order::Dnd(DndCommand { on: false })));
        assert_eq!(
            parse("TOGGLE", &f),
            Ok(Order::Dnd(DndCommand { on: false }))
        );
        assert!(parse("maybe", &f).is_err());
    }
}
