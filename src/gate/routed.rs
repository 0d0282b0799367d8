//! What an app or local client's packets may do at the router, past the topic rules:
//! a publish within the router's budget (and at most [`MAX_OPEN_QOS2`] QoS 2 ones, of
//! [`MAX_OPEN_QOS2_BYTES`] in all, open),
//! a SUBSCRIBE whose filters the router can take and hold, and a filter subscribed again
//! handed its retained messages (rumqttd sends them only for a filter new to the
//! connection). The packet loop around it is `proxy`.

use super::acl::{Action, Verdict};
use super::peer::{State, Who, MAX_OPEN_QOS2};
use super::proxy::Step;

/// Bytes of QoS 2 publishes one client may have open at the router (it keeps each, with
/// its payload, until the PUBREL).
pub(super) const MAX_OPEN_QOS2_BYTES: usize = 1024 * 1024;
use crate::broker::budget::{self, OverBudget, MAX_FILTERS_PER_SUBSCRIBE};
use crate::metrics::inc_logged;
use crate::mqtt::packet::{self, Publish, SUBACK_FAILURE};
use tracing::warn;

impl Who<'_> {
    /// Passes an allowed publish on; a QoS 2 one is remembered until its PUBREL, and a
    /// client that leaves too many open is closed (the router would keep them all).
    pub(super) fn pass_publish(&self, p: &Publish<'_>, state: &mut State) -> Step {
        if let (2, Some(pkid)) = (p.qos, p.pkid) {
            let bytes = p.topic.len() + p.payload.len();
            let again = state.open_qos2.contains_key(&pkid);
            let over = state.open_qos2.len() >= MAX_OPEN_QOS2
                || state.open_qos2_bytes + bytes > MAX_OPEN_QOS2_BYTES;
            if over && !again {
                if let Some(total) = inc_logged(&self.gate.counters.sessions_over_budget) {
                    warn!(who = %self.identity, name = %self.name(), total, "too many QoS 2 publishes without PUBREL; connection closed");
                }
                return Step::Close("too many QoS 2 publishes without PUBREL");
            }
            if !again {
                state.open_qos2.insert(pkid, bytes);
                state.open_qos2_bytes += bytes;
            }
        }
        Step::Pass
    }

    /// Whether the router may be given a publish the topic rules allowed: a topic shape
    /// it can take, within the router's budget.
    pub(super) fn routable(&self, p: &Publish<'_>, state: &mut State) -> bool {
        let verdict = if !budget::routable_topic(p.topic) {
            Err("unsafe_topic")
        } else {
            self.gate
                .budget
                .topic(p.topic, state.new_topics)
                .map(|new| state.new_topics += usize::from(new))
                .map_err(OverBudget::as_str)
        };
        self.kept_from_router("publish", p.topic, verdict)
    }

    /// Counts and logs (sampled) a topic or filter kept from the router.
    pub(super) fn kept_from_router(
        &self,
        what: &str,
        topic: &str,
        verdict: Result<(), &str>,
    ) -> bool {
        let Err(why) = verdict else { return true };
        if let Some(total) = inc_logged(&self.gate.counters.router_refused) {
            let topic: String = topic.chars().take(120).collect();
            warn!(who = %self.identity, name = %self.name(), what, %topic, why, total, "kept from the router");
        }
        false
    }

    /// Whether one filter of a SUBSCRIBE may go on: the topic rules, a shape the router
    /// can take, and the budget. A filter the connection holds already is remembered
    /// under `pkid` for its retained messages.
    pub(super) fn subscribe_one(&self, pkid: u16, filter: &str, state: &mut State) -> bool {
        let verdict = self.check(Action::Subscribe { filter }, state);
        self.denied("subscribe", filter, verdict);
        if verdict != Verdict::Allow {
            return false;
        }
        if state.filters.contains(filter) {
            state
                .resend
                .entry(pkid)
                .or_default()
                .push(filter.to_owned());
            return true;
        }
        let verdict = if !budget::routable_filter(filter) {
            Err("unsafe_filter")
        } else {
            let held = state.filters.len();
            self.gate
                .budget
                .filter(filter, held)
                .map_err(OverBudget::as_str)
        };
        if !self.kept_from_router("subscribe", filter, verdict) {
            return false;
        }
        state.filters.insert(filter.to_owned());
        true
    }

    pub(super) fn subscribe(&self, pkid: u16, filters: &[(&str, u8)], state: &mut State) -> Step {
        if filters.len() > MAX_FILTERS_PER_SUBSCRIBE {
            return Step::Close(self.bad_packet(
                packet::PacketError::Malformed("too many filters in one SUBSCRIBE").into(),
            ));
        }
        state.resend.remove(&pkid);
        let allowed: Vec<bool> = filters
            .iter()
            .map(|(filter, _)| self.subscribe_one(pkid, filter, state))
            .collect();
        if allowed.iter().all(|a| *a) {
            return Step::Pass;
        }
        if self.level == 3 {
            // MQTT 3.1 has no code for a refused filter: the only honest answer is to close.
            return Step::Close("refused subscription on MQTT 3.1");
        }
        if !allowed.iter().any(|a| *a) {
            return Step::Answer(packet::suback(pkid, &vec![SUBACK_FAILURE; filters.len()]));
        }
        let kept: Vec<(&str, u8)> = filters
            .iter()
            .zip(&allowed)
            .filter(|(_, ok)| **ok)
            .map(|(f, _)| *f)
            .collect();
        state.partial.insert(pkid, allowed);
        Step::Replace(packet::subscribe(pkid, &kept))
    }

    /// Appends the retained messages `filter` matches that this client may receive, as
    /// the router would send them to a new subscriber (QoS 0, retain set).
    pub(super) fn retained_for(&self, filter: &str, state: &State, out: &mut Vec<u8>) {
        for (topic, payload) in self.gate.retained.matching(filter) {
            let p = Publish {
                topic: &topic,
                qos: 0,
                retain: true,
                pkid: None,
                payload: &payload,
            };
            let allowed = self.check(Action::Receive { topic: &topic }, state) == Verdict::Allow;
            if allowed && !self.another_accounts_device(&p) {
                out.extend_from_slice(&packet::publish(&topic, &payload, 0, true, 0));
            }
        }
    }
}
