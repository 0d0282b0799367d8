//! Home Assistant MQTT discovery: the topics, and the config and state payloads for one
//! device. Pure functions of a device record, so they are easy to check against Home
//! Assistant's own rules. The switches and meters are here; the other families' entities
//! are in [`super::family`].

use crate::model::Device;
use serde_json::{json, Value};

/// Where everything goes.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Home Assistant's discovery prefix (`homeassistant.discovery_prefix`).
    pub prefix: String,
    /// merossd's own topics: states, availability, commands (`homeassistant.base_topic`).
    pub base: String,
}

/// Keeps `[a-zA-Z0-9_-]`, the characters Home Assistant allows in node and object ids.
pub fn id(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Topics {
    /// `<base>/<uuid>`: the device's state, JSON, retained.
    pub fn state(&self, uuid: &str) -> String {
        format!("{}/{}", self.base, id(uuid))
    }

    /// `<base>/<uuid>/availability`: `online` / `offline`, retained.
    pub fn availability(&self, uuid: &str) -> String {
        format!("{}/{}/availability", self.base, id(uuid))
    }

    /// `<base>/bridge/state`: the daemon's own availability, retained.
    pub fn bridge(&self) -> String {
        format!("{}/bridge/state", self.base)
    }

    /// `<base>/<uuid>/<channel>/set`: `ON`, `OFF` or `TOGGLE`.
    pub fn command(&self, uuid: &str, channel: u32) -> String {
        self.set(uuid, &channel.to_string())
    }

    /// `<base>/<uuid>/<object>`: a topic of one of the device's objects (a light's own
    /// state, or with `/availability` after it a sub-device's).
    pub fn object(&self, uuid: &str, object: &str) -> String {
        format!("{}/{}/{}", self.base, id(uuid), id(object))
    }

    /// `<base>/<uuid>/<object>/set`: the commands for one of the device's objects.
    pub fn set(&self, uuid: &str, object: &str) -> String {
        format!("{}/set", self.object(uuid, object))
    }

    /// The filter that hears every command.
    pub fn commands(&self) -> String {
        format!("{}/+/+/set", self.base)
    }

    /// Home Assistant's birth and will topic.
    pub fn status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// `<prefix>/<component>/<node_id>/<object_id>/config`.
    pub fn config(&self, component: &str, uuid: &str, object: &str) -> String {
        format!(
            "{}/{component}/{}/{}/config",
            self.prefix,
            id(uuid),
            id(object)
        )
    }

    /// `(uuid, object)` of a command topic: the object is a channel number (`0`) for a
    /// switch, else a family's object (`light_0`, `climate_0_mode`, `sub_01008C11_mode`).
    pub fn parse_command<'a>(&self, topic: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = topic.strip_prefix(self.base.as_str())?.strip_prefix('/')?;
        let rest = rest.strip_suffix("/set")?;
        let (uuid, object) = rest.split_once('/')?;
        let bad = |level: &str| level.is_empty() || level.contains(['/', '+', '#']);
        if bad(uuid) || bad(object) {
            return None;
        }
        Some((uuid, object))
    }
}

/// One discovery config: its topic and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `<prefix>/<component>/<node_id>/<object_id>/config`, from [`Topics::config`].
    pub topic: String,
    /// The JSON config Home Assistant builds the entity (switch or sensor) from.
    pub payload: Value,
}

fn display_name(d: &Device) -> String {
    d.display_name()
}

/// A template that reads one key of the state, and renders empty (which Home Assistant
/// ignores) when the key or the whole state is missing: a device's first state before its
/// first reading, or its state topic cleared while Home Assistant removes the entities.
pub(super) fn read_key(key: &str) -> String {
    format!("{{{{ (value_json | default({{}})).{key} | default('') }}}}")
}

