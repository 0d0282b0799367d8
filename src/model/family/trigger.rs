//! Auto-off: "turn off N minutes after it is turned on", on chosen days, kept and run by
//! the device. `Appliance.Control.TriggerX` items are `{id, type, enable, channel, alias,
//! createTime, rule: {week, duration}}` (`duration` in seconds, `week` as in `week`),
//! asked by id from `Appliance.Digest.TriggerX`, written with SET and removed with DELETE,
//! as timers are. Old firmware's `Appliance.Control.Trigger` (`rule: {_if_, _then_:
//! {delay: {week, duration}}, _do_}`) is read only.

use super::items::{self, check_channel, keep, of_mut, tidy, DaysText, Item};
use super::week::{names, REPEAT};
use super::{within, Command, CommandError, Families, Set};
use crate::model::{Ability, Device};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The auto-off namespace.
pub const NS_TRIGGERX: &str = "Appliance.Control.TriggerX";
/// Its digest.
pub const NS_DIGEST: &str = "Appliance.Digest.TriggerX";
/// Old firmware's.
pub const NS_TRIGGER: &str = "Appliance.Control.Trigger";

/// The longest auto-off delay the API takes: a day.
pub const MAX_MINUTES: u32 = 24 * 60;

/// One auto-off rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Its id on the device.
    pub id: String,
    /// The channel it turns off.
    #[serde(default)]
    pub channel: u32,
    /// The name it was given (`alias`).
    #[serde(default)]
    pub name: String,
    /// Whether it runs.
    #[serde(default)]
    pub enabled: bool,
    /// How long after the channel is turned on it turns it off, in seconds.
    #[serde(default)]
    pub seconds: u64,
    /// The days it runs on (`mon` ... `sun`).
    #[serde(default)]
    pub days: Vec<String>,
    /// When it was made, seconds since the epoch.
    #[serde(default)]
    pub created_at: u64,
    /// Only its id is known yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// Old firmware's (`Appliance.Control.Trigger`): shown, not written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Rule {
    #[serde(default)]
    week: u8,
    #[serde(default)]
    duration: u64,
}

/// A TriggerX item as the firmware sends and takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Wire {
    id: String,
    #[serde(rename = "type", default)]
    kind: u8,
    #[serde(default)]
    enable: u8,
    #[serde(default)]
    channel: u32,
    #[serde(default)]
    alias: String,
    #[serde(rename = "createTime", default)]
    create_time: u64,
    #[serde(default)]
    rule: Rule,
}

impl Wire {
    fn trigger(&self, rule: &Rule) -> Trigger {
        Trigger {
            id: self.id.clone(),
            channel: self.channel,
            name: self.alias.clone(),
            enabled: self.enable != 0,
            seconds: rule.duration,
            days: names(rule.week).into_iter().map(str::to_owned).collect(),
            created_at: self.create_time,
            ..Trigger::default()
        }
    }

    fn from_trigger(t: &Trigger) -> Result<Wire, CommandError> {
        let days = DaysText::List(t.days.clone()).bits()?;
        Ok(Wire {
            id: t.id.clone(),
            kind: 1,
            enable: u8::from(t.enabled),
            channel: t.channel,
            alias: t.name.clone(),
            create_time: t.created_at,
            rule: Rule {
                week: days | REPEAT,
                duration: t.seconds,
            },
        })
    }
}

