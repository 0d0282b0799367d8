//! Which account and MAC each device uuid belongs to. The gate asks it at every device
//! login (a uuid stays with its account, a MAC with its uuid) and for every app's topic
//! rule; the engine tells it when a device is forgotten. Seeded from the store at start.

use crate::gate::acl::Owners;
use std::collections::HashMap;
use std::sync::RwLock;

/// Why a device login does not fit what is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("uuid belongs to another account")]
    OtherAccount,
    #[error("MAC belongs to another uuid")]
    OtherUuid,
}

#[derive(Debug, Default)]
struct Inner {
    /// uuid -> (user id, MAC)
    devices: HashMap<String, (String, String)>,
    /// MAC -> uuid
    macs: HashMap<String, String>,
}

/// The table; shared by the gate and the engine.
#[derive(Debug, Default)]
pub struct Registry(RwLock<Inner>);

impl Registry {
    /// A registry of known devices: (uuid, user id, MAC).
    pub fn new(known: impl IntoIterator<Item = (String, String, String)>) -> Registry {
        let registry = Registry::default();
        for (uuid, user_id, mac) in known {
            let _ = registry.claim(&uuid, &user_id, &mac);
        }
        registry
    }

    /// Records a device login, or says why it conflicts with what is known.
    pub fn claim(&self, uuid: &str, user_id: &str, mac: &str) -> Result<(), Conflict> {
        let mut inner = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some((owner, _)) = inner.devices.get(uuid) {
            if owner != user_id {
                return Err(Conflict::OtherAccount);
            }
        }
        if let Some(owner) = inner.macs.get(mac) {
            if owner != uuid {
                return Err(Conflict::OtherUuid);
            }
        }
        inner.macs.insert(mac.to_owned(), uuid.to_owned());
        inner
            .devices
            .insert(uuid.to_owned(), (user_id.to_owned(), mac.to_owned()));
        Ok(())
    }

    /// Forgets a device: its uuid and MAC are free again.
    pub fn forget(&self, uuid: &str) {
        let mut inner = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some((_, mac)) = inner.devices.remove(uuid) {
            inner.macs.remove(&mac);
        }
    }
}

impl Owners for Registry {
    fn owned_by(&self, uuid: &str, user_id: &str) -> Option<bool> {
        let inner = self.0.read().unwrap_or_else(|e| e.into_inner());
        inner.devices.get(uuid).map(|(owner, _)| owner == user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_keeps_its_account_and_a_mac_its_uuid_until_forgotten() {
        let r = Registry::new([("u1".into(), "1234".into(), "m1".into())]);
        assert_eq!(r.claim("u1", "1234", "m1"), Ok(()));
        assert_eq!(r.claim("u1", "999", "m1"), Err(Conflict::OtherAccount));
        assert_eq!(r.claim("u2", "1234", "m1"), Err(Conflict::OtherUuid));
        assert_eq!(r.owned_by("u1", "1234"), Some(true));
        assert_eq!(r.owned_by("u1", "999"), Some(false));
        assert_eq!(r.owned_by("u2", "1234"), None);
        r.forget("u1");
        assert_eq!(r.claim("u2", "1234", "m1"), Ok(()));
    }
}
