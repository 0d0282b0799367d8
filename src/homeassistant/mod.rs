//! The Home Assistant bridge: MQTT discovery configs, states and availability on the
//! router, commands from `<base>/<uuid>/<object>/set` (a channel's switch, or an object of
//! another family: `light_0`, `climate_0_mode`, ...), and a full republish when Home
//! Assistant announces itself. Devices then appear in Home Assistant with no custom
//! component, as zigbee2mqtt devices do.

pub mod discovery;
pub mod family;
pub mod withdraw;

use crate::broker::{Incoming, Link, Outbox};
use crate::engine::{Engine, RequestError, REQUEST_TIMEOUT};
use crate::model::{Device, Notice};
use crate::shutdown::Shutdown;
use crate::store::Store;
use discovery::Topics;
use std::collections::{HashMap, HashSet};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

/// What was last published per device, so only changes go out.
#[derive(Default)]
struct Published {
    /// config topic -> payload
    configs: HashMap<String, String>,
    state: String,
    availability: &'static str,
    /// Other retained topics (a light's state, a sub-device's availability) -> payload.
    extras: HashMap<String, String>,
}

/// Keeps in `seen` what is `wanted` now and pushes onto `out` what changed (everything
/// when `force`), and an empty payload for each topic no longer wanted, which clears it.
fn changes(
    seen: &mut HashMap<String, String>,
    wanted: Vec<(String, String)>,
    force: bool,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    let keep: HashSet<&String> = wanted.iter().map(|(topic, _)| topic).collect();
    let gone: Vec<String> = seen
        .keys()
        .filter(|topic| !keep.contains(topic))
        .cloned()
        .collect();
    for topic in gone {
        seen.remove(&topic);
        out.push((topic, Vec::new()));
    }
    for (topic, payload) in wanted {
        if force || seen.get(&topic) != Some(&payload) {
            seen.insert(topic.clone(), payload.clone());
            out.push((topic, payload.into_bytes()));
        }
    }
}

/// The bridge's state.
pub struct Bridge {
    engine: Engine,
    store: Store,
    outbox: Outbox,
    topics: Topics,
    /// A page for the device in Home Assistant's device view, if one was configured.
    configuration_url: Option<String>,
    published: HashMap<String, Published>,
    /// kWh each device counted, from the store.
    energy: HashMap<String, f64>,
}

impl Bridge {
    /// A bridge that publishes on `outbox` once [`Bridge::run`] runs; nothing is sent before.
    pub fn new(
        engine: Engine,
        store: Store,
        outbox: Outbox,
        topics: Topics,
        configuration_url: Option<String>,
    ) -> Bridge {
        Bridge {
            engine,
            store,
            outbox,
            topics,
            configuration_url,
            published: HashMap::new(),
            energy: HashMap::new(),
        }
    }

