//! Roller shutters (MRS100): `RollerShutter.Position {"position": [{channel, position}]}`
//! (0 closed to 100 open; firmware before 6.6.6 reports only 0 and 100) and
//! `RollerShutter.State {"state": [{channel, state, stoppedBy}]}` (0 idle, 1 opening,
//! 2 closing). `SET RollerShutter.Position {"position": {channel, position}}` moves it;
//! position -1 stops it.

use super::{entry, items, no_such, within, Command, CommandError, Families, Set};
use crate::model::Device;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The position namespace.
pub const NS_POSITION: &str = "Appliance.RollerShutter.Position";
/// The motion namespace.
pub const NS_STATE: &str = "Appliance.RollerShutter.State";

/// One shutter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shutter {
    /// The channel (0).
    pub channel: u32,
    /// 0 closed to 100 open, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u8>,
    /// `idle`, `opening` or `closing`, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PositionWire {
    #[serde(default)]
    channel: u32,
    position: i64,
}

#[derive(Debug, Deserialize)]
struct StateWire {
    #[serde(default)]
    channel: u32,
    state: u8,
}

fn shutter(families: &mut Families, channel: u32) -> &mut Shutter {
    let new = || Shutter {
        channel,
        ..Shutter::default()
    };
    entry(&mut families.shutters, |s| s.channel == channel, new)
}

/// Reads `position`.
pub fn read_position(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<PositionWire> = items(value)?;
    for w in wires
        .into_iter()
        .filter(|w| (0..=100).contains(&w.position))
    {
        shutter(families, w.channel).position = Some(w.position as u8);
    }
    Ok(Vec::new())
}

/// Reads `state`.
pub fn read_state(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<StateWire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let motion = match w.state {
            1 => "opening",
            2 => "closing",
            _ => "idle",
        };
        let s = shutter(families, w.channel);
        if s.motion.as_deref().is_some_and(|m| m != motion) {
            changed.push(format!("shutter {} {motion}", w.channel));
        }
        s.motion = Some(motion.to_owned());
    }
    Ok(changed)
}

/// What a shutter is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutterAction {
    /// All the way up (100).
    Open,
    /// All the way down (0).
    Close,
    /// Stop where it is.
    Stop,
}

/// Move a shutter: to a position, or open, close, stop.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutterCommand {
    /// The channel (default 0).
    #[serde(default)]
    pub channel: u32,
    /// 0 (closed) to 100 (open).
    pub position: Option<i64>,
    /// open, close or stop.
    pub action: Option<ShutterAction>,
}

impl Command for ShutterCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let known: Vec<u32> = families.shutters.iter().map(|s| s.channel).collect();
        if !known.contains(&self.channel) {
            return Err(no_such("shutter channel", self.channel, &known));
        }
        let position: i64 =
            match (self.position, self.action) {
                (Some(p), None) => within("position", p, 0, 100)?,
                (None, Some(ShutterAction::Open)) => 100,
                (None, Some(ShutterAction::Close)) => 0,
                (None, Some(ShutterAction::Stop)) => -1,
                _ => return Err(CommandError::Invalid {
                    field: "position",
                    detail:
                        "send a position (0 to 100) or an action (open, close, stop), one of them"
                            .into(),
                }),
            };
        Ok(vec![Set {
            namespace: NS_POSITION,
            payload: json!({"position": {"channel": self.channel, "position": position}}),
        }])
    }
}
