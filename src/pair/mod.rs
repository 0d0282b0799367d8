//! `merossd pair`: takes a reset plug (in pairing mode, its own Wi-Fi access point) to this
//! merossd, over the plug's local HTTP API (`POST /config`, the usual signed envelope):
//! who it is, which networks it sees, then the server and key, then the Wi-Fi. Every
//! refusal names the step it happened at. MOKO plugs pair over their own raw TCP
//! provisioning instead ([`moko`]).

pub mod ble;
#[cfg(feature = "ble")]
pub mod bluez;
pub mod encrypt;
pub mod moko;
mod plug;
pub mod takeover;
pub mod wifi;

pub use plug::{answer_of, Plug};

use crate::config::Account;
use crate::protocol::Method;
use serde_json::{json, Value};

/// What went wrong, and at which step.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// Nothing answered at the plug's address (not on its Wi-Fi, or no such plug).
    #[error("no plug answers at {url} ({detail}). Join the plug's own Wi-Fi (Meross_SW_XXXX; hold its button about 5 s until the LED alternates) and try again. Plugs with hardware 8.x pair only over Bluetooth and have no such Wi-Fi.")]
    Unreachable {
        /// The URL called: the plug's base URL and `/config`.
        url: String,
        /// The HTTP client's error.
        detail: String,
    },
    /// Nothing answered at a MOKO plug's provisioning address.
    #[error("no MOKO plug answers at {addr} ({detail}). A MOKO plug in AP mode (after a reset: hold its button about 10 s) opens a Wi-Fi of its own; join it and try again.")]
    MokoUnreachable {
        /// `HOST:PORT` dialled.
        addr: String,
        /// The connect error.
        detail: String,
    },
    /// The plug answered with method `ERROR`.
    #[error("{step}: the plug answered ERROR {code}: {detail}")]
    Refused {
        /// The step, in words (`giving it the Wi-Fi (Config.Wifi)`).
        step: &'static str,
        /// The payload's `error.code`; 0 when it has none.
        code: i64,
        /// The whole `ERROR` payload, as JSON text.
        detail: String,
    },
    /// A step failed otherwise: an HTTP status, an answer that is not a Meross message, ...
    #[error("{step}: {detail}")]
    Step {
        /// The step, in words.
        step: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The plug does not see the Wi-Fi it is to join; nothing was sent that changes it.
    #[error("the plug does not see the network {ssid:?}; it sees: {seen}. Nothing was changed on the plug.")]
    UnknownSsid {
        /// The network asked for.
        ssid: String,
        /// The SSIDs it sees, quoted and comma-separated, or `nothing`.
        seen: String,
    },
    /// A MOKO plug answered a provisioning step with a code other than 0.
    #[error("{step}: the plug answered code {code}: {meaning}. Nothing after this step was sent.")]
    MokoRefused {
        /// The step, in words (`giving it the Wi-Fi (4003)`).
        step: &'static str,
        /// The answer's `code`.
        code: i64,
        /// What the code means (`protocol::moko::setup::code_meaning`).
        meaning: &'static str,
    },
}

/// Who the plug is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlugInfo {
    /// Its hardware type, such as `mss310` (`System.All` hardware.type).
    pub kind: String,
    /// Its uuid (`System.All` hardware.uuid), the one it logs in with.
    pub uuid: String,
    /// Its MAC address, `aa:bb:cc:dd:ee:ff` lowercased (`System.All` hardware.macAddress).
    pub mac: String,
    /// Its firmware version (`System.All` firmware.version).
    pub firmware: String,
    /// Its hardware version (`System.All` hardware.version).
    pub hardware: String,
    /// It takes the Wi-Fi password encrypted (`Appliance.Config.WifiX`).
    pub wifix: bool,
    /// It wants its time and zone (`Appliance.System.Time`).
    pub time: bool,
}

/// A network the plug sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Its name, decoded from the list's base64.
    pub ssid: String,
    /// The plug's entry as listed (`bssid`, `channel`, `encryption`, `cipher` go back to it).
    pub raw: Value,
    /// Its strength as the plug gives it (0 when not given); higher is stronger.
    pub signal: i64,
}

const READ_ALL: &str = "reading the plug (System.All)";
const READ_ABILITY: &str = "reading its abilities (System.Ability)";

/// Steps 1 and 2: `System.All` and `System.Ability` (and, for a plug that encrypts its
/// API, the key exchange).
pub fn identify(plug: &Plug) -> Result<PlugInfo, PairError> {
    let all = plug.call(READ_ALL, Method::Get, "Appliance.System.All", json!({}))?;
    let (ability, _) = abilities(plug)?;
    if ability.get("Appliance.Encrypt.ECDHE").is_some() {
        encrypt::agree(plug)?;
    }
    info_of(&all.payload, &ability)
}

/// The plug's Ability (which every plug answers in plain), and the answer's header.
fn abilities(plug: &Plug) -> Result<(Value, crate::protocol::Header), PairError> {
    let reply = plug.call(
        READ_ABILITY,
        Method::Get,
        "Appliance.System.Ability",
        json!({}),
    )?;
    let ability = reply.payload.get("ability").cloned().unwrap_or(Value::Null);
    Ok((ability, reply.header))
}

