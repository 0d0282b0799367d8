//! A hub's sub-devices: the hub digest lists them; the valves' and sensors' namespaces
//! are asked for the ids it listed.

use super::{everything, Family};
use crate::model::family::hub;
use crate::model::family::Families;
use serde_json::{json, Value};

/// The ids of the sub-devices of these kinds, as a request list `[{"id": ..}]`.
fn ids(families: &Families, kinds: &[&str]) -> Option<Value> {
    let list: Vec<Value> = families
        .subdevices
        .iter()
        .filter(|s| {
            s.kind
                .as_deref()
                .is_some_and(|k| kinds.iter().any(|want| k.starts_with(want)))
        })
        .map(|s| json!({"id": s.id}))
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// Hubs.
pub(super) const HUB: Family = Family {
    reads: &[
        ("Appliance.Digest.Hub", "hub", hub::read_digest),
        ("Appliance.Hub.Online", "online", hub::read_online),
        ("Appliance.Hub.Battery", "battery", hub::read_battery),
        ("Appliance.Hub.ToggleX", "togglex", hub::read_togglex),
        ("Appliance.Hub.Mts100.All", "all", hub::read_valves),
        ("Appliance.Hub.Mts100.Mode", "mode", hub::read_valve_mode),
        (
            "Appliance.Hub.Mts100.Temperature",
            "temperature",
            hub::read_valve_temperature,
        ),
        ("Appliance.Hub.Sensor.All", "all", hub::read_sensors),
        ("Appliance.Hub.Sensor.TempHum", "tempHum", hub::read_sensors),
        (
            "Appliance.Hub.Sensor.WaterLeak",
            "waterLeak",
            hub::read_leak,
        ),
        (
            "Appliance.Hub.Sensor.DoorWindow",
            "doorWindow",
            hub::read_door,
        ),
        ("Appliance.Hub.Sensor.Smoke", "smokeAlarm", hub::read_smoke),
    ],
    digest: &[("hub", hub::read_digest)],
    ability: &[],
    asks: &[
        ("Appliance.Digest.Hub", |_| Some(everything("hub"))),
        ("Appliance.Hub.Battery", |_| Some(json!({"battery": []}))),
        ("Appliance.Hub.Mts100.All", |f| {
            ids(f, &["mts"]).map(|all| json!({ "all": all }))
        }),
        ("Appliance.Hub.Sensor.All", |f| {
            ids(f, &["ms", "gs"]).map(|all| json!({ "all": all }))
        }),
    ],
    each: &[],
};