/// The device as Home Assistant's device registry shows it.
pub(super) fn device_block(d: &Device, configuration_url: Option<&str>) -> Value {
    let mut block = json!({
        "identifiers": [format!("merossd_{}", id(&d.uuid))],
        "name": display_name(d),
        "manufacturer": "Meross",
        "model": d.kind().unwrap_or("unknown"),
    });
    if let Some(url) = configuration_url {
        block["configuration_url"] = json!(url);
    }
    if let Some(fw) = d.firmware_version() {
        block["sw_version"] = json!(fw);
    }
    if let Some(hw) = d
        .hardware
        .as_ref()
        .map(|h| h.version.as_str())
        .filter(|v| !v.is_empty())
    {
        block["hw_version"] = json!(hw);
    }
    if let Some(mac) = &d.mac {
        block["connections"] = json!([["mac", mac]]);
    }
    block
}

/// What every entity of a device's config has: its unique id, the device's state topic,
/// availability, device block and origin.
pub(super) fn common(
    t: &Topics,
    d: &Device,
    configuration_url: Option<&str>,
    object: &str,
) -> Value {
    json!({
        "unique_id": format!("merossd_{}_{}", id(&d.uuid), id(object)),
        "state_topic": t.state(&d.uuid),
        // The device's own topic only: Home Assistant subscribes to it anew for each
        // entity it adds, and marks every entity unavailable by itself when it loses
        // the broker (merossd) — a shared daemon-wide topic adds nothing but a filter
        // already held, which a broker need not hand its retained message again.
        "availability": [{"topic": t.availability(&d.uuid)}],
        "device": device_block(d, configuration_url),
        "origin": {"name": "merossd", "sw_version": env!("CARGO_PKG_VERSION")},
    })
}

