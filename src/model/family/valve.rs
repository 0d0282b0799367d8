//! Commands to a hub's radiator valve (MTS100/150): on or off (`Hub.ToggleX`), its mode
//! (`Hub.Mts100.Mode`: 0 custom, 1 comfort, 2 economy, 3 auto, 4 away) and its custom set
//! point (`Hub.Mts100.Temperature`, tenths of a degree), each a list of `{id, ..}`.

use super::hub::VALVE_MODES;
use super::{Command, CommandError, Families, Set};
use crate::model::Device;
use serde::Deserialize;
use serde_json::json;

/// What to change on a valve; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubDeviceCommand {
    /// The sub-device's id (from the route).
    #[serde(skip)]
    pub id: String,
    /// On or off.
    pub on: Option<bool>,
    /// custom, comfort, economy, auto or away.
    pub mode: Option<String>,
    /// The custom set point, °C (the valve goes to custom mode to hold it).
    pub target_c: Option<f64>,
}

impl Command for SubDeviceCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let Some(s) = families.subdevices.iter().find(|s| s.id == self.id) else {
            let ids: Vec<&str> = families.subdevices.iter().map(|s| s.id.as_str()).collect();
            return Err(super::no_such("sub-device", self.id.as_str(), &ids));
        };
        // Only a valve takes commands; a sensor whose kind is known says so.
        if s.kind.as_deref().is_some_and(|k| !k.starts_with("mts")) {
            return Err(CommandError::Unsupported(format!(
                "Sub-device {} is a {}: only radiator valves take commands.",
                s.id,
                s.kind.as_deref().unwrap_or("sensor")
            )));
        }
        let mut sets = Vec::new();
        if let Some(on) = self.on {
            sets.push(Set {
                namespace: "Appliance.Hub.ToggleX",
                payload: json!({"togglex": [{"id": s.id, "onoff": super::onoff(on)}]}),
            });
        }
        let mut mode = match &self.mode {
            None => None,
            Some(m) => Some(VALVE_MODES.iter().position(|n| n == m).ok_or_else(|| {
                CommandError::Invalid {
                    field: "mode",
                    detail: format!("`{m}` is not a valve mode: {}", VALVE_MODES.join(", ")),
                }
            })?),
        };
        if let (Some(_), Some(m)) = (self.target_c, mode.filter(|m| *m != 0)) {
            return Err(CommandError::Invalid {
                field: "target_c",
                detail: format!(
                    "a valve holds a set point of its own in custom mode, not in {}: leave out mode, or send custom",
                    VALVE_MODES[m]
                ),
            });
        }
        if let Some(target) = self.target_c {
            let (low, high) = (s.min_c.unwrap_or(5.0), s.max_c.unwrap_or(35.0));
            if !target.is_finite() || target < low || target > high {
                return Err(CommandError::Invalid {
                    field: "target_c",
                    detail: format!("{target} °C is out of range: from {low} to {high}"),
                });
            }
            sets.push(Set {
                namespace: "Appliance.Hub.Mts100.Temperature",
                payload: json!({"temperature": [{"id": s.id, "custom": (target * 10.0).round() as i64}]}),
            });
            mode = mode.or(Some(0));
        }
        if let Some(mode) = mode {
            sets.push(Set {
                namespace: "Appliance.Hub.Mts100.Mode",
                payload: json!({"mode": [{"id": s.id, "state": mode}]}),
            });
        }
        if sets.is_empty() {
            return Err(CommandError::Invalid {
                field: "on",
                detail: "nothing to change: send on, mode or target_c".into(),
            });
        }
        Ok(sets)
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Some(s) = families.subdevices.iter_mut().find(|s| s.id == self.id) {
            s.on = self.on.or(s.on);
            if let Some(target) = self.target_c {
                s.target_c = Some(target);
                s.mode = Some("custom".into());
            }
            if self.mode.is_some() {
                s.mode = self.mode.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::family::hub;

    fn hub_with(kind: &str) -> Device {
        let mut f = Families::default();
        let digest = json!({"subdevice": [{"id": "01", "status": 1, kind: {}}]});
        hub::read_digest(&mut f, &digest).unwrap();
        let mut d = Device::new("hub", 1);
        d.families = Some(Box::new(f));
        d
    }

    #[test]
    fn a_set_point_goes_with_custom_mode_and_a_sensor_takes_no_command() {
        let valve = hub_with("mts100v3");
        let target = SubDeviceCommand {
            id: "01".into(),
            target_c: Some(22.0),
            ..Default::default()
        };
        let sets = target.sets(&valve).unwrap();
        assert_eq!(
            sets[0].payload,
            json!({"temperature": [{"id": "01", "custom": 220}]})
        );
        assert_eq!(sets[1].payload, json!({"mode": [{"id": "01", "state": 0}]}));
        let comfort = SubDeviceCommand {
            mode: Some("comfort".into()),
            ..target
        };
        assert!(matches!(
            comfort.sets(&valve),
            Err(CommandError::Invalid {
                field: "target_c",
                ..
            })
        ));
        let sensor = hub_with("ms100");
        let on = SubDeviceCommand {
            id: "01".into(),
            on: Some(true),
            ..Default::default()
        };
        assert!(matches!(
            on.sets(&sensor),
            Err(CommandError::Unsupported(_))
        ));
    }
}
