//! TLS for the device listeners: the certificate (the user's own, or an RSA-2048 pair
//! generated on first start), the server config, and a record of what a failed client's
//! ClientHello offered.

use crate::datadir::{self, DataDir};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;

/// Bytes of a ClientHello we keep for the log line of a failed handshake.
const MAX_RECORDED_HELLO: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} holds no usable {what}")]
    Empty { path: String, what: &'static str },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Loads the user's certificate and key, or the generated pair (making it on first start).
pub fn server_config(
    own: Option<(&Path, &Path)>,
    data: &DataDir,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_path, key_path) = match own {
        Some((c, k)) => (c.to_owned(), k.to_owned()),
        None => {
            let cert = data.file(datadir::CERT_FILE);
            let key = data.file(datadir::KEY_FILE);
            if !cert.exists() || !key.exists() {
                generate(&cert, &key)?;
            }
            (cert, key)
        }
    };
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let cert_pem = read(&cert_path)?;
    let key_pem = read(&key_path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: cert_path.display().to_string(),
            what: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Empty {
        path: key_path.display().to_string(),
        what: "private key",
    })?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// Makes a self-signed RSA-2048 certificate for this host's names and addresses.
/// Plugs do not check it, but some firmware refuses EC keys ("no shared cipher").
pub fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let names = host_names();
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |p: &Path, b: &[u8]| {
        datadir::write_secret(p, b).map_err(|source| TlsError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    write(key_path, key.serialize_pem().as_bytes())?;
    write(cert_path, cert.pem().as_bytes())?;
    tracing::info!(path = %cert_path.display(), san = ?names, "generated an RSA-2048 self-signed certificate");
    Ok(())
}

/// The host name, `localhost`, `127.0.0.1` and the host's own addresses.
pub fn host_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = gethostname::gethostname().to_str() {
        if !host.is_empty() {
            names.push(host.to_owned());
        }
    }
    names.push("localhost".to_owned());
    names.push("127.0.0.1".to_owned());
    for addr in host_addresses() {
        let text = addr.to_string();
        if !names.contains(&text) {
            names.push(text);
        }
    }
    names
}

/// This host's interface addresses, loopback and link-local IPv6 left out.
pub fn host_addresses() -> Vec<std::net::IpAddr> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback())
        .filter(|ip| match ip {
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            _ => true,
        })
        .collect()
}

/// A stream that keeps a copy of the first bytes read from it, so that when a handshake
/// fails we can say what the client offered.
pub struct Recording<S> {
    inner: S,
    record: Option<Vec<u8>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> Self {
        Recording {
            inner,
            record: Some(Vec::new()),
        }
    }

    /// Stops recording and frees the copy (after a successful handshake).
    pub fn stop(&mut self) {
        self.record = None;
    }

    pub fn recorded(&self) -> &[u8] {
        self.record.as_deref().unwrap_or_default()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Some(record) = this.record.as_mut() {
            let fresh = &buf.filled()[before..];
            let room = MAX_RECORDED_HELLO.saturating_sub(record.len());
            record.extend_from_slice(&fresh[..fresh.len().min(room)]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a ClientHello offered: protocol versions and cipher suites, by name.
#[derive(Debug, Default, PartialEq)]
pub struct HelloSummary {
    pub versions: Vec<String>,
    pub cipher_suites: Vec<String>,
}

/// Reads the versions and cipher suites out of the first TLS record of a connection.
/// Returns `None` when the bytes are not a (complete enough) ClientHello.
pub fn summarize_client_hello(bytes: &[u8]) -> Option<HelloSummary> {
    let mut r = Reader(bytes);
    if r.u8()? != 0x16 {
        return None; // not a handshake record: plain MQTT on a TLS port, say
    }
    let record_version = r.u16()?;
    let _record_len = r.u16()?;
    if r.u8()? != 0x01 {
        return None;
    }
    let _hello_len = r.take(3)?;
    let client_version = r.u16()?;
    r.take(32)?; // random
    let session_len = r.u8()? as usize;
    r.take(session_len)?;
    let suites_len = r.u16()? as usize;
    let mut suites = Reader(r.take(suites_len)?);
    let mut summary = HelloSummary::default();
    while let Some(suite) = suites.u16() {
        summary
            .cipher_suites
            .push(format!("{:?}", rustls::CipherSuite::from(suite)));
    }
    let compression_len = r.u8()? as usize;
    r.take(compression_len)?;
    let mut versions = Vec::new();
    if let Some(ext_len) = r.u16() {
        let mut exts = Reader(r.take(ext_len as usize).unwrap_or(r.0));
        while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
            let Some(body) = exts.take(len as usize) else {
                break;
            };
            if kind == 0x002b {
                let mut list = Reader(body.get(1..).unwrap_or_default());
                while let Some(v) = list.u16() {
                    versions.push(v);
                }
            }
        }
    }
    if versions.is_empty() {
        versions.push(client_version);
    }
    let _ = record_version;
    summary.versions = versions.into_iter().map(version_name).collect();
    Some(summary)
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        v if v & 0x0f0f == 0x0a0a => "GREASE".into(),
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
    fn client_hello_versions_and_suites_are_named() {
        let s = summarize_client_hello(&client_hello()).unwrap();
        assert!(s.versions.contains(&"TLSv1.3".to_owned()), "{s:?}");
        assert!(s.versions.contains(&"TLSv1.2".to_owned()), "{s:?}");
        assert!(
            s.cipher_suites
                .iter()
                .any(|c| c == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "{s:?}"
        );
    }

    #[test]
    fn truncated_or_foreign_bytes_give_none_not_a_panic() {
        let hello = client_hello();
        for cut in 0..60 {
            let _ = summarize_client_hello(&hello[..cut]);
        }
        assert_eq!(summarize_client_hello(b"\x10\x0c\x00\x04MQTT"), None);
    }
}