/// Every discovery config of a device: a switch per channel (but a light's channel, which
/// is its light), for metering plugs power, voltage, current and energy sensors, and the
/// entities of its other families (see [`super::family::entities`]).
/// Entity ids are left to Home Assistant, which derives them from the device's name.
pub fn entities(t: &Topics, d: &Device, configuration_url: Option<&str>) -> Vec<Entity> {
    let base = |object: &str| common(t, d, configuration_url, object);
    let lights: Vec<u32> = d
        .families
        .as_deref()
        .map(|f| f.lights.iter().map(|l| l.channel).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let single = d.channels.len() == 1;
    for &channel in d.channels.keys().filter(|&&c| !lights.contains(&c)) {
        let object = format!("switch_{channel}");
        let mut p = base(&object);
        // A single-channel plug's switch is the device itself (name null: HA uses the
        // device name).
        p["name"] = if single {
            Value::Null
        } else {
            json!(format!("Channel {channel}"))
        };
        p["command_topic"] = json!(t.command(&d.uuid, channel));
        p["device_class"] = json!("outlet");
        p["value_template"] = json!(read_key(&object));
        p["payload_on"] = json!("ON");
        p["payload_off"] = json!("OFF");
        p["state_on"] = json!("ON");
        p["state_off"] = json!("OFF");
        out.push(Entity {
            topic: t.config("switch", &d.uuid, &object),
            payload: p,
        });
    }
    if d.is_metering() {
        let sensors = [
            ("power", "Power", "power", "measurement", "W", 1),
            ("voltage", "Voltage", "voltage", "measurement", "V", 1),
            ("current", "Current", "current", "measurement", "A", 3),
            ("energy", "Energy", "energy", "total_increasing", "kWh", 3),
        ];
        for (object, name, class, state_class, unit, precision) in sensors {
            let mut p = base(object);
            p["name"] = json!(name);
            p["device_class"] = json!(class);
            p["state_class"] = json!(state_class);
            p["unit_of_measurement"] = json!(unit);
            p["suggested_display_precision"] = json!(precision);
            p["value_template"] = json!(read_key(object));
            out.push(Entity {
                topic: t.config("sensor", &d.uuid, object),
                payload: p,
            });
        }
    }
    out.extend(super::family::entities(t, d, configuration_url));
    out
}

/// The device's state as one JSON object: `switch_<n>` ON/OFF per channel, for metering
/// plugs `power` (W), `voltage` (V), `current` (A), `energy` (kWh), and the keys of its
/// other families (see [`super::family::state`]).
pub fn state(d: &Device, energy_kwh: Option<f64>) -> Value {
    let mut s = json!({});
    for (channel, c) in &d.channels {
        s[format!("switch_{channel}")] = json!(if c.on { "ON" } else { "OFF" });
    }
    if d.is_metering() {
        // Every key, null until known: Home Assistant shows "unknown", not an error.
        let r = d.electricity.get(&0);
        s["power"] = json!(r.map(|r| r.power_w));
        s["voltage"] = json!(r.map(|r| r.voltage_v));
        s["current"] = json!(r.map(|r| r.current_a));
        s["energy"] = json!(energy_kwh);
    }
    super::family::state(d, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Reading};

    fn topics() -> Topics {
        Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        }
    }

    fn plug() -> Device {
        let mut d = Device::new("2208022697555151200348e1e9aabbcc", 1);
        d.ability = Some(crate::model::Abilities::new(
            &json!({"Appliance.Control.ToggleX": {}, "Appliance.Control.Electricity": {}}),
        ));
        d.channels.insert(
            0,
            Channel {
                on: true,
                changed_at: 1,
            },
        );
        d.electricity.insert(
            0,
            Reading {
                power_w: 67.379,
                voltage_v: 238.7,
                current_a: 0.418,
                at: 1,
            },
        );
        d
    }

    #[test]
    fn ids_keep_only_what_home_assistant_allows() {
        assert_eq!(id("ab:c/d e+#-_9"), "ab_c_d_e__-_9");
    }

    #[test]
    fn a_metering_plug_has_a_switch_and_four_sensors() {
        let e = entities(&topics(), &plug(), None);
        let topics: Vec<&str> = e.iter().map(|e| e.topic.as_str()).collect();
        assert_eq!(
            topics[0],
            "homeassistant/switch/2208022697555151200348e1e9aabbcc/switch_0/config"
        );
        assert_eq!(e.len(), 5);
        let energy = &e
            .iter()
            .find(|e| e.topic.contains("/energy/"))
            .unwrap()
            .payload;
        assert_eq!(energy["device_class"], "energy");
        assert_eq!(energy["state_class"], "total_increasing");
        assert_eq!(energy["unit_of_measurement"], "kWh");
        let switch = &e[0].payload;
        assert_eq!(switch["device_class"], "outlet");
        assert!(
            switch.get("object_id").is_none(),
            "entity ids are Home Assistant's"
        );
        assert!(switch["device"].get("configuration_url").is_none());
    }

    #[test]
    fn a_first_state_has_every_key_before_the_first_reading() {
        let mut d = plug();
        d.electricity.clear();
        let s = state(&d, None);
        assert_eq!(
            s,
            json!({"switch_0": "ON", "power": null, "voltage": null, "current": null, "energy": null})
        );
    }

    #[test]
    fn commands_parse_back() {
        let t = topics();
        assert_eq!(t.parse_command(&t.command("abc", 2)), Some(("abc", "2")));
        assert_eq!(
            t.parse_command(&t.set("abc", "light_0")),
            Some(("abc", "light_0"))
        );
        assert_eq!(
            t.parse_command("merossd/abc/climate_0_temperature/set"),
            Some(("abc", "climate_0_temperature"))
        );
        assert_eq!(t.parse_command("other/abc/0/set"), None);
        assert_eq!(t.parse_command("merossd/abc/set"), None);
        assert_eq!(t.parse_command("merossd/abc/0/x/set"), None);
        assert_eq!(t.parse_command("merossd/abc//set"), None);
    }

    #[test]
    fn a_light_channel_is_no_switch() {
        let mut d = plug();
        let mut f = crate::model::Families::default();
        crate::model::family::light::read(&mut f, &json!({"channel": 0, "capacity": 6})).unwrap();
        d.families = Some(Box::new(f));
        let e = entities(&topics(), &d, None);
        assert!(e.iter().all(|e| !e.topic.contains("/switch/")));
        assert!(e.iter().any(|e| e.topic.contains("/light/")));
        assert_eq!(e.len(), 5, "a light and the four sensors");
    }

    #[test]
    fn state_is_in_si_units() {
        let s = state(&plug(), Some(1.5));
        assert_eq!(
            s,
            json!({"switch_0": "ON", "power": 67.379, "voltage": 238.7, "current": 0.418, "energy": 1.5})
        );
    }
}