/// Who the plug is, from its System.All answer and its Ability.
fn info_of(all: &Value, ability: &Value) -> Result<PlugInfo, PairError> {
    let system = &all["all"]["system"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let info = PlugInfo {
        kind: text(&system["hardware"]["type"]),
        uuid: text(&system["hardware"]["uuid"]),
        mac: text(&system["hardware"]["macAddress"]).to_ascii_lowercase(),
        firmware: text(&system["firmware"]["version"]),
        hardware: text(&system["hardware"]["version"]),
        wifix: ability.get("Appliance.Config.WifiX").is_some(),
        time: ability.get("Appliance.System.Time").is_some(),
    };
    if info.uuid.is_empty() || info.mac.is_empty() || info.kind.is_empty() {
        return Err(PairError::Step {
            step: READ_ALL,
            detail: "its answer names no type, uuid or MAC".to_owned(),
        });
    }
    Ok(info)
}

/// Step 3: the networks the plug sees, strongest first.
pub fn networks(plug: &Plug) -> Result<Vec<Network>, PairError> {
    let reply = plug.call(
        "listing Wi-Fi networks (Config.WifiList)",
        Method::Get,
        "Appliance.Config.WifiList",
        json!({}),
    )?;
    let mut list: Vec<Network> = reply.payload["wifiList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            Some(Network {
                ssid: wifi::decode_ssid(n["ssid"].as_str()?)?,
                raw: n.clone(),
                signal: n["signal"].as_i64().unwrap_or(0),
            })
        })
        .collect();
    list.sort_by_key(|n| std::cmp::Reverse(n.signal));
    Ok(list)
}

/// Where the plug must connect to.
#[derive(Debug, Clone)]
pub struct Server {
    /// This host's address as the plug is to dial it (`--server`, else its LAN IPv4).
    pub host: String,
    /// merossd's TLS port (`--server`, else the first `mqtt.tls_listen`).
    pub port: u16,
}

/// The requests that point the plug at merossd, in order: its time (if it wants it), then
/// the server and key.
fn to_merossd(
    info: &PlugInfo,
    account: &Account,
    server: &Server,
    zone: Option<(String, jiff::tz::TimeZone)>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if info.time {
        if let Some((name, tz)) = zone {
            let now = crate::protocol::now_secs() as i64;
            let payload = crate::timezone::time_payload(&name, &tz, now);
            steps.push((
                "setting its time and zone (System.Time)",
                "Appliance.System.Time",
                payload,
            ));
        }
    }
    // Both gateways are merossd: a different second one makes plugs stall.
    let gateway = json!({
        "host": server.host, "port": server.port,
        "secondHost": server.host, "secondPort": server.port, "redirect": 1,
    });
    steps.push((
        "giving it the server and key (Config.Key)",
        "Appliance.Config.Key",
        json!({"key": {"userId": account.user_id, "key": account.key, "gateway": gateway}}),
    ));
    steps
}

/// The Wi-Fi password as `Config.WifiX` takes it from this plug.
fn sealed_password(info: &PlugInfo, password: &str) -> Result<String, PairError> {
    wifi::encrypt_password(password, &info.kind, &info.uuid, &info.mac).map_err(|e| {
        PairError::Step {
            step: "encrypting the Wi-Fi password",
            detail: e.to_string(),
        }
    })
}

/// One request of pairing: its step in words, its namespace, its payload (a SET).
pub type Step = (&'static str, &'static str, Value);

/// The requests that take the plug to merossd, in order: time (if it wants it), server
/// and key, Wi-Fi. `zone` is the time zone it gets.
pub fn plan(
    info: &PlugInfo,
    network: &Network,
    password: &str,
    account: &Account,
    server: &Server,
    zone: Option<(String, jiff::tz::TimeZone)>,
) -> Result<Vec<Step>, PairError> {
    let mut steps = to_merossd(info, account, server, zone);
    let mut wifi = serde_json::Map::new();
    for field in ["bssid", "channel", "encryption", "cipher"] {
        if let Some(v) = network.raw.get(field) {
            wifi.insert(field.to_owned(), v.clone());
        }
    }
    wifi.insert("ssid".into(), json!(wifi::encode(&network.ssid)));
    if info.wifix {
        let sealed = sealed_password(info, password)?;
        wifi.insert("password".into(), json!(sealed));
        steps.push((
            "giving it the Wi-Fi (Config.WifiX)",
            "Appliance.Config.WifiX",
            json!({ "wifi": wifi }),
        ));
    } else {
        wifi.insert("password".into(), json!(wifi::encode(password)));
        steps.push((
            "giving it the Wi-Fi (Config.Wifi)",
            "Appliance.Config.Wifi",
            json!({ "wifi": wifi }),
        ));
    }
    Ok(steps)
}

/// A request as `--dry-run` prints it: the key and the Wi-Fi password masked.
pub fn masked(payload: &Value) -> Value {
    let mut p = payload.clone();
    if let Some(key) = p.pointer_mut("/key/key") {
        *key = json!("<account key>");
    }
    if let Some(pw) = p.pointer_mut("/wifi/password") {
        *pw = json!("<wifi password>");
    }
    p
}

/// Finds `ssid` among what the plug sees; the error lists what it sees.
pub fn find<'a>(list: &'a [Network], ssid: &str) -> Result<&'a Network, PairError> {
    list.iter().find(|n| n.ssid == ssid).ok_or_else(|| {
        let seen: Vec<String> = list.iter().map(|n| format!("{:?}", n.ssid)).collect();
        PairError::UnknownSsid {
            ssid: ssid.to_owned(),
            seen: if seen.is_empty() {
                "nothing".to_owned()
            } else {
                seen.join(", ")
            },
        }
    })
}
