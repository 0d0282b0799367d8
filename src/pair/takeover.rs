//! Taking over a plug already paired (to the Meross cloud, or to another server) and on
//! the owner's Wi-Fi: merossd speaks to it at its LAN address, signed with its current
//! account key and, if it encrypts its API, encrypted with the key made of its uuid, that
//! key and its MAC (no exchange: `encrypt::paired_key`); then gives it this merossd's
//! server and key (`Config.Key`), and leaves its Wi-Fi alone.

use super::{abilities, encrypt, info_of, to_merossd, PairError, Plug, PlugInfo, Server, Step};
use crate::config::Account;
use crate::protocol::Method;
use serde_json::json;

const STEP: &str = "reading the plug with its current key (System.All)";

/// Who the paired plug is. Its Ability comes in plain (every plug answers that), and its
/// header's `from` names its uuid, whose last 12 hex digits are its MAC; the rest is
/// asked with `current_key`.
pub fn identify(plug: &Plug, current_key: &str) -> Result<PlugInfo, PairError> {
    let failed = |detail: String| PairError::Step { step: STEP, detail };
    // A plug that does not take the key says so in its own way: an ERROR (its sign), an
    // answer that does not open, a closed connection.
    let hint = |e: PairError| {
        match e {
        PairError::Unreachable { .. } => e,
        other => PairError::Step {
            step: STEP,
            detail: format!(
                "{other}. Is --current-key the key it is paired with? Nothing was changed on the plug."
            ),
        },
    }
    };
    let (ability, header) = abilities(plug).map_err(hint)?;
    if ability.get("Appliance.Encrypt.ECDHE").is_some() {
        let uuid = header
            .from
            .split('/')
            .find(|part| part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| failed(format!("its answer names no uuid (from {:?})", header.from)))?;
        let mac = crate::protocol::mac::mac_colons(&uuid[20..]);
        let key = encrypt::paired_key(uuid, current_key, &mac)
            .ok_or_else(|| failed("--current-key is too short for a Meross key".to_owned()))?;
        plug.encrypt_with(key);
    }
    let all = plug
        .call(STEP, Method::Get, "Appliance.System.All", json!({}))
        .map_err(hint)?;
    info_of(&all.payload, &ability)
}

/// The requests that take the paired plug to merossd: its time, then the server and key.
pub fn plan(
    info: &PlugInfo,
    account: &Account,
    server: &Server,
    zone: Option<(String, jiff::tz::TimeZone)>,
) -> Vec<Step> {
    to_merossd(info, account, server, zone)
}
