//! The three hashes of the protocol: a message's `sign`, a device's MQTT password, and
//! fresh message ids.

use md5::{Digest, Md5};
use rand::RngCore;

/// Lowercase hex MD5 of `text`.
pub fn md5_hex(text: &str) -> String {
    md5_bytes_hex(text.as_bytes())
}

/// The md5 of some bytes (a firmware image), as lowercase hex.
pub fn md5_bytes_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// A message's sign: `md5hex(messageId + key + timestamp)`, the timestamp in decimal.
///
/// ```
/// // The mss310 trace's devices are recorded with key "pippo".
/// let s = merossd::protocol::sign("0123456789abcdef0123456789abcdef", "pippo", 1681841111);
/// assert_eq!(s, merossd::protocol::md5_hex("0123456789abcdef0123456789abcdefpippo1681841111"));
/// ```
pub fn sign(message_id: &str, key: &str, timestamp: u64) -> String {
    md5_hex(&format!("{message_id}{key}{timestamp}"))
}

/// The MQTT password a device logs in with: `<userId>_` + md5hex(mac + key).
///
/// ```
/// // arandall's published test vector.
/// assert_eq!(
///     merossd::protocol::device_password("34:29:8f:ff:ff:ff", "1234", "testkey"),
///     "1234_5ac868a81f2f21b4a87f7d2bb3467cb5"
/// );
/// ```
pub fn device_password(mac: &str, user_id: &str, key: &str) -> String {
    format!("{user_id}_{}", md5_hex(&format!("{mac}{key}")))
}

/// A fresh messageId: 32 lowercase hex characters.
pub fn message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_32_lowercase_hex() {
        let id = message_id();
        assert_eq!(id.len(), 32);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(id, message_id());
    }
}
