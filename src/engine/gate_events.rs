//! What the gate tells the engine: a device connected (it is online, with its MAC,
//! account and TLS), said something (handled as a message), disconnected (offline, unless
//! a newer connection is up), or a login was refused (an event).

use super::Engine;
use crate::hub::GateEvent;
use crate::model::EventKind;
use crate::protocol;

impl Engine {
    fn session_opened(&self, uuid: &str, conn: u64) {
        let mut sessions = super::lock(&self.shared.sessions);
        let live = sessions.entry(uuid.to_owned()).or_default();
        if !live.contains(&conn) {
            live.push(conn);
        }
    }

    /// Forgets connection `conn` of `uuid`; the newest of its connections still up, if any.
    fn session_closed(&self, uuid: &str, conn: u64) -> Option<u64> {
        let mut sessions = super::lock(&self.shared.sessions);
        let live = sessions.get_mut(uuid)?;
        live.retain(|c| *c != conn);
        let newest = live.iter().max().copied();
        if newest.is_none() {
            sessions.remove(uuid);
        }
        newest
    }

    pub(super) async fn on_gate(&self, event: GateEvent) {
        match event {
            // Its share of the budget goes back once it is handled and dropped.
            GateEvent::Message(message) => self.on_message(&message).await,
            GateEvent::Connected {
                uuid,
                mac,
                user_id,
                addr,
                conn,
                tls,
            } => {
                let now = protocol::now_secs();
                self.session_opened(&uuid, conn);
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
                self.moko_connected(&uuid);
                self.bridge_online(&uuid, true);
            }
            GateEvent::Disconnected { uuid, addr, conn } => {
                // Another connection of the same device, newer or older, may still be up:
                // the device stays online on the newest of them.
                let newest_left = self.session_closed(&uuid, conn);
                let mut went = false;
                self.update(&uuid, |d| match newest_left {
                    Some(left) => d.conn = Some(left),
                    None => {
                        went = d.online;
                        d.online = false;
                        d.conn = None;
                    }
                });
                if went {
                    self.event(Some(&uuid), EventKind::Disconnected, addr.to_string());
                    self.bridge_online(&uuid, false);
                }
            }
            GateEvent::Superseded { message_id } => {
                // Its waiter, if any, hears that a later command took its place.
                let waiter = super::lock(&self.shared.pending).remove(&message_id);
                if waiter.is_some() {
                    super::lock(&self.shared.superseded).insert(message_id);
                }
            }
            GateEvent::Refused {
                addr,
                client_id,
                code,
            } => {
                let uuid = crate::protocol::client_id::device_uuid(&client_id).map(str::to_owned);
                self.event(
                    uuid.as_deref(),
                    EventKind::RefusedLogin,
                    format!("{addr} CONNACK {code}"),
                );
            }
        }
    }
}
