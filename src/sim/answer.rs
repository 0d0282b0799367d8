//! What a simulated device says: its messages (Bind, PUSHes) and its answers to requests,
//! from its state and the trace it was built from.

use super::device::{lock, SimState, KEEP_RECEIVED};
use super::SimConfig;
use crate::protocol::{self, device_publish_topic, device_subscribe_topic, Message, Method};
use serde_json::{json, Value};
use std::sync::Mutex;
pub(super) fn remember(state: &Mutex<SimState>, message: &Message) {
    let mut s = lock(state);
    if s.received.len() >= KEEP_RECEIVED {
        s.received.remove(0);
    }
    s.received.push(message.clone());
}

/// A message from the device, signed with its key, `from` its publish topic.
pub(super) fn device_message(
    config: &SimConfig,
    method: Method,
    namespace: &str,
    payload: Value,
    from: &str,
) -> Message {
    let mut m = Message::new(method, namespace, payload, from, &config.key);
    m.header.uuid = Some(config.uuid.clone());
    m
}

/// The `system` block with this device's identity in place of the trace's masked values.
pub(super) fn system(config: &SimConfig, state: &Mutex<SimState>) -> Value {
    let mut system = config
        .profile
        .all
        .get("system")
        .cloned()
        .unwrap_or(json!({}));
    let s = lock(state);
    if let Some(hw) = system.get_mut("hardware").and_then(Value::as_object_mut) {
        hw.insert("uuid".into(), json!(config.uuid));
        hw.insert("macAddress".into(), json!(config.mac));
    }
    if let Some(fw) = system.get_mut("firmware").and_then(Value::as_object_mut) {
        fw.insert("wifiMac".into(), json!(config.mac));
        fw.insert("innerIp".into(), json!("127.0.0.1"));
        fw.insert("server".into(), json!(config.host));
        fw.insert("port".into(), json!(config.port));
        fw.insert(
            "userId".into(),
            json!(config.user_id.parse::<u64>().unwrap_or(0)),
        );
    }
    system["time"] = json!({
        "timestamp": protocol::now_secs(),
        "timezone": s.timezone,
        "timeRule": s.time_rules,
    });
    system
}

pub(super) fn bind_message(config: &SimConfig, state: &Mutex<SimState>) -> Message {
    let system = system(config, state);
    let payload = json!({"bind": {
        "bindTime": protocol::now_secs(),
        "time": system.get("time").cloned().unwrap_or(json!({})),
        "hardware": system.get("hardware").cloned().unwrap_or(json!({})),
        "firmware": system.get("firmware").cloned().unwrap_or(json!({})),
    }});
    // The device asks for the answer on its own subscribe topic (seeds/003).
    device_message(
        config,
        Method::Set,
        "Appliance.Control.Bind",
        payload,
        &device_subscribe_topic(&config.uuid),
    )
}

pub(super) fn togglex_push(config: &SimConfig, channel: u32, on: bool, pub_topic: &str) -> Message {
    let payload = json!({"togglex": [{"channel": channel, "onoff": u8::from(on), "lmTime": protocol::now_secs()}]});
    device_message(
        config,
        Method::Push,
        "Appliance.Control.ToggleX",
        payload,
        pub_topic,
    )
}

