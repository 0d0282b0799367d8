//! The MOKO plugs merossd paired, with the MQTT login each was given: a user name made of
//! its MAC and a password of 32 random characters, of which only a SHA-256 is kept, in
//! `moko-plugs.json` (0600) in the data directory. A plug paired again gets a new
//! password; a plug forgotten loses its login.

use crate::datadir::write_secret;
use crate::protocol::moko::{id_of, mac_colons, mac_hex, username_of};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;
use subtle::ConstantTimeEq;

/// The file in the data directory.
pub const FILE: &str = "moko-plugs.json";
/// The most MOKO plugs kept: a household has a few; an API token holder must not be able
/// to grow the file without end.
pub const MAX_PLUGS: usize = 1024;
/// How long a topic prefix may be (`<function>/<name>/<region>/<mac>`).
const MAX_PREFIX: usize = 200;

/// One paired MOKO plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MokoPlug {
    /// `moko<mac hex>`: where a Meross device has its uuid.
    pub id: String,
    /// Lowercase, with colons.
    pub mac: String,
    /// Its topics' first four levels, as it writes them.
    pub prefix: String,
    /// The account it was paired to.
    pub user_id: String,
    /// Its MQTT user name.
    pub username: String,
    /// SHA-256 of its MQTT password, hex.
    password_sha256: String,
    /// It said at pairing that it measures power (4001 `device_type` "1").
    #[serde(default)]
    pub metering: bool,
}

/// What pairing tells the plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// The plug's id in merossd.
    pub id: String,
    /// The MQTT user name.
    pub username: String,
    /// The MQTT password (not kept: only its hash).
    pub password: String,
    /// The topic prefix it was enrolled with.
    pub topic_prefix: String,
}

/// Why a plug cannot be enrolled.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// Not a MAC.
    #[error("{0:?} is not a MAC address (six hex bytes)")]
    Mac(String),
    /// The prefix is not `<function>/<name>/<region>/<mac>` of this MAC.
    #[error("{0}")]
    Prefix(String),
    /// No such account.
    #[error("no account {0:?}")]
    Account(String),
    /// [`MAX_PLUGS`] are paired already.
    #[error("{MAX_PLUGS} MOKO plugs are paired already; forget one first")]
    Full,
    /// The file could not be written.
    #[error("cannot write {path}: {error}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    plugs: Vec<MokoPlug>,
}

/// The table, by user name; shared by the gate (logins) and the engine (pairing, forget).
#[derive(Debug, Default)]
pub struct MokoPlugs {
    /// Where it is kept; `None`: in memory only (tests).
    path: Option<PathBuf>,
    plugs: RwLock<HashMap<String, MokoPlug>>,
}

fn sha256_hex(password: &str) -> String {
    hex::encode(openssl::sha::sha256(password.as_bytes()))
}

