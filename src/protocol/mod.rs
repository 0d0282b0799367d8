//! The Meross wire: the message envelope and its header, the `sign`, the device's MQTT
//! password, and typed payloads for the namespaces the engine reads.

pub mod client_id;
pub mod mac;
pub mod moko;
pub mod obfuscate;
pub mod payloads;
mod sign;
pub mod topic;
pub mod trace;

pub use sign::{device_password, md5_bytes_hex, md5_hex, message_id, sign};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// A device uuid as we accept it anywhere: 1 to 64 ASCII letters and digits (real ones
/// are 32 hex digits).
pub fn valid_uuid(uuid: &str) -> bool {
    !uuid.is_empty() && uuid.len() <= 64 && uuid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The topic a device subscribes to: everything sent *to* a device goes here.
pub fn device_subscribe_topic(uuid: &str) -> String {
    format!("/appliance/{uuid}/subscribe")
}

/// The topic a device publishes everything on.
pub fn device_publish_topic(uuid: &str) -> String {
    format!("/appliance/{uuid}/publish")
}

/// The `from` the Meross cloud puts on its answers to a device's session messages.
pub const CLOUD_FROM: &str = "/cloud/hook/subscribe";

/// The message methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    /// `GET`: asks for a namespace's state.
    #[serde(rename = "GET")]
    Get,
    /// `GETACK`: the answer to a `GET`, with the state.
    #[serde(rename = "GETACK")]
    GetAck,
    /// `SET`: changes something, e.g. a switch.
    #[serde(rename = "SET")]
    Set,
    /// `SETACK`: the answer to a `SET`.
    #[serde(rename = "SETACK")]
    SetAck,
    /// `PUSH`: news sent unasked, e.g. a switch turned at the device or its clock.
    #[serde(rename = "PUSH")]
    Push,
    /// `DELETE`: removes something from the device.
    #[serde(rename = "DELETE")]
    Delete,
    /// `DELETEACK`: the answer to a `DELETE`.
    #[serde(rename = "DELETEACK")]
    DeleteAck,
    /// `ERROR`: the answer to a request that failed (see [`Message::error_code`]).
    #[serde(rename = "ERROR")]
    Error,
}

impl Method {
    /// The acknowledgement a device sends for a request with this method.
    pub fn ack(self) -> Method {
        match self {
            Method::Get => Method::GetAck,
            Method::Set => Method::SetAck,
            Method::Delete => Method::DeleteAck,
            other => other,
        }
    }

    /// True for the methods that answer a request.
    pub fn is_reply(self) -> bool {
        matches!(
            self,
            Method::GetAck | Method::SetAck | Method::DeleteAck | Method::Error
        )
    }

    /// The name as it is on the wire: `GET`, `GETACK`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::GetAck => "GETACK",
            Method::Set => "SET",
            Method::SetAck => "SETACK",
            Method::Push => "PUSH",
            Method::Delete => "DELETE",
            Method::DeleteAck => "DELETEACK",
            Method::Error => "ERROR",
        }
    }

    /// Parses a method name as a user types it (`get`, `SET`, ...).
    pub fn parse(text: &str) -> Option<Method> {
        serde_json::from_value(Value::String(text.to_ascii_uppercase())).ok()
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The header every message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// `messageId`: 32 lowercase hex digits, fresh for a request; a reply carries its
    /// request's.
    pub message_id: String,
    /// What the message is about, e.g. `Appliance.Control.ToggleX`.
    pub namespace: String,
    /// What is asked or answered.
    pub method: Method,
    /// `payloadVersion`: 1 in every trace, and taken as 1 when absent.
    #[serde(default = "payload_version")]
    pub payload_version: u32,
    /// The topic the sender wants answers on (e.g. `/app/<id>/subscribe`); empty when
    /// absent.
    #[serde(default)]
    pub from: String,
    /// When it was sent, in seconds since the Unix epoch; part of the `sign`. 0 when
    /// absent.
    #[serde(default)]
    pub timestamp: u64,
    /// `timestampMs`: the milliseconds within that second (0 to 999), if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<u32>,
    /// `md5(messageId + key + timestamp)` in hex (see [`Header::sign_ok`]); empty when
    /// absent.
    #[serde(default)]
    pub sign: String,
    /// The device's uuid, if sent; merossd puts it on the pushes it makes for a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `triggerSrc`: what caused the message, as the sender names it (e.g. `Android`),
    /// if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_src: Option<String>,
}

fn payload_version() -> u32 {
    1
}

impl Header {
    /// A fresh, signed header: new messageId, the current time.
    pub fn new(method: Method, namespace: &str, from: &str, key: &str) -> Header {
        Header::with_id(message_id(), method, namespace, from, key)
    }

    /// A signed header with a given messageId (replies carry the request's).
    pub fn with_id(id: String, method: Method, namespace: &str, from: &str, key: &str) -> Header {
        let timestamp = now_secs();
        Header {
            sign: sign(&id, key, timestamp),
            message_id: id,
            namespace: namespace.to_owned(),
            method,
            payload_version: 1,
            from: from.to_owned(),
            timestamp,
            timestamp_ms: Some(now_millis_part()),
            uuid: None,
            trigger_src: None,
        }
    }

    /// True when `sign` is `md5(messageId + key + timestamp)`.
    pub fn sign_ok(&self, key: &str) -> bool {
        self.sign
            .eq_ignore_ascii_case(&sign(&self.message_id, key, self.timestamp))
    }
}

/// One Meross message: `{"header": {...}, "payload": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who sent it, what it is about, and its signature.
    pub header: Header,
    /// The namespace's body, an object keyed by what it carries (e.g. `togglex`); JSON
    /// `null` when absent.
    #[serde(default)]
    pub payload: Value,
}

impl Message {
    /// A new signed message.
    pub fn new(method: Method, namespace: &str, payload: Value, from: &str, key: &str) -> Message {
        Message {
            header: Header::new(method, namespace, from, key),
            payload,
        }
    }

    /// The reply to this message, with the same messageId.
    pub fn reply(&self, method: Method, payload: Value, from: &str, key: &str) -> Message {
        Message {
            header: Header::with_id(
                self.header.message_id.clone(),
                method,
                &self.header.namespace,
                from,
                key,
            ),
            payload,
        }
    }

    /// Reads a message from its JSON bytes, as it came over MQTT.
    pub fn parse(bytes: &[u8]) -> Result<Message, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The message as JSON bytes, to publish.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A Message holds only strings, numbers and JSON values: it always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The `code` of an `ERROR` payload (`{"error":{"code":5001,...}}`), if any.
    pub fn error_code(&self) -> Option<i64> {
        self.payload.get("error")?.get("code")?.as_i64()
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_millis_part() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_signs() {
        let m = Message::new(
            Method::Get,
            "Appliance.System.All",
            serde_json::json!({}),
            "/app/x/subscribe",
            "k",
        );
        let back = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        assert!(back.header.sign_ok("k"));
        assert!(!back.header.sign_ok("other"));
    }

    #[test]
    fn old_firmware_header_without_optional_fields_parses() {
        let raw = br#"{"header":{"messageId":"a","namespace":"Appliance.System.Clock","method":"PUSH","payloadVersion":1,"from":"/appliance/u/publish","timestamp":5,"sign":"x"},"payload":{"clock":{"timestamp":5}}}"#;
        let m = Message::parse(raw).unwrap();
        assert_eq!(m.header.method, Method::Push);
        assert_eq!(m.header.timestamp_ms, None);
    }
}
