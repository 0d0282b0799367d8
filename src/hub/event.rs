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
    /// A MOKO plug's `<prefix>/device/<what>`: what it is about.
    Moko(String),
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
        /// The device's uuid, from its client id (`fmware:<uuid>_…`).
        uuid: String,
        /// The MAC it logged in with as its user name, lowercase with colons.
        mac: String,
        /// The account whose key verified its password.
        user_id: String,
        /// The device's address as the gate saw it.
        addr: SocketAddr,
        /// The gate's number for this connection, counted up from 0 for every connection.
        conn: u64,
        /// How TLS was agreed, e.g. `TLSv1.2 AES128-SHA (openssl)`; `None` on plain MQTT.
        tls: Option<String>,
    },
    /// A device's connection closed; another connection of the same uuid may still be up.
    Disconnected {
        /// The uuid the connection was logged in as.
        uuid: String,
        /// The address the connection came from.
        addr: SocketAddr,
        /// The number its `Connected` carried.
        conn: u64,
    },
    /// A device said something the engine reads (see `hub`).
    Message(DeviceMessage),
    /// A switch command was replaced by a later one for the same channel before it was
    /// sent (see `pace`): whoever waits for its answer waits in vain.
    Superseded {
        /// The `messageId` in the header of the command that was dropped.
        message_id: String,
    },
    /// A login is being refused (a sample of them, as the log: a flood of bad logins must
    /// not fill the events table); its CONNACK follows.
    Refused {
        /// The address the login came from.
        addr: SocketAddr,
        /// The client id in the refused CONNECT, as sent.
        client_id: String,
        /// The CONNACK return code it was answered with, 1 to 5 (see
        /// [`ConnackCode`](crate::mqtt::connect::ConnackCode)).
        code: u8,
    },
}
