//! How a simulated device answers its family's GETs and SETs, as the firmware does: the
//! state lives where the device reports it (its digest, or the recorded answer of a GET),
//! a SET changes it and the PUSH that follows tells every client; a garage door and a
//! shutter take `Timings::motion` to get where they were sent, and say so when there.
//! Do-not-disturb changes without a PUSH, as on the real devices.

use super::device::{lock, Later, SimState};
use super::says::{device_message, Answer, Ask};
use crate::protocol::{self, Method};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

/// A namespace whose state the simulator keeps.
struct Kept {
    namespace: &'static str,
    /// The payload key the state is under.
    key: &'static str,
    /// Where it lives in the digest, if there (else in the recorded GET answer).
    digest: Option<&'static str>,
    /// What tells its items apart.
    id: &'static str,
    /// Whether a SET is followed by a PUSH of the new state.
    push: bool,
}

const fn kept(namespace: &'static str, key: &'static str, digest: Option<&'static str>) -> Kept {
    Kept {
        namespace,
        key,
        digest,
        id: "channel",
        push: true,
    }
}

const KEPT: &[Kept] = &[
    kept("Appliance.Control.Light", "light", Some("/light")),
    kept(
        "Appliance.Control.Diffuser.Light",
        "light",
        Some("/diffuser/light"),
    ),
    kept(
        "Appliance.Control.Diffuser.Spray",
        "spray",
        Some("/diffuser/spray"),
    ),
    kept("Appliance.Control.Spray", "spray", Some("/spray")),
    kept(
        "Appliance.Control.Thermostat.Mode",
        "mode",
        Some("/thermostat/mode"),
    ),
    kept(
        "Appliance.Control.Thermostat.ModeB",
        "modeB",
        Some("/thermostat/modeB"),
    ),
    kept("Appliance.GarageDoor.State", "state", Some("/garageDoor")),
    kept("Appliance.RollerShutter.Position", "position", None),
    kept("Appliance.RollerShutter.State", "state", None),
    Kept {
        push: false,
        ..kept("Appliance.System.DNDMode", "DNDMode", None)
    },
    Kept {
        id: "id",
        ..kept("Appliance.Hub.ToggleX", "togglex", Some("/hub/subdevice"))
    },
    Kept {
        id: "id",
        ..kept("Appliance.Hub.Mts100.All", "all", None)
    },
    Kept {
        id: "id",
        ..kept("Appliance.Hub.Sensor.All", "all", None)
    },
    Kept {
        id: "id",
        ..kept("Appliance.Hub.Battery", "battery", None)
    },
];

fn find(namespace: &str) -> Option<&'static Kept> {
    KEPT.iter().find(|k| k.namespace == namespace)
}

/// A valve's SETs change its `Hub.Mts100.All` record: `Mode` its `mode.state`,
/// `Temperature` its custom set point (which it then holds); each PUSHes what it set.
pub(super) fn valve(ask: &Ask<'_>, namespace: &str) -> Option<Answer> {
    let (key, nest): (&str, fn(&Value) -> Value) = match namespace {
        "Appliance.Hub.Mts100.Mode" => ("mode", |item| json!({"state": item["state"]})),
        "Appliance.Hub.Mts100.Temperature" => (
            "temperature",
            |item| json!({"custom": item["custom"], "currentSet": item["custom"]}),
        ),
        _ => return None,
    };
    let incoming = ask.payload().get(key)?.as_array()?.clone();
    let all = find("Appliance.Hub.Mts100.All")?;
    let mut pushed = Vec::new();
    {
        let mut s = lock(ask.state);
        let target = current_mut(&mut s, all)?;
        for item in &incoming {
            let change = json!({"id": item["id"], key: nest(item)});
            let after = merge(target, &change, "id");
            if let Some(now) = after.first().and_then(|a| a.get(key)) {
                let mut told = now.clone();
                told["id"] = item["id"].clone();
                pushed.push(told);
            }
        }
    }
    let push = device_message(
        ask.config,
        Method::Push,
        namespace,
        json!({ key: pushed }),
        &ask.pub_topic,
    );
    Some((ask.ack(json!({})).0, Some(push)))
}

