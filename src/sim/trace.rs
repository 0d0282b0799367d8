//! Device profiles for the simulator: a built-in metering plug, or one read from a
//! recorded trace (the tab-separated `.csv` of five or six columns, or the `.json.txt`
//! diagnostics export).

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// What a simulated device is: its `System.All` (the content of `all`), its abilities,
/// and the recorded answers to other GETs.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The `all` of its System.All GETACK: hardware, firmware, time, digest.
    pub all: Value,
    /// The `ability` of its System.Ability GETACK: namespace -> parameters.
    pub ability: Value,
    /// namespace -> recorded GETACK payload
    pub recorded: HashMap<String, Value>,
    /// The uuid the trace was recorded with (from its file name), if any.
    pub uuid: Option<String>,
}

/// Why a trace file made no profile; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// Not a trace: bad JSON or rows, or no System.All or System.Ability row.
    #[error("{0}: {1}")]
    Format(String, String),
}

impl Profile {
    /// A metering plug like the MSS310 on firmware 2.x: one channel, ToggleX, Electricity,
    /// ConsumptionX. Its time zone is unset, as on a freshly paired plug.
    pub fn metering_plug() -> Profile {
        let ability = json!({
            "Appliance.Config.Key": {}, "Appliance.Config.WifiList": {}, "Appliance.Config.Wifi": {},
            "Appliance.Config.Trace": {}, "Appliance.System.All": {}, "Appliance.System.Hardware": {},
            "Appliance.System.Firmware": {}, "Appliance.System.Debug": {}, "Appliance.System.Online": {},
            "Appliance.System.Time": {}, "Appliance.System.Clock": {}, "Appliance.System.Ability": {},
            "Appliance.System.Runtime": {}, "Appliance.System.Report": {}, "Appliance.System.Position": {},
            "Appliance.System.DNDMode": {}, "Appliance.Control.Multiple": {"maxCmdNum": 5},
            "Appliance.Control.ToggleX": {}, "Appliance.Control.TimerX": {"sunOffsetSupport": 1},
            "Appliance.Control.TriggerX": {}, "Appliance.Control.Bind": {}, "Appliance.Control.Unbind": {},
            "Appliance.Control.Upgrade": {}, "Appliance.Control.ConsumptionX": {},
            "Appliance.Control.Electricity": {}, "Appliance.Control.ConsumptionConfig": {},
            "Appliance.Digest.TriggerX": {}, "Appliance.Digest.TimerX": {}
        });
        let all = json!({
            "system": {
                "hardware": {"type": "mss310", "subType": "us", "version": "2.0.0", "chipType": "MT7682",
                             "uuid": "", "macAddress": ""},
                "firmware": {"version": "2.1.17", "compileTime": "2022/08/19 10:05:03 GMT +08:00",
                             "wifiMac": "", "innerIp": "", "server": "", "port": 0, "userId": 0},
                "time": {"timestamp": 0, "timezone": "", "timeRule": []},
                "online": {"status": 1}
            },
            "digest": {"togglex": [{"channel": 0, "onoff": 0, "lmTime": 0}], "triggerx": [], "timerx": []}
        });
        let mut recorded = HashMap::new();
        recorded.insert(
            "Appliance.System.Runtime".to_owned(),
            json!({"runtime": {"signal": 80}}),
        );
        recorded.insert(
            "Appliance.Control.ConsumptionConfig".to_owned(),
            json!({"config": {"voltageRatio": 188, "electricityRatio": 102, "maxElectricityCurrent": 11000}}),
        );
        Profile {
            all,
            ability,
            recorded,
            uuid: None,
        }
    }

    /// Reads a trace file in either format.
    pub fn from_trace(path: &Path) -> Result<Profile, TraceError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TraceError::Read(name.clone(), e))?;
        let rows = if text.trim_start().starts_with('{') {
            json_rows(&text).map_err(|e| TraceError::Format(name.clone(), e))?
        } else {
            csv_rows(&text)
        };
        let mut all = None;
        let mut ability = None;
        let mut recorded = HashMap::new();
        for row in rows {
            match (row.method.as_str(), row.namespace.as_str()) {
                ("GETACK", "Appliance.System.All") if all.is_none() => {
                    // The first row holds the content of `all`; later ones the whole payload.
                    all = Some(row.data.get("all").cloned().unwrap_or(row.data));
                }
                ("GETACK", "Appliance.System.Ability") if ability.is_none() => {
                    ability = Some(row.data.get("ability").cloned().unwrap_or(row.data));
                }
                ("GETACK", namespace) if !recorded.contains_key(namespace) => {
                    recorded.insert(namespace.to_owned(), row.data);
                }
                _ => {}
            }
        }
        let all =
            all.ok_or_else(|| TraceError::Format(name.clone(), "no System.All row".into()))?;
        let ability = ability
            .ok_or_else(|| TraceError::Format(name.clone(), "no System.Ability row".into()))?;
        let uuid = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_prefix('U'))
            .and_then(|f| f.split('-').next())
            .filter(|u| u.len() == 32 && u.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_owned);
        Ok(Profile {
            all,
            ability,
            recorded,
            uuid,
        })
    }

    /// Its hardware type (`mss310`), from System.All.
    pub fn hardware_type(&self) -> Option<&str> {
        self.all.pointer("/system/hardware/type")?.as_str()
    }

    /// Its firmware version (`2.1.17`), from System.All.
    pub fn firmware_version(&self) -> Option<&str> {
        self.all.pointer("/system/firmware/version")?.as_str()
    }
}

struct Row {
    method: String,
    namespace: String,
    data: Value,
}

/// Six columns `time rxtx protocol method namespace data`, or five without `rxtx`.
fn csv_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (method, namespace, data) = match cols.len() {
                6 => (cols[3], cols[4], cols[5]),
                5 => (cols[2], cols[3], cols[4]),
                _ => return None,
            };
            let data = serde_json::from_str(data).ok()?;
            Some(Row {
                method: method.to_owned(),
                namespace: namespace.to_owned(),
                data,
            })
        })
        .collect()
}

fn json_rows(text: &str) -> Result<Vec<Row>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let data = doc.get("data").ok_or("no `data`")?;
    let mut rows = Vec::new();
    if let Some(payload) = data.get("payload") {
        for (ns, key) in [
            ("Appliance.System.All", "all"),
            ("Appliance.System.Ability", "ability"),
        ] {
            if let Some(v) = payload.get(key) {
                rows.push(Row {
                    method: "GETACK".into(),
                    namespace: ns.into(),
                    data: v.clone(),
                });
            }
        }
    }
    for row in data
        .get("trace")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .skip(1)
    {
        let cols = row.as_array().ok_or("a trace row is not a list")?;
        if cols.len() < 6 {
            continue;
        }
        let data = match &cols[5] {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            other => other.clone(),
        };
        rows.push(Row {
            method: cols[3].as_str().unwrap_or_default().to_owned(),
            namespace: cols[4].as_str().unwrap_or_default().to_owned(),
            data,
        });
    }
    Ok(rows)
}
