//! MOKO plugs as the engine serves them: what they say on `<prefix>/device/<what>` goes
//! where a Meross plug's state goes (channel 0, its reading, its firmware) or into their
//! own record (`model::family::moko`), and commands go out on `<prefix>/app/<what>`. A
//! MOKO plug answers nothing by id: a command is done when the plug says the state asked.
//! Power comes every second; the history keeps a sample as often as Meross plugs are
//! polled.

use crate::engine::{lock, read, Engine, RequestError};
use crate::metrics::{inc, inc_logged};
use crate::model::family::moko as model;
use crate::model::{Change, Device, EventKind, Notice, Reading, Sample};
use crate::protocol::moko::{self, what, Electricity, FirmwareInfor, SwitchState};
use crate::protocol::now_secs;
use crate::protocol::payloads::ToggleX;
use crate::registry::moko::{Credentials, EnrolError};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

impl Engine {
    /// Gives the MOKO plug with `mac` and topic `prefix` a login for `account` (the first
    /// account when `None`).
    pub fn moko_enrol(
        &self,
        mac: &str,
        prefix: &str,
        account: Option<&str>,
        metering: bool,
    ) -> Result<Credentials, EnrolError> {
        let user_id = match account {
            Some(id) => self
                .shared
                .accounts
                .iter()
                .find(|a| a.user_id == id)
                .map(|a| a.user_id.clone())
                .ok_or_else(|| EnrolError::Account(id.to_owned()))?,
            None => self
                .shared
                .accounts
                .first()
                .map(|a| a.user_id.clone())
                .unwrap_or_default(),
        };
        self.shared
            .registry
            .moko()
            .enrol(mac, prefix, &user_id, metering)
    }

    /// A MOKO plug connected: its record says where its topics are, and it is asked for
    /// its firmware. False if `uuid` is not a paired MOKO plug.
    pub(in crate::engine) fn moko_connected(&self, uuid: &str) -> bool {
        let Some(plug) = self.shared.registry.moko().get(uuid) else {
            return false;
        };
        self.update(uuid, |d| {
            let families = d.families.get_or_insert_with(Default::default);
            let record = families.moko.get_or_insert_with(Default::default);
            record.topic_prefix = plug.prefix.clone();
            record.metering |= plug.metering;
            record.reset_at = None;
        });
        let _ = self.moko_send(uuid, what::READ_FIRMWARE_INFOR, b"{}".to_vec());
        // A MOKO plug has no Bind: connected is all it needs.
        self.shared.registry.attempts().said(uuid, "", true);
        true
    }

    /// What a MOKO plug said on `<prefix>/device/<what>`.
    pub(in crate::engine) async fn on_moko(&self, uuid: &str, what: &str, payload: &[u8]) {
        inc(&self.shared.counters.messages_in);
        if self.device(uuid).and_then(|d| d.moko().cloned()).is_none() {
            return;
        }
        self.touch(uuid);
        let value: Value = match serde_json::from_slice(payload) {
            Ok(v) => v,
            // `delete_device` may come with nothing in it.
            Err(_) if what == what::DELETE_DEVICE => Value::Null,
            Err(error) => return self.moko_bad(uuid, what, &error.to_string()),
        };
        let outcome = match what {
            what::SWITCH_STATE => self.moko_switch_state(uuid, &value),
            what::ELECTRICITY_INFORMATION => self.moko_electricity(uuid, &value),
            what::FIRMWARE_INFOR => self.moko_firmware(uuid, &value),
            what::DELAY_TIME => {
                self.read_family(uuid, what, model::read_countdown, &value);
                Ok(())
            }
            what::OTA_UPGRADE_STATE => {
                self.read_family(uuid, what, model::read_upgrade, &value);
                let _ = self.moko_send(uuid, what::READ_FIRMWARE_INFOR, b"{}".to_vec());
                Ok(())
            }
            what::DELETE_DEVICE => {
                info!(%uuid, "a MOKO plug was reset with its button; it must be paired again");
                self.read_family(uuid, what, model::read_reset, &value);
                Ok(())
            }
            other => Err(format!(
                "a topic the plug's protocol does not list: {other}"
            )),
        };
        if let Err(error) = outcome {
            self.moko_bad(uuid, what, &error);
        }
    }

