//! A built-in hub profile (MSH300 with an MTS100v3 radiator valve and an MS100
//! temperature/humidity sensor), for trying hubs without hardware: no hub is among the
//! recorded traces, so its payloads follow the shapes in PROTOCOL.md §4a.

use super::trace::Profile;
use serde_json::json;
use std::collections::HashMap;

/// The valve's id on the hub.
pub const VALVE: &str = "01008C11";
/// The sensor's id on the hub.
pub const SENSOR: &str = "0500A1B2";

impl Profile {
    /// An MSH300 hub with one valve ([`VALVE`]) and one sensor ([`SENSOR`]).
    pub fn hub() -> Profile {
        let mut ability = serde_json::Map::new();
        for ns in [
            "Appliance.Config.Key",
            "Appliance.Config.Wifi",
            "Appliance.System.All",
            "Appliance.System.Ability",
            "Appliance.System.Online",
            "Appliance.System.Time",
            "Appliance.System.Clock",
            "Appliance.System.Runtime",
            "Appliance.System.Report",
            "Appliance.System.DNDMode",
            "Appliance.Control.Bind",
            "Appliance.Control.Unbind",
            "Appliance.Digest.Hub",
            "Appliance.Hub.Online",
            "Appliance.Hub.Battery",
            "Appliance.Hub.ToggleX",
            "Appliance.Hub.Mts100.All",
            "Appliance.Hub.Mts100.Mode",
            "Appliance.Hub.Mts100.Temperature",
            "Appliance.Hub.Sensor.All",
            "Appliance.Hub.Sensor.TempHum",
        ] {
            ability.insert(ns.to_owned(), json!({}));
        }
        ability.insert("Appliance.Control.Multiple".into(), json!({"maxCmdNum": 5}));
        let hub = json!({"hubId": 1_234_567, "mode": 0, "subdevice": [
            {"id": VALVE, "status": 1, "onoff": 1, "lastActiveTime": 1_700_000_000, "mts100v3": {"mode": 3}},
            {"id": SENSOR, "status": 1, "lastActiveTime": 1_700_000_000, "ms100": {"latestTemperature": 215, "latestHumidity": 553, "voltage": 2900}}
        ]});
        let all = json!({
            "system": {
                "hardware": {"type": "msh300", "subType": "un", "version": "4.0.0", "chipType": "MT7686",
                             "uuid": "", "macAddress": ""},
                "firmware": {"version": "4.1.35", "compileTime": "2021/06/08 10:00:00", "wifiMac": "",
                             "innerIp": "", "server": "", "port": 0, "userId": 0},
                "time": {"timestamp": 0, "timezone": "", "timeRule": []},
                "online": {"status": 1}
            },
            "digest": {"hub": hub.clone()}
        });
        let mut recorded = HashMap::new();
        recorded.insert("Appliance.Digest.Hub".to_owned(), json!({ "hub": hub }));
        recorded.insert(
            "Appliance.System.Runtime".to_owned(),
            json!({"runtime": {"signal": 64}}),
        );
        recorded.insert(
            "Appliance.Hub.Battery".to_owned(),
            json!({"battery": [
                {"id": VALVE, "value": 80}, {"id": SENSOR, "value": 95}
            ]}),
        );
        recorded.insert(
            "Appliance.Hub.Mts100.All".to_owned(),
            json!({"all": [{
                "id": VALVE, "scheduleBMode": 6, "online": {"status": 1}, "togglex": {"onoff": 1},
                "mode": {"state": 3},
                "temperature": {"room": 195, "currentSet": 210, "custom": 200, "comfort": 220,
                                "economy": 180, "away": 120, "min": 50, "max": 350, "heating": 1,
                                "openWindow": 0}
            }]}),
        );
        recorded.insert(
            "Appliance.Hub.Sensor.All".to_owned(),
            json!({"all": [{
                "id": SENSOR, "online": {"status": 1},
                "temperature": {"latest": 215, "max": 600, "min": -200},
                "humidity": {"latest": 553, "max": 1000, "min": 0}
            }]}),
        );
        Profile {
            all,
            ability: serde_json::Value::Object(ability),
            recorded,
            uuid: None,
        }
    }
}
