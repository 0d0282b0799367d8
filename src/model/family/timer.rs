//! Timers: "on at 7:00 on weekdays", kept and run by the device itself.
//! `Appliance.Control.TimerX` items are `{id, alias, type, enable, channel, createTime,
//! week, time, sunOffset, duration, extend: {toggle: {onoff, lmTime}}}` (type 1 weekly,
//! 2 once; `week` and `time` as in `week`); a GET asks by id (`{"timerx": {"id": ..}}`),
//! the ids come from `Appliance.Digest.TimerX` (`[{channel, id, count}]`, also in
//! System.All's digest), a SET writes a whole item and a DELETE removes one by id. Old
//! firmware's `Appliance.Control.Timer` (`{"timer": [..]}`, no channel) is read only.

use super::items::{self, check_channel, keep, of_mut, tidy, DaysText, Item};
use super::week::{names, parse_time, time_text, REPEAT};
use super::{Command, CommandError, Families, Set};
use crate::model::{Ability, Device};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The timers' namespace.
pub const NS_TIMERX: &str = "Appliance.Control.TimerX";
/// Their digest: which ids the device keeps.
pub const NS_DIGEST: &str = "Appliance.Digest.TimerX";
/// Old firmware's timers.
pub const NS_TIMER: &str = "Appliance.Control.Timer";

/// One timer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    /// Its id on the device.
    pub id: String,
    /// The channel it switches.
    #[serde(default)]
    pub channel: u32,
    /// The name it was given (`alias`).
    #[serde(default)]
    pub name: String,
    /// Whether it runs.
    #[serde(default)]
    pub enabled: bool,
    /// The time of day, `HH:MM` in the device's time zone.
    #[serde(default)]
    pub at: String,
    /// The days it runs on (`mon` ... `sun`).
    #[serde(default)]
    pub days: Vec<String>,
    /// Every week (true), or once (false).
    #[serde(default)]
    pub repeat: bool,
    /// What it does: switch on (true) or off.
    #[serde(default)]
    pub on: bool,
    /// Minutes from sunrise or sunset, on a timer that counts from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sun_offset: Option<i64>,
    /// The firmware's `type` (1 weekly, 2 once), written back as it was.
    #[serde(default)]
    pub kind: u8,
    /// When it was made, seconds since the epoch.
    #[serde(default)]
    pub created_at: u64,
    /// Only its id is known yet (from the digest): its item is still to be asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// Old firmware's (`Appliance.Control.Timer`): shown, not written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A TimerX item as the firmware sends and takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Wire {
    id: String,
    #[serde(default)]
    channel: u32,
    #[serde(default)]
    alias: String,
    #[serde(rename = "type", default)]
    kind: u8,
    #[serde(default)]
    enable: u8,
    #[serde(default)]
    week: u8,
    #[serde(default)]
    time: u16,
    #[serde(rename = "sunOffset", default)]
    sun_offset: i64,
    #[serde(default)]
    duration: u64,
    #[serde(rename = "createTime", default)]
    create_time: u64,
    #[serde(default)]
    extend: Value,
}

impl Wire {
    fn timer(&self) -> Result<Timer, String> {
        if self.time >= 1440 {
            return Err(format!(
                "timer {}: `time` {} is past the day",
                self.id, self.time
            ));
        }
        let onoff = self.extend.pointer("/toggle/onoff").and_then(Value::as_u64);
        Ok(Timer {
            id: self.id.clone(),
            channel: self.channel,
            name: self.alias.clone(),
            enabled: self.enable != 0,
            at: time_text(self.time),
            days: names(self.week).into_iter().map(str::to_owned).collect(),
            repeat: self.week & REPEAT != 0,
            on: onoff.unwrap_or(0) != 0,
            sun_offset: (self.sun_offset != 0).then_some(self.sun_offset),
            kind: self.kind,
            created_at: self.create_time,
            ..Timer::default()
        })
    }

    fn from_timer(t: &Timer) -> Result<Wire, CommandError> {
        let days = DaysText::List(t.days.clone()).bits()?;
        Ok(Wire {
            id: t.id.clone(),
            channel: t.channel,
            alias: t.name.clone(),
            kind: t.kind,
            enable: u8::from(t.enabled),
            week: days | if t.repeat { REPEAT } else { 0 },
            time: parse_time(&t.at)?,
            sun_offset: t.sun_offset.unwrap_or(0),
            duration: 0,
            create_time: t.created_at,
            extend: json!({"toggle": {"onoff": u8::from(t.on), "lmTime": 0}}),
        })
    }
}

impl Item for Timer {
    const NAMESPACE: &'static str = NS_TIMERX;
    const KEY: &'static str = "timerx";
    const ABILITY: Ability = Ability::TimerX;
    const WHAT: &'static str = "timers";
    fn list(s: &super::Schedules) -> &[Timer] {
        &s.timers
    }
    fn list_mut(s: &mut super::Schedules) -> &mut Vec<Timer> {
        &mut s.timers
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
        format!("timer \"{name}\"")
    }
    fn placeholder(channel: u32, id: String) -> Timer {
        Timer {
            id,
            channel,
            pending: true,
            ..Timer::default()
        }
    }
}

