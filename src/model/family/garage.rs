//! Garage door openers (MSG100, MSG200 with doors on channels 1 to 3): the digest's
//! `garageDoor: [{channel, open, lmTime}]`, `GarageDoor.State {"state": ...}` (an object,
//! or a list on newer firmware), and `SET GarageDoor.State {"state": {channel, open}}`,
//! whose SETACK says the state *now* (`open`) and whether the door moves (`execute`);
//! the door's PUSH tells when it is there.

use super::{entry, items, no_such, Command, CommandError, Families, Set};
use crate::model::Device;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The state namespace.
pub const NS_STATE: &str = "Appliance.GarageDoor.State";

/// One door.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GarageDoor {
    /// The channel (0 on an MSG100; 1 to 3 on an MSG200).
    pub channel: u32,
    /// Open (as its sensor says), false when closed.
    pub open: bool,
    /// Moving towards open (true) or closed (false) since a command the device took,
    /// until it reports it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<bool>,
    /// When it last changed, seconds since the epoch by the device's clock (0: unknown).
    #[serde(default)]
    pub changed_at: u64,
}

#[derive(Debug, Deserialize)]
struct Wire {
    #[serde(default)]
    channel: u32,
    open: u8,
    #[serde(rename = "lmTime")]
    lm_time: Option<u64>,
    execute: Option<u8>,
}

/// Reads the doors of a digest, a GET's answer, a SETACK or a PUSH.
pub fn read(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<Wire> = items(value)?;
    let mut changed = Vec::new();
    for w in wires {
        let open = w.open != 0;
        let new = || GarageDoor {
            channel: w.channel,
            open,
            ..GarageDoor::default()
        };
        let door = entry(&mut families.garage_doors, |d| d.channel == w.channel, new);
        if door.open != open {
            let word = if open { "opened" } else { "closed" };
            changed.push(format!("door {} {word}", w.channel));
        }
        door.open = open;
        if let Some(at) = w.lm_time.filter(|t| *t > 0) {
            door.changed_at = at;
        }
        match w.execute {
            // A SETACK: the door acts (1), towards the other state, or stays (0).
            Some(execute) => door.moving_to = (execute != 0).then_some(!open),
            None if door.moving_to == Some(open) => door.moving_to = None,
            None => {}
        }
    }
    Ok(changed)
}

/// Open or close one door.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GarageCommand {
    /// The door's channel (default 0; an MSG200's are 1 to 3).
    #[serde(default)]
    pub channel: u32,
    /// True: open it; false: close it.
    pub open: bool,
}

impl Command for GarageCommand {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = super::of(device);
        let doors: Vec<u32> = families.garage_doors.iter().map(|d| d.channel).collect();
        if !doors.contains(&self.channel) {
            return Err(no_such("door", self.channel, &doors));
        }
        Ok(vec![Set {
            namespace: NS_STATE,
            payload: json!({"state": {"channel": self.channel, "open": super::onoff(self.open)}}),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_door_reads_from_the_digest_and_moves_until_its_push() {
        let mut f = Families::default();
        read(&mut f, &json!([{"channel": 0, "open": 1, "lmTime": 0}])).unwrap();
        assert!(f.garage_doors[0].open);
        // The SETACK of a close says the state now and that the door acts.
        read(
            &mut f,
            &json!({"channel": 0, "open": 1, "lmTime": 0, "execute": 1}),
        )
        .unwrap();
        assert_eq!(f.garage_doors[0].moving_to, Some(false));
        let changed = read(&mut f, &json!([{"channel": 0, "open": 0, "lmTime": 99}])).unwrap();
        assert_eq!(changed, ["door 0 closed"]);
        assert_eq!(
            (f.garage_doors[0].moving_to, f.garage_doors[0].changed_at),
            (None, 99)
        );
    }
}
