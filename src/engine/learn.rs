//! What the engine keeps of what a device says: state from PUSHes and replies (abilities,
//! System.All, channel states, readings, daily energy, and each family's namespaces), each
//! change an event, and the answers the store keeps as they came.

use super::{read, Engine};
use crate::metrics::inc;
use crate::model::Abilities;
use crate::model::{AnswerKind, Change, EventKind, Reading, Sample};
use crate::protocol::payloads::{
    channels_of, AllPayload, ConsumptionXPayload, ElectricityPayload, TogglePayload, ToggleX,
    ToggleXPayload,
};
use crate::protocol::{self, Message, Method};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, warn};

use super::namespaces::*;

impl Engine {
    /// Takes state from a PUSH or a reply.
    pub(super) fn learn(&self, uuid: &str, message: &Message) {
        if message.header.method == Method::Error {
            return;
        }
        let now = protocol::now_secs();
        let payload = &message.payload;
        let toggles: Option<Vec<ToggleX>> = match message.header.namespace.as_str() {
            NS_ABILITY => {
                let ability = payload.get("ability").unwrap_or(payload);
                let bits = Abilities::new(ability);
                self.update(uuid, |d| d.ability = Some(bits));
                self.keep_answer(uuid, AnswerKind::Ability, ability);
                self.learn_ability(uuid, ability);
                None
            }
            NS_ALL => match AllPayload::deserialize(payload) {
                Ok(all) => {
                    let toggles = channels_of(&all.all);
                    self.update(uuid, |d| {
                        d.hardware = Some(all.all.system.hardware.clone());
                        d.firmware = Some(all.all.system.firmware.clone());
                    });
                    if let Some(raw) = payload.get("all") {
                        self.keep_answer(uuid, AnswerKind::All, raw);
                        if let Some(digest) = raw.get("digest") {
                            self.learn_digest(uuid, digest);
                        }
                    }
                    Some(toggles)
                }
                Err(error) => {
                    inc(&self.shared.counters.bad_messages);
                    warn!(%uuid, %error, "System.All answer not understood");
                    None
                }
            },
            NS_TOGGLEX => ToggleXPayload::deserialize(payload).ok().map(|t| t.togglex),
            NS_TOGGLE => TogglePayload::deserialize(payload).ok().map(|t| {
                vec![ToggleX {
                    channel: t.channel,
                    onoff: t.toggle.onoff,
                    lm_time: t.toggle.lm_time,
                }]
            }),
            NS_ELECTRICITY | NS_ELECTRICITYX => {
                match ElectricityPayload::deserialize(payload) {
                    Ok(e) => self.record_electricity(uuid, &e, now),
                    Err(error) => {
                        inc(&self.shared.counters.bad_messages);
                        warn!(%uuid, %error, "Electricity answer not understood");
                    }
                }
                None
            }
            NS_CONSUMPTIONX => {
                if let Ok(c) = ConsumptionXPayload::deserialize(payload) {
                    let days = c
                        .consumptionx
                        .into_iter()
                        .map(|d| (d.date, d.value))
                        .collect();
                    self.emit(Change::Consumption(uuid.to_owned(), days));
                    self.notify(crate::model::Notice::Energy(uuid.to_owned()));
                }
                None
            }
            super::upgrade::NS_UPGRADE => {
                self.learn_upgrade(uuid, payload);
                None
            }
            namespace => {
                if !self.learn_family(uuid, namespace, payload) {
                    debug!(%uuid, namespace, "a namespace no family reads");
                }
                None
            }
        };
        if let Some(toggles) = toggles.filter(|t| !t.is_empty()) {
            self.record_toggles(uuid, &toggles, now);
        }
    }

    /// Keeps the latest reading per channel and hands each to the history.
    fn record_electricity(&self, uuid: &str, e: &ElectricityPayload, now: u64) {
        let readings: Vec<(u32, Reading)> = e
            .electricity
            .iter()
            .map(|x| {
                (
                    x.channel,
                    Reading::from_device(x.power, x.voltage, x.current, now),
                )
            })
            .collect();
        // Readings are kept in memory; the history gets them as samples.
        let known = self.modify(uuid, |d| {
            for (channel, reading) in &readings {
                d.electricity.insert(*channel, *reading);
            }
        });
        if known {
            self.notify(crate::model::Notice::Updated(uuid.to_owned()));
            for (channel, reading) in readings {
                self.emit(Change::Sample(Sample {
                    uuid: uuid.to_owned(),
                    channel,
                    reading,
                }));
            }
        }
    }

    /// Applies channel states (from a PUSH, a reply, or an acknowledged SET) and records
    /// an event for each channel that changed.
    pub fn record_toggles(&self, uuid: &str, toggles: &[ToggleX], now: u64) {
        let mut changed = Vec::new();
        self.update(uuid, |d| changed = d.apply_toggles(toggles, now));
        for (channel, on) in changed {
            self.event(
                Some(uuid),
                EventKind::StateChanged,
                format!("channel {channel} {}", if on { "on" } else { "off" }),
            );
        }
    }

    /// Hands one of a known device's answers to the store, as it came.
    pub(super) fn keep_answer(&self, uuid: &str, kind: AnswerKind, json: &Value) {
        if read(&self.shared.devices).contains_key(uuid) {
            self.emit(Change::Answer {
                uuid: uuid.to_owned(),
                kind,
                json: json.to_string(),
            });
        }
    }
}
