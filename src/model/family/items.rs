//! What timers and auto-off rules share: their record in a device's families, the
//! channel check, the days a command names, a new item's id, and the keeping of their
//! lists by id and by the device's digest.

use super::{no_such, CommandError, Families};
use crate::model::{Ability, Device};
use serde::Deserialize;
use serde_json::Value;

/// The device's schedules record, made when first needed.
pub(crate) fn of_mut(families: &mut Families) -> &mut super::Schedules {
    families.schedules.get_or_insert_with(Default::default)
}

/// Drops the record again if nothing is left in it.
pub(crate) fn tidy(families: &mut Families) {
    let empty = |s: &super::Schedules| s.timers.is_empty() && s.triggers.is_empty();
    if families.schedules.as_deref().is_some_and(empty) {
        families.schedules = None;
    }
}

/// Checks that `channel` is one the device switches (channel 0 on a device that never
/// reported channels).
pub(crate) fn check_channel(device: &Device, channel: u32) -> Result<(), CommandError> {
    let known: Vec<u32> = device.channels.keys().copied().collect();
    if known.contains(&channel) || (known.is_empty() && channel == 0) {
        return Ok(());
    }
    Err(no_such("channel", channel, &known))
}

/// Days as the API takes them: `"mon-fri"` or `["mon", "wed"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DaysText {
    /// One text: `mon-fri`, `sat,sun`, `daily`.
    One(String),
    /// A list of names or ranges.
    List(Vec<String>),
}

impl DaysText {
    /// The `week` bits they name (without the repeat bit).
    pub fn bits(&self) -> Result<u8, CommandError> {
        match self {
            DaysText::One(text) => super::week::parse_days(text),
            DaysText::List(list) => super::week::parse_day_list(list),
        }
    }
}

/// A new timer's or rule's id as the firmware keeps them: 16 lowercase letters and digits
/// (as `iojt92798uas7qq9` in a recorded digest).
pub fn new_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// The ids of a digest (`[{channel, id, count}]`): the device's list of what it keeps.
fn digest_ids(value: &Value) -> Result<Vec<(u32, String)>, String> {
    let list = value.as_array().ok_or("expected a list")?;
    list.iter()
        .filter_map(|entry| {
            let id = entry.get("id").and_then(Value::as_str)?;
            let channel = entry.get("channel").and_then(Value::as_u64).unwrap_or(0);
            Some(Ok((channel as u32, id.to_owned())))
        })
        .collect()
}

/// What timers and auto-off rules have in common, for the code that keeps their lists
/// and removes them.
pub trait Item: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Their namespace (`Appliance.Control.TimerX`).
    const NAMESPACE: &'static str;
    /// Their payload key (`timerx`).
    const KEY: &'static str;
    /// The Ability that makes them writable.
    const ABILITY: Ability;
    /// What they are called in errors (`timers`).
    const WHAT: &'static str;
    /// Their list in a device's schedules.
    fn list(s: &super::Schedules) -> &[Self];
    /// The same, to change.
    fn list_mut(s: &mut super::Schedules) -> &mut Vec<Self>;
    /// Its id on the device.
    fn id(&self) -> &str;
    /// Known by id only (from a digest).
    fn pending(&self) -> bool;
    /// Old firmware's: shown, not written, and not in the digest.
    fn read_only(&self) -> bool;
    /// "timer \"Kettle\"", for events.
    fn label(&self) -> String;
    /// One known by id only.
    fn placeholder(channel: u32, id: String) -> Self;
}

/// The most timers, or auto-off rules, kept per device (the Meross app offers far fewer):
/// a device that says more is not believed.
pub const MAX_ITEMS: usize = 64;

