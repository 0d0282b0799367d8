//! The device records as callers see and change them: all of them, one, a name, a
//! channel's name, forgetting one, which meter; and how each last tried to get in.

use super::{read, write, Engine};
use crate::model::{Change, Device, EventKind, Notice};
use crate::registry::attempts::{DeviceAttempts, Unknown};

impl Engine {
    /// Every known device, sorted by uuid.
    pub fn devices(&self) -> Vec<Device> {
        let mut list: Vec<Device> = read(&self.shared.devices)
            .values()
            .map(|d| Device::clone(d))
            .collect();
        list.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        list
    }

    /// A copy of one device as last heard; `None` if the uuid is unknown.
    pub fn device(&self, uuid: &str) -> Option<Device> {
        read(&self.shared.devices)
            .get(uuid)
            .map(|d| Device::clone(d))
    }

    /// Gives a device a name; `None` if the uuid is unknown.
    pub fn rename(&self, uuid: &str, name: Option<String>) -> Option<Device> {
        let device = self.update(uuid, |d| d.name = name)?;
        self.shared.registry.set_name(uuid, &device.display_name());
        Some(device)
    }

    /// Names one of a device's channels (`None`: no name); `None` if the device is unknown.
    pub fn rename_channel(&self, uuid: &str, channel: u32, name: Option<String>) -> Option<Device> {
        self.update(uuid, |d| match name {
            Some(name) => {
                d.channel_names.insert(channel, name);
            }
            None => {
                d.channel_names.remove(&channel);
            }
        })
    }

    /// Forgets a device (it comes back if it connects again). False if unknown.
    pub fn forget(&self, uuid: &str) -> bool {
        let mut devices = write(&self.shared.devices);
        let removed = devices.remove(uuid).is_some();
        if removed {
            self.emit(Change::Forget(uuid.to_owned()));
            self.shared.registry.forget(uuid);
        }
        drop(devices);
        if removed {
            self.notify(Notice::Forgotten(uuid.to_owned()));
            self.event(Some(uuid), EventKind::Forgotten, String::new());
        }
        removed
    }

    /// The uuids of online devices that measure electricity.
    pub fn online_metering(&self) -> Vec<String> {
        read(&self.shared.devices)
            .values()
            // A MOKO plug says its power itself, every second.
            .filter(|d| d.online && d.is_metering() && d.moko().is_none())
            .map(|d| d.uuid.clone())
            .collect()
    }

    /// How `uuid` last tried to get in (failures before a login matched by its last
    /// address).
    pub fn attempts(&self, uuid: &str) -> DeviceAttempts {
        let peer = self
            .device(uuid)
            .and_then(|d| d.peer)
            .and_then(|p| p.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.ip());
        let now = crate::protocol::now_secs();
        self.shared.registry.attempts().of(uuid, peer, now)
    }

    /// The last logins that named a device merossd does not know, newest first.
    pub fn unknown_logins(&self) -> Vec<Unknown> {
        self.shared.registry.attempts().unknown()
    }
}
