//! What the engine does with each message from a device: the session handshake that keeps
//! current firmware bound (Bind -> SETACK, Clock, ConsumptionConfig echo, Report, Unbind),
//! replies to our requests, and state PUSHes (what is kept of them: `learn`). What the gate
//! reports is in `gate_events`.

use super::said::{Said, Unverified};
use super::{lock, read, Engine, REQUEST_TIMEOUT};
use crate::hub::{Addressed, DeviceMessage};
use crate::metrics::{inc, inc_logged};
use crate::model::{AnswerKind, EventKind};
use crate::protocol::payloads::BindPayload;
use crate::protocol::{self, device_subscribe_topic, Header, Message, Method, CLOUD_FROM};
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::namespaces::*;

impl Engine {
    /// Handles what a device said: read once, trusted as far as its sign goes (see
    /// `said`), then answered or learnt from.
    pub(super) async fn on_message(&self, said: &DeviceMessage) {
        if let Addressed::Moko(what) = &said.to {
            return self.on_moko(&said.sender, what, &said.payload).await;
        }
        if let Addressed::Inbox(topic) = &said.to {
            if *topic != self.shared.reply_topic {
                // An earlier engine's inbox: nothing waits there any more.
                debug!(%topic, "a reply to another engine; ignored");
                return;
            }
        }
        inc(&self.shared.counters.messages_in);
        let uuid = said.sender.as_str();
        let message = match Message::parse(&said.payload) {
            Ok(m) => m,
            Err(error) => {
                if let Some(total) = inc_logged(&self.shared.counters.bad_messages) {
                    warn!(%uuid, %error, bytes = said.payload.len(), total, "not a Meross message; dropped");
                }
                return;
            }
        };
        let kind = Said::of(&message.header);
        // A Bind is answered, sign or not: from then on the device is bound.
        let attempts = self.shared.registry.attempts();
        attempts.said(uuid, &message.header.namespace, kind == Said::Bind);
        debug!(%uuid, method = %message.header.method, namespace = %message.header.namespace, "received");
        let (verified, key) = self.check_sign(uuid, &message.header);
        if !verified {
            let fate = kind.unverified();
            self.sign_failed(uuid, &message, fate);
            if fate == Unverified::Drop {
                return;
            }
        }
        if kind == Said::Answer {
            self.on_answer(uuid, &said.to, message);
            return;
        }
        self.touch(uuid);
        if verified && kind == Said::State {
            self.bridge_push(uuid, &said.payload).await;
        }
        match kind {
            Said::Bind => self.on_bind(uuid, &key, &message, verified).await,
            Said::Clock => self.on_clock(uuid, &key, &message, verified).await,
            Said::ConsumptionConfig => {
                let echo = message.payload.clone();
                self.answer(uuid, &key, Method::Push, NS_CONSUMPTION_CONFIG, echo, None)
                    .await;
            }
            // Past this point only what verified: a session message whose sign failed was
            // answered above and changes nothing.
            _ if !verified => {}
            Said::Report => {
                let report = message.payload.get("report").unwrap_or(&Value::Null);
                self.keep_answer(uuid, AnswerKind::Report, report);
            }
            Said::Unbind { acknowledge } => self.on_unbind(uuid, &key, &message, acknowledge).await,
            Said::State => self.learn(uuid, &message),
            Said::Answer | Said::Other => {
                let method = message.header.method;
                debug!(%uuid, %method, namespace = %message.header.namespace, "not handled");
            }
        }
    }

    /// Logged and recorded as a sample: a forging client must not fill the log or the
    /// events table.
    fn sign_failed(&self, uuid: &str, message: &Message, fate: Unverified) {
        let Some(total) = inc_logged(&self.shared.counters.sign_failures) else {
            return;
        };
        let (method, namespace) = (message.header.method, &message.header.namespace);
        let answered = fate == Unverified::AnswerOnly;
        warn!(%uuid, %namespace, answered, total, "sign does not verify");
        let detail = format!("{method} {namespace} ({total} so far)");
        self.event(Some(uuid), EventKind::SignFailure, detail);
    }

    /// An answer: to whoever waits for it, if the request went to this very device, and
    /// what it says of the device's state. An answer in our inbox that no request of ours
    /// waits for is dropped.
    fn on_answer(&self, uuid: &str, to: &Addressed, message: Message) {
        let waiter = {
            let mut pending = lock(&self.shared.pending);
            match pending.get(&message.header.message_id) {
                Some((asked, _)) if asked == uuid => pending.remove(&message.header.message_id),
                _ => None,
            }
        };
        let ours = waiter.is_some();
        if let Some((_, waiter)) = waiter {
            let _ = waiter.send(message.clone());
        }
        if ours || *to == Addressed::OwnTopic {
            // A ToggleX SETACK carries no state; GETACKs do.
            self.learn(uuid, &message);
        } else {
            debug!(%uuid, "not an answer to a request of ours; dropped");
        }
    }

