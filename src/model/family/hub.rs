//! A hub (MSH300) and its sub-devices: MTS100/150 radiator valves, MS100 temperature and
//! humidity sensors, MS200 door/window sensors, MS400 leak sensors, GS559 smoke alarms.
//! Sub-devices are keyed by their `id` (or `subId`), not by channel. `Digest.Hub`
//! (`{"hub": {hubId, subdevice: [{id, status, onoff, lastActiveTime, <type>: {..}}]}}`)
//! lists them; `Hub.Online`, `Hub.Battery`, `Hub.ToggleX`, `Hub.Mts100.All`,
//! `Hub.Sensor.All` and the sensors' own namespaces answer `[{id, ..}]`. Temperatures are
//! tenths of a degree, humidity tenths of a percent. Shapes from `PROTOCOL.md` §4a: no
//! hub was recorded among the traces.

use super::{entry, items, Families};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Sub-device types as the digest names them.
const KINDS: [&str; 10] = [
    "mts100", "mts100v3", "mts150", "mts150p", "ms100", "ms100f", "ms200", "ms400", "gs559",
    "ms130",
];
/// A valve's modes (`Hub.Mts100.Mode` `state`), by number.
pub(super) const VALVE_MODES: [&str; 5] = ["custom", "comfort", "economy", "auto", "away"];

/// One sub-device of a hub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubDevice {
    /// Its id on the hub (hex, e.g. `01008C11`).
    pub id: String,
    /// Its type, e.g. `mts100v3` or `ms100`, when the digest said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Reachable by the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// Battery, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_percent: Option<u8>,
    /// A valve: switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<bool>,
    /// A valve: custom, comfort, economy, auto or away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Measured temperature, °C (a valve's room, a sensor's latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// A valve: the set point in force, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_c: Option<f64>,
    /// A valve: its lowest and highest set point, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_c: Option<f64>,
    /// See `min_c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_c: Option<f64>,
    /// A valve: heating now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heating: Option<bool>,
    /// A valve: a window was detected open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_open: Option<bool>,
    /// Relative humidity, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub humidity_percent: Option<f64>,
    /// A leak sensor: water found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak: Option<bool>,
    /// A door/window sensor: open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_open: Option<bool>,
    /// A smoke alarm's status code, as the device sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke_status: Option<u64>,
    /// When the hub last heard it, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<u64>,
}

/// A sub-device's item of a payload, by its id.
type Item = (String, Map<String, Value>);

/// Every item of a payload with its id, or an error before anything is changed.
fn with_ids(value: &Value) -> Result<Vec<Item>, String> {
    let list: Vec<Map<String, Value>> = items(value)?;
    list.into_iter()
        .map(|item| {
            let id = item
                .get("id")
                .or_else(|| item.get("subId"))
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty() && id.len() <= 32)
                .ok_or("a sub-device item without an id")?
                .to_owned();
            Ok((id, item))
        })
        .collect()
}

fn sub<'a>(families: &'a mut Families, id: &str) -> &'a mut SubDevice {
    let new = || SubDevice {
        id: id.to_owned(),
        ..SubDevice::default()
    };
    entry(&mut families.subdevices, |s| s.id == id, new)
}

fn int(item: &Map<String, Value>, key: &str) -> Option<i64> {
    item.get(key).and_then(Value::as_i64)
}

fn deci(item: &Map<String, Value>, key: &str) -> Option<f64> {
    int(item, key).map(super::deci)
}

fn object<'a>(item: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    item.get(key).and_then(Value::as_object)
}

