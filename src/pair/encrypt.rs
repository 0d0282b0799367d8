//! Plugs that encrypt their local HTTP API (`Appliance.Encrypt.ECDHE`): the `/config` body
//! becomes base64(AES-256-CBC(JSON padded with NULs to a multiple of 16)) with the IV
//! `"0000000000000000"`, and so does the reply. In AP mode the AES key comes from an ECDH
//! exchange on P-256 (`SET Appliance.Encrypt.ECDHE`, our public key as an uncompressed
//! point in base64): the 32 ASCII characters of md5hex(the shared x-coordinate). A plug
//! already paired takes a key made of its uuid, its current account key and its MAC
//! instead ([`paired_key`]). Sources: meross_lan (`compute_message_encryption_key`),
//! MerossIot (`EncryptionSuiteMixin`), bytespider 2.x (`exchangeKeys`).

use super::wifi::crypt;
use super::{PairError, Plug};
use crate::protocol::Method;
use md5::{Digest, Md5};
use openssl::base64;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::symm::Mode;

/// The body of an encrypted request (or reply) for `json`.
pub fn seal(key: &str, json: &[u8]) -> Result<String, ErrorStack> {
    let mut plain = json.to_vec();
    let pad = (16 - plain.len() % 16) % 16;
    plain.extend(std::iter::repeat_n(0u8, pad));
    Ok(base64::encode_block(&crypt(Mode::Encrypt, key, &plain)?))
}

/// The JSON inside an encrypted body (its NUL padding removed); `None` if it is not one
/// made with `key`.
pub fn open(key: &str, body: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let sealed = base64::decode_block(text).ok()?;
    if sealed.is_empty() || sealed.len() % 16 != 0 {
        return None;
    }
    let mut plain = crypt(Mode::Decrypt, key, &sealed).ok()?;
    while plain.last() == Some(&0) {
        plain.pop();
    }
    Some(plain)
}

/// The AES key of a plug already paired with account key `key`: the 32 ASCII characters of
/// md5hex(uuid[3..22] + key[1..9] + mac + key[10..28]); `None` if the uuid or key is too
/// short for it.
pub fn paired_key(uuid: &str, key: &str, mac: &str) -> Option<String> {
    let text = format!(
        "{}{}{mac}{}",
        uuid.get(3..22)?,
        key.get(1..9)?,
        key.get(10..28)?
    );
    Some(hex::encode(Md5::digest(text.as_bytes())))
}

/// Our side of the ECDH exchange.
pub struct Exchange {
    key: EcKey<Private>,
}

impl Exchange {
    /// A fresh P-256 key pair.
    pub fn new() -> Result<Exchange, ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        Ok(Exchange {
            key: EcKey::generate(&group)?,
        })
    }

    /// From a PEM private key (tests).
    pub fn from_pem(pem: &[u8]) -> Result<Exchange, ErrorStack> {
        Ok(Exchange {
            key: EcKey::private_key_from_pem(pem)?,
        })
    }

    /// Our public key as the plug takes it: the uncompressed point, base64.
    pub fn public(&self) -> Result<String, ErrorStack> {
        let mut ctx = BigNumContext::new()?;
        let bytes = self.key.public_key().to_bytes(
            self.key.group(),
            PointConversionForm::UNCOMPRESSED,
            &mut ctx,
        )?;
        Ok(base64::encode_block(&bytes))
    }

    /// The AES key shared with the holder of `peer` (its public key, as [`Exchange::public`]
    /// gives ours).
    pub fn key_with(&self, peer: &str) -> Result<String, ErrorStack> {
        let group = self.key.group();
        let mut ctx = BigNumContext::new()?;
        let bytes = base64::decode_block(peer.trim())?;
        let point = EcPoint::from_bytes(group, &bytes, &mut ctx)?;
        let theirs = PKey::from_ec_key(EcKey::from_public_key(group, &point)?)?;
        let ours = PKey::from_ec_key(self.key.clone())?;
        let mut deriver = openssl::derive::Deriver::new(&ours)?;
        deriver.set_peer(&theirs)?;
        let shared = deriver.derive_to_vec()?;
        Ok(hex::encode(Md5::digest(&shared)))
    }
}