    /// Answers the device's clock with ours, and sets its time when it drifted.
    async fn on_clock(&self, uuid: &str, key: &str, message: &Message, verified: bool) {
        let now = protocol::now_secs();
        let payload = json!({"clock": {"timestamp": now}});
        self.answer(uuid, key, Method::Push, NS_CLOCK, payload, None)
            .await;
        let told = message
            .payload
            .pointer("/clock/timestamp")
            .and_then(Value::as_u64);
        let drifted = told.filter(|t| t.abs_diff(now) > super::time::DRIFT_TOLERANCE_S);
        if let (Some(told), true) = (drifted, verified) {
            debug!(%uuid, drift = i128::from(told) - i128::from(now), "device clock drifted");
            self.resync_time(uuid);
        }
    }

    /// The device was reset: it is no longer bound.
    async fn on_unbind(&self, uuid: &str, key: &str, message: &Message, acknowledge: bool) {
        info!(%uuid, "device says it was unbound (reset)");
        self.update(uuid, |d| d.bound_at = None);
        self.event(Some(uuid), EventKind::Unbound, String::new());
        if acknowledge {
            let ack = json!({});
            self.answer(uuid, key, Method::SetAck, NS_UNBIND, ack, Some(message))
                .await;
        }
    }

    /// Checks a message's sign with the device's account key, or any account's key when the
    /// device is not known. Returns whether it verified and the key to sign answers with.
    fn check_sign(&self, uuid: &str, header: &Header) -> (bool, String) {
        let devices = read(&self.shared.devices);
        match devices.get(uuid).and_then(|d| self.key_of(d)) {
            Some(key) => (header.sign_ok(&key), key),
            None => match self.shared.accounts.iter().find(|a| header.sign_ok(&a.key)) {
                Some(account) => (true, account.key.clone()),
                None => (false, String::new()),
            },
        }
    }

    /// Sends a session answer to the device, signed with its key.
    async fn answer(
        &self,
        uuid: &str,
        key: &str,
        method: Method,
        namespace: &str,
        payload: Value,
        reply_to: Option<&Message>,
    ) {
        let header = match reply_to {
            Some(m) => Header::with_id(
                m.header.message_id.clone(),
                method,
                namespace,
                CLOUD_FROM,
                key,
            ),
            None => Header::new(method, namespace, CLOUD_FROM, key),
        };
        let message = Message { header, payload };
        let _ = self.send(&device_subscribe_topic(uuid), &message).await;
    }

    async fn on_bind(&self, uuid: &str, key: &str, message: &Message, trusted: bool) {
        self.answer(uuid, key, Method::SetAck, NS_BIND, json!({}), Some(message))
            .await;
        if !trusted {
            // The login proved the key; the SETACK keeps it bound. Its claims wait for a
            // Bind whose sign verifies.
            return;
        }
        inc(&self.shared.counters.binds);
        let bind = serde_json::from_value::<BindPayload>(message.payload.clone()).ok();
        let now = protocol::now_secs();
        let mut first = false;
        let device = self.upsert(uuid, |d| {
            if let Some(bind) = bind.map(|b| b.bind) {
                if let Some(hw) = bind.hardware {
                    d.hardware = Some(hw);
                }
                if let Some(fw) = bind.firmware {
                    d.firmware = Some(fw);
                }
            }
            first = !d.queried;
            d.queried = true;
            d.bound_at = Some(now);
        });
        self.shared.registry.set_name(uuid, &device.display_name());
        if !first {
            return; // a repeated Bind on this connection: the SETACK was all it needed
        }
        info!(%uuid, name = %device.display_name(), kind = device.kind().unwrap_or("?"), firmware = device.firmware_version().unwrap_or("?"), "device bound");
        self.upgrade_bound(uuid, device.firmware_version());
        self.event(
            Some(uuid),
            EventKind::Bound,
            format!(
                "{} {}",
                device.kind().unwrap_or("?"),
                device.firmware_version().unwrap_or("?")
            ),
        );
        // Ask what it can do and what state it is in, off the engine's own task: the
        // answers come back through it.
        let engine = self.clone();
        let uuid = uuid.to_owned();
        self.spawn(async move {
            let mut ability = Value::Null;
            for namespace in [NS_ABILITY, NS_ALL] {
                match engine
                    .request(&uuid, Method::Get, namespace, json!({}), REQUEST_TIMEOUT)
                    .await
                {
                    // learn() already took what it says.
                    Ok(reply) if namespace == NS_ABILITY => {
                        ability = reply.payload.get("ability").cloned().unwrap_or_default();
                    }
                    Ok(_) => {}
                    Err(error) => warn!(%uuid, namespace, %error, "device did not answer"),
                }
            }
            // The cloud sets the time after every bind: metering plugs report 0 W until
            // they have a zone, and schedules run on the plug's clock.
            if let Err(error) = engine.set_time(&uuid).await {
                warn!(%uuid, %error, "device did not take its time zone");
            }
            // Each family's state beyond the digest: lights, thermostats, doors, shutters,
            // a hub's sub-devices, sprays, do-not-disturb, signal.
            engine.ask_families(&uuid, &ability).await;
        });
    }

    /// Notes that a device spoke.
    pub(super) fn touch(&self, uuid: &str) {
        let now = protocol::now_secs();
        let mut devices = super::write(&self.shared.devices);
        if let Some(d) = devices.get_mut(uuid) {
            d.last_seen = now;
        }
    }
}
