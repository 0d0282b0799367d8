//! How a simulated device answers requests, from its state and the trace it was built
//! from (its families' state is `families`').

use super::device::{lock, SimState};
use super::says::{system, togglex_push, Answer, Ask};
use super::SimConfig;
use crate::protocol::{self, device_publish_topic, Message, Method};
use serde_json::{json, Value};
use std::sync::Mutex;

/// Answers a GET or SET from the device's state: the reply, and a PUSH to send after it.
pub(super) fn answer(config: &SimConfig, state: &Mutex<SimState>, request: &Message) -> Answer {
    let ask = Ask {
        config,
        state,
        request,
        pub_topic: device_publish_topic(&config.uuid),
    };
    if !request.header.sign_ok(&config.key) {
        lock(state).sign_errors += 1;
        return ask.error(5001, "sign error");
    }
    answer_signed(ask)
}

/// Answers a request whose sign verified (or one inside a `Multiple` that did: meross_lan
/// sends the inner ones with bare headers, and devices take them).
fn answer_signed(ask: Ask<'_>) -> Answer {
    let (config, state, request) = (ask.config, ask.state, ask.request);
    let ns = request.header.namespace.as_str();
    if config.profile.ability.get(ns).is_none() && !config.profile.recorded.contains_key(ns) {
        return ask.error(5000, "unknown namespace");
    }
    let is_get = request.header.method == Method::Get;
    match ns {
        "Appliance.System.All" => ask.ack(json!({"all": all(config, state)})),
        "Appliance.System.Ability" => ask.ack(json!({"ability": config.profile.ability})),
        "Appliance.Control.ToggleX" if is_get => {
            let list = togglex_list(&lock(state));
            ask.ack(json!({ "togglex": list }))
        }
        "Appliance.Control.ToggleX" => set_togglex(&ask),
        "Appliance.Control.Toggle" if is_get => {
            let on = lock(state).relays.get(&0).copied().unwrap_or(false);
            ask.ack(json!({"toggle": {"onoff": u8::from(on), "lmTime": 0}}))
        }
        "Appliance.Control.Toggle" => {
            let onoff = ask
                .payload()
                .pointer("/toggle/onoff")
                .and_then(Value::as_u64);
            let on = onoff.unwrap_or(0) != 0;
            let mut s = lock(state);
            if s.relays.insert(0, on) != Some(on) {
                s.switches += 1;
            }
            drop(s);
            ask.ack(json!({}))
        }
        "Appliance.Control.Electricity" => electricity(&ask),
        "Appliance.Control.ConsumptionX" => ask.ack(json!({ "consumptionx": consumption() })),
        "Appliance.System.Time" if !is_get => {
            let mut s = lock(state);
            if let Some(tz) = ask
                .payload()
                .pointer("/time/timezone")
                .and_then(Value::as_str)
            {
                s.timezone = tz.to_owned();
            }
            if let Some(rules) = ask.payload().pointer("/time/timeRule") {
                s.time_rules = rules.clone();
            }
            drop(s);
            ask.ack(json!({}))
        }
        "Appliance.System.Time" => {
            let s = lock(state);
            let time = json!({"timestamp": protocol::now_secs(), "timezone": s.timezone, "timeRule": s.time_rules});
            drop(s);
            ask.ack(json!({ "time": time }))
        }
        "Appliance.Control.Multiple" => multiple(&ask),
        "Appliance.Control.Upgrade" if !is_get => super::upgrade::answer(&ask),
        _ if super::schedule::handles(ns) => super::schedule::answer(&ask, ns)
            .unwrap_or_else(|| ask.error(5000, "unknown namespace")),
        _ if is_get => super::families::get(&ask, ns).unwrap_or_else(|| {
            let recorded = config.profile.recorded.get(ns).cloned();
            ask.ack(recorded.unwrap_or(json!({})))
        }),
        _ => super::families::set(&ask, ns).unwrap_or_else(|| set_recorded(&ask, ns)),
    }
}

/// `System.All`: the trace's, with this device's identity and its channels' state.
fn all(config: &SimConfig, state: &Mutex<SimState>) -> Value {
    let mut all = json!({"system": system(config, state)});
    let s = lock(state);
    if s.digest.is_object() {
        // The family state as SETs left it, and the relays'.
        let mut digest = s.digest.clone();
        digest["togglex"] = json!(togglex_list(&s));
        for key in ["timerx", "triggerx"] {
            if digest.get(key).is_some() {
                digest[key] = super::schedule::digest(&s.schedules, key);
            }
        }
        all["digest"] = digest;
    } else if let Some(control) = config.profile.all.get("control") {
        let mut control = control.clone();
        let on = s.relays.get(&0).copied().unwrap_or(false);
        control["toggle"] = json!({"onoff": u8::from(on), "lmTime": 0});
        all["control"] = control;
    }
    all
}

