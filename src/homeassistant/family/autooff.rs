//! Auto-off per channel, for a device whose Ability lists `Appliance.Control.TriggerX`: a
//! `number` in minutes (0 to 1440; 0 means none) on `<base>/<uuid>/autooff_<n>/set`,
//! showing the channel's enabled rule (state key `autooff_<n>`). The rule itself lives on
//! the device (`model::family::autooff`).

use super::{put, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::autooff::{minutes, AutoOff};
use crate::model::family::items::new_id;
use crate::model::family::trigger::MAX_MINUTES;
use crate::model::{Ability, Device};
use serde_json::{json, Value};

/// The channels that take an auto-off: the device's (channel 0 if it reported none).
fn channels(d: &Device) -> Vec<u32> {
    if !d.ability.is_some_and(|a| a.has(Ability::TriggerX)) {
        return Vec::new();
    }
    let known: Vec<u32> = d.channels.keys().copied().collect();
    if known.is_empty() {
        vec![0]
    } else {
        known
    }
}

/// The auto-off `number` of each channel.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>) -> Vec<Entity> {
    let channels = channels(d);
    let several = channels.len() > 1;
    (channels.iter())
        .map(|c| {
            let object = format!("autooff_{c}");
            let mut p = common(t, d, url, &object);
            p["name"] = match d.channel_names.get(c) {
                Some(n) => json!(format!("Auto-off {n}")),
                None if several => json!(format!("Auto-off {c}")),
                None => json!("Auto-off"),
            };
            p["icon"] = json!("mdi:timer-off-outline");
            p["command_topic"] = json!(t.set(&d.uuid, &object));
            p["value_template"] = json!(read_key(&object));
            p["min"] = json!(0);
            p["max"] = json!(MAX_MINUTES);
            p["step"] = json!(1);
            p["mode"] = json!("box");
            p["unit_of_measurement"] = json!("min");
            p["entity_category"] = json!("config");
            Entity {
                topic: t.config("number", &d.uuid, &object),
                payload: p,
            }
        })
        .collect()
}

/// `autooff_<n>`: each channel's auto-off minutes, 0 when none.
pub fn state(d: &Device, s: &mut Value) {
    let f = crate::model::family::of(d);
    for c in channels(d) {
        put(s, format!("autooff_{c}"), Some(minutes(&f, c)));
    }
}

/// Reads minutes Home Assistant sent for channel `rest` (`autooff_<rest>`).
pub fn parse(rest: &str, payload: &str) -> Result<Order, String> {
    let channel = super::channel(rest)?;
    let minutes = super::number(payload)?;
    if !(0.0..=f64::from(MAX_MINUTES)).contains(&minutes) {
        return Err(format!(
            "{minutes} minutes is out of range: 0 to {MAX_MINUTES}"
        ));
    }
    Ok(Order::AutoOff(AutoOff {
        channel,
        minutes: minutes.round() as u32,
        id: new_id(),
        now: crate::protocol::now_secs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Abilities;

    #[test]
    fn a_plug_with_trigger_x_has_an_auto_off_number_per_channel() {
        let t = Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        };
        let mut d = Device::new("abc", 1);
        assert!(entities(&t, &d, None).is_empty());
        d.ability = Some(Abilities::new(&json!({"Appliance.Control.TriggerX": {}})));
        let e = entities(&t, &d, None);
        assert_eq!(e[0].topic, "homeassistant/number/abc/autooff_0/config");
        assert_eq!(e[0].payload["command_topic"], "merossd/abc/autooff_0/set");
        assert_eq!(e[0].payload["name"], "Auto-off");
        let mut s = json!({});
        state(&d, &mut s);
        assert_eq!(s, json!({"autooff_0": 0}));
        assert!(matches!(
            parse("0", "20"),
            Ok(Order::AutoOff(AutoOff {
                minutes: 20,
                channel: 0,
                ..
            }))
        ));
        assert!(parse("0", "2000").is_err());
        assert!(parse("x", "2").is_err());
    }
}
