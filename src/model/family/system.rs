//! What every device has: do-not-disturb (`System.DNDMode {"DNDMode": {"mode": 1}}`,
//! 1 = the LED stays off; the device sends no PUSH when it changes) and its Wi-Fi signal
//! (`System.Runtime {"runtime": {"signal": 57}}`, percent).

use super::{Command, CommandError, Families, Set};
use crate::model::Device;
use serde::Deserialize;
use serde_json::{json, Value};

/// Do-not-disturb.
pub const NS_DND: &str = "Appliance.System.DNDMode";
/// Runtime figures: the signal.
pub const NS_RUNTIME: &str = "Appliance.System.Runtime";

/// Reads `DNDMode` (`{"mode": 0|1}`).
pub fn read_dnd(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let mode = value
        .get("mode")
        .and_then(Value::as_u64)
        .ok_or("no `mode` number")?;
    let on = mode != 0;
    let changed = families.dnd.is_some_and(|was| was != on);
    families.dnd = Some(on);
    Ok(if changed {
        vec![format!("do-not-disturb {}", if on { "on" } else { "off" })]
    } else {
        Vec::new()
    })
}

/// Reads `runtime` (`{"signal": 57}`).
pub fn read_runtime(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let signal = value
        .get("signal")
        .and_then(Value::as_u64)
        .ok_or("no `signal` number")?;
    families.signal_percent = Some(signal.min(100) as u8);
    Ok(Vec::new())
}

/// `SET ToggleX` for one channel (a dimmer's or light's on/off).
pub(crate) fn togglex(channel: u32, on: bool) -> Set {
    Set {
        namespace: "Appliance.Control.ToggleX",
        payload: json!({"togglex": {"channel": channel, "onoff": super::onoff(on)}}),
    }
}

/// Do-not-disturb on (LED off) or off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DndCommand {
    /// True: the LED stays off.
    pub on: bool,
}

impl Command for DndCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let listed = device.families.as_ref().is_some_and(|f| f.dnd.is_some());
        if !listed {
            return Err(CommandError::Unsupported(
                "This device has not reported a do-not-disturb mode.".into(),
            ));
        }
        Ok(vec![Set {
            namespace: NS_DND,
            payload: json!({"DNDMode": {"mode": super::onoff(self.on)}}),
        }])
    }

    fn acknowledged(&self, families: &mut Families) {
        families.dnd = Some(self.on);
    }
}