impl MokoPlugs {
    /// Reads the table from `path`; no file is an empty table.
    pub fn load(path: PathBuf) -> std::io::Result<MokoPlugs> {
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!("{}: not a MOKO plug table: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(e),
        };
        let plugs = saved
            .plugs
            .into_iter()
            .map(|p| (p.username.clone(), p))
            .collect();
        Ok(MokoPlugs {
            path: Some(path),
            plugs: RwLock::new(plugs),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, MokoPlug>> {
        self.plugs.read().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, plugs: &HashMap<String, MokoPlug>) -> Result<(), EnrolError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut list: Vec<MokoPlug> = plugs.values().cloned().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes = serde_json::to_vec_pretty(&Saved { plugs: list }).unwrap_or_default();
        write_secret(path, &bytes).map_err(|error| EnrolError::Write {
            path: path.display().to_string(),
            error,
        })
    }

    /// Gives the plug with `mac` and topic `prefix` (measuring power if `metering`) a new
    /// login for account `user_id`, replacing any it had.
    pub fn enrol(
        &self,
        mac: &str,
        prefix: &str,
        user_id: &str,
        metering: bool,
    ) -> Result<Credentials, EnrolError> {
        let hex = mac_hex(mac).ok_or_else(|| EnrolError::Mac(mac.to_owned()))?;
        check_prefix(prefix, &hex)?;
        let id = id_of(&hex).ok_or_else(|| EnrolError::Mac(mac.to_owned()))?;
        let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let plug = MokoPlug {
            id: id.clone(),
            mac: mac_colons(&hex),
            prefix: prefix.to_owned(),
            user_id: user_id.to_owned(),
            username: username_of(&id),
            password_sha256: sha256_hex(&password),
            metering,
        };
        let mut plugs = self.plugs.write().unwrap_or_else(|e| e.into_inner());
        if !plugs.contains_key(&plug.username) && plugs.len() >= MAX_PLUGS {
            return Err(EnrolError::Full);
        }
        let before = plugs.insert(plug.username.clone(), plug.clone());
        if let Err(e) = self.save(&plugs) {
            // Nothing changes unless it is kept.
            match before {
                Some(old) => plugs.insert(old.username.clone(), old),
                None => plugs.remove(&plug.username),
            };
            return Err(e);
        }
        Ok(Credentials {
            id,
            username: plug.username,
            password,
            topic_prefix: plug.prefix,
        })
    }

    /// The plug whose login this is, if it is one.
    pub fn check(&self, username: &str, password: &str) -> Option<MokoPlug> {
        let plugs = self.read();
        let plug = plugs.get(username)?;
        let hash = sha256_hex(password);
        bool::from(hash.as_bytes().ct_eq(plug.password_sha256.as_bytes())).then(|| plug.clone())
    }

    /// The plug with this id.
    pub fn get(&self, id: &str) -> Option<MokoPlug> {
        self.read().get(&username_of(id)).cloned()
    }

    /// Every plug, for the engine to know their prefixes at start.
    pub fn all(&self) -> Vec<MokoPlug> {
        self.read().values().cloned().collect()
    }

    /// Takes the plug's login away (it was forgotten).
    pub fn forget(&self, id: &str) {
        let mut plugs = self.plugs.write().unwrap_or_else(|e| e.into_inner());
        if plugs.remove(&username_of(id)).is_some() {
            if let Err(error) = self.save(&plugs) {
                tracing::warn!(%error, "a forgotten MOKO plug's login is still in the file");
            }
        }
    }
}

/// `<function>/<name>/<region>/<mac>`, four levels, no wildcards, ending with this MAC.
fn check_prefix(prefix: &str, hex: &str) -> Result<(), EnrolError> {
    let levels: Vec<&str> = prefix.split('/').collect();
    let bad = |why: &str| Err(EnrolError::Prefix(format!("{prefix:?} {why}")));
    if prefix.len() > MAX_PREFIX || prefix.contains(['+', '#', '\0']) {
        return bad("is too long or has a wildcard");
    }
    match levels[..] {
        [f, n, r, mac] if ![f, n, r].iter().any(|l| l.is_empty()) => {
            if mac_hex(mac).as_deref() == Some(hex) {
                Ok(())
            } else {
                bad("does not end with the plug's MAC")
            }
        }
        _ => bad("is not <function>/<name>/<region>/<mac>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "iot_plug/plug_one/us/11:22:33:44:55:66";

    #[test]
    fn a_login_is_given_kept_hashed_and_taken_away() {
        let dir = std::env::temp_dir().join(format!("moko-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE);
        let plugs = MokoPlugs::load(path.clone()).unwrap();
        let c = plugs
            .enrol("11:22:33:44:55:66", PREFIX, "1234", true)
            .unwrap();
        assert_eq!(c.id, "moko112233445566");
        assert_eq!(c.username, "moko_112233445566");
        assert_eq!(c.password.len(), 32);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&c.password), "only a hash is kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let again = MokoPlugs::load(path.clone()).unwrap();
        let plug = again.check(&c.username, &c.password).expect("the login");
        assert_eq!(
            (plug.prefix.as_str(), plug.user_id.as_str()),
            (PREFIX, "1234")
        );
        assert!(again.check(&c.username, "wrong").is_none());
        // Paired again: the old password is no longer good.
        let c2 = again.enrol("112233445566", PREFIX, "1234", true).unwrap();
        assert!(again.check(&c.username, &c.password).is_none());
        assert!(again.check(&c2.username, &c2.password).is_some());
        again.forget(&c2.id);
        assert!(MokoPlugs::load(path).unwrap().get(&c2.id).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_bad_mac_or_prefix_is_named() {
        let plugs = MokoPlugs::default();
        assert!(matches!(
            plugs.enrol("nope", PREFIX, "1", true),
            Err(EnrolError::Mac(_))
        ));
        for prefix in [
            "iot_plug/plug_one/us/11:22:33:44:55:77",
            "iot_plug/plug_one/11:22:33:44:55:66",
            "iot_plug/+/us/11:22:33:44:55:66",
            "iot_plug//us/11:22:33:44:55:66",
        ] {
            let e = plugs
                .enrol("11:22:33:44:55:66", prefix, "1", true)
                .unwrap_err();
            assert!(matches!(e, EnrolError::Prefix(_)), "{prefix}: {e}");
            assert!(e.to_string().contains(prefix), "{prefix}: {e}");
        }
    }
}