/// Agrees a key with a plug in AP mode that encrypts its API, and has `plug` use it.
pub fn agree(plug: &Plug) -> Result<(), PairError> {
    const STEP: &str = "agreeing a key with the plug (Encrypt.ECDHE)";
    let failed = |detail: String| PairError::Step { step: STEP, detail };
    let ours = Exchange::new().map_err(|e| failed(e.to_string()))?;
    let public = ours.public().map_err(|e| failed(e.to_string()))?;
    let payload = serde_json::json!({"ecdhe": {"step": 1, "pubkey": public}});
    let reply = plug.call(STEP, Method::Set, "Appliance.Encrypt.ECDHE", payload)?;
    let theirs = reply.payload["ecdhe"]["pubkey"]
        .as_str()
        .ok_or_else(|| failed(format!("its answer has no ecdhe.pubkey: {}", reply.payload)))?;
    let key = ours
        .key_with(theirs)
        .map_err(|e| failed(format!("its public key is not a P-256 point: {e}")))?;
    plug.encrypt_with(key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with the openssl command line, not with this code: `openssl ecparam -name
    /// prime256v1 -genkey` twice, `openssl pkeyutl -derive -inkey a.pem -peerkey b.pub`,
    /// then `md5sum` of the shared secret; B's point from `openssl ec -pubout -conv_form
    /// uncompressed -outform DER | tail -c 65 | base64`.
    const A: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEILmGnS0H1TdIOXm1ZqrRlOyBUlsdkHgUcDHTQUYJJT2RoAoGCCqGSM49
AwEHoUQDQgAEFpwoxEit7ugh/ezxAQalJPdWmtGUdWOgoEswuavlLM0v93chrCC+
28qaypyj//OtN3dg4bv0PllkDOHyF2Ab+Q==
-----END EC PRIVATE KEY-----
";
    const B_PUBLIC: &str =
        "BOr4TImqxx4FIgDscdtx0oOlnmOpEpYPHJ2myRkQTm8xnqls0cVJJ35eXSCZPNAo0oNSYy4KZabCiZv2iSTgPD8=";

    #[test]
    fn the_shared_key_matches_an_independent_vector() {
        let a = Exchange::from_pem(A.as_bytes()).unwrap();
        assert_eq!(
            a.key_with(B_PUBLIC).unwrap(),
            "f008d95714fb442e10d02426719b9d59"
        );
    }

    #[test]
    fn both_sides_of_a_fresh_exchange_agree() {
        let (a, b) = (Exchange::new().unwrap(), Exchange::new().unwrap());
        let key = a.key_with(&b.public().unwrap()).unwrap();
        assert_eq!(key, b.key_with(&a.public().unwrap()).unwrap());
        assert_eq!(key.len(), 32);
    }

    /// `printf '{"header":{"method":"GET"},"payload":{}}'` padded with NULs to 48 bytes,
    /// through `openssl enc -aes-256-cbc -K <hex of "0123456789abcdef0123456789abcdef">
    /// -iv <hex of "0000000000000000"> -nopad | base64`.
    #[test]
    fn a_body_matches_an_independent_vector_and_opens_again() {
        let key = "0123456789abcdef0123456789abcdef";
        let json = br#"{"header":{"method":"GET"},"payload":{}}"#;
        let sealed = seal(key, json).unwrap();
        assert_eq!(
            sealed,
            "+PnboGGHK23cjZH4t1HSXg161FFnDxC/7gOctMquHsx/sE2uWZ7uAmznKK75NCTE"
        );
        assert_eq!(open(key, sealed.as_bytes()).as_deref(), Some(&json[..]));
        assert_eq!(open(key, b"not base64 at all"), None);
        let other = open("fedcba9876543210fedcba9876543210", sealed.as_bytes());
        assert_ne!(other.as_deref(), Some(&json[..]));
    }

    /// `printf %s 8022697555151200348 12345678 48:e1:e9:aa:bb:cc abcdefghijklmnopqr |
    /// md5sum` (the four parts run together).
    #[test]
    fn a_paired_plugs_key_is_made_of_its_uuid_key_and_mac() {
        let key = paired_key(
            "2208022697555151200348e1e9aabbcc",
            "0123456789abcdefghijklmnopqrstuv",
            "48:e1:e9:aa:bb:cc",
        );
        assert_eq!(key.as_deref(), Some("b462341bbba3b03c804fe7345981d735"));
        assert_eq!(paired_key("short", "k", "m"), None);
    }
}
