//! MAC addresses as merossd writes them: twelve lowercase hex digits (the end of a Meross
//! uuid, a MOKO plug's id), or lowercase with colons (a Meross plug's MQTT user name).

/// A MAC's twelve lowercase hex digits (`11:22:33:44:55:66`, `11-22-...` or bare).
pub fn mac_hex(mac: &str) -> Option<String> {
    let hex: String = mac
        .chars()
        .filter(|c| *c != ':' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// The MAC as merossd writes MACs: lowercase, with colons.
pub fn mac_colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}
