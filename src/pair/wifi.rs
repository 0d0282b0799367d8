//! The Wi-Fi part of pairing: SSIDs as plugs send them (base64), and the password as
//! `Appliance.Config.WifiX` wants it: AES-256-CBC with the key `md5hex(type + uuid + mac)`
//! (its 32 ASCII characters), the IV `"0000000000000000"` (16 ASCII characters), padded
//! with 1 to 16 NUL bytes (not PKCS#7), then base64.

use crate::protocol::md5_hex;
use openssl::base64;
use openssl::symm::{Cipher, Crypter, Mode};

/// The IV every plug uses.
const IV: &[u8; 16] = b"0000000000000000";

/// Base64 as plugs send SSIDs and plain passwords.
pub fn encode(text: &str) -> String {
    base64::encode_block(text.as_bytes())
}

/// An SSID from a WifiList: base64 of UTF-8 (lossy), or `None` if not base64.
pub fn decode_ssid(b64: &str) -> Option<String> {
    let bytes = base64::decode_block(b64).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn key(kind: &str, uuid: &str, mac: &str) -> String {
    md5_hex(&format!("{kind}{uuid}{mac}"))
}

pub(super) fn crypt(
    mode: Mode,
    key: &str,
    data: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let cipher = Cipher::aes_256_cbc();
    let mut c = Crypter::new(cipher, mode, key.as_bytes(), Some(IV))?;
    c.pad(false);
    let mut out = vec![0u8; data.len() + cipher.block_size()];
    let mut n = c.update(data, &mut out)?;
    n += c.finalize(&mut out[n..])?;
    out.truncate(n);
    Ok(out)
}

/// The WifiX password field for a plug of hardware `kind` (`mss310`), `uuid` and `mac`
/// (lowercase with colons, as the plug reports it).
pub fn encrypt_password(
    password: &str,
    kind: &str,
    uuid: &str,
    mac: &str,
) -> Result<String, openssl::error::ErrorStack> {
    let mut plain = password.as_bytes().to_vec();
    let pad = 16 - plain.len() % 16;
    plain.extend(std::iter::repeat_n(0u8, pad));
    let sealed = crypt(Mode::Encrypt, &key(kind, uuid, mac), &plain)?;
    Ok(base64::encode_block(&sealed))
}

/// What a plug does with the WifiX password field (the simulated plug uses it).
pub fn decrypt_password(field: &str, kind: &str, uuid: &str, mac: &str) -> Option<String> {
    let sealed = base64::decode_block(field).ok()?;
    let plain = crypt(Mode::Decrypt, &key(kind, uuid, mac), &sealed).ok()?;
    let end = plain.iter().position(|b| *b == 0).unwrap_or(plain.len());
    String::from_utf8(plain[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "2208022697555151200348e1e9aabbcc";
    const MAC: &str = "48:e1:e9:aa:bb:cc";

    /// Computed with the openssl command line, not with this code:
    /// `key=$(printf %s mss310<uuid><mac> | md5sum)`, then the password plus its NUL
    /// padding through `openssl enc -aes-256-cbc -K <hex of the 32 key chars>
    /// -iv <hex of "0000000000000000"> -nopad | base64`.
    #[test]
    fn wifix_matches_an_independent_vector() {
        assert_eq!(key("mss310", UUID, MAC), "33c5e980d76cb8d828e56f08d68c6038");
        assert_eq!(
            encrypt_password("hunter2!", "mss310", UUID, MAC).unwrap(),
            "sXin9cptavkqcMYL9vVwbg=="
        );
        // A length that is a multiple of 16 gets a whole block of NULs.
        assert_eq!(
            encrypt_password("sixteen-chars-pw", "mss310", UUID, MAC).unwrap(),
            "W28ZVliwf1LgLbeueiE0JLq3MSSVyGLP/degXv8uTts="
        );
    }

    #[test]
    fn a_plug_gets_the_password_back() {
        for pw in [
            "",
            "a",
            "hunter2!",
            "sixteen-chars-pw",
            "pässwörd with ünïcode",
        ] {
            let field = encrypt_password(pw, "mss310", UUID, MAC).unwrap();
            assert_eq!(
                decrypt_password(&field, "mss310", UUID, MAC).as_deref(),
                Some(pw)
            );
        }
        assert_eq!(decode_ssid(&encode("Café 5G")).as_deref(), Some("Café 5G"));
    }
}
