//! The simulator's TLS client: like a plug, it does not check the server's certificate.
//! It offers what a modern stack does (rustls), or what a plug's mbedTLS build with the
//! chip vendor's defaults does (RSA key exchange, CBC, TLS 1.2, a 4 KiB record buffer),
//! or exactly one OpenSSL cipher list, for tests of each offer.

use std::sync::Arc;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    aws_lc_rs, verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client config that takes any server certificate.
pub fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        });
    // The default versions always exist for the built-in provider.
    Arc::new(config.unwrap_or_else(|_| unreachable!("aws-lc-rs supports TLS 1.2 and 1.3")))
}

/// What a simulated device's TLS offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TlsOffer {
    /// rustls: TLS 1.3 and 1.2, ECDHE with AEAD suites.
    #[default]
    Modern,
    /// As mbedTLS with the Realtek/MediaTek SDK defaults: TLS 1.2, RSA key exchange, CBC
    /// suites, and a 4 KiB record buffer (a larger record from the server fails).
    Legacy,
    /// One offer, by OpenSSL cipher-list name (`AES128-SHA`), or `TLSv1.3`, or
    /// `TLSv1.0:<ciphers>`; records are watched as for `Legacy`.
    Only(String),
}

impl std::str::FromStr for TlsOffer {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "modern" => Ok(TlsOffer::Modern),
            "legacy" => Ok(TlsOffer::Legacy),
            other if !other.is_empty() => Ok(TlsOffer::Only(other.to_owned())),
            _ => Err("say modern, legacy or an OpenSSL cipher list".to_owned()),
        }
    }
}

/// The most plaintext a plug's mbedTLS takes in one record (MBEDTLS_SSL_MAX_CONTENT_LEN).
pub const PLUG_RECORD_BYTES: usize = 4096;
/// What a CBC or GCM record adds to its plaintext at most (IV, MAC, padding).
const RECORD_OVERHEAD: usize = 256;

/// The cipher suites of the `Legacy` offer.
const LEGACY_CIPHERS: &str = "AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256";

/// An OpenSSL client context for an offer other than `Modern`.
pub fn openssl_context(
    offer: &TlsOffer,
) -> Result<openssl::ssl::SslContext, openssl::error::ErrorStack> {
    use openssl::ssl::{SslContextBuilder, SslMethod, SslVerifyMode, SslVersion};
    let mut b = SslContextBuilder::new(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    let spec = match offer {
        TlsOffer::Only(spec) => spec.as_str(),
        _ => LEGACY_CIPHERS,
    };
    if spec == "TLSv1.3" {
        b.set_min_proto_version(Some(SslVersion::TLS1_3))?;
    } else if let Some(ciphers) = spec.strip_prefix("TLSv1.0:") {
        b.set_cipher_list(&format!("{ciphers}:@SECLEVEL=0"))?;
        b.set_min_proto_version(Some(SslVersion::TLS1))?;
        b.set_max_proto_version(Some(SslVersion::TLS1))?;
    } else {
        b.set_cipher_list(spec)?;
        b.set_max_proto_version(Some(SslVersion::TLS1_2))?;
    }
    Ok(b.build())
}

/// Reads TLS records as they come and fails on one larger than a plug's buffer; keeps the
/// largest seen in `largest`.
pub struct RecordWatch<S> {
    inner: S,
    /// Bytes of the current record header seen, and the header.
    header: ([u8; 5], usize),
    /// Body bytes of the current record still to come.
    body_left: usize,
    /// The longest record body seen in bytes (shared with [`super::SimState::largest_record`]).
    pub largest: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S> RecordWatch<S> {
    /// Watches what is read from `inner` (the TCP stream under the TLS client).
    pub fn new(inner: S, largest: Arc<std::sync::atomic::AtomicUsize>) -> Self {
        RecordWatch {
            inner,
            header: ([0; 5], 0),
            body_left: 0,
            largest,
        }
    }

    fn watch(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let (head, seen) = &mut self.header;
            head[*seen] = bytes[0];
            *seen += 1;
            bytes = &bytes[1..];
            if *seen == 5 {
                let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
                *seen = 0;
                self.body_left = len;
                self.largest
                    .fetch_max(len, std::sync::atomic::Ordering::Relaxed);
                if len > PLUG_RECORD_BYTES + RECORD_OVERHEAD {
                    return Err(std::io::Error::other(format!(
                        "a TLS record of {len} bytes: over a plug's {PLUG_RECORD_BYTES}-byte buffer"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for RecordWatch<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            let fresh = buf.filled()[before..].to_vec();
            if let Err(e) = self.watch(&fresh) {
                return std::task::Poll::Ready(Err(e));
            }
        }
        poll
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for RecordWatch<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
