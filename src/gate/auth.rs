//! Who may log in: plugs with `<userId>_md5(mac + key)`, MOKO plugs with the login their
//! pairing gave them (`moko_<mac hex>` and a password of their own), app clients
//! (MerossIot style) with `md5(userId + key)`, and, on a loopback-only plain listener,
//! local tools with nothing.
//! A device's identity is its login: the uuid in its client id must end with the MAC it
//! logged in with, stay with the account whose key verified it, and a MAC keeps its uuid.

use crate::config::Account;
use crate::mqtt::connect::{ConnackCode, Connect};
use crate::protocol::mac::{mac_colons, mac_hex};
use crate::protocol::md5_hex;
use crate::registry::moko::MokoPlugs;
use subtle::ConstantTimeEq;

/// Who a connection is, once the gate let it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A Meross device: `fmware:<uuid>_...`, user = MAC.
    Device {
        /// From its client id: lowercase hex, ending with the MAC's hex.
        uuid: String,
        /// Its MQTT user name, as `aa:bb:cc:dd:ee:ff` (lowercase, with colons).
        mac: String,
        /// The account whose key verified its password (`<userId>_md5(mac + key)`).
        user_id: String,
    },
    /// A MOKO plug, with the login merossd gave it at pairing.
    Moko {
        /// `moko<mac hex>`: where a Meross device has its uuid.
        id: String,
        /// Its MAC, lowercase with colons.
        mac: String,
        /// The account it was paired to.
        user_id: String,
        /// Its topics' first four levels (`iot_plug/plug_one/us/<mac>`).
        prefix: String,
    },
    /// An app client logged in with an account's user id.
    App {
        /// The account's user id, its MQTT user name (password `md5(userId + key)`).
        user_id: String,
    },
    /// A tool on this host, on the loopback plain listener.
    Local,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Device { uuid, .. } => write!(f, "device {uuid}"),
            Identity::Moko { id, .. } => write!(f, "MOKO plug {id}"),
            Identity::App { user_id } => write!(f, "app {user_id}"),
            Identity::Local => f.write_str("local"),
        }
    }
}

