//! The ClientHello, read before any TLS stack sees it: what a client offers (versions,
//! cipher suites, key exchange groups) decides which stack serves it, and names what it
//! offered when nothing could.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_rustls::rustls::CipherSuite;

/// The largest first record read (a TLS record is at most 16 KiB plus its header).
pub const MAX_HELLO_BYTES: usize = 5 + 16 * 1024 + 256;

/// TLS 1.3 suites rustls serves.
const RUSTLS_TLS13: [u16; 3] = [0x1301, 0x1302, 0x1303];
/// TLS 1.2 suites rustls serves with an RSA certificate (ECDHE, AEAD only).
const RUSTLS_TLS12_RSA: [u16; 3] = [0xc02f, 0xc030, 0xcca8];
/// Key exchange groups rustls offers for TLS 1.2 (x25519, secp256r1, secp384r1).
const RUSTLS_GROUPS: [u16; 3] = [0x001d, 0x0017, 0x0018];

const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;

/// What a ClientHello offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// From `supported_versions`, else the hello's own version.
    pub versions: Vec<u16>,
    /// The cipher suites' code points, in the client's order of preference.
    pub suites: Vec<u16>,
    /// From `supported_groups` (empty if absent).
    pub groups: Vec<u16>,
}

impl Offer {
    /// Whether rustls can complete a handshake with this offer.
    pub fn rustls_can_serve(&self) -> bool {
        let has = |list: &[u16], wanted: &[u16]| list.iter().any(|x| wanted.contains(x));
        let tls13 = self.versions.contains(&TLS13) && has(&self.suites, &RUSTLS_TLS13);
        let tls12 = self.versions.contains(&TLS12)
            && has(&self.suites, &RUSTLS_TLS12_RSA)
            && has(&self.groups, &RUSTLS_GROUPS);
        tls13 || tls12
    }

    /// The offered versions by name (`TLSv1.2`, `GREASE`, ...), for the log of a failure.
    pub fn version_names(&self) -> Vec<String> {
        self.versions.iter().map(|v| version_name(*v)).collect()
    }

    /// The offered suites by name (IANA's, or rustls's), for the log of a failure.
    pub fn suite_names(&self) -> Vec<String> {
        self.suites.iter().map(|s| suite_name(*s)).collect()
    }
}

/// A suite's IANA name. rustls names only what it implements; these are the ones plug
/// stacks offer that it does not.
fn suite_name(suite: u16) -> String {
    let name = match suite {
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        other => return format!("{:?}", CipherSuite::from(other)),
    };
    name.to_owned()
}

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a
}

/// Reads the first TLS record (bounded; the caller sets the deadline). Returns every byte
/// read, to be replayed to the TLS stack.
pub async fn read_first_record<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
            if buf[0] != 0x16 || buf.len() >= 5 + len || buf.len() >= MAX_HELLO_BYTES {
                return Ok(buf);
            }
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a ClientHello out of a connection's first bytes. `None` when they are not one
/// (plain MQTT on the TLS port, say) or too short.
pub fn parse(bytes: &[u8]) -> Option<Offer> {
    let mut r = Reader(bytes);
    if r.u8()? != 0x16 {
        return None;
    }
    let _record_version = r.u16()?;
    let _record_len = r.u16()?;
    if r.u8()? != 0x01 {
        return None;
    }
    let _hello_len = r.take(3)?;
    let client_version = r.u16()?;
    r.take(32)?; // random
    let session_len = usize::from(r.u8()?);
    r.take(session_len)?;
    let suites_len = usize::from(r.u16()?);
    let mut suites = Reader(r.take(suites_len)?);
    let mut offer = Offer::default();
    while let Some(suite) = suites.u16() {
        offer.suites.push(suite);
    }
    let compression_len = usize::from(r.u8()?);
    r.take(compression_len)?;
    if let Some(ext_len) = r.u16() {
        let mut exts = Reader(r.take(usize::from(ext_len)).unwrap_or(r.0));
        while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
            let Some(body) = exts.take(usize::from(len)) else {
                break;
            };
            match kind {
                0x002b => offer.versions = u16_list(body.get(1..).unwrap_or_default()),
                0x000a => offer.groups = u16_list(body.get(2..).unwrap_or_default()),
                _ => {}
            }
        }
    }
    if offer.versions.is_empty() {
        offer.versions.push(client_version);
    }
    Some(offer)
}

fn u16_list(bytes: &[u8]) -> Vec<u16> {
    let mut r = Reader(bytes);
    std::iter::from_fn(|| r.u16()).collect()
}

/// A TLS version's name from its code point (`0x0303` is `TLSv1.2`), else its hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        TLS12 => "TLSv1.2".into(),
        TLS13 => "TLSv1.3".into(),
        v if is_grease(v) => "GREASE".into(),
        other => format!("0x{other:04x}"),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio_rustls::rustls;

    /// A real ClientHello, made by rustls's own client.
    fn client_hello() -> Vec<u8> {
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let mut conn =
            rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap())
                .unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn a_modern_hello_is_named_and_goes_to_rustls() {
        let offer = parse(&client_hello()).unwrap();
        let versions = offer.version_names();
        assert!(versions.contains(&"TLSv1.3".to_owned()), "{offer:?}");
        assert!(versions.contains(&"TLSv1.2".to_owned()), "{offer:?}");
        assert!(offer
            .suite_names()
            .iter()
            .any(|c| c == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
        assert!(offer.rustls_can_serve());
    }

    #[test]
    fn rsa_key_exchange_or_cbc_only_goes_elsewhere() {
        let offer = |versions: &[u16], suites: &[u16], groups: &[u16]| Offer {
            versions: versions.to_vec(),
            suites: suites.to_vec(),
            groups: groups.to_vec(),
        };
        // AES128-SHA, AES128-GCM-SHA256 (RSA key exchange), ECDHE-RSA-AES128-SHA (CBC).
        for suite in [0x002f, 0x009c, 0xc013] {
            assert!(
                !offer(&[TLS12], &[suite], &[0x1d]).rustls_can_serve(),
                "{suite:x}"
            );
        }
        // ECDHE with GCM but no group rustls has.
        assert!(!offer(&[TLS12], &[0xc02f], &[0x0019]).rustls_can_serve());
        assert!(offer(&[TLS12], &[0xc02f], &[0x0017]).rustls_can_serve());
        assert!(offer(&[TLS13], &[0x1301], &[]).rustls_can_serve());
    }

    #[test]
    fn truncated_or_foreign_bytes_give_none_not_a_panic() {
        let hello = client_hello();
        for cut in 0..hello.len() {
            let _ = parse(&hello[..cut]);
        }
        assert_eq!(parse(b"\x10\x0c\x00\x04MQTT"), None);
    }
}
