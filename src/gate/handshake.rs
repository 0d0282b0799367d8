//! One TLS handshake: read the ClientHello, give it to rustls if rustls can serve what it
//! offers, else to OpenSSL; say which stack, version and suite served it; and from then
//! on send records of at most `max_record` plaintext bytes, the most a plug's mbedTLS
//! buffer takes.

use super::hello::{self, Offer};
use super::tls::TlsConfigs;
use crate::metrics::{inc, inc_logged, Counters};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

/// A client's stream after the handshake, whichever stack made it.
pub type ClientIo = Box<dyn ClientStream>;
/// Any async byte stream that can be boxed as a [`ClientIo`] (rustls or OpenSSL over TCP);
/// implemented for every such type.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for T {}

/// Which stack served a connection, and what it agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `rustls` or `openssl`.
    pub stack: &'static str,
    /// `TLSv1.2`, ...
    pub version: String,
    /// The cipher suite, by the stack's own name.
    pub cipher: String,
}

impl std::fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.version, self.cipher, self.stack)
    }
}

/// Why a handshake did not end in a TLS session.
#[derive(Debug)]
pub enum Failed {
    /// The connection closed or broke before a whole first record.
    Closed,
    /// Nothing, or not all of it, before the deadline: which step was waited for.
    Silent(&'static str),
    /// The handshake failed: the stack's error and what the client offered.
    Refused(String),
}

/// Runs the handshake within `deadline`; counts and logs a failure (with what the client
/// offered) and says why.
pub async fn accept(
    tls: &TlsConfigs,
    counters: &Counters,
    mut stream: TcpStream,
    deadline: Instant,
) -> Result<(ClientIo, TlsInfo), Failed> {
    let first = match timeout_at(deadline, hello::read_first_record(&mut stream)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(Failed::Closed),
        Err(_) => {
            inc(&counters.handshake_timeouts);
            debug!("no ClientHello before the deadline; dropped");
            return Err(Failed::Silent("no ClientHello before the deadline"));
        }
    };
    let offer = hello::parse(&first);
    let stream = Prefixed {
        first,
        at: 0,
        inner: stream,
    };
    let openssl = offer.as_ref().is_some_and(|o| !o.rustls_can_serve());
    let served = if openssl {
        timeout_at(deadline, with_openssl(tls, stream)).await
    } else {
        timeout_at(deadline, with_rustls(tls, stream)).await
    };
    let stack = if openssl { "openssl" } else { "rustls" };
    match served {
        Ok(Ok((io, info))) => {
            count(counters, &info);
            if info.version != "TLSv1.2" && info.version != "TLSv1.3" {
                warn!(tls = %info, "a client uses TLS older than 1.2 ([mqtt] legacy_tls is on)");
            }
            let capped = RecordCap {
                inner: io,
                max: tls.options.max_record,
            };
            Ok((Box::new(capped), info))
        }
        Ok(Err(error)) => {
            failed(counters, stack, &error, offer.as_ref());
            let offered = offer
                .as_ref()
                .map_or("no ClientHello seen".to_owned(), |o| {
                    format!(
                        "offered {} with {}",
                        o.version_names().join(", "),
                        o.suite_names().join(", ")
                    )
                });
            Err(Failed::Refused(format!("{stack}: {error}; {offered}")))
        }
        Err(_) => {
            inc(&counters.handshake_timeouts);
            debug!(stack, "TLS handshake not done before the deadline; dropped");
            Err(Failed::Silent(
                "the TLS handshake was not done before the deadline",
            ))
        }
    }
}

async fn with_rustls(tls: &TlsConfigs, stream: Prefixed) -> Result<(ClientIo, TlsInfo), String> {
    let acceptor = TlsAcceptor::from(tls.rustls.clone());
    let stream = acceptor.accept(stream).await.map_err(|e| e.to_string())?;
    let (_, conn) = stream.get_ref();
    let info = TlsInfo {
        stack: "rustls",
        version: conn
            .protocol_version()
            .map(|v| hello::version_name(u16::from(v)))
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
    };
    Ok((Box::new(stream), info))
}

async fn with_openssl(tls: &TlsConfigs, stream: Prefixed) -> Result<(ClientIo, TlsInfo), String> {
    let ssl = openssl::ssl::Ssl::new(&tls.openssl).map_err(|e| e.to_string())?;
    let mut stream = tokio_openssl::SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
    Pin::new(&mut stream)
        .accept()
        .await
        .map_err(|e| e.to_string())?;
    let info = TlsInfo {
        stack: "openssl",
        version: stream.ssl().version_str().to_owned(),
        cipher: stream
            .ssl()
            .current_cipher()
            .map(|c| c.name().to_owned())
            .unwrap_or_default(),
    };
    Ok((Box::new(stream), info))
}

fn count(counters: &Counters, info: &TlsInfo) {
    let counter = match (info.stack, info.version.as_str()) {
        ("rustls", "TLSv1.3") => &counters.tls_rustls_13,
        ("rustls", _) => &counters.tls_rustls_12,
        ("openssl", "TLSv1.3") => &counters.tls_openssl_13,
        ("openssl", "TLSv1.2") => &counters.tls_openssl_12,
        _ => &counters.tls_openssl_legacy,
    };
    inc(counter);
}

fn failed(counters: &Counters, stack: &str, error: &str, offer: Option<&Offer>) {
    let Some(total) = inc_logged(&counters.handshake_failures) else {
        return;
    };
    match offer {
        Some(offer) => warn!(
            stack, %error, versions = ?offer.version_names(),
            cipher_suites = ?offer.suite_names(), total,
            "TLS handshake failed; the client offered these"
        ),
        None => warn!(stack, %error, total, "TLS handshake failed (no ClientHello seen)"),
    }
}

/// The TCP stream with the bytes already read from it (the ClientHello) put back in front.
struct Prefixed {
    first: Vec<u8>,
    at: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.first.len() {
            let n = buf.remaining().min(self.first.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.first[at..at + n]);
            self.at += n;
            if self.at == self.first.len() {
                self.first = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
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

/// Hands the TLS stream at most `max` bytes per write: each write becomes records of at
/// most that much plaintext, on either stack.
struct RecordCap {
    inner: ClientIo,
    max: usize,
}

impl AsyncRead for RecordCap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for RecordCap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(self.max);
        Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
