//! Serves one firmware image to one device, for a while: the HTTP server a Meross device
//! fetches its upgrade from (`SET Appliance.Control.Upgrade` names the URL). It listens
//! only while the upgrade runs, on the address by which this host reaches the device
//! (`api.firmware_port`), answers only the device's own address and only the path with a
//! fresh random token, and stops once the device has fetched the image whole or the time
//! is up. What the image must look like before it is offered is `check`'s.

use bytes::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The largest image taken (Meross images are about 1 MB).
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// The smallest: anything shorter is no firmware image.
pub const MIN_IMAGE_BYTES: usize = 16 * 1024;

/// One image for one device.
pub struct Offer {
    /// The image.
    pub image: Bytes,
    /// The only address it is served to.
    pub device: IpAddr,
    /// How long it is offered.
    pub until: Duration,
}

/// An offer being served: its URL, and the way to end it early.
pub struct Serving {
    /// `http://<address>:<port>/firmware/<token>.bin`.
    pub url: String,
    stop: Arc<tokio::sync::Notify>,
}

impl Serving {
    /// Ends the offer now (the upgrade could not be sent).
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

/// The address this host reaches `device` by: the source the kernel picks for it (a UDP
/// socket connected to it; nothing is sent).
pub fn address_towards(device: IpAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match device {
        IpAddr::V4(_) => IpAddr::from([0, 0, 0, 0]),
        IpAddr::V6(_) => IpAddr::from([0u16; 8]),
    };
    let socket = std::net::UdpSocket::bind((any, 0))?;
    socket.connect((device, 9))?;
    Ok(socket.local_addr()?.ip())
}

/// Why an image is not offered.
pub fn check(image: &[u8], chip: Option<&str>) -> Result<(), String> {
    if image.len() < MIN_IMAGE_BYTES {
        return Err(format!(
            "{} bytes is too small for a firmware image (at least {MIN_IMAGE_BYTES})",
            image.len()
        ));
    }
    let kind = [
        (
            &b"PK\x03\x04"[..],
            "a zip archive: unpack the image from it first",
        ),
        (&b"\x1f\x8b"[..], "gzip-compressed: unpack it first"),
        (&b"\x7fELF"[..], "an ELF program, not a device image"),
        (&b"{"[..], "JSON text, not an image"),
        (
            &b"<"[..],
            "an HTML or XML page, not an image (a download that failed?)",
        ),
    ];
    if let Some((_, what)) = kind.iter().find(|(magic, _)| image.starts_with(magic)) {
        return Err(format!("the file is {what}"));
    }
    // ESP8266 and ESP32 application images start with the byte 0xE9.
    let esp = chip.is_some_and(|c| c.to_ascii_lowercase().starts_with("esp"));
    if esp && image[0] != 0xe9 {
        return Err(format!(
            "the device's chip is {} and its images start with 0xE9; this one starts with 0x{:02X}",
            chip.unwrap_or("?"),
            image[0]
        ));
    }
    Ok(())
}

/// Starts serving `offer` on `(address, port)`; `fetched` runs once the device was sent
/// the image. The server ends then, when the offer's time is up, or on `Serving::stop`.
pub async fn serve(
    offer: Offer,
    address: IpAddr,
    port: u16,
    fetched: impl FnOnce() + Send + 'static,
) -> std::io::Result<Serving> {
    let listener = TcpListener::bind(SocketAddr::new(address, port)).await?;
    let bound = listener.local_addr()?;
    let token = hex::encode(rand::random::<[u8; 16]>());
    let path = format!("/firmware/{token}.bin");
    let host = match bound.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let url = format!("http://{host}:{}{path}", bound.port());
    let stop = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(run(listener, offer, path, stop.clone(), fetched));
    Ok(Serving { url, stop })
}

async fn run(
    listener: TcpListener,
    offer: Offer,
    path: String,
    stop: Arc<tokio::sync::Notify>,
    fetched: impl FnOnce() + Send,
) {
    let deadline = tokio::time::Instant::now() + offer.until;
    let offer = Arc::new(offer);
    let path: Arc<str> = path.into();
    let done = Arc::new(tokio::sync::Notify::new());
    let whole = Arc::new(AtomicBool::new(false));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = done.notified() => break,
            _ = stop.notified() => return,
            _ = tokio::time::sleep_until(deadline) => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let (offer, path, done, whole) = (offer.clone(), path.clone(), done.clone(), whole.clone());
        tokio::spawn(async move {
            let served = Arc::new(AtomicBool::new(false));
            let marked = served.clone();
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answer = answer(&offer, &path, peer.ip(), &request);
                    if answer.status() == StatusCode::OK {
                        marked.store(true, Ordering::SeqCst);
                    }
                    async move { Ok::<_, std::convert::Infallible>(answer) }
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let finished = tokio::time::timeout(Duration::from_secs(120), conn).await;
            // A 200 went out and the device ended the connection (cleanly, or with a reset
            // once it had read it, as some firmware does): it has the image. One that
            // broke off early comes back with its old version, which says the same.
            if finished.is_ok() && served.load(Ordering::SeqCst) {
                whole.store(true, Ordering::SeqCst);
                done.notify_one();
            }
        });
    }
    if whole.load(Ordering::SeqCst) {
        fetched();
    }
}

fn answer(
    offer: &Offer,
    path: &str,
    peer: IpAddr,
    request: &Request<hyper::body::Incoming>,
) -> Response<axum::body::Body> {
    let status = if peer != offer.device {
        StatusCode::FORBIDDEN
    } else if request.uri().path() != path {
        StatusCode::NOT_FOUND
    } else if request.method() != hyper::Method::GET {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::OK
    };
    let body = if status == StatusCode::OK {
        offer.image.clone()
    } else {
        Bytes::new()
    };
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_no_firmware_image_is_refused() {
        assert!(check(&[0xe9; 100], None).unwrap_err().contains("too small"));
        let mut zip = vec![0u8; MIN_IMAGE_BYTES];
        zip[..4].copy_from_slice(b"PK\x03\x04");
        assert!(check(&zip, None).unwrap_err().contains("zip"));
        let plain = vec![0x42u8; MIN_IMAGE_BYTES];
        assert!(check(&plain, Some("mt7682")).is_ok());
        assert!(check(&plain, Some("ESP8266")).unwrap_err().contains("0xE9"));
        let mut esp = plain.clone();
        esp[0] = 0xe9;
        assert!(check(&esp, Some("esp8266")).is_ok());
    }

    #[test]
    fn loopback_is_reached_from_loopback() {
        let ip = address_towards(IpAddr::from([127, 0, 0, 9])).unwrap();
        assert!(ip.is_loopback(), "{ip}");
    }
}
