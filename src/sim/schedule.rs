//! A simulated device's timers and auto-off rules, kept and run as firmware does:
//! `TimerX` and `TriggerX` items taken by SET (each PUSHed back), removed by DELETE,
//! listed in `Appliance.Digest.*` and System.All's digest (one `{channel, id, count}` per
//! item), and acted on: a timer switches its channel at its minute on its days (in the
//! device's time zone, from the `timeRule` merossd set), a one-off timer then disables
//! itself, and an auto-off rule turns a channel off its `duration` after it was turned on.
//! `Timings::clock_speed` runs the device's clock faster for tests (60: a minute a second).

use super::book::Book;
use super::device::{lock, SimState};
use super::says::{device_message, togglex_push, Answer, Ask};
use crate::model::family::week::REPEAT;
use crate::protocol::{Message, Method};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The namespaces kept here: (namespace, payload key, the list in the book).
const NAMESPACES: [(&str, &str); 2] = [
    ("Appliance.Control.TimerX", "timerx"),
    ("Appliance.Control.TriggerX", "triggerx"),
];

fn list<'a>(book: &'a mut Book, key: &str) -> &'a mut Vec<Value> {
    if key == "timerx" {
        &mut book.timers
    } else {
        &mut book.triggers
    }
}

/// Whether `namespace` is one of the schedules' (or their digests).
pub(super) fn handles(namespace: &str) -> bool {
    NAMESPACES.iter().any(|(ns, _)| *ns == namespace)
        || matches!(
            namespace,
            "Appliance.Digest.TimerX" | "Appliance.Digest.TriggerX"
        )
}

/// Local time by the device's `timeRule` list: (minute of the day, weekday with Sunday 0).
pub(super) fn local(s: &SimState, utc: u64) -> (u16, u8) {
    let offset = s
        .time_rules
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r.get(0)?.as_i64()?, r.get(1)?.as_i64()?)))
        .filter(|(start, _)| *start <= utc as i64)
        .max_by_key(|(start, _)| *start)
        .map_or(0, |(_, offset)| offset);
    let t = utc as i64 + offset;
    let minute = t.rem_euclid(86_400) / 60;
    // 1970-01-01 was a Thursday.
    let weekday = (t.div_euclid(86_400) + 4).rem_euclid(7);
    (minute as u16, weekday as u8)
}

/// Keeps `item` under `key` (`timerx` or `triggerx`).
pub(super) fn hold(book: &mut Book, key: &str, item: Value) {
    list(book, key).push(item);
}

/// The digest lists: one entry per item.
pub(super) fn digest(book: &Book, key: &str) -> Value {
    let items = if key == "timerx" {
        &book.timers
    } else {
        &book.triggers
    };
    json!(items
        .iter()
        .map(|i| json!({"channel": i["channel"], "id": i["id"], "count": 1}))
        .collect::<Vec<_>>())
}

/// Answers a request of a schedule namespace or digest; `None` if it is not one.
pub(super) fn answer(ask: &Ask<'_>, namespace: &str) -> Option<Answer> {
    if let Some(key) = namespace.strip_prefix("Appliance.Digest.") {
        let key = key.to_ascii_lowercase();
        return Some(ask.ack(json!({"digest": digest(&lock(ask.state).schedules, &key)})));
    }
    let (_, key) = NAMESPACES.iter().find(|(ns, _)| *ns == namespace)?;
    let asked = ask.payload().get(*key).cloned().unwrap_or_default();
    let method = ask.request.header.method;
    let mut s = lock(ask.state);
    let items = list(&mut s.schedules, key);
    Some(match method {
        Method::Get => {
            let id = asked.get("id");
            let found: Vec<Value> = (items.iter())
                .filter(|i| id.is_none_or(|id| i["id"] == *id))
                .cloned()
                .collect();
            let one = match (id, found.first()) {
                (Some(_), Some(item)) => item.clone(),
                (Some(_), None) => json!({}),
                (None, _) => json!(found),
            };
            ask.ack(json!({ *key: one }))
        }
        Method::Delete => {
            let before = items.len();
            items.retain(|i| i.get("id") != asked.get("id"));
            if items.len() == before {
                return Some(ask.error(5000, "no such id"));
            }
            ask.ack(json!({}))
        }
        _ => {
            let ok = asked
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty())
                && asked
                    .get("time")
                    .and_then(Value::as_u64)
                    .is_none_or(|t| t < 1440);
            if !ok {
                return Some(ask.error(5000, "bad item"));
            }
            match items.iter_mut().find(|i| i["id"] == asked["id"]) {
                Some(old) => *old = asked.clone(),
                None => items.push(asked.clone()),
            }
            drop(s);
            let push = device_message(
                ask.config,
                Method::Push,
                namespace,
                json!({ *key: [asked] }),
                &ask.pub_topic,
            );
            (ask.ack(json!({})).0, Some(push))
        }
    })
}