/// Answers a GET or SET from the device's state: the reply, and a PUSH to send after it.
pub(super) fn answer(
    config: &SimConfig,
    state: &Mutex<SimState>,
    request: &Message,
) -> (Message, Option<Message>) {
    let pub_topic = device_publish_topic(&config.uuid);
    let reply = |method: Method, payload: Value| {
        let mut m = request.reply(method, payload, &pub_topic, &config.key);
        m.header.uuid = Some(config.uuid.clone());
        m
    };
    if !request.header.sign_ok(&config.key) {
        lock(state).sign_errors += 1;
        return (
            reply(
                Method::Error,
                json!({"error": {"code": 5001, "detail": "sign error"}}),
            ),
            None,
        );
    }
    let ns = request.header.namespace.as_str();
    let ack = request.header.method.ack();
    let p = &request.payload;
    let has = |n: &str| config.profile.ability.get(n).is_some();
    if !has(ns) && !config.profile.recorded.contains_key(ns) {
        return (
            reply(
                Method::Error,
                json!({"error": {"code": 5000, "detail": "unknown namespace"}}),
            ),
            None,
        );
    }
    let is_get = request.header.method == Method::Get;
    match ns {
        "Appliance.System.All" => {
            let mut all = json!({"system": system(config, state)});
            let s = lock(state);
            if let Some(digest) = config.profile.all.get("digest") {
                let mut digest = digest.clone();
                digest["togglex"] = json!(s
                    .relays
                    .iter()
                    .map(|(c, on)| json!({"channel": c, "onoff": u8::from(*on), "lmTime": 0}))
                    .collect::<Vec<_>>());
                all["digest"] = digest;
            } else if let Some(control) = config.profile.all.get("control") {
                let mut control = control.clone();
                control["toggle"] = json!({"onoff": u8::from(s.relays.get(&0).copied().unwrap_or(false)), "lmTime": 0});
                all["control"] = control;
            }
            (reply(ack, json!({"all": all})), None)
        }
        "Appliance.System.Ability" => {
            (reply(ack, json!({"ability": config.profile.ability})), None)
        }
        "Appliance.Control.ToggleX" if is_get => {
            let s = lock(state);
            let list: Vec<Value> = s
                .relays
                .iter()
                .map(|(c, on)| json!({"channel": c, "onoff": u8::from(*on), "lmTime": 0}))
                .collect();
            (reply(ack, json!({"togglex": list})), None)
        }
        "Appliance.Control.ToggleX" => {
            let items = match p.get("togglex") {
                Some(Value::Array(items)) => items.clone(),
                Some(one) => vec![one.clone()],
                None => vec![],
            };
            let mut changed = Vec::new();
            {
                let mut s = lock(state);
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
                .map(|(c, on)| togglex_push(config, *c, *on, &pub_topic));
            (reply(ack, json!({})), push)
        }
        "Appliance.Control.Toggle" if is_get => {
            let on = lock(state).relays.get(&0).copied().unwrap_or(false);
            (
                reply(ack, json!({"toggle": {"onoff": u8::from(on), "lmTime": 0}})),
                None,
            )
        }
        "Appliance.Control.Toggle" => {
            let on = p
                .pointer("/toggle/onoff")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                != 0;
            let mut s = lock(state);
            if s.relays.insert(0, on) != Some(on) {
                s.switches += 1;
            }
            drop(s);
            (reply(ack, json!({})), None)
        }
        "Appliance.Control.Electricity" => {
            let channel = p
                .pointer("/electricity/channel")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let s = lock(state);
            // Metering firmware reports nothing until it has been given a time zone.
            let (current, voltage, power) = if s.timezone.is_empty() {
                (0, 0, 0)
            } else if s.relays.get(&(channel as u32)).copied().unwrap_or(false) {
                (418, 2387, 67379)
            } else {
                (0, 2387, 0)
            };
            (
                reply(
                    ack,
                    json!({"electricity": {"channel": channel, "current": current, "voltage": voltage, "power": power, "config": {"voltageRatio": 188, "electricityRatio": 102}}}),
                ),
                None,
            )
        }
        "Appliance.Control.ConsumptionX" => {
            let today = protocol::now_secs() / 86_400;
            let days: Vec<Value> = (0..30u64)
                .map(|back| {
                    let day = today - back;
                    json!({"date": civil_date(day), "time": day * 86_400 + 86_399, "value": 120 + (day % 7) * 10})
                })
                .collect();
            (reply(ack, json!({"consumptionx": days})), None)
        }
        "Appliance.System.Time" if !is_get => {
            let mut s = lock(state);
            if let Some(tz) = p.pointer("/time/timezone").and_then(Value::as_str) {
                s.timezone = tz.to_owned();
            }
            if let Some(rules) = p.pointer("/time/timeRule") {
                s.time_rules = rules.clone();
            }
            (reply(ack, json!({})), None)
        }
        "Appliance.System.Time" => {
            let s = lock(state);
            (
                reply(
                    ack,
                    json!({"time": {"timestamp": protocol::now_secs(), "timezone": s.timezone, "timeRule": s.time_rules}}),
                ),
                None,
            )
        }
        "Appliance.Control.Multiple" => {
            // Each inner request answered as if it came alone, in order, up to maxCmdNum.
            let max = config
                .profile
                .ability
                .pointer("/Appliance.Control.Multiple/maxCmdNum")
                .and_then(Value::as_u64)
                .unwrap_or(5) as usize;
            let inner: Vec<Value> = p
                .get("multiple")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .take(max)
                        .filter_map(|m| serde_json::from_value::<Message>(m.clone()).ok())
                        .map(|m| {
                            let (answer, _) = answer(config, state, &m);
                            json!({"header": answer.header, "payload": answer.payload})
                        })
                        .collect()
                })
                .unwrap_or_default();
            (reply(ack, json!({ "multiple": inner })), None)
        }
        "Appliance.System.DNDMode" if !is_get => (reply(ack, json!({})), None),
        "Appliance.System.DNDMode" => (reply(ack, json!({"DNDMode": {"mode": 0}})), None),
        _ if is_get => match config.profile.recorded.get(ns) {
            Some(payload) => (reply(ack, payload.clone()), None),
            None => (reply(ack, json!({})), None),
        },
        // A SET whose state the trace recorded: the acknowledgement carries that state with
        // what was set (as GarageDoor.State's does).
        _ => match (config.profile.recorded.get(ns), p.as_object()) {
            (Some(Value::Object(recorded)), Some(set)) => {
                let mut state = recorded.clone();
                for (key, value) in set {
                    match (state.get_mut(key), value) {
                        (Some(Value::Object(old)), Value::Object(new)) => {
                            old.extend(new.clone());
                        }
                        _ => {
                            state.insert(key.clone(), value.clone());
                        }
                    }
                }
                (reply(ack, Value::Object(state)), None)
            }
            _ => (reply(ack, json!({})), None),
        },
    }
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