/// Reads TimerX items (an answer, a SETACK or a PUSH): each is kept by its id. An empty
/// object (what some firmware answers when it has none) is nothing.
pub fn read(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<Value> = super::items(value)?;
    let mut changed = Vec::new();
    for v in wires.iter().filter(|v| v.get("id").is_some()) {
        let wire: Wire = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        changed.extend(keep(&mut of_mut(families).timers, wire.timer()?)?);
    }
    Ok(changed)
}

/// Reads old firmware's `Appliance.Control.Timer` list (all of them, on channel 0).
pub fn read_legacy(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let wires: Vec<Wire> = super::items(value)?;
    if wires.len() > super::items::MAX_ITEMS {
        return Err(format!(
            "{} timers: more than {}",
            wires.len(),
            super::items::MAX_ITEMS
        ));
    }
    let legacy: Vec<Timer> = wires
        .iter()
        .map(|w| {
            w.timer().map(|t| Timer {
                read_only: true,
                ..t
            })
        })
        .collect::<Result<_, _>>()?;
    let timers = &mut of_mut(families).timers;
    timers.retain(|t| !t.read_only);
    timers.extend(legacy);
    tidy(families);
    Ok(Vec::new())
}

/// A new timer, as the API and the CLI take it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerSpec {
    /// The channel it switches (default 0).
    #[serde(default)]
    pub channel: u32,
    /// `HH:MM`, in the device's time zone.
    pub at: String,
    /// The days: `"mon-fri"` or `["sat", "sun"]`.
    pub days: DaysText,
    /// Switch on (true) or off (false).
    pub on: bool,
    /// A name (default: what it does, e.g. `on 07:00`).
    #[serde(default)]
    pub name: Option<String>,
    /// Runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Every week (default), or once.
    #[serde(default = "yes")]
    pub repeat: bool,
}

fn yes() -> bool {
    true
}

/// Makes a timer: the spec, the id and time the API gave it.
#[derive(Debug, Clone)]
pub struct NewTimer {
    /// What it is to be.
    pub spec: TimerSpec,
    /// Its id (see `items::new_id`).
    pub id: String,
    /// Now, seconds since the epoch.
    pub now: u64,
}

impl NewTimer {
    fn timer(&self) -> Result<Timer, CommandError> {
        let s = &self.spec;
        let days = s.days.bits()?;
        let minute = parse_time(&s.at)?;
        let at = time_text(minute);
        let verb = if s.on { "on" } else { "off" };
        Ok(Timer {
            id: self.id.clone(),
            channel: s.channel,
            name: s.name.clone().unwrap_or_else(|| format!("{verb} {at}")),
            enabled: s.enabled,
            at,
            days: names(days).into_iter().map(str::to_owned).collect(),
            repeat: s.repeat,
            on: s.on,
            kind: if s.repeat { 1 } else { 2 },
            created_at: self.now,
            ..Timer::default()
        })
    }
}

fn set(timer: &Timer) -> Result<Set, CommandError> {
    let wire = serde_json::to_value(Wire::from_timer(timer)?).unwrap_or_default();
    Ok(Set {
        namespace: NS_TIMERX,
        payload: json!({ "timerx": wire }),
    })
}

fn writable(device: &Device) -> Result<Families, CommandError> {
    items::writable::<Timer>(device)
}

impl Command for NewTimer {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        writable(device)?;
        check_channel(device, self.spec.channel)?;
        Ok(vec![set(&self.timer()?)?])
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Ok(timer) = self.timer() {
            let _ = keep(&mut of_mut(families).timers, timer);
        }
    }
}

/// What to change of a timer; what is left out stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerChange {
    /// Its id (from the route).
    #[serde(skip)]
    pub id: String,
    /// A new time of day.
    pub at: Option<String>,
    /// New days.
    pub days: Option<DaysText>,
    /// On or off.
    pub on: Option<bool>,
    /// A new name.
    pub name: Option<String>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
    /// Every week, or once.
    pub repeat: Option<bool>,
}

impl TimerChange {
    fn changed(&self, families: &Families) -> Result<Timer, CommandError> {
        let timers = families
            .schedules
            .as_ref()
            .map(|s| &s.timers[..])
            .unwrap_or(&[]);
        let mut t = timers
            .iter()
            .find(|t| t.id == self.id && !t.read_only && !t.pending)
            .cloned()
            .ok_or_else(|| {
                CommandError::Unsupported(format!(
                    "This device has no timer {} that can be changed.",
                    self.id
                ))
            })?;
        if let Some(at) = &self.at {
            t.at = time_text(parse_time(at)?);
        }
        if let Some(days) = &self.days {
            t.days = names(days.bits()?).into_iter().map(str::to_owned).collect();
        }
        t.on = self.on.unwrap_or(t.on);
        t.name = self.name.clone().unwrap_or(t.name);
        t.enabled = self.enabled.unwrap_or(t.enabled);
        if let Some(repeat) = self.repeat {
            t.repeat = repeat;
            t.kind = if repeat { 1 } else { 2 };
        }
        Ok(t)
    }
}

impl Command for TimerChange {
    fn sets(&self, device: &Device) -> Result<Vec<Set>, CommandError> {
        let families = writable(device)?;
        Ok(vec![set(&self.changed(&families)?)?])
    }

    fn acknowledged(&self, families: &mut Families) {
        if let Ok(timer) = self.changed(families) {
            let _ = keep(&mut of_mut(families).timers, timer);
        }
    }
}

/// Removes a timer.
pub type DeleteTimer = items::Delete<Timer>;

#[cfg(test)]
mod tests;