pub use crate::protocol::client_id::device_uuid;

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Identity {
    /// The device's id (a Meross uuid or a MOKO plug's id); `None` for apps and tools.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            Identity::Device { uuid, .. } => Some(uuid),
            Identity::Moko { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Checks a CONNECT's credentials. `open` is true on a loopback plain listener, where a
/// client without credentials is a local tool. (Whether a device's uuid and MAC fit what
/// is known is the registry's question, asked by the caller.)
pub fn authenticate(
    connect: &Connect,
    accounts: &[Account],
    moko: &MokoPlugs,
    open: bool,
) -> Result<Identity, ConnackCode> {
    let password = connect
        .password
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let (Some(user), Some(password)) = (connect.username.as_deref(), password) else {
        return if open {
            Ok(Identity::Local)
        } else {
            Err(ConnackCode::NotAuthorized)
        };
    };

    // A MOKO plug's user name says what it is: its login is its own, or none.
    if user.starts_with("moko_") {
        let plug = moko
            .check(user, &password)
            .ok_or(ConnackCode::BadUserNameOrPassword)?;
        return Ok(Identity::Moko {
            id: plug.id,
            mac: plug.mac,
            user_id: plug.user_id,
            prefix: plug.prefix,
        });
    }

    if let Some(uuid) = device_uuid(&connect.client_id) {
        // Device: password = "<userId>_" + md5hex(mac + key)
        let mac = user.to_ascii_lowercase();
        let (user_id, hash) = password
            .split_once('_')
            .ok_or(ConnackCode::BadUserNameOrPassword)?;
        let account = accounts
            .iter()
            .find(|a| a.user_id == user_id)
            .ok_or(ConnackCode::BadUserNameOrPassword)?;
        if !same(
            &md5_hex(&format!("{mac}{}", account.key)),
            &hash.to_ascii_lowercase(),
        ) {
            return Err(ConnackCode::BadUserNameOrPassword);
        }
        // The password proves the MAC; the uuid must be that MAC's. Both as plugs write
        // them: lowercase hex, the MAC with colons.
        let hex = mac_hex(&mac).ok_or(ConnackCode::BadUserNameOrPassword)?;
        let lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !lower_hex(uuid) || !uuid.ends_with(&hex) {
            return Err(ConnackCode::BadUserNameOrPassword);
        }
        let mac = mac_colons(&hex);
        return Ok(Identity::Device {
            uuid: uuid.to_owned(),
            mac,
            user_id: account.user_id.clone(),
        });
    }

    // App client: user = userId, password = md5hex(userId + key)
    let account = accounts
        .iter()
        .find(|a| a.user_id == user)
        .ok_or(ConnackCode::BadUserNameOrPassword)?;
    if same(
        &md5_hex(&format!("{}{}", account.user_id, account.key)),
        &password,
    ) {
        Ok(Identity::App {
            user_id: account.user_id.clone(),
        })
    } else if open {
        // A local tool that sent credentials we don't know is still a local tool.
        Ok(Identity::Local)
    } else {
        Err(ConnackCode::BadUserNameOrPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::device_password;

    fn accounts() -> Vec<Account> {
        vec![Account {
            user_id: "1234".into(),
            key: "testkey".into(),
            ..Default::default()
        }]
    }

    fn auth(c: &Connect, open: bool) -> Result<Identity, ConnackCode> {
        authenticate(c, &accounts(), &MokoPlugs::default(), open)
    }

    #[test]
    fn a_moko_plug_logs_in_with_its_own_login_only() {
        let plugs = MokoPlugs::default();
        let prefix = "iot_plug/plug_one/us/11:22:33:44:55:66";
        let given = plugs
            .enrol("11:22:33:44:55:66", prefix, "1234", false)
            .unwrap();
        let login = |user: &str, password: &str, open| {
            let c = Connect::new(4, "112233445566", 60).login(user, password);
            authenticate(&c, &accounts(), &plugs, open)
        };
        assert_eq!(
            login(&given.username, &given.password, false),
            Ok(Identity::Moko {
                id: "moko112233445566".into(),
                mac: "11:22:33:44:55:66".into(),
                user_id: "1234".into(),
                prefix: prefix.into(),
            })
        );
        for (user, password) in [
            (given.username.as_str(), "wrong"),
            ("moko_aabbccddeeff", given.password.as_str()),
        ] {
            for open in [false, true] {
                assert_eq!(
                    login(user, password, open),
                    Err(ConnackCode::BadUserNameOrPassword)
                );
            }
        }
    }

    fn device(password: &str) -> Connect {
        Connect::new(
            3,
            "fmware:2208022697555151200348e1e9aabbcc_0123456789abcdef",
            30,
        )
        .login("48:e1:e9:aa:bb:cc", password)
    }

    #[test]
    fn device_with_right_password_is_let_in() {
        let pw = device_password("48:e1:e9:aa:bb:cc", "1234", "testkey");
        let id = auth(&device(&pw), false).unwrap();
        assert_eq!(
            id,
            Identity::Device {
                uuid: "2208022697555151200348e1e9aabbcc".into(),
                mac: "48:e1:e9:aa:bb:cc".into(),
                user_id: "1234".into()
            }
        );
    }

    #[test]
    fn wrong_key_or_unknown_user_is_refused_even_on_the_local_listener() {
        let wrong = device_password("48:e1:e9:aa:bb:cc", "1234", "nope");
        let unknown = device_password("48:e1:e9:aa:bb:cc", "999", "testkey");
        for pw in [wrong.as_str(), unknown.as_str(), "garbage"] {
            for open in [false, true] {
                assert_eq!(
                    auth(&device(pw), open),
                    Err(ConnackCode::BadUserNameOrPassword)
                );
            }
        }
    }

    #[test]
    fn a_uuid_that_is_not_the_logged_in_macs_is_refused() {
        let pw = device_password("48:e1:e9:aa:bb:cc", "1234", "testkey");
        for client_id in [
            "fmware:2208022697555151200348e1e9000001_x", // another plug's uuid
            "fmware:2208022697555151200348E1E9AABBCC_x", // not as plugs write it
            "fmware:ab_x",
            "mosquitto_sub",
        ] {
            let mut c = device(&pw);
            c.client_id = client_id.into();
            assert_eq!(
                auth(&c, false),
                Err(ConnackCode::BadUserNameOrPassword),
                "{client_id}"
            );
        }
        // A MAC that is not twelve hex digits.
        let odd = device_password("zz:zz:zz:zz:zz:zz", "1234", "testkey");
        let mut c = device(&odd);
        c.username = Some("zz:zz:zz:zz:zz:zz".into());
        c.client_id = "fmware:0000000000000000000zzzzzzzzzzzz_x".into();
        assert_eq!(auth(&c, false), Err(ConnackCode::BadUserNameOrPassword));
        // The MAC is kept as plugs write it, whatever the login's form.
        let mut bare = device(&device_password("48e1e9aabbcc", "1234", "testkey"));
        bare.username = Some("48E1E9AABBCC".into());
        assert!(matches!(
            auth(&bare, false),
            Ok(Identity::Device { mac, .. }) if mac == "48:e1:e9:aa:bb:cc"
        ));
    }

    #[test]
    fn anonymous_client_only_on_the_open_listener() {
        let mut c = device("x");
        c.client_id = "mosquitto_sub".into();
        c.username = None;
        c.password = None;
        assert_eq!(auth(&c, true), Ok(Identity::Local));
        assert_eq!(auth(&c, false), Err(ConnackCode::NotAuthorized));
    }

    #[test]
    fn app_client_logs_in_with_md5_of_user_id_and_key() {
        let mut c = device("x");
        c.client_id = "app:abc".into();
        c.username = Some("1234".into());
        c.password = Some(md5_hex("1234testkey").into_bytes());
        assert_eq!(
            auth(&c, false),
            Ok(Identity::App {
                user_id: "1234".into()
            })
        );
    }
}
