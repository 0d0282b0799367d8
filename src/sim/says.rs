//! What a simulated device says of its own accord (its Bind, its PUSHes) and the frame
//! of every answer: the request being answered ([`Ask`]) and the reply it gets.

use super::device::{lock, SimState, KEEP_RECEIVED};
use super::SimConfig;
use crate::protocol::{self, device_subscribe_topic, Message, Method};
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
        if let Some(version) = &s.firmware {
            fw.insert("version".into(), json!(version));
        }
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

/// A request being answered, and what answers need.
pub(super) struct Ask<'a> {
    pub(super) config: &'a SimConfig,
    pub(super) state: &'a Mutex<SimState>,
    pub(super) request: &'a Message,
    pub(super) pub_topic: String,
}

/// A reply, and a PUSH to send after it.
pub(super) type Answer = (Message, Option<Message>);

impl Ask<'_> {
    pub(super) fn reply(&self, method: Method, payload: Value) -> Message {
        let mut m = self
            .request
            .reply(method, payload, &self.pub_topic, &self.config.key);
        m.header.uuid = Some(self.config.uuid.clone());
        m
    }

    pub(super) fn ack(&self, payload: Value) -> Answer {
        (self.reply(self.request.header.method.ack(), payload), None)
    }

    pub(super) fn error(&self, code: u32, detail: &str) -> Answer {
        let payload = json!({"error": {"code": code, "detail": detail}});
        (self.reply(Method::Error, payload), None)
    }

    pub(super) fn payload(&self) -> &Value {
        &self.request.payload
    }
}