    /// Counted and logged (sampled); the state is kept.
    fn moko_bad(&self, uuid: &str, what: &str, error: &str) {
        if let Some(total) = inc_logged(&self.shared.counters.bad_messages) {
            warn!(%uuid, what, %error, total, "a MOKO plug's message not understood; its state is kept");
        }
    }

    fn moko_switch_state(&self, uuid: &str, value: &Value) -> Result<(), String> {
        let state: SwitchState =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let on = state
            .on()
            .ok_or_else(|| format!("neither on nor off: {value}"))?;
        let was = self
            .device(uuid)
            .and_then(|d| d.channels.get(&0).map(|c| c.on));
        if was != Some(on) {
            self.modify(uuid, |d| {
                if let Some(families) = d.families.as_deref_mut() {
                    model::switched(families);
                }
            });
        }
        let toggle = ToggleX {
            channel: 0,
            onoff: u8::from(on),
            lm_time: None,
        };
        self.record_toggles(uuid, &[toggle], now_secs());
        Ok(())
    }

    fn moko_electricity(&self, uuid: &str, value: &Value) -> Result<(), String> {
        let e: Electricity = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let sane = |x: f64, top: f64| x.is_finite() && (0.0..=top).contains(&x);
        if !sane(e.voltage, 10_000.0) || !sane(e.current, 100_000.0) || !sane(e.power, 100_000.0) {
            return Err(format!("a reading out of range: {value}"));
        }
        let now = now_secs();
        let reading = Reading {
            power_w: e.power,
            voltage_v: e.voltage / 10.0,
            current_a: e.current / 1000.0,
            at: now,
        };
        self.modify(uuid, |d| {
            d.electricity.insert(0, reading);
            if let Some(m) = d
                .families
                .as_deref_mut()
                .and_then(|f| f.moko.as_deref_mut())
            {
                m.metering = true;
            }
        });
        self.notify(Notice::Updated(uuid.to_owned()));
        let every = self.shared.sample_every_s.load(Ordering::Relaxed);
        let due = {
            let mut sampled = lock(&self.shared.moko_sampled);
            let last = sampled.get(uuid).copied().unwrap_or(0);
            let due = now.saturating_sub(last) >= every;
            if due {
                sampled.insert(uuid.to_owned(), now);
            }
            due
        };
        if due {
            // Once a poll interval, as a Meross plug's poll would: the device record (with
            // `metering`) and the sample.
            self.update(uuid, |_| {});
            self.emit(Change::Sample(Sample {
                uuid: uuid.to_owned(),
                channel: 0,
                reading,
            }));
            self.notify(Notice::Energy(uuid.to_owned()));
        }
        Ok(())
    }

    fn moko_firmware(&self, uuid: &str, value: &Value) -> Result<(), String> {
        let info: FirmwareInfor =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        self.read_family(uuid, what::FIRMWARE_INFOR, model::read_made, value);
        self.update(uuid, |d| {
            let firmware = d.firmware.get_or_insert_with(Default::default);
            firmware.version = info.firmware_version.clone();
            let hardware = d.hardware.get_or_insert_with(Default::default);
            hardware.kind = info.product_model.clone();
            hardware.mac_address = info.device_mac.clone();
        });
        Ok(())
    }

    /// Puts `payload` on `<prefix>/app/<what>` of a connected MOKO plug.
    fn moko_send(&self, uuid: &str, what: &str, payload: Vec<u8>) -> Result<(), RequestError> {
        let device = self
            .device(uuid)
            .ok_or_else(|| RequestError::UnknownDevice(uuid.to_owned()))?;
        let Some(record) = device.moko() else {
            return Err(RequestError::Unsupported("Not a MOKO plug.".into()));
        };
        if !device.online {
            return Err(RequestError::Offline(uuid.to_owned()));
        }
        let topic = moko::app_topic(&record.topic_prefix, what);
        if !self.shared.hub.deliver(&topic, payload.into()) {
            return Err(RequestError::Offline(uuid.to_owned()));
        }
        inc(&self.shared.counters.messages_out);
        Ok(())
    }

