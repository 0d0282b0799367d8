//! Diffusers (MOD100) and humidifiers (MSXH0): a spray and a light. MOD100: the digest's
//! `diffuser: {type, light: [..], spray: [{channel, mode}]}`, `Diffuser.Spray`
//! (`{"spray": [{channel, mode}]}`: 0 eco, 1 full, 2 off) and `Diffuser.Light` (see
//! `light`). MSXH0: the digest's `spray: [..]` and `Control.Spray` (`{"spray": {channel,
//! mode}}`: 0 off, 1 continuous, 2 intermittent), with a plain `Control.Light`.

use super::{entry, items, no_such, Command, CommandError, Families, Set};
use crate::model::Device;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// MOD100's spray.
pub const NS_DIFFUSER_SPRAY: &str = "Appliance.Control.Diffuser.Spray";
/// MSXH0's spray.
pub const NS_SPRAY: &str = "Appliance.Control.Spray";

/// MOD100 spray modes, by number.
const DIFFUSER_MODES: [&str; 3] = ["eco", "full", "off"];
/// MSXH0 spray modes, by number.
const HUMIDIFIER_MODES: [&str; 3] = ["off", "continuous", "intermittent"];

/// One spray.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spray {
    /// The channel (0).
    pub channel: u32,
    /// A diffuser's (MOD100: eco, full, off) or a humidifier's (MSXH0: off, continuous,
    /// intermittent).
    pub diffuser: bool,
    /// The mode, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

impl Spray {
    fn names(diffuser: bool) -> &'static [&'static str; 3] {
        if diffuser {
            &DIFFUSER_MODES
        } else {
            &HUMIDIFIER_MODES
        }
    }
}

#[derive(Debug, Deserialize)]
struct Wire {
    #[serde(default)]
    channel: u32,
    mode: usize,
}

fn read_sprays(
    families: &mut Families,
    value: &Value,
    diffuser: bool,
) -> Result<Vec<String>, String> {
    let wires: Vec<Wire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let new = || Spray {
            channel: w.channel,
            diffuser,
            mode: None,
        };
        let spray = entry(&mut families.sprays, |s| s.channel == w.channel, new);
        let mode = Spray::names(diffuser).get(w.mode).map(|m| (*m).to_owned());
        if spray.mode.is_some() && spray.mode != mode {
            changed.push(format!(
                "spray {} {}",
                w.channel,
                mode.as_deref().unwrap_or("?")
            ));
        }
        spray.mode = mode;
    }
    Ok(changed)
}

/// Reads a MOD100's `spray`.
pub fn read_diffuser_spray(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    read_sprays(families, value, true)
}

/// Reads an MSXH0's `spray`.
pub fn read_humidifier_spray(
    families: &mut Families,
    value: &Value,
) -> Result<Vec<String>, String> {
    read_sprays(families, value, false)
}

/// Reads the digest's `diffuser` (`{type, light, spray}`).
pub fn read_digest(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    if let Some(light) = value.get("light") {
        changed.extend(super::light::read_diffuser(families, light)?);
    }
    if let Some(spray) = value.get("spray") {
        changed.extend(read_diffuser_spray(families, spray)?);
    }
    Ok(changed)
}

/// Set a spray's mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprayCommand {
    /// The channel (default 0).
    #[serde(default)]
    pub channel: u32,
    /// A mode of this spray (see [`Spray::mode`]).
    pub mode: String,
}

impl Command for SprayCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let known: Vec<u32> = families.sprays.iter().map(|s| s.channel).collect();
        let Some(spray) = families.sprays.iter().find(|s| s.channel == self.channel) else {
            return Err(no_such("spray channel", self.channel, &known));
        };
        let names = Spray::names(spray.diffuser);
        let mode =
            names
                .iter()
                .position(|n| *n == self.mode)
                .ok_or_else(|| CommandError::Invalid {
                    field: "mode",
                    detail: format!(
                        "`{}` is not a mode of this spray: {}",
                        self.mode,
                        names.join(", ")
                    ),
                })?;
        let set = if spray.diffuser {
            Set {
                namespace: NS_DIFFUSER_SPRAY,
                payload: json!({"spray": [{"channel": self.channel, "mode": mode}]}),
            }
        } else {
            Set {
                namespace: NS_SPRAY,
                payload: json!({"spray": {"channel": self.channel, "mode": mode}}),
            }
        };
        Ok(vec![set])
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Some(s) = families
            .sprays
            .iter_mut()
            .find(|s| s.channel == self.channel)
        {
            s.mode = Some(self.mode.clone());
        }
    }
}