/// Reads the digest's `hub` (`{hubId, subdevice: [...]}`).
pub fn read_digest(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let Some(list) = value.get("subdevice") else {
        return Ok(Vec::new());
    };
    let subs = with_ids(list)?;
    for (id, item) in subs {
        let s = sub(families, &id);
        if let Some(status) = int(&item, "status") {
            s.online = Some(status == 1);
        }
        if let Some(onoff) = int(&item, "onoff") {
            s.on = Some(onoff != 0);
        }
        s.last_active = int(&item, "lastActiveTime")
            .map(|t| t as u64)
            .or(s.last_active);
        if let Some(kind) = KINDS.iter().find(|k| item.contains_key(**k)) {
            s.kind = Some((*kind).to_owned());
            if let Some(mode) = object(&item, kind).and_then(|o| int(o, "mode")) {
                s.mode = VALVE_MODES.get(mode as usize).map(|m| (*m).to_owned());
            }
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.Online` (`[{id, status}]`).
pub fn read_online(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    for (id, item) in with_ids(value)? {
        let online = int(&item, "status") == Some(1);
        let s = sub(families, &id);
        if s.online.is_some_and(|was| was != online) {
            changed.push(format!(
                "sub-device {id} {}",
                if online { "online" } else { "offline" }
            ));
        }
        s.online = Some(online);
    }
    Ok(changed)
}

/// Reads `Hub.Battery` (`[{id, value}]`).
pub fn read_battery(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        if let Some(v) = int(&item, "value") {
            sub(families, &id).battery_percent = Some(v.clamp(0, 100) as u8);
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.ToggleX` (`[{id, onoff}]`).
pub fn read_togglex(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        if let Some(onoff) = int(&item, "onoff") {
            sub(families, &id).on = Some(onoff != 0);
        }
    }
    Ok(Vec::new())
}

/// Reads a valve's `temperature` block (of `Hub.Mts100.All` or `.Temperature`).
fn valve_temperature(s: &mut SubDevice, t: &Map<String, Value>) {
    s.temperature_c = deci(t, "room").or(s.temperature_c);
    s.target_c = deci(t, "currentSet").or(s.target_c);
    s.min_c = deci(t, "min").or(s.min_c);
    s.max_c = deci(t, "max").or(s.max_c);
    if let Some(h) = int(t, "heating") {
        s.heating = Some(h != 0);
    }
    if let Some(w) = int(t, "openWindow") {
        s.window_open = Some(w != 0);
    }
}

/// Reads `Hub.Mts100.All` (`[{id, temperature: {..}, mode: {state}, togglex: {onoff}}]`).
pub fn read_valves(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        let s = sub(families, &id);
        if let Some(t) = object(&item, "temperature") {
            valve_temperature(s, t);
        }
        if let Some(mode) = object(&item, "mode").and_then(|m| int(m, "state")) {
            s.mode = VALVE_MODES.get(mode as usize).map(|m| (*m).to_owned());
        }
        if let Some(onoff) = object(&item, "togglex").and_then(|t| int(t, "onoff")) {
            s.on = Some(onoff != 0);
        }
        if let Some(status) = object(&item, "online").and_then(|o| int(o, "status")) {
            s.online = Some(status == 1);
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.Mts100.Temperature` (`[{id, room, currentSet, ..}]`).
pub fn read_valve_temperature(
    families: &mut Families,
    value: &Value,
) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        valve_temperature(sub(families, &id), &item);
    }
    Ok(Vec::new())
}

/// Reads `Hub.Mts100.Mode` (`[{id, state}]`).
pub fn read_valve_mode(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        if let Some(mode) = int(&item, "state") {
            sub(families, &id).mode = VALVE_MODES.get(mode as usize).map(|m| (*m).to_owned());
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.Sensor.All` (`[{id, temperature: {latest}, humidity: {latest}, ..}]`) and
/// `Hub.Sensor.TempHum` (`[{id, latestTemperature, latestHumidity}]`).
pub fn read_sensors(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        let s = sub(families, &id);
        let latest = |key: &str| object(&item, key).and_then(|o| deci(o, "latest"));
        s.temperature_c = latest("temperature")
            .or_else(|| deci(&item, "latestTemperature"))
            .or(s.temperature_c);
        s.humidity_percent = latest("humidity")
            .or_else(|| deci(&item, "latestHumidity"))
            .or(s.humidity_percent);
        if let Some(status) = object(&item, "online").and_then(|o| int(o, "status")) {
            s.online = Some(status == 1);
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.Sensor.WaterLeak` (`[{id, latestWaterLeak}]`).
pub fn read_leak(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    for (id, item) in with_ids(value)? {
        if let Some(leak) = int(&item, "latestWaterLeak").map(|l| l != 0) {
            let s = sub(families, &id);
            if leak && s.leak != Some(true) {
                changed.push(format!("sub-device {id} found water"));
            }
            s.leak = Some(leak);
        }
    }
    Ok(changed)
}

/// Reads `Hub.Sensor.DoorWindow` (`[{id, status}]`).
pub fn read_door(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        if let Some(status) = int(&item, "status") {
            sub(families, &id).door_open = Some(status != 0);
        }
    }
    Ok(Vec::new())
}

/// Reads `Hub.Sensor.Smoke` (`[{id, status}]`).
pub fn read_smoke(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    for (id, item) in with_ids(value)? {
        if let Some(status) = int(&item, "status") {
            sub(families, &id).smoke_status = Some(status as u64);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_hub_lists_its_valve_and_sensor_and_reads_their_state() {
        let mut f = Families::default();
        let digest = json!({"hubId": 1, "subdevice": [
            {"id": "01008C11", "status": 1, "onoff": 1, "lastActiveTime": 1700000000, "mts100v3": {"mode": 3}},
            {"id": "0500A1B2", "status": 1, "ms100": {"latestTemperature": 215}}
        ]});
        read_digest(&mut f, &digest).unwrap();
        read_valves(&mut f, &json!([{"id": "01008C11", "temperature": {"room": 195, "currentSet": 210, "min": 50, "max": 350, "heating": 1, "openWindow": 0}}])).unwrap();
        read_sensors(&mut f, &json!([{"id": "0500A1B2", "temperature": {"latest": 215}, "humidity": {"latest": 553}}])).unwrap();
        let valve = &f.subdevices[0];
        assert_eq!(
            (valve.kind.as_deref(), valve.mode.as_deref()),
            (Some("mts100v3"), Some("auto"))
        );
        assert_eq!(
            (valve.temperature_c, valve.target_c, valve.heating),
            (Some(19.5), Some(21.0), Some(true))
        );
        let sensor = &f.subdevices[1];
        assert_eq!(
            (sensor.temperature_c, sensor.humidity_percent),
            (Some(21.5), Some(55.3))
        );
    }

    #[test]
    fn an_item_without_an_id_changes_nothing() {
        let mut f = Families::default();
        assert!(read_battery(&mut f, &json!([{"id": "01", "value": 80}, {"value": 10}])).is_err());
        assert!(f.subdevices.is_empty());
    }
}