fn togglex_list(s: &SimState) -> Vec<Value> {
    s.relays
        .iter()
        .map(|(c, on)| json!({"channel": c, "onoff": u8::from(*on), "lmTime": 0}))
        .collect()
}

/// `SET ToggleX`: one channel or a list; a PUSH of the first that changed follows.
fn set_togglex(ask: &Ask<'_>) -> Answer {
    let items = match ask.payload().get("togglex") {
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => vec![],
    };
    let mut changed = Vec::new();
    {
        let mut s = lock(ask.state);
        for item in items {
            let channel = item.get("channel").and_then(Value::as_u64).unwrap_or(0) as u32;
            let on = item.get("onoff").and_then(Value::as_u64).unwrap_or(0) != 0;
            if s.relays.insert(channel, on) != Some(on) {
                s.switches += 1;
                changed.push((channel, on));
            }
        }
    }
    let push = changed
        .first()
        .map(|(c, on)| togglex_push(ask.config, *c, *on, &ask.pub_topic));
    (ask.ack(json!({})).0, push)
}

/// `GET Electricity`: a kettle's draw while on, nothing before the device has a zone.
fn electricity(ask: &Ask<'_>) -> Answer {
    let channel = ask
        .payload()
        .pointer("/electricity/channel")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let s = lock(ask.state);
    // Metering firmware reports nothing until it has been given a time zone.
    let (current, voltage, power) = if s.timezone.is_empty() {
        (0, 0, 0)
    } else if s.relays.get(&(channel as u32)).copied().unwrap_or(false) {
        (418, 2387, 67379)
    } else {
        (0, 2387, 0)
    };
    drop(s);
    ask.ack(json!({"electricity": {"channel": channel, "current": current, "voltage": voltage, "power": power, "config": {"voltageRatio": 188, "electricityRatio": 102}}}))
}

/// `GET ConsumptionX`: 30 days of made-up daily energy, newest first.
fn consumption() -> Vec<Value> {
    let today = protocol::now_secs() / 86_400;
    (0..30u64)
        .map(|back| {
            let day = today - back;
            json!({"date": civil_date(day), "time": day * 86_400 + 86_399, "value": 120 + (day % 7) * 10})
        })
        .collect()
}

/// `Control.Multiple`: each inner request answered as if it came alone, in order, up to
/// `maxCmdNum`.
fn multiple(ask: &Ask<'_>) -> Answer {
    let max = ask
        .config
        .profile
        .ability
        .pointer("/Appliance.Control.Multiple/maxCmdNum")
        .and_then(Value::as_u64)
        .unwrap_or(5) as usize;
    let inner: Vec<Value> = ask
        .payload()
        .get("multiple")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(max)
                .filter_map(|m| serde_json::from_value::<Message>(m.clone()).ok())
                .map(|m| {
                    let inner = Ask {
                        config: ask.config,
                        state: ask.state,
                        request: &m,
                        pub_topic: ask.pub_topic.clone(),
                    };
                    let (answer, _) = answer_signed(inner);
                    json!({"header": answer.header, "payload": answer.payload})
                })
                .collect()
        })
        .unwrap_or_default();
    ask.ack(json!({ "multiple": inner }))
}

/// A SET whose state the trace recorded: the acknowledgement carries that state with
/// what was set (as GarageDoor.State's does).
fn set_recorded(ask: &Ask<'_>, ns: &str) -> Answer {
    let (Some(Value::Object(recorded)), Some(set)) = (
        ask.config.profile.recorded.get(ns),
        ask.payload().as_object(),
    ) else {
        return ask.ack(json!({}));
    };
    let mut state = recorded.clone();
    for (key, value) in set {
        match (state.get_mut(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => old.extend(new.clone()),
            _ => {
                state.insert(key.clone(), value.clone());
            }
        }
    }
    ask.ack(Value::Object(state))
}

/// `YYYY-MM-DD` of a day number since the epoch.
fn civil_date(days: u64) -> String {
    jiff::Timestamp::from_second(days as i64 * 86_400)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_date(0), "1970-01-01");
        assert_eq!(super::civil_date(19_723), "2024-01-01");
    }
}
