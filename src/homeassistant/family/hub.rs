//! A hub's sub-devices, each its own Home Assistant device, linked to the hub by
//! `via_device`: sensors for temperature, humidity and battery, binary sensors for a door
//! and a leak, and a `climate` for a radiator valve, each only once the sub-device
//! reported the reading. The state keys are `sub_<id>_<what>`; a valve takes commands on
//! `<base>/<uuid>/sub_<id>_mode/set` (off, heat), `_temperature/set` (°C) and
//! `_preset/set`. A sub-device the hub says is offline shows unavailable: its entities
//! need both the hub's availability and their own, `<base>/<uuid>/sub_<id>/availability`.

use super::climate::{self, Climate};
use super::{on_off, put, Order};
use crate::homeassistant::discovery::{common, id, read_key, Entity, Topics};
use crate::model::family::{Families, SubDevice, SubDeviceCommand};
use crate::model::Device;
use serde_json::{json, Value};

/// A valve's presets: its modes.
pub const VALVE_PRESETS: [&str; 5] = ["custom", "comfort", "economy", "auto", "away"];

/// A sub-device's id as its objects and state keys spell it: what topics allow, and no
/// `-`, which a template would read as a minus.
fn key_id(raw: &str) -> String {
    id(raw).replace('-', "_")
}

/// The prefix of a sub-device's objects and state keys: `sub_<id>`.
fn prefix(s: &SubDevice) -> String {
    format!("sub_{}", key_id(&s.id))
}

/// A radiator valve (MTS100/150), by its kind, or by a set point it reported.
pub fn is_valve(s: &SubDevice) -> bool {
    s.kind.as_deref().is_some_and(|k| k.starts_with("mts")) || s.target_c.is_some()
}

/// `<base>/<uuid>/sub_<id>/availability`: `online` or `offline`, retained.
pub fn availability(t: &Topics, d: &Device, s: &SubDevice) -> String {
    format!("{}/availability", t.object(&d.uuid, &prefix(s)))
}

/// The sub-device as a device of its own, reached through the hub.
fn device_block(d: &Device, s: &SubDevice, url: Option<&str>) -> Value {
    let kind = s.kind.as_deref().unwrap_or("sub-device");
    let mut block = json!({
        "identifiers": [format!("merossd_{}_{}", id(&d.uuid), id(&s.id))],
        "name": format!("Meross {kind} {}", s.id),
        "manufacturer": "Meross",
        "model": s.kind.as_deref().unwrap_or("unknown"),
        "via_device": format!("merossd_{}", id(&d.uuid)),
    });
    if let Some(url) = url {
        block["configuration_url"] = json!(url);
    }
    block
}

/// What every entity of a sub-device has: the hub's `common`, with the sub-device's own
/// device block and both availabilities.
fn base(t: &Topics, d: &Device, url: Option<&str>, s: &SubDevice, object: &str) -> Value {
    let mut p = common(t, d, url, object);
    p["device"] = device_block(d, s, url);
    p["availability"] = json!([
        {"topic": t.availability(&d.uuid)},
        {"topic": availability(t, d, s)},
    ]);
    p["availability_mode"] = json!("all");
    p
}

/// Every sub-device's entities.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    let mut out = Vec::new();
    for s in &f.subdevices {
        out.extend(sub_entities(t, d, url, s));
    }
    out
}

/// One sub-device's entities, for the readings it reported.
fn sub_entities(t: &Topics, d: &Device, url: Option<&str>, s: &SubDevice) -> Vec<Entity> {
    let prefix = prefix(s);
    let mut out = Vec::new();
    let sensors = [
        (
            "temperature",
            "Temperature",
            "°C",
            s.temperature_c.is_some(),
        ),
        ("humidity", "Humidity", "%", s.humidity_percent.is_some()),
        ("battery", "Battery", "%", s.battery_percent.is_some()),
    ];
    for (what, label, unit, _) in sensors.into_iter().filter(|x| x.3) {
        let object = format!("{prefix}_{what}");
        let mut p = base(t, d, url, s, &object);
        p["name"] = json!(label);
        p["device_class"] = json!(what);
        p["state_class"] = json!("measurement");
        p["unit_of_measurement"] = json!(unit);
        p["value_template"] = json!(read_key(&object));
        if what == "battery" {
            p["entity_category"] = json!("diagnostic");
        }
        out.push(Entity {
            topic: t.config("sensor", &d.uuid, &object),
            payload: p,
        });
    }
    let binaries = [
        ("door", "Door", "door", s.door_open.is_some()),
        ("leak", "Leak", "moisture", s.leak.is_some()),
    ];
    for (what, label, class, _) in binaries.into_iter().filter(|x| x.3) {
        let object = format!("{prefix}_{what}");
        let mut p = base(t, d, url, s, &object);
        p["name"] = json!(label);
        p["device_class"] = json!(class);
        p["payload_on"] = json!("ON");
        p["payload_off"] = json!("OFF");
        p["value_template"] = json!(read_key(&object));
        out.push(Entity {
            topic: t.config("binary_sensor", &d.uuid, &object),
            payload: p,
        });
    }
    if is_valve(s) {
        let object = format!("{prefix}_climate");
        let mut p = base(t, d, url, s, &object);
        p["name"] = Value::Null;
        let valve = Climate {
            prefix: prefix.clone(),
            current: format!("{prefix}_temperature"),
            modes: &climate::HEAT_MODES,
            presets: &VALVE_PRESETS,
            min_c: s.min_c.unwrap_or(5.0),
            max_c: s.max_c.unwrap_or(35.0),
        };
        valve.fill(t, &d.uuid, &mut p);
        out.push(Entity {
            topic: t.config("climate", &d.uuid, &object),
            payload: p,
        });
    }
    out
}