    /// Runs until shutdown, then says the bridge is offline.
    pub async fn run(mut self, link: Link, mut shutdown: Shutdown) {
        let mut incoming = link.incoming;
        let mut notices = self.engine.subscribe();
        for filter in [self.topics.commands(), self.topics.status()] {
            if self.outbox.subscribe(&filter).await.is_err() {
                return;
            }
        }
        self.refresh_energy().await;
        self.retain(self.topics.bridge(), b"online".to_vec()).await;
        self.publish_all(false).await;
        info!(prefix = %self.topics.prefix, base = %self.topics.base, "Home Assistant discovery published");
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                notice = notices.recv() => match notice {
                    Ok(Notice::Updated(uuid)) => self.publish_device(&uuid, false).await,
                    Ok(Notice::Forgotten(uuid)) => self.remove_device(&uuid).await,
                    Ok(Notice::Energy(uuid)) => {
                        self.refresh_energy().await;
                        self.publish_device(&uuid, false).await;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        debug!(missed, "bridge fell behind; republishing everything");
                        self.publish_all(false).await;
                    }
                    Err(RecvError::Closed) => break,
                },
                Some(message) = incoming.recv() => self.on_message(message).await,
            }
        }
        self.retain(self.topics.bridge(), b"offline".to_vec()).await;
        let _ = self.outbox.flush().await;
    }

    async fn on_message(&mut self, message: Incoming) {
        if message.topic == self.topics.status() {
            if message.payload.as_ref() == b"online" {
                info!("Home Assistant announced itself; republishing discovery and states");
                self.publish_all(true).await;
            }
            return;
        }
        let Some((uuid, object)) = self.topics.parse_command(&message.topic) else {
            return;
        };
        let payload = String::from_utf8_lossy(&message.payload).trim().to_owned();
        let Some(device) = self.engine.device(uuid) else {
            warn!(%uuid, "command for an unknown device");
            return;
        };
        match object.parse::<u32>() {
            Ok(channel) => self.switch(&device, channel, &payload),
            Err(_) => self.family_command(&device, object, &payload),
        }
    }

    /// A channel's switch: `ON`, `OFF` or `TOGGLE`.
    fn switch(&self, device: &Device, channel: u32, payload: &str) {
        let uuid = device.uuid.clone();
        let command = payload.to_ascii_uppercase();
        let on = match command.as_str() {
            "ON" => true,
            "OFF" => false,
            "TOGGLE" => !device.channels.get(&channel).is_some_and(|c| c.on),
            other => {
                warn!(%uuid, command = %other, "command is not ON, OFF or TOGGLE");
                return;
            }
        };
        // The state follows once the plug acknowledged (the engine records it and tells us).
        let engine = self.engine.clone();
        self.engine.spawn(async move {
            match engine.switch(&uuid, channel, on, REQUEST_TIMEOUT).await {
                // A later command for the channel took its place: that is no failure.
                Err(RequestError::Superseded) => {}
                Err(error) => warn!(%uuid, channel, %error, "Home Assistant command failed"),
                Ok(_) => {}
            }
        });
    }

    /// A command for an object of another family (`light_0`, `climate_0_mode`, ...); one
    /// that cannot be read is warned of and dropped.
    fn family_command(&self, device: &Device, object: &str, payload: &str) {
        let uuid = device.uuid.clone();
        let order = match family::parse(object, payload, device) {
            Ok(order) => order,
            Err(why) => {
                warn!(%uuid, object, payload, %why, "Home Assistant command ignored");
                return;
            }
        };
        debug!(%uuid, object, ?order, "Home Assistant command");
        let engine = self.engine.clone();
        let object = object.to_owned();
        self.engine.spawn(async move {
            let done = match (&order, order.command()) {
                (family::Order::Countdown(minutes), _) => engine
                    .moko_countdown(&uuid, *minutes, REQUEST_TIMEOUT)
                    .await
                    .map(|_| ()),
                (_, Some(command)) => engine
                    .command(&uuid, command, REQUEST_TIMEOUT)
                    .await
                    .map(|_| ()),
                (_, None) => Ok(()),
            };
            match done {
                Err(RequestError::Superseded) | Ok(()) => {}
                Err(error) => warn!(%uuid, %object, %error, "Home Assistant command failed"),
            }
        });
    }

    async fn refresh_energy(&mut self) {
        // Let the store commit what the engine just handed it.
        let _ = self.store.flush().await;
        match self.store.energy_totals().await {
            Ok(totals) => {
                self.energy = totals.into_iter().map(|(u, wh)| (u, wh / 1000.0)).collect()
            }
            Err(e) => warn!(error = %e, "cannot read energy totals"),
        }
    }

    async fn publish_all(&mut self, force: bool) {
        for device in self.engine.devices() {
            self.publish_device(&device.uuid, force).await;
        }
    }

    /// Publishes what changed of one device (everything when `force`).
    async fn publish_device(&mut self, uuid: &str, force: bool) {
        let Some(device) = self.engine.device(uuid) else {
            return;
        };
        let url = self.configuration_url.as_deref();
        let configs: Vec<(String, String)> = discovery::entities(&self.topics, &device, url)
            .into_iter()
            .map(|entity| (entity.topic, entity.payload.to_string()))
            .collect();
        let state = discovery::state(&device, self.energy.get(uuid).copied()).to_string();
        let extras = family::retained(&self.topics, &device);
        let availability = if device.online { "online" } else { "offline" };
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        {
            let seen = self.published.entry(uuid.to_owned()).or_default();
            // An entity gone (a channel that turned out to be a light's) is cleared.
            changes(&mut seen.configs, configs, force, &mut out);
            if force || seen.state != state {
                seen.state = state.clone();
                out.push((self.topics.state(uuid), state.into_bytes()));
            }
            changes(&mut seen.extras, extras, force, &mut out);
            if force || seen.availability != availability {
                seen.availability = availability;
                out.push((
                    self.topics.availability(uuid),
                    availability.as_bytes().to_vec(),
                ));
            }
        }
        for (topic, payload) in out {
            self.retain(topic, payload).await;
        }
    }

    /// Clears a forgotten device's retained configs, state and availability.
    async fn remove_device(&mut self, uuid: &str) {
        let Some(seen) = self.published.remove(uuid) else {
            return;
        };
        for topic in seen.configs.into_keys().chain(seen.extras.into_keys()) {
            self.retain(topic, Vec::new()).await;
        }
        self.retain(self.topics.state(uuid), Vec::new()).await;
        self.retain(self.topics.availability(uuid), Vec::new())
            .await;
    }

    async fn retain(&self, topic: String, payload: Vec<u8>) {
        if self.outbox.publish_retained(topic, payload).await.is_err() {
            debug!("router link closed");
        }
    }
}
