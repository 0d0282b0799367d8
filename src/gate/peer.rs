//! Who is on the client side of a logged-in connection and what the connection
//! remembers between packets, with the checks every packet loop makes of them: the topic
//! rules, another account's device, refusals counted and logged. Shared by the proxy (apps
//! and devices through the router) and the device session (devices through the hub).

use super::acl::{Action, Verdict};
use super::auth::Identity;
use super::peek;
use super::Gate;
use crate::metrics::inc_logged;
use crate::mqtt::framed::ReadError;
use crate::mqtt::packet::{self, Publish};
use crate::protocol::topic::Topic;
use std::collections::{HashMap, HashSet, VecDeque};
use tracing::warn;

/// QoS 2 publishes the gate answers itself that may wait for their PUBREL at once.
pub(super) const MAX_OPEN_QOS2: usize = 64;

/// Who is on the client side.
pub(super) struct Who<'a> {
    pub gate: &'a Gate,
    pub identity: &'a Identity,
    /// 3 for MQTT 3.1, 4 for 3.1.1.
    pub level: u8,
    /// The CONNECT's keepalive, in seconds (0: none asked for).
    pub keep_alive: u16,
}

/// What one connection remembers between packets.
#[derive(Default)]
pub(super) struct State {
    /// Topics requests to this device named as `from`, newest last.
    pub(super) replies: VecDeque<String>,
    /// SUBSCRIBEs passed on with some filters taken out: pkid -> which were allowed.
    pub(super) partial: HashMap<u16, Vec<bool>>,
    /// Filters this connection holds at the router.
    pub(super) filters: HashSet<String>,
    /// Topics this connection was the first to publish to (see `budget`).
    pub(super) new_topics: usize,
    /// SUBSCRIBEs of filters the connection held already, by pkid: the router does not
    /// send their retained messages again, so the gate does, after the SUBACK.
    pub(super) resend: HashMap<u16, Vec<String>>,
    /// QoS 2 publishes the gate refused but acknowledged (PUBREC), by pkid, per side.
    pub(super) refused_from_client: HashSet<u16>,
    pub(super) refused_from_router: HashSet<u16>,
    /// The client sent DISCONNECT (passed on).
    pub(super) said_goodbye: bool,
    /// QoS 2 publishes passed to the router and waiting for their PUBREL: the router
    /// keeps each one (with its payload) until then.
    pub(super) open_qos2: HashMap<u16, usize>,
    /// Their topics' and payloads' bytes.
    pub(super) open_qos2_bytes: usize,
}

impl Who<'_> {
    pub(super) fn check(&self, action: Action<'_>, state: &State) -> Verdict {
        let named = match action {
            Action::Publish { topic, .. } => state.replies.iter().any(|t| t == topic),
            _ => false,
        };
        self.gate
            .acl
            .check(self.identity, action, named, self.gate.registry.as_ref())
    }

    /// Whether a delivery to an app is a device's message of another account under a topic
    /// that does not say so (a reply to a local client's `from`, such as meross_lan's
    /// `/appliance/meross_lan/publish`): the message's own header names the device.
    pub(super) fn another_accounts_device(&self, p: &Publish<'_>) -> bool {
        let Identity::App { user_id } = self.identity else {
            return false;
        };
        if !matches!(Topic::parse(p.topic), Topic::Other) {
            return false; // device and app topics: the topic rules decided already
        }
        let Some(head) = peek::header(p.payload) else {
            return false;
        };
        let from_device = match Topic::parse(&head.from) {
            Topic::DevicePublish(uuid) => Some(uuid.to_owned()),
            _ => None,
        };
        let owners = self.gate.registry.as_ref();
        from_device
            .into_iter()
            .chain(head.uuid.map(|u| u.into_owned()))
            .any(|uuid| crate::gate::acl::Owners::owned_by(owners, &uuid, user_id) == Some(false))
    }

    /// The verdict on a client's PUBLISH; a refusal is counted and logged.
    pub(super) fn check_publish(&self, p: &Publish<'_>, state: &State) -> Verdict {
        let verdict = self.check(
            Action::Publish {
                topic: p.topic,
                retain: p.retain,
            },
            state,
        );
        self.denied("publish", p.topic, verdict);
        verdict
    }

    /// Whether a device's allowed filter is where what is said to it arrives: its own
    /// `/appliance/<uuid>/subscribe`, or a MOKO plug's `<prefix>/app/...`.
    pub(super) fn own_inbox(&self, filter: &str, uuid: &str) -> bool {
        match self.identity {
            Identity::Moko { prefix, .. } => crate::protocol::moko::MokoTopic::parse(filter)
                .is_some_and(|t| t.prefix == prefix && t.side == crate::protocol::moko::Side::App),
            _ => Topic::parse(filter) == Topic::DeviceSubscribe(uuid),
        }
    }

    /// A device's display name for a log line; `-` for an app or a local client.
    pub(super) fn name(&self) -> String {
        match self.identity.device_id() {
            Some(id) => self.gate.registry.name(id),
            None => "-".to_owned(),
        }
    }

    pub(super) fn denied(&self, what: &str, topic: &str, verdict: Verdict) {
        let Verdict::Deny(why) = verdict else { return };
        if let Some(total) = inc_logged(&self.gate.counters.acl_denied) {
            let topic: String = topic.chars().take(120).collect();
            warn!(who = %self.identity, name = %self.name(), what, %topic, why = why.as_str(), total, "refused by the topic rules");
        }
    }

    pub(super) fn bad_packet(&self, error: ReadError) -> &'static str {
        if matches!(error, ReadError::Io(_)) {
            return "client connection failed";
        }
        if let Some(total) = inc_logged(&self.gate.counters.bad_packets) {
            warn!(who = %self.identity, name = %self.name(), %error, total, "bad packet; connection closed");
        }
        "bad packet"
    }
}

/// The acknowledgement a publish's QoS asks for (also when it is dropped, so that the
/// sender does not send it again). A QoS 2 id is remembered for its PUBREL.
pub(super) fn ack_publish(p: &Publish<'_>, refused_qos2: &mut HashSet<u16>) -> Vec<u8> {
    match (p.qos, p.pkid) {
        (1, Some(pkid)) => packet::ack(packet::PUBACK, pkid).to_vec(),
        (2, Some(pkid)) => {
            // Bounded: a client that never sends PUBREL cannot grow it without end (its
            // PUBREL is then passed on, or answered, all the same).
            if refused_qos2.len() < MAX_OPEN_QOS2 {
                refused_qos2.insert(pkid);
            }
            packet::ack(packet::PUBREC, pkid).to_vec()
        }
        _ => Vec::new(),
    }
}
