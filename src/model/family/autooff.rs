//! One channel's auto-off as a single number of minutes (what Home Assistant's `number`
//! sets): more than 0 changes the channel's rule (enabling it) or makes one, 0 removes
//! the channel's rules. The rules themselves are `trigger`'s.

use super::trigger::{DeleteTrigger, NewTrigger, TriggerChange, TriggerSpec};
use super::{Command, CommandError, Families, Set};
use crate::model::Device;
use crate::protocol::Method;

/// Auto-off of `channel` after `minutes` (0: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoOff {
    /// The channel.
    pub channel: u32,
    /// Minutes after it is turned on; 0 removes its auto-off.
    pub minutes: u32,
    /// The id a new rule gets (see `items::new_id`).
    pub id: String,
    /// Now, seconds since the epoch.
    pub now: u64,
}

/// The ids of the channel's writable rules, the enabled ones first (the first is the one
/// [`minutes`] reports, and so the one a new value changes).
pub fn rules(families: &Families, channel: u32) -> Vec<String> {
    let triggers = families.schedules.as_deref().map(|s| &s.triggers[..]);
    let mut mine: Vec<_> = (triggers.unwrap_or_default().iter())
        .filter(|t| t.channel == channel && !t.read_only && !t.pending)
        .collect();
    mine.sort_by_key(|t| !t.enabled);
    mine.into_iter().map(|t| t.id.clone()).collect()
}

/// The minutes of the channel's enabled auto-off, 0 when it has none.
pub fn minutes(families: &Families, channel: u32) -> u64 {
    let triggers = families.schedules.as_deref().map(|s| &s.triggers[..]);
    (triggers.unwrap_or_default().iter())
        .find(|t| t.channel == channel && t.enabled && !t.pending && !t.read_only)
        .map_or(0, |t| t.seconds.div_ceil(60))
}

impl AutoOff {
    /// What it comes to, by what the device holds: a removal of each rule, a change of
    /// the first, or a new one.
    fn plan(&self, families: &Families) -> Vec<Box<dyn Command>> {
        let ids = rules(families, self.channel);
        if self.minutes == 0 {
            return (ids.into_iter())
                .map(|id| Box::new(DeleteTrigger::new(id)) as Box<dyn Command>)
                .collect();
        }
        match ids.into_iter().next() {
            Some(id) => vec![Box::new(TriggerChange {
                id,
                minutes: Some(self.minutes),
                enabled: Some(true),
                ..TriggerChange::default()
            })],
            None => vec![Box::new(NewTrigger {
                spec: TriggerSpec {
                    channel: self.channel,
                    minutes: self.minutes,
                    days: None,
                    name: None,
                    enabled: true,
                },
                id: self.id.clone(),
                now: self.now,
            })],
        }
    }
}

impl Command for AutoOff {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let mut sets = Vec::new();
        for command in self.plan(&super::of(device)) {
            sets.extend(command.sets(device)?);
        }
        Ok(sets)
    }

    fn method(&self) -> Method {
        if self.minutes == 0 {
            Method::Delete
        } else {
            Method::Set
        }
    }

    fn acknowledged(&self, families: &mut Families) {
        for command in self.plan(families) {
            command.acknowledged(families);
        }
    }
}