impl Item for Trigger {
    const NAMESPACE: &'static str = NS_TRIGGERX;
    const KEY: &'static str = "triggerx";
    const ABILITY: Ability = Ability::TriggerX;
    const WHAT: &'static str = "auto-off rules";
    fn list(s: &super::Schedules) -> &[Trigger] {
        &s.triggers
    }
    fn list_mut(s: &mut super::Schedules) -> &mut Vec<Trigger> {
        &mut s.triggers
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn pending(&self) -> bool {
        self.pending
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn label(&self) -> String {
        let name = if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        };
        format!("auto-off \"{name}\"")
    }
    fn placeholder(channel: u32, id: String) -> Trigger {
        Trigger {
            id,
            channel,
            pending: true,
            ..Trigger::default()
        }
    }
}

/// Reads TriggerX items (an answer, a SETACK or a PUSH), each kept by its id.
pub fn read(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<Value> = super::items(value)?;
    let mut changed = Vec::new();
    for v in items.iter().filter(|v| v.get("id").is_some()) {
        let wire: Wire = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        let trigger = wire.trigger(&wire.rule);
        changed.extend(keep(&mut of_mut(families).triggers, trigger)?);
    }
    Ok(changed)
}

/// Reads old firmware's `Appliance.Control.Trigger` list (channel 0).
pub fn read_legacy(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<Value> = super::items(value)?;
    if items.len() > super::items::MAX_ITEMS {
        return Err(format!(
            "{} rules: more than {}",
            items.len(),
            super::items::MAX_ITEMS
        ));
    }
    let mut legacy = Vec::new();
    for v in items.iter().filter(|v| v.get("id").is_some()) {
        let wire: Wire = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        let delay = v.pointer("/rule/_then_/delay").cloned().unwrap_or_default();
        let rule: Rule = serde_json::from_value(delay).map_err(|e| e.to_string())?;
        legacy.push(Trigger {
            read_only: true,
            ..wire.trigger(&rule)
        });
    }
    let triggers = &mut of_mut(families).triggers;
    triggers.retain(|t| !t.read_only);
    triggers.extend(legacy);
    tidy(families);
    Ok(Vec::new())
}

/// A new auto-off rule, as the API and the CLI take it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    /// The channel it turns off (default 0).
    #[serde(default)]
    pub channel: u32,
    /// Minutes after the channel is turned on (1 to 1440).
    pub minutes: u32,
    /// The days (default every day).
    #[serde(default)]
    pub days: Option<DaysText>,
    /// A name (default `auto-off N min`).
    #[serde(default)]
    pub name: Option<String>,
    /// Runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn seconds(minutes: u32) -> Result<u64, CommandError> {
    Ok(u64::from(within("minutes", minutes, 1, MAX_MINUTES)?) * 60)
}

fn day_names(days: &Option<DaysText>) -> Result<Vec<String>, CommandError> {
    let bits = match days {
        Some(days) => days.bits()?,
        None => 0x7f,
    };
    Ok(names(bits).into_iter().map(str::to_owned).collect())
}

/// Makes an auto-off rule with the id and time the API gave it.
#[derive(Debug, Clone)]
pub struct NewTrigger {
    /// What it is to be.
    pub spec: TriggerSpec,
    /// Its id (see `items::new_id`).
    pub id: String,
    /// Now, seconds since the epoch.
    pub now: u64,
}

impl NewTrigger {
    fn trigger(&self) -> Result<Trigger, CommandError> {
        let s = &self.spec;
        Ok(Trigger {
            id: self.id.clone(),
            channel: s.channel,
            name: (s.name.clone()).unwrap_or_else(|| format!("auto-off {} min", s.minutes)),
            enabled: s.enabled,
            seconds: seconds(s.minutes)?,
            days: day_names(&s.days)?,
            created_at: self.now,
            ..Trigger::default()
        })
    }
}

fn set(trigger: &Trigger) -> Result<Set, CommandError> {
    let wire = serde_json::to_value(Wire::from_trigger(trigger)?).unwrap_or_default();
    Ok(Set {
        namespace: NS_TRIGGERX,
        payload: json!({ "triggerx": wire }),
    })
}

fn writable(device: &Device) -> Result<Families, CommandError> {
    items::writable::<Trigger>(device)
}

impl Command for NewTrigger {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        writable(device)?;
        check_channel(device, self.spec.channel)?;
        Ok(vec![set(&self.trigger()?)?])
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Ok(trigger) = self.trigger() {
            let _ = keep(&mut of_mut(families).triggers, trigger);
        }
    }
}

/// What to change of an auto-off rule; what is left out stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerChange {
    /// Its id (from the route).
    #[serde(skip)]
    pub id: String,
    /// New minutes.
    pub minutes: Option<u32>,
    /// New days.
    pub days: Option<DaysText>,
    /// A new name.
    pub name: Option<String>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
}

impl TriggerChange {
    fn changed(&self, families: &Families) -> Result<Trigger, CommandError> {
        let triggers = families.schedules.as_deref().map(|s| &s.triggers[..]);
        let mut t = (triggers.unwrap_or_default().iter())
            .find(|t| t.id == self.id && !t.read_only && !t.pending)
            .cloned()
            .ok_or_else(|| {
                CommandError::Unsupported(format!(
                    "This device has no auto-off rule {} that can be changed.",
                    self.id
                ))
            })?;
        if let Some(minutes) = self.minutes {
            t.seconds = seconds(minutes)?;
        }
        if self.days.is_some() {
            t.days = day_names(&self.days)?;
        }
        t.name = self.name.clone().unwrap_or(t.name);
        t.enabled = self.enabled.unwrap_or(t.enabled);
        Ok(t)
    }
}

impl Command for TriggerChange {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = writable(device)?;
        Ok(vec![set(&self.changed(&families)?)?])
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Ok(trigger) = self.changed(families) {
            let _ = keep(&mut of_mut(families).triggers, trigger);
        }
    }
}

/// Removes an auto-off rule.
pub type DeleteTrigger = items::Delete<Trigger>;