/// What is due now: timers whose minute came and auto-offs whose time came, done and
/// PUSHed (the relay's ToggleX, and a one-off timer's disabling).
pub(super) fn due(
    config: &super::SimConfig,
    state: &Mutex<SimState>,
    pub_topic: &str,
) -> Vec<Message> {
    let mut s = lock(state);
    let now = s.schedules.now();
    let (_, weekday) = local(&s, now);
    let mut switch: Vec<(u32, bool)> = Vec::new();
    let mut pushes = Vec::new();
    // Every device minute since the last look (a fast clock can pass one between two
    // wakes), the last day's at most.
    let last = now / 60;
    let first = s
        .schedules
        .checked
        .map_or(last, |c| (c + 1).max(last.saturating_sub(1439)));
    s.schedules.checked = Some(last);
    for minute_index in first..=last {
        let (minute, weekday) = local(&s, minute_index * 60);
        fire(
            config,
            &mut s,
            (minute, weekday, minute_index),
            pub_topic,
            &mut switch,
            &mut pushes,
        );
    }
    let real = Instant::now();
    let offs: Vec<u32> = (s.schedules.off_at.iter())
        .filter(|(_, at)| **at <= real)
        .map(|(c, _)| *c)
        .collect();
    for channel in offs {
        s.schedules.off_at.remove(&channel);
        switch.push((channel, false));
    }
    for (channel, on) in switch {
        if s.relays.insert(channel, on) != Some(on) {
            s.switches += 1;
            pushes.push(togglex_push(config, channel, on, pub_topic));
        }
    }
    watch_relays(&mut s, weekday);
    pushes
}

/// Runs the timers due at one device minute: (minute of the day, weekday, minute index).
fn fire(
    config: &super::SimConfig,
    s: &mut SimState,
    (minute, weekday, minute_index): (u16, u8, u64),
    pub_topic: &str,
    switch: &mut Vec<(u32, bool)>,
    pushes: &mut Vec<Message>,
) {
    for timer in s.schedules.timers.clone() {
        let week = timer["week"].as_u64().unwrap_or(0) as u8;
        let id = timer["id"].as_str().unwrap_or_default().to_owned();
        let fires = timer["enable"] == 1
            && timer["time"].as_u64() == Some(u64::from(minute))
            && week & (1 << weekday) != 0
            && s.schedules.fired.get(&id) != Some(&minute_index);
        if !fires {
            continue;
        }
        s.schedules.fired.insert(id.clone(), minute_index);
        let channel = timer["channel"].as_u64().unwrap_or(0) as u32;
        let on = timer
            .pointer("/extend/toggle/onoff")
            .and_then(Value::as_u64)
            == Some(1);
        switch.push((channel, on));
        if week & REPEAT == 0 {
            if let Some(t) = s.schedules.timers.iter_mut().find(|t| t["id"] == id) {
                t["enable"] = json!(0);
                let item = t.clone();
                let body = json!({"timerx": [item]});
                pushes.push(device_message(
                    config,
                    Method::Push,
                    NAMESPACES[0].0,
                    body,
                    pub_topic,
                ));
            }
        }
    }
}

/// Starts an auto-off for each channel just turned on that a rule covers today, and
/// drops it for each turned off.
fn watch_relays(s: &mut SimState, weekday: u8) {
    let relays = s.relays.clone();
    for (channel, on) in relays {
        let was = s.schedules.seen.insert(channel, on).unwrap_or(false);
        if !on {
            s.schedules.off_at.remove(&channel);
            continue;
        }
        if was {
            continue;
        }
        let rule = s.schedules.triggers.iter().find(|t| {
            t["enable"] == 1
                && t["channel"].as_u64() == Some(u64::from(channel))
                && t.pointer("/rule/week").and_then(Value::as_u64).unwrap_or(0) & (1 << weekday)
                    != 0
        });
        if let Some(seconds) = rule.and_then(|t| t.pointer("/rule/duration")?.as_u64()) {
            let after = Duration::from_millis(seconds.saturating_mul(1000) / s.schedules.speed());
            if let Some(at) = Instant::now().checked_add(after) {
                s.schedules.off_at.insert(channel, at);
            }
        }
    }
}

/// When something may next be due: the next auto-off, or the device's next minute while
/// a timer is enabled.
pub(super) fn next_wake(s: &SimState) -> Option<Instant> {
    let off = s.schedules.off_at.values().min().copied();
    let timers = s.schedules.timers.iter().any(|t| t["enable"] == 1);
    let minute = timers.then(|| {
        let step = Duration::from_millis(60_000 / s.schedules.speed());
        Instant::now() + step.min(Duration::from_secs(1))
    });
    match (off, minute) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
