//! The device families as the engine serves them. Each family's file says which
//! namespaces' answers and PUSHes it reads (and under which payload key), which keys of
//! `System.All`'s digest, what it takes from the Ability, and what it asks after a bind
//! when the Ability lists it; [`FAMILIES`] lists them. The reading itself is the model's
//! (`model::family`): a payload is read into a copy of the device's families and kept
//! only if it was read whole, so a malformed one changes nothing.

mod diffuser;
mod garage;
mod hub;
mod light;
mod moko;
mod schedule;
mod shutter;
mod system;
mod thermostat;

use super::{write, Engine, RequestError, REQUEST_TIMEOUT};
use crate::metrics::inc_logged;
use crate::model::family::{Command, CommandError, Families, Reader};
use crate::model::{Change, Device, EventKind, Notice};
use crate::protocol::Method;
use serde_json::Value;
use std::time::Duration;
use tracing::{debug, warn};

/// What the engine asks of a device for a family: a namespace and the GET's payload,
/// built from what is known (`None`: nothing to ask).
pub(super) type Ask = (&'static str, fn(&Families) -> Option<Value>);

/// One family.
pub(super) struct Family {
    /// Namespaces it reads, each with the payload key its state is under.
    pub reads: &'static [(&'static str, &'static str, Reader)],
    /// Keys of `System.All`'s digest it reads.
    pub digest: &'static [(&'static str, Reader)],
    /// Ability entries it reads (`{"capacity": 15}` of a light).
    pub ability: &'static [(&'static str, Reader)],
    /// What it asks after a bind, when the Ability lists the namespace, in order.
    pub asks: &'static [Ask],
    /// Then what it asks item by item, from what the first answers said (a timer's by
    /// its id): a GET for each payload.
    pub each: &'static [Each],
}

/// A namespace and the payloads of the GETs to send of it, built from what is known.
pub(super) type Each = (&'static str, fn(&Families) -> Vec<Value>);

/// Every family the engine understands beyond plugs' switches and meters.
pub(super) const FAMILIES: &[&Family] = &[
    &light::LIGHT,
    &thermostat::THERMOSTAT,
    &garage::GARAGE,
    &shutter::SHUTTER,
    &hub::HUB,
    &diffuser::DIFFUSER,
    &system::SYSTEM,
    &schedule::SCHEDULE,
];

/// A GET payload that asks for everything under `key` (`{"<key>": {}}`).
pub(super) fn everything(key: &str) -> Value {
    serde_json::json!({ key: {} })
}

impl Engine {
    /// Reads one payload into a device's families; counted and logged when it does not
    /// read, and then nothing of it is kept.
    fn read_family(&self, uuid: &str, namespace: &str, reader: Reader, value: &Value) {
        let outcome;
        {
            let mut devices = write(&self.shared.devices);
            let Some(device) = devices.get_mut(uuid) else {
                return;
            };
            let before = device.families.as_deref().cloned().unwrap_or_default();
            let mut families = before.clone();
            outcome = reader(&mut families, value);
            if outcome.is_ok() && families != before {
                device.families = (!families.is_empty()).then(|| Box::new(families));
                let snapshot = Device::clone(device);
                self.emit(Change::Device(Box::new(snapshot)));
                drop(devices);
                self.notify(Notice::Updated(uuid.to_owned()));
            }
        }
        match outcome {
            Ok(changed) => {
                for what in changed {
                    self.event(Some(uuid), EventKind::StateChanged, what);
                }
            }
            Err(error) => {
                if let Some(total) = inc_logged(&self.shared.counters.bad_messages) {
                    warn!(%uuid, namespace, %error, total, "a device's state not understood; its state is kept");
                }
            }
        }
    }

    /// Reads a GETACK, SETACK or PUSH of a family namespace; false if no family reads it.
    pub(super) fn learn_family(&self, uuid: &str, namespace: &str, payload: &Value) -> bool {
        let mut read = false;
        for family in FAMILIES {
            for (ns, key, reader) in family.reads.iter().filter(|r| r.0 == namespace) {
                read = true;
                if let Some(value) = payload.get(*key) {
                    self.read_family(uuid, ns, *reader, value);
                }
            }
        }
        read
    }

    /// Reads every family's part of `System.All`'s digest.
    pub(super) fn learn_digest(&self, uuid: &str, digest: &Value) {
        for family in FAMILIES {
            for (key, reader) in family.digest {
                if let Some(value) = digest.get(*key) {
                    self.read_family(uuid, "Appliance.System.All", *reader, value);
                }
            }
        }
    }

    /// Reads what families take from the Ability.
    pub(super) fn learn_ability(&self, uuid: &str, ability: &Value) {
        for family in FAMILIES {
            for (namespace, reader) in family.ability {
                if let Some(value) = ability.get(*namespace) {
                    self.read_family(uuid, namespace, *reader, value);
                }
            }
        }
    }

    /// After a bind: asks each family's namespaces the device lists (the answers come
    /// back through `learn`), one at a time.
    pub(super) async fn ask_families(&self, uuid: &str, ability: &Value) {
        for family in FAMILIES {
            for (namespace, payload) in family.asks {
                if ability.get(*namespace).is_none() {
                    continue;
                }
                let families = self.device(uuid).map(|d| crate::model::family::of(&d));
                let Some(payload) = families.as_ref().and_then(payload) else {
                    continue;
                };
                self.ask_family(uuid, namespace, payload).await;
            }
            for (namespace, payloads) in family.each {
                if ability.get(*namespace).is_none() {
                    continue;
                }
                let families = self.device(uuid).map(|d| crate::model::family::of(&d));
                for payload in families.as_ref().map(payloads).unwrap_or_default() {
                    self.ask_family(uuid, namespace, payload).await;
                }
            }
        }
    }

    async fn ask_family(&self, uuid: &str, namespace: &str, payload: Value) {
        if let Err(error) = self
            .request(uuid, Method::Get, namespace, payload, REQUEST_TIMEOUT)
            .await
        {
            debug!(%uuid, namespace, %error, "no answer for a family's state");
        }
    }

    /// Sends a family command: each of its SETs in turn, checked first against what the
    /// device reported. The state follows from the SETACKs and PUSHes (and, where the
    /// device sends neither, from the command). Returns the device as it is then.
    pub async fn command(
        &self,
        uuid: &str,
        command: &dyn Command,
        timeout: Duration,
    ) -> Result<Device, RequestError> {
        let device = self
            .device(uuid)
            .ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))?;
        let sets = command.sets(&device).map_err(RequestError::from)?;
        for set in sets {
            self.request(uuid, command.method(), set.namespace, set.payload, timeout)
                .await?;
        }
        let updated = self.update(uuid, |d| {
            let mut families = d.families.as_deref().cloned().unwrap_or_default();
            command.acknowledged(&mut families);
            d.families = (!families.is_empty()).then(|| Box::new(families));
        });
        updated.ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))
    }
}

impl From<CommandError> for RequestError {
    fn from(e: CommandError) -> RequestError {
        match e {
            CommandError::Unsupported(why) => RequestError::Unsupported(why),
            CommandError::Invalid { field, detail } => RequestError::Invalid { field, detail },
        }
    }
}
