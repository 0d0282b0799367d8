//! Relays are not to be hammered. Every switch command on its way to a device (a `SET` of
//! `Appliance.Control.ToggleX` or `Toggle`), whoever sent it (the API, Home Assistant, an
//! app, a local client), passes here: a channel is switched at most once per
//! [`MIN_SWITCH_INTERVAL`]; a command that comes sooner waits for its turn, and a later
//! one for the same channel takes its place (the latest wins, and the one it replaced is
//! counted and named, so that whoever waits for its answer can be told).

use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// At most four switches a second per channel: enough for any person, and a relay (and
/// the kettle or heater behind it) is not driven faster.
pub const MIN_SWITCH_INTERVAL: Duration = Duration::from_millis(250);
/// Channels remembered; past this, the ones idle longest are forgotten.
const MAX_CHANNELS: usize = 16_384;

/// A message for a device: its topic and payload.
pub type Held = (String, Bytes);

/// Which relay a switch command is for: (device uuid, channel).
type Key = (String, u32);

#[derive(Debug)]
struct Channel {
    /// When the last command went to the device.
    last: Instant,
    /// The command waiting for its turn, and its messageId.
    held: Option<(Held, String)>,
}

/// What to do with one message for a device.
#[derive(Debug, PartialEq, Eq)]
pub enum Pace {
    /// Not a switch command, or its channel's turn: deliver it now.
    Now,
    /// Held; deliver what [`Pacer::due`] gives at this instant. `replaced` is the
    /// messageId of the held command it took the place of, if any.
    Later {
        at: Instant,
        replaced: Option<String>,
    },
}

/// The switch command `payload` is, if it is one: (channel, messageId).
fn switch_of(payload: &[u8]) -> Option<(u32, String)> {
    let message: Value = serde_json::from_slice(payload).ok()?;
    let header = message.get("header")?;
    if header.get("method")?.as_str()? != "SET" {
        return None;
    }
    let body = match header.get("namespace")?.as_str()? {
        "Appliance.Control.ToggleX" => message.pointer("/payload/togglex")?,
        "Appliance.Control.Toggle" => message.pointer("/payload/toggle")?,
        _ => return None,
    };
    // One channel, or a list of them (paced as the first channel; lists are rare).
    let first = match body {
        Value::Array(list) => list.first()?,
        one => one,
    };
    let channel = first.get("channel").and_then(Value::as_u64).unwrap_or(0);
    let id = header.get("messageId")?.as_str()?.to_owned();
    Some((u32::try_from(channel).unwrap_or(u32::MAX), id))
}

/// The pace of every channel.
#[derive(Debug, Default)]
pub struct Pacer(Mutex<HashMap<Key, Channel>>);

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Channel>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides for one message to device `uuid`; a held one is kept here until due.
    pub fn offer(&self, uuid: &str, topic: &str, payload: &Bytes) -> Pace {
        let Some((channel, id)) = switch_of(payload) else {
            return Pace::Now;
        };
        let now = Instant::now();
        let mut channels = self.lock();
        if channels.len() >= MAX_CHANNELS {
            channels.retain(|_, c| c.held.is_some() || now - c.last < MIN_SWITCH_INTERVAL);
        }
        let key = (uuid.to_owned(), channel);
        let Some(c) = channels.get_mut(&key) else {
            channels.insert(
                key,
                Channel {
                    last: now,
                    held: None,
                },
            );
            return Pace::Now;
        };
        let at = c.last + MIN_SWITCH_INTERVAL;
        if c.held.is_none() && now >= at {
            c.last = now;
            return Pace::Now;
        }
        let message = ((topic.to_owned(), payload.clone()), id);
        let replaced = c.held.replace(message).map(|(_, id)| id);
        Pace::Later { at, replaced }
    }

    /// The held command of `uuid`'s channel whose turn came (see [`Pace::Later`]).
    pub fn due(&self, uuid: &str, channel: u32) -> Option<Held> {
        let key = (uuid.to_owned(), channel);
        let mut channels = self.lock();
        let c = channels.get_mut(&key)?;
        let (held, _) = c.held.take()?;
        c.last = Instant::now();
        Some(held)
    }

    /// The channel a switch command is for (to ask [`Pacer::due`] with).
    pub fn channel_of(payload: &[u8]) -> Option<u32> {
        switch_of(payload).map(|(channel, _)| channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toggle(id: &str, channel: u32, on: u8) -> Bytes {
        let m = serde_json::json!({
            "header": {"method": "SET", "namespace": "Appliance.Control.ToggleX", "messageId": id},
            "payload": {"togglex": {"channel": channel, "onoff": on}}
        });
        Bytes::from(m.to_string())
    }

    #[tokio::test]
    async fn a_burst_is_paced_per_channel_and_the_latest_wins() {
        let p = Pacer::default();
        let t = "/appliance/u/subscribe";
        assert_eq!(p.offer("u", t, &toggle("a", 0, 1)), Pace::Now);
        // Another channel has its own pace.
        assert_eq!(p.offer("u", t, &toggle("x", 1, 1)), Pace::Now);
        let Pace::Later { at, replaced: None } = p.offer("u", t, &toggle("b", 0, 0)) else {
            panic!("b should wait");
        };
        let Pace::Later { replaced, .. } = p.offer("u", t, &toggle("c", 0, 1)) else {
            panic!("c should wait");
        };
        assert_eq!(replaced.as_deref(), Some("b"));
        tokio::time::sleep_until(at).await;
        let (_, payload) = p.due("u", 0).expect("c is due");
        assert_eq!(switch_of(&payload), Some((0, "c".into())));
        assert!(p.due("u", 0).is_none());
        // Anything that is not a switch passes at once.
        let get = Bytes::from_static(br#"{"header":{"method":"GET","namespace":"Appliance.System.All","messageId":"g"},"payload":{}}"#);
        assert_eq!(p.offer("u", t, &get), Pace::Now);
    }
}