/// Each sub-device's keys: `sub_<id>_temperature` (°C), `_humidity` and `_battery`
/// (percent), `_door` and `_leak` (`ON`, `OFF`), and a valve's `_mode`, `_target` (°C),
/// `_preset` and `_action`.
pub fn state(f: &Families, s: &mut Value) {
    for sub in &f.subdevices {
        let key = |what: &str| format!("{}_{what}", prefix(sub));
        put(s, key("temperature"), sub.temperature_c);
        put(s, key("humidity"), sub.humidity_percent);
        put(s, key("battery"), sub.battery_percent);
        put(s, key("door"), sub.door_open.map(on_off));
        put(s, key("leak"), sub.leak.map(on_off));
        if is_valve(sub) {
            put(s, key("mode"), climate::mode(sub.on));
            put(s, key("target"), sub.target_c);
            put(s, key("preset"), sub.mode.as_deref());
            put(
                s,
                key("action"),
                Some(climate::action(sub.on, sub.heating, None)),
            );
        }
    }
}

/// Each sub-device's own availability topic and payload: `offline` once the hub said it
/// is, else `online`.
pub fn retained(t: &Topics, d: &Device, f: &Families) -> Vec<(String, String)> {
    f.subdevices
        .iter()
        .map(|s| {
            let online = if s.online == Some(false) {
                "offline"
            } else {
                "online"
            };
            (availability(t, d, s), online.to_owned())
        })
        .collect()
}