/// The state of a kept namespace, as it is now.
fn current(s: &SimState, k: &Kept) -> Value {
    match k.digest {
        Some(pointer) => s.digest.pointer(pointer).cloned().unwrap_or(Value::Null),
        None => s
            .kept
            .get(k.namespace)
            .and_then(|p| p.get(k.key))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

fn current_mut<'a>(s: &'a mut SimState, k: &Kept) -> Option<&'a mut Value> {
    match k.digest {
        Some(pointer) => s.digest.pointer_mut(pointer),
        None => s.kept.get_mut(k.namespace)?.get_mut(k.key),
    }
}

/// Folds `incoming` (an item or a list) into `target` (an item or a list), item by item
/// as `id` tells them apart; the items as they are after.
fn merge(target: &mut Value, incoming: &Value, id: &str) -> Vec<Value> {
    let items: Vec<&Value> = match incoming {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    let mut after = Vec::new();
    for item in items {
        let Some(fields) = item.as_object() else {
            continue;
        };
        let slot = match target {
            Value::Array(list) => {
                let key = fields.get(id).cloned().unwrap_or(json!(0));
                match list
                    .iter()
                    .position(|t| t.get(id).unwrap_or(&json!(0)) == &key)
                {
                    Some(i) => &mut list[i],
                    None => {
                        list.push(json!({}));
                        let last = list.len() - 1;
                        &mut list[last]
                    }
                }
            }
            Value::Object(_) => &mut *target,
            _ => {
                *target = json!({});
                &mut *target
            }
        };
        if let Some(object) = slot.as_object_mut() {
            deep_extend(object, fields);
        }
        after.push(slot.clone());
    }
    after
}

fn deep_extend(object: &mut Map<String, Value>, fields: &Map<String, Value>) {
    for (key, value) in fields {
        match (object.get_mut(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_extend(old, new),
            _ => {
                object.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Makes a change that was due: the state it leaves and the PUSH that tells it.
pub(super) fn arrive(
    config: &super::SimConfig,
    state: &std::sync::Mutex<SimState>,
    later: Later,
) -> Option<crate::protocol::Message> {
    let k = find(later.namespace)?;
    let mut item = later.item;
    if k.namespace == "Appliance.GarageDoor.State" {
        item["lmTime"] = json!(protocol::now_secs());
    }
    let after = {
        let mut s = lock(state);
        merge(current_mut(&mut s, k)?, &item, k.id)
    };
    let from = crate::protocol::device_publish_topic(&config.uuid);
    let payload = json!({ k.key: after });
    Some(device_message(
        config,
        Method::Push,
        k.namespace,
        payload,
        &from,
    ))
}

/// A GET of a kept namespace; `None` if it is not one.
pub(super) fn get(ask: &Ask<'_>, namespace: &str) -> Option<Answer> {
    let k = find(namespace)?;
    let state = current(&lock(ask.state), k);
    if state.is_null() {
        return None;
    }
    Some(ask.ack(json!({ k.key: state })))
}

/// A PUSH of `namespace` with these items.
fn push(ask: &Ask<'_>, namespace: &str, key: &str, items: Vec<Value>) -> crate::protocol::Message {
    device_message(
        ask.config,
        Method::Push,
        namespace,
        json!({ key: items }),
        &ask.pub_topic,
    )
}

/// A SET of a kept namespace; `None` if it is not one.
pub(super) fn set(ask: &Ask<'_>, namespace: &str) -> Option<Answer> {
    if let Some(answer) = valve(ask, namespace) {
        return Some(answer);
    }
    let k = find(namespace)?;
    let incoming = ask.payload().get(k.key)?.clone();
    match namespace {
        "Appliance.GarageDoor.State" => return Some(garage(ask, k, &incoming)),
        "Appliance.RollerShutter.Position" => return Some(shutter(ask, &incoming)),
        _ => {}
    }
    let after = {
        let mut s = lock(ask.state);
        let target = current_mut(&mut s, k)?;
        let mut after = merge(target, &incoming, k.id);
        if namespace == "Appliance.Control.Thermostat.Mode" {
            after = after.into_iter().map(with_target).collect();
            if let Some(target) = current_mut(&mut s, k) {
                merge(target, &Value::Array(after.clone()), k.id);
            }
        }
        after
    };
    // A light acknowledges with its state, a thermostat with its channels' (MerossIot
    // reads them from the SETACK); the others with nothing.
    let ack = match namespace {
        "Appliance.Control.Light" => json!({ "light": after.first().cloned().unwrap_or_default() }),
        "Appliance.Control.Thermostat.Mode" | "Appliance.Control.Thermostat.ModeB" => {
            json!({ k.key: after.clone() })
        }
        _ => json!({}),
    };
    let push = k.push.then(|| push(ask, namespace, k.key, after));
    Some((ask.ack(ack).0, push))
}

/// An MTS200 item with `targetTemp` the set point of its mode.
fn with_target(mut item: Value) -> Value {
    let key = match item.get("mode").and_then(Value::as_u64) {
        Some(0) => "heatTemp",
        Some(1) => "coolTemp",
        Some(2) => "ecoTemp",
        Some(4) => "manualTemp",
        _ => return item,
    };
    if let Some(t) = item.get(key).cloned() {
        item["targetTemp"] = t;
    }
    item
}

/// A door acknowledges with its state now and whether it acts; it is there (and
/// PUSHes it) after `motion`.
fn garage(ask: &Ask<'_>, k: &Kept, incoming: &Value) -> Answer {
    let channel = incoming.get("channel").and_then(Value::as_u64).unwrap_or(0);
    let open = incoming.get("open").and_then(Value::as_u64).unwrap_or(0);
    let mut s = lock(ask.state);
    let was = current(&s, k)
        .as_array()
        .and_then(|doors| {
            doors
                .iter()
                .find(|d| d["channel"] == json!(channel))
                .cloned()
        })
        .and_then(|d| d.get("open").and_then(Value::as_u64))
        .unwrap_or(0);
    let execute = u8::from(was != open);
    if execute == 1 {
        let at = Instant::now() + ask.config.timings.motion;
        let item = json!({"channel": channel, "open": open});
        s.later.push(Later {
            at,
            namespace: k.namespace,
            item,
        });
    }
    drop(s);
    let ack = json!({"state": {"channel": channel, "open": was, "lmTime": protocol::now_secs(), "execute": execute}});
    ask.ack(ack)
}

/// A shutter says it moves at once, and where it got to after `motion` (-1 stops it).
fn shutter(ask: &Ask<'_>, incoming: &Value) -> Answer {
    let channel = incoming.get("channel").and_then(Value::as_u64).unwrap_or(0);
    let to = incoming
        .get("position")
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    let position = find("Appliance.RollerShutter.Position").map(|k| {
        let s = lock(ask.state);
        current(&s, k)
    });
    let at = position
        .and_then(|p| p.as_array().and_then(|l| l.first().cloned()))
        .and_then(|p| p.get("position").and_then(Value::as_i64))
        .unwrap_or(0);
    let state = |n: u8| json!({"channel": channel, "state": n, "stoppedBy": 0});
    let state_ns = "Appliance.RollerShutter.State";
    if to < 0 || to == at {
        let push = push(ask, state_ns, "state", vec![state(0)]);
        return (ask.ack(json!({})).0, Some(push));
    }
    let moving = push(
        ask,
        state_ns,
        "state",
        vec![state(if to > at { 1 } else { 2 })],
    );
    let there = json!({"channel": channel, "position": to.clamp(0, 100)});
    let at = Instant::now() + ask.config.timings.motion;
    let mut s = lock(ask.state);
    for (namespace, item) in [
        ("Appliance.RollerShutter.Position", there),
        (state_ns, state(0)),
    ] {
        s.later.push(Later {
            at,
            namespace,
            item,
        });
    }
    drop(s);
    (ask.ack(json!({})).0, Some(moving))
}
