//! TLS for the device listeners: the certificate (the user's own, or an RSA-2048 pair
//! generated on first start) and the two stacks built from it: rustls, the main path,
//! and OpenSSL for plugs whose TLS offers only what rustls does not do (RSA key
//! exchange, CBC suites), on the cipher list mosquitto uses by default.

use crate::datadir::{self, DataDir};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

/// Why the certificate and key did not make both TLS stacks.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read (or, when generated, written).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file, as given or in the data directory.
        path: String,
        /// What the file system said.
        source: io::Error,
    },
    /// A file has no PEM certificate, or no PEM private key, that parses.
    #[error("{path} holds no usable {what}")]
    Empty {
        /// The file.
        path: String,
        /// `certificate` or `private key`.
        what: &'static str,
    },
    /// rcgen could not make the self-signed pair.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    /// rustls did not take the certificate chain or key.
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The key is not RSA, which plugs need.
    #[error("{path}: the key is not RSA; plugs refuse other keys (\"no shared cipher\"), so merossd needs an RSA key (2048 bits is what plugs expect)")]
    NotRsa {
        /// The key file.
        path: String,
    },
    /// OpenSSL refused the certificate or key.
    #[error("OpenSSL does not take the certificate or key: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

/// OpenSSL's cipher list on the fallback path: mosquitto 2's default.
const OPENSSL_CIPHERS: &str = "DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2";

/// How the listeners speak TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsOptions {
    /// The most plaintext bytes in one record sent to a client (plugs' mbedTLS: 4096).
    pub max_record: usize,
    /// Also TLS 1.0 and 1.1 (OpenSSL path only).
    pub legacy: bool,
}

/// Both stacks, from one certificate.
pub struct TlsConfigs {
    /// The main path; records capped at `options.max_record` (also serves the cloud API's TLS).
    pub rustls: Arc<rustls::ServerConfig>,
    /// The fallback for offers rustls cannot serve, on mosquitto 2's default cipher list.
    pub openssl: openssl::ssl::SslContext,
    /// What both were built with.
    pub options: TlsOptions,
}

/// Loads the user's certificate and key, or the generated pair (making it on first start),
/// and builds both stacks. A key that is not RSA is refused.
pub fn server_configs(
    own: Option<(&Path, &Path)>,
    data: &DataDir,
    options: TlsOptions,
) -> Result<TlsConfigs, TlsError> {
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
    let pkey = openssl::pkey::PKey::private_key_from_pem(&key_pem)?;
    if pkey.id() != openssl::pkey::Id::RSA {
        return Err(TlsError::NotRsa {
            path: key_path.display().to_string(),
        });
    }
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.max_fragment_size = Some(options.max_record);
    Ok(TlsConfigs {
        rustls: Arc::new(config),
        openssl: openssl_context(&cert_pem, &pkey, options)?,
        options,
    })
}

fn openssl_context(
    cert_pem: &[u8],
    key: &openssl::pkey::PKeyRef<openssl::pkey::Private>,
    options: TlsOptions,
) -> Result<openssl::ssl::SslContext, TlsError> {
    use openssl::ssl::{SslContextBuilder, SslMethod, SslVersion};
    let mut b = SslContextBuilder::new(SslMethod::tls_server())?;
    let mut chain = openssl::x509::X509::stack_from_pem(cert_pem)?.into_iter();
    if let Some(leaf) = chain.next() {
        b.set_certificate(&leaf)?;
    }
    for extra in chain {
        b.add_extra_chain_cert(extra)?;
    }
    b.set_private_key(key)?;
    b.check_private_key()?;
    if options.legacy {
        // OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
        b.set_cipher_list(&format!("{OPENSSL_CIPHERS}:@SECLEVEL=0"))?;
        b.set_min_proto_version(Some(SslVersion::TLS1))?;
    } else {
        b.set_cipher_list(OPENSSL_CIPHERS)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    }
    Ok(b.build())
}

/// Makes a self-signed RSA-2048 certificate for this host's names and addresses.
/// Plugs do not check it, but some firmware refuses EC keys ("no shared cipher").
pub fn generate(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let names = crate::host::names();
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
    tracing::info!(path = %cert_path.display(), san = %names.join(","), "generated an RSA-2048 self-signed certificate");
    Ok(())
}
