//! What the gate tells the engine, in order, per device: it came, it said something, it
//! went; and logins refused, commands replaced.

use super::ForEngine;
use std::net::SocketAddr;

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
    Message(ForEngine),
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
