//! What the gate tells the engine: a device connected (it is online, with its MAC,
//! account and TLS), said something (handled as a message), disconnected (offline, unless
//! a newer connection is up), or a login was refused (an event).

use super::device::EventKind;
use super::Engine;
use crate::gate::GateEvent;
use crate::protocol;

impl Engine {
    pub(super) async fn on_gate(&self, event: GateEvent) {
        match event {
            GateEvent::Message(m) => {
                // Its share of the budget goes back once it is handled.
                let (message, _budget) = m.into_parts();
                self.on_incoming(message).await;
            }
            GateEvent::Connected {
                uuid,
                mac,
                user_id,
                addr,
                conn,
                tls,
            } => {
                let now = protocol::now_secs();
                self.upsert(&uuid, |d| {
                    d.online = true;
                    d.tls = tls;
                    d.mac = Some(mac);
                    d.user_id = Some(user_id);
                    d.peer = Some(addr.to_string());
                    d.conn = Some(conn);
                    d.queried = false;
                    d.last_seen = now;
                });
                self.event(Some(&uuid), EventKind::Connected, addr.to_string());
                self.bridge_online(&uuid, true);
            }
            GateEvent::Disconnected { uuid, addr, conn } => {
                let mut went = false;
                self.update(&uuid, |d| {
                    // A newer connection of the same device may already be up.
                    if d.conn == Some(conn) {
                        d.online = false;
                        d.conn = None;
                        went = true;
                    }
                });
                if went {
                    self.event(Some(&uuid), EventKind::Disconnected, addr.to_string());
                    self.bridge_online(&uuid, false);
                }
            }
            GateEvent::Refused {
                addr,
                client_id,
                code,
            } => {
                let uuid = crate::gate::auth::device_uuid(&client_id).map(str::to_owned);
                self.event(
                    uuid.as_deref(),
                    EventKind::RefusedLogin,
                    format!("{addr} CONNACK {code}"),
                );
            }
        }
    }
}
