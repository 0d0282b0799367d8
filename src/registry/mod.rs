//! Which account and MAC each device uuid belongs to. The gate asks it at every device
//! login (a uuid stays with its account, a MAC with its uuid) and for every app's topic
//! rule; the engine tells it when a device is forgotten, and each device's display name
//! (for the gate's log lines). Seeded from the store at start.
//! An account holds at most [`MAX_DEVICES_PER_ACCOUNT`] devices: a stolen plug key must
//! not let its holder fill the registry and the database with invented devices.
//! MOKO plugs have a login each, given at pairing ([`moko`]). How each device last tried
//! to get in is kept beside, for "why is it offline" ([`attempts`]).

pub mod attempts;
pub mod moko;

use std::collections::HashMap;
use std::sync::RwLock;

/// Devices one account may have; a household has tens. Forgetting one frees a place.
pub const MAX_DEVICES_PER_ACCOUNT: usize = 4096;

/// Why a device login does not fit what is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The uuid is known under another user id (CONNACK 4 at the gate).
    #[error("uuid belongs to another account")]
    OtherAccount,
    /// The MAC is known with another uuid (CONNACK 4 at the gate).
    #[error("MAC belongs to another uuid")]
    OtherUuid,
    /// A new uuid, and its account already holds [`MAX_DEVICES_PER_ACCOUNT`] devices
    /// (CONNACK 5 at the gate).
    #[error("the account has {MAX_DEVICES_PER_ACCOUNT} devices already")]
    Full,
}

#[derive(Debug, Default)]
struct Inner {
    /// uuid -> (user id, MAC)
    devices: HashMap<String, (String, String)>,
    /// MAC -> uuid
    macs: HashMap<String, String>,
    /// user id -> how many devices it has
    per_account: HashMap<String, usize>,
    /// uuid -> the name a person sees (`Device::display_name`), for log lines
    names: HashMap<String, Box<str>>,
}

impl Inner {
    fn insert(&mut self, uuid: &str, user_id: &str, mac: &str) {
        if self.devices.contains_key(uuid) {
            self.forget(uuid);
        }
        self.macs.insert(mac.to_owned(), uuid.to_owned());
        self.devices
            .insert(uuid.to_owned(), (user_id.to_owned(), mac.to_owned()));
        *self.per_account.entry(user_id.to_owned()).or_default() += 1;
    }

    fn forget(&mut self, uuid: &str) {
        if let Some((user_id, mac)) = self.devices.remove(uuid) {
            self.macs.remove(&mac);
            if let Some(n) = self.per_account.get_mut(&user_id) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

/// The table; shared by the gate and the engine.
#[derive(Debug, Default)]
pub struct Registry {
    inner: RwLock<Inner>,
    /// MOKO plugs' logins.
    moko: moko::MokoPlugs,
    /// How devices last tried to get in.
    attempts: attempts::Attempts,
}

impl Registry {
    /// A registry of known devices: (uuid, user id, MAC).
    pub fn new(known: impl IntoIterator<Item = (String, String, String)>) -> Registry {
        let registry = Registry::default();
        {
            let mut inner = registry.inner.write().unwrap_or_else(|e| e.into_inner());
            // What the store knows stays known, also past the cap.
            for (uuid, user_id, mac) in known {
                if !inner.macs.contains_key(&mac) {
                    inner.insert(&uuid, &user_id, &mac);
                }
            }
        }
        registry
    }

    /// The same registry, with the MOKO plugs paired so far.
    pub fn with_moko(mut self, plugs: moko::MokoPlugs) -> Registry {
        self.moko = plugs;
        self
    }

    /// The MOKO plugs' logins.
    pub fn moko(&self) -> &moko::MokoPlugs {
        &self.moko
    }

    /// How devices last tried to get in.
    pub fn attempts(&self) -> &attempts::Attempts {
        &self.attempts
    }

    /// Records a device login, or says why it conflicts with what is known.
    pub fn claim(&self, uuid: &str, user_id: &str, mac: &str) -> Result<(), Conflict> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
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
        let new = !inner.devices.contains_key(uuid);
        let held = inner.per_account.get(user_id).copied().unwrap_or(0);
        if new && held >= MAX_DEVICES_PER_ACCOUNT {
            return Err(Conflict::Full);
        }
        inner.insert(uuid, user_id, mac);
        Ok(())
    }

    /// Forgets a device: its uuid and MAC are free again, and a MOKO plug loses its login.
    pub fn forget(&self, uuid: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.forget(uuid);
        inner.names.remove(uuid);
        drop(inner);
        self.moko.forget(uuid);
        self.attempts.forget(uuid);
    }
}

impl Registry {
    /// `Some(true)` if `uuid` belongs to account `user_id`, `Some(false)` if to another,
    /// `None` if the device is unknown.
    pub fn owned_by(&self, uuid: &str, user_id: &str) -> Option<bool> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.devices.get(uuid).map(|(owner, _)| owner == user_id)
    }

    /// Records the name a person sees for a device (at its bind and when renamed).
    /// Every Bind tells it, so the usual case (the name it has) takes only the read lock.
    pub fn set_name(&self, uuid: &str, name: &str) {
        let same = |names: &HashMap<String, Box<str>>| names.get(uuid).map(|n| &**n) == Some(name);
        if same(&self.inner.read().unwrap_or_else(|e| e.into_inner()).names) {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !same(&inner.names) {
            inner.names.insert(uuid.to_owned(), name.into());
        }
    }

    /// The device's display name for a log line; a device never bound has none yet.
    pub fn name(&self, uuid: &str) -> String {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match inner.names.get(uuid) {
            Some(name) => name.to_string(),
            None => "(new device)".to_owned(),
        }
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

    #[test]
    fn a_name_stays_through_logins_and_goes_with_the_device() {
        let r = Registry::default();
        assert_eq!(r.claim("u1", "1234", "m1"), Ok(()));
        assert_eq!(r.name("u1"), "(new device)");
        r.set_name("u1", "Kettle");
        assert_eq!(r.claim("u1", "1234", "m1"), Ok(()));
        assert_eq!(r.name("u1"), "Kettle");
        r.forget("u1");
        assert_eq!(r.name("u1"), "(new device)");
    }

    #[test]
    fn an_account_is_full_at_the_cap_and_forgetting_frees_a_place() {
        let r = Registry::default();
        for n in 0..MAX_DEVICES_PER_ACCOUNT {
            assert_eq!(r.claim(&format!("u{n}"), "1234", &format!("m{n}")), Ok(()));
        }
        assert_eq!(r.claim("new", "1234", "mnew"), Err(Conflict::Full));
        // Known devices still log in; other accounts are not affected.
        assert_eq!(r.claim("u0", "1234", "m0"), Ok(()));
        assert_eq!(r.claim("other", "999", "mother"), Ok(()));
        r.forget("u0");
        assert_eq!(r.claim("new", "1234", "mnew"), Ok(()));
        assert_eq!(r.claim("again", "1234", "magain"), Err(Conflict::Full));
    }

    #[test]
    fn devices_from_the_store_are_all_known_even_past_the_cap() {
        let over = MAX_DEVICES_PER_ACCOUNT + 5;
        let r = Registry::new((0..over).map(|n| (format!("u{n}"), "1234".into(), format!("m{n}"))));
        assert_eq!(r.owned_by(&format!("u{}", over - 1), "1234"), Some(true));
        assert_eq!(
            r.claim(&format!("u{}", over - 1), "1234", &format!("m{}", over - 1)),
            Ok(())
        );
        assert_eq!(r.claim("new", "1234", "mnew"), Err(Conflict::Full));
    }
}