/// Keeps `item` by its id; what changed, in words. An item past [`MAX_ITEMS`] is an error.
pub(crate) fn keep<T: Item>(list: &mut Vec<T>, item: T) -> Result<Option<String>, String> {
    if list.len() >= MAX_ITEMS && !list.iter().any(|t| t.id() == item.id()) {
        return Err(format!("more than {MAX_ITEMS} items"));
    }
    Ok(match list.iter_mut().find(|t| t.id() == item.id()) {
        Some(old) if *old == item => None,
        Some(old) => {
            let was_pending = old.pending();
            *old = item;
            (!was_pending).then(|| format!("{} changed", old.label()))
        }
        None => {
            let said = format!("{} added", item.label());
            list.push(item);
            Some(said)
        }
    })
}

/// Holds `list` to a digest: what it no longer lists is gone, what is new is pending.
fn follow_digest<T: Item>(list: &mut Vec<T>, value: &Value) -> Result<Vec<String>, String> {
    let ids = digest_ids(value)?;
    if ids.len() > MAX_ITEMS {
        return Err(format!(
            "a digest of {} items: more than {MAX_ITEMS}",
            ids.len()
        ));
    }
    let mut changed = Vec::new();
    list.retain(|t| {
        let kept = t.read_only() || ids.iter().any(|(_, id)| id == t.id());
        if !kept && !t.pending() {
            changed.push(format!("{} removed", t.label()));
        }
        kept
    });
    for (channel, id) in ids {
        if !list.iter().any(|t| t.id() == id) {
            list.push(T::placeholder(channel, id));
        }
    }
    Ok(changed)
}

/// Reads a digest (`Appliance.Digest.TimerX`, System.All's `timerx`; the same for
/// rules): the device's list of ids. Those it no longer lists are gone; ids not known yet
/// are kept as pending until asked.
pub fn read_digest<T: Item>(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let changed = follow_digest(T::list_mut(of_mut(families)), value)?;
    tidy(families);
    Ok(changed)
}

/// The GETs (`{"timerx": {"id": ..}}`) that fill in those known by id only.
pub fn pending_asks<T: Item>(families: &Families) -> Vec<Value> {
    let list = families
        .schedules
        .as_deref()
        .map(T::list)
        .unwrap_or_default();
    (list.iter())
        .filter(|t| t.pending())
        .map(|t| serde_json::json!({ T::KEY: {"id": t.id()} }))
        .collect()
}

/// The device's families, if its Ability lists `T`'s namespace (else the error saying so).
pub(crate) fn writable<T: Item>(device: &Device) -> Result<Families, CommandError> {
    if !device.ability.is_some_and(|a| a.has(T::ABILITY)) {
        return Err(not_kept(T::WHAT));
    }
    Ok(super::of(device))
}

/// Removes one by id (`DELETE`, `{"timerx": {"id": ..}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete<T> {
    /// Its id.
    pub id: String,
    kind: std::marker::PhantomData<fn() -> T>,
}

impl<T> Delete<T> {
    /// The removal of `id`.
    pub fn new(id: String) -> Delete<T> {
        Delete {
            id,
            kind: std::marker::PhantomData,
        }
    }
}

impl<T: Item> super::Command for Delete<T> {
    fn sets(&self, device: &Device) -> Result<Vec<super::Set>, CommandError> {
        writable::<T>(device)?;
        Ok(vec![super::Set {
            namespace: T::NAMESPACE,
            payload: serde_json::json!({ T::KEY: {"id": self.id} }),
        }])
    }

    fn method(&self) -> crate::protocol::Method {
        crate::protocol::Method::Delete
    }

    fn acknowledged(&self, families: &mut Families) {
        T::list_mut(of_mut(families)).retain(|t| t.id() != self.id);
        tidy(families);
    }
}

/// "This device keeps no <what>", for a command to a device whose Ability lacks them.
fn not_kept(what: &str) -> CommandError {
    CommandError::Unsupported(format!(
        "This device does not keep {what} (its Ability does not list them), or has not said so yet."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_the_firmwares() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(id, new_id());
    }
}