    /// Waits until the device's record passes `check`, or `timeout` passes.
    async fn moko_wait(
        &self,
        uuid: &str,
        timeout: Duration,
        check: impl Fn(&Device) -> bool,
    ) -> Result<Device, RequestError> {
        let mut notices = self.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(device) = read(&self.shared.devices).get(uuid).filter(|d| check(d)) {
                return Ok(Device::clone(device));
            }
            match tokio::time::timeout_at(deadline, notices.recv()).await {
                Err(_) => {
                    inc(&self.shared.counters.request_timeouts);
                    return Err(RequestError::Timeout(timeout));
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    return Err(RequestError::Closed)
                }
                Ok(_) => {}
            }
        }
    }

    /// Switches a MOKO plug; done when it says it is in that state.
    pub(in crate::engine) async fn moko_switch(
        &self,
        uuid: &str,
        on: bool,
        timeout: Duration,
    ) -> Result<(), RequestError> {
        let body = serde_json::to_vec(&SwitchState::new(on)).unwrap_or_default();
        self.moko_send(uuid, what::SWITCH_STATE, body)?;
        // The state it had may already be the one asked: its next `switch_state` says so.
        let asked_at = now_secs();
        self.moko_wait(uuid, timeout, |d| {
            d.channels.get(&0).is_some_and(|c| {
                c.on == on && (c.changed_at >= asked_at || d.last_seen >= asked_at)
            })
        })
        .await
        .map(|_| ())
    }

    /// Starts a countdown of `minutes` on a MOKO plug (0 cancels one); done when the plug
    /// says its countdown runs (or, for a cancel, at once: the plug says nothing then).
    pub async fn moko_countdown(
        &self,
        uuid: &str,
        minutes: u32,
        timeout: Duration,
    ) -> Result<Device, RequestError> {
        let set = model::countdown(minutes).map_err(RequestError::from)?;
        let body = serde_json::to_vec(&set).unwrap_or_default();
        self.moko_send(uuid, what::DELAY_TIME, body)?;
        if minutes == 0 {
            self.modify(uuid, |d| {
                if let Some(m) = d
                    .families
                    .as_deref_mut()
                    .and_then(|f| f.moko.as_deref_mut())
                {
                    m.countdown = None;
                }
            });
            return self
                .device(uuid)
                .ok_or_else(|| RequestError::UnknownDevice(uuid.into()));
        }
        let asked_at = now_secs();
        self.moko_wait(uuid, timeout, |d| {
            d.moko().and_then(|m| m.countdown).is_some_and(|c| {
                c.at >= asked_at && c.seconds_left > (minutes * 60).saturating_sub(60)
            })
        })
        .await
    }

    /// Asks a MOKO plug for its firmware; done when it said.
    pub async fn moko_read_firmware(
        &self,
        uuid: &str,
        timeout: Duration,
    ) -> Result<Device, RequestError> {
        let asked_at = now_secs();
        self.moko_send(uuid, what::READ_FIRMWARE_INFOR, b"{}".to_vec())?;
        self.moko_wait(uuid, timeout, |d| {
            d.moko()
                .and_then(|m| m.made.as_ref())
                .is_some_and(|m| m.said_at >= asked_at)
        })
        .await
    }

    /// Tells a MOKO plug to upgrade from `url` (a directory on an HTTP server: the plug
    /// picks the file). Its outcome comes later, as an event and in its record.
    pub fn moko_upgrade(&self, uuid: &str, url: &str) -> Result<(), RequestError> {
        let upgrade = model::upgrade(url).map_err(RequestError::from)?;
        let body = serde_json::to_vec(&upgrade).unwrap_or_default();
        self.moko_send(uuid, what::UPGRADE, body)?;
        self.event(
            Some(uuid),
            EventKind::StateChanged,
            format!("upgrade asked from {url}"),
        );
        Ok(())
    }
}
