//! What the gate tells the engine, in order, per device: it came, it said something, it
//! went; and logins refused, commands replaced.

use bytes::Bytes;
use std::net::SocketAddr;
use tokio::sync::OwnedSemaphorePermit;

/// Where a device addressed what it said to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressed {
    /// Its own `/appliance/<uuid>/publish`: a PUSH, or an answer to whoever asked there.
    OwnTopic,
    /// An engine's inbox (`/app/merossd-…/subscribe`, the topic named): an answer to a
    /// request.
    Inbox(String),
}

/// A device's message on its way to the engine: who said it, where to, and the bytes.
/// Its bytes count against the hub's `ENGINE_BUDGET` until the engine drops it.
#[derive(Debug)]
pub struct DeviceMessage {
    /// The uuid the gate logged this connection in as: whatever the message or its topic
    /// claim, this is who said it.
    pub sender: String,
    /// Where it was addressed.
    pub to: Addressed,
    /// The message, as it came.
    pub payload: Bytes,
    pub(super) _budget: OwnedSemaphorePermit,
}

/// What the gate tells the engine.
#[derive(Debug)]
pub enum GateEvent {
    /// A device logged in. `conn` tells this connection from a later one of the same uuid.
    Connected {
        uuid: String,
        mac: String,
        user_id: String,
        addr: SocketAddr,
        conn: u64,
        /// How TLS was agreed, e.g. `TLSv1.2 AES128-SHA (openssl)`; `None` on plain MQTT.
        tls: Option<String>,
    },
    Disconnected {
        uuid: String,
        addr: SocketAddr,
        conn: u64,
    },
    /// A device said something the engine reads (see `hub`).
    Message(DeviceMessage),
    /// A switch command was replaced by a later one for the same channel before it was
    /// sent (see `pace`): whoever waits for its answer waits in vain.
    Superseded { message_id: String },
    /// A login was refused (recorded as an event; the CONNACK already went out).
    Refused {
        addr: SocketAddr,
        client_id: String,
        code: u8,
    },
}