/// Reads a command for `sub_<rest>`: `<id>_mode` (off, heat), `<id>_temperature` (°C)
/// or `<id>_preset` (a valve mode).
pub fn parse(rest: &str, payload: &str, f: &Families) -> Result<Order, String> {
    let Some((sub_id, what)) = rest.rsplit_once('_') else {
        return Err(format!("`sub_{rest}` takes no commands"));
    };
    let Some(sub) = f.subdevices.iter().find(|s| key_id(&s.id) == sub_id) else {
        return Err(format!("the hub has no sub-device {sub_id}"));
    };
    let mut c = SubDeviceCommand {
        id: sub.id.clone(),
        ..SubDeviceCommand::default()
    };
    match what {
        "mode" => c.on = Some(climate::switched(payload, &climate::HEAT_MODES)?),
        "temperature" => {
            let (low, high) = (sub.min_c.unwrap_or(5.0), sub.max_c.unwrap_or(35.0));
            c.target_c = Some(climate::target(payload, low, high)?);
        }
        "preset" => c.mode = Some(climate::preset(payload, &VALVE_PRESETS)?),
        other => return Err(format!("a sub-device has no `{other}` to set")),
    }
    Ok(Order::SubDevice(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str = "2005081234567890123448e1e9000004";

    fn topics() -> Topics {
        Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        }
    }

    fn hub() -> Device {
        let mut f = Families::default();
        let digest = json!({"hubId": 1, "subdevice": [
            {"id": "01008C11", "status": 1, "onoff": 1, "mts100v3": {"mode": 3}},
            {"id": "0500A1B2", "status": 0, "ms100": {}}
        ]});
        crate::model::family::hub::read_digest(&mut f, &digest).unwrap();
        let valves = json!([{"id": "01008C11", "temperature": {"room": 195, "currentSet": 210,
            "min": 50, "max": 350, "heating": 1, "openWindow": 0}}]);
        crate::model::family::hub::read_valves(&mut f, &valves).unwrap();
        let sensors = json!([{"id": "0500A1B2", "temperature": {"latest": 215},
            "humidity": {"latest": 553}}]);
        crate::model::family::hub::read_sensors(&mut f, &sensors).unwrap();
        crate::model::family::hub::read_battery(&mut f, &json!([{"id": "0500A1B2", "value": 80}]))
            .unwrap();
        let mut d = Device::new(HUB, 1);
        d.families = Some(Box::new(f));
        d
    }

    fn find<'a>(e: &'a [Entity], object: &str) -> &'a Value {
        let end = format!("/{object}/config");
        match e.iter().find(|e| e.topic.ends_with(&end)) {
            Some(e) => &e.payload,
            None => panic!(
                "no {object} among {:?}",
                e.iter().map(|e| &e.topic).collect::<Vec<_>>()
            ),
        }
    }

    #[test]
    fn a_valve_is_a_climate_of_its_own_device_through_the_hub() {
        let d = hub();
        let e = entities(&topics(), &d, None, &crate::model::family::of(&d));
        let p = find(&e, "sub_01008C11_climate");
        assert_eq!(
            p["device"],
            json!({"identifiers": [format!("merossd_{HUB}_01008C11")],
                   "name": "Meross mts100v3 01008C11", "manufacturer": "Meross",
                   "model": "mts100v3", "via_device": format!("merossd_{HUB}")})
        );
        assert_eq!(
            p["availability"],
            json!([{"topic": format!("merossd/{HUB}/availability")},
                   {"topic": format!("merossd/{HUB}/sub_01008C11/availability")}])
        );
        assert_eq!(p["availability_mode"], "all");
        assert_eq!(p["modes"], json!(["off", "heat"]));
        assert_eq!(
            p["preset_modes"],
            json!(["custom", "comfort", "economy", "auto", "away"])
        );
        assert_eq!(
            p["temperature_command_topic"],
            format!("merossd/{HUB}/sub_01008C11_temperature/set")
        );
        assert_eq!(
            p["unique_id"],
            format!("merossd_{HUB}_sub_01008C11_climate")
        );
        // Its room temperature is a sensor as well; it reported no humidity.
        assert_eq!(
            find(&e, "sub_01008C11_temperature")["device_class"],
            "temperature"
        );
        assert!(e.iter().all(|e| !e.topic.contains("sub_01008C11_humidity")));
    }

    #[test]
    fn a_sensor_has_what_it_reported_and_shows_offline() {
        let d = hub();
        let f = crate::model::family::of(&d);
        let e = entities(&topics(), &d, None, &f);
        let temperature = find(&e, "sub_0500A1B2_temperature");
        assert_eq!(temperature["unit_of_measurement"], "°C");
        assert_eq!(
            temperature["device"]["via_device"],
            format!("merossd_{HUB}")
        );
        assert_eq!(temperature["device"]["model"], "ms100");
        assert_eq!(
            find(&e, "sub_0500A1B2_humidity")["unit_of_measurement"],
            "%"
        );
        assert_eq!(
            find(&e, "sub_0500A1B2_battery")["entity_category"],
            "diagnostic"
        );
        assert!(
            e.iter().all(|e| !e.topic.contains("sub_0500A1B2_climate")),
            "no valve"
        );
        assert!(
            e.iter().all(|e| !e.topic.contains("/binary_sensor/")),
            "no door, no leak"
        );
        let r = retained(&topics(), &d, &f);
        let topic = |sub: &str| format!("merossd/{HUB}/sub_{sub}/availability");
        assert_eq!(r[0], (topic("01008C11"), "online".to_owned()));
        assert_eq!(r[1], (topic("0500A1B2"), "offline".to_owned()));
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(
            s,
            json!({"sub_01008C11_temperature": 19.5, "sub_01008C11_mode": "heat",
                   "sub_01008C11_target": 21.0, "sub_01008C11_preset": "auto",
                   "sub_01008C11_action": "heating",
                   "sub_0500A1B2_temperature": 21.5, "sub_0500A1B2_humidity": 55.3,
                   "sub_0500A1B2_battery": 80})
        );
    }

    #[test]
    fn doors_and_leaks_are_binary_sensors() {
        let mut d = hub();
        if let Some(f) = d.families.as_mut() {
            f.subdevices[1].door_open = Some(true);
            f.subdevices[1].leak = Some(false);
        }
        let f = crate::model::family::of(&d);
        let e = entities(&topics(), &d, None, &f);
        assert_eq!(find(&e, "sub_0500A1B2_door")["device_class"], "door");
        assert_eq!(find(&e, "sub_0500A1B2_leak")["device_class"], "moisture");
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(
            (
                s["sub_0500A1B2_door"].clone(),
                s["sub_0500A1B2_leak"].clone()
            ),
            (json!("ON"), json!("OFF"))
        );
    }

    #[test]
    fn valve_commands_become_sub_device_commands() {
        let f = crate::model::family::of(&hub());
        let command = |on, mode: Option<&str>, target_c| {
            Ok(Order::SubDevice(SubDeviceCommand {
                id: "01008C11".into(),
                on,
                mode: mode.map(str::to_owned),
                target_c,
            }))
        };
        assert_eq!(
            parse("01008C11_mode", "off", &f),
            command(Some(false), None, None)
        );
        assert_eq!(
            parse("01008C11_mode", "heat", &f),
            command(Some(true), None, None)
        );
        assert_eq!(
            parse("01008C11_temperature", "22.5", &f),
            command(None, None, Some(22.5))
        );
        assert_eq!(
            parse("01008C11_preset", "away", &f),
            command(None, Some("away"), None)
        );
        assert!(parse("01008C11_mode", "cool", &f).is_err());
        assert!(parse("01008C11_preset", "eco", &f).is_err());
        assert!(parse("01008C11_temperature", "hot", &f).is_err());
        assert!(parse("01008C11_temperature", "2", &f).is_err());
        assert!(parse("FFFFFFFF_mode", "heat", &f).is_err());
        assert!(parse("01008C11", "heat", &f).is_err());
    }
}
