//! The Bluetooth LE link through BlueZ (cargo feature `ble`): finds a plug in pairing mode
//! that offers the pairing service (or the one at a given address), connects, and carries
//! `pair::ble`'s pieces over its write and notify characteristics. Nothing here has run
//! against a real adapter yet (none where it was written).

use super::ble::{Transport, NOTIFY, SERVICE, WRITE};
use super::PairError;
use bluer::gatt::remote::Characteristic;
use bluer::{AdapterEvent, Device, Uuid};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::time::Duration;

/// The smallest MTU, when the link does not say.
const MIN_MTU: usize = 23;

/// A connected plug's pairing characteristics.
pub struct BluezLink {
    runtime: tokio::runtime::Handle,
    write: Characteristic,
    notify: Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>,
    mtu: usize,
    _device: Device,
}

impl Transport for BluezLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn write(&mut self, piece: &[u8]) -> std::io::Result<()> {
        self.runtime
            .block_on(self.write.write(piece))
            .map_err(std::io::Error::other)
    }

    fn read(&mut self, timeout: Duration) -> std::io::Result<Vec<u8>> {
        let next = self
            .runtime
            .block_on(tokio::time::timeout(timeout, self.notify.next()));
        match next {
            Ok(Some(piece)) => Ok(piece),
            Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }
}

fn failed(detail: impl std::fmt::Display) -> PairError {
    PairError::Step {
        step: "finding the plug over Bluetooth",
        detail: detail.to_string(),
    }
}

fn uuid(text: &str) -> Result<Uuid, PairError> {
    Uuid::parse_str(text).map_err(failed)
}

/// Scans for a plug offering the pairing service (the one at `address`, if given) within
/// `within`, connects and opens its characteristics. Call it from a blocking thread of a
/// Tokio runtime (the link blocks on that runtime).
pub fn connect(address: Option<&str>, within: Duration) -> Result<BluezLink, PairError> {
    let runtime = tokio::runtime::Handle::current();
    let found = runtime.block_on(tokio::time::timeout(within, find(address)));
    let (device, write, notify) = match found {
        Ok(found) => found?,
        Err(_) => {
            return Err(failed(format!(
                "no plug in pairing mode offering the Meross pairing service within {} s",
                within.as_secs()
            )))
        }
    };
    let mtu = runtime
        .block_on(write.write_io())
        .map(|io| io.mtu())
        .unwrap_or(MIN_MTU)
        .max(MIN_MTU);
    let notify = runtime.block_on(notify.notify()).map_err(failed)?;
    Ok(BluezLink {
        runtime,
        write,
        notify: Box::pin(notify),
        mtu,
        _device: device,
    })
}

async fn find(
    address: Option<&str>,
) -> Result<(Device, Characteristic, Characteristic), PairError> {
    let session = bluer::Session::new().await.map_err(failed)?;
    let adapter = session.default_adapter().await.map_err(failed)?;
    adapter.set_powered(true).await.map_err(failed)?;
    let service = uuid(SERVICE)?;
    let events = adapter.discover_devices().await.map_err(failed)?;
    let mut events = Box::pin(events);
    while let Some(event) = events.next().await {
        let AdapterEvent::DeviceAdded(addr) = event else {
            continue;
        };
        if address.is_some_and(|a| !a.eq_ignore_ascii_case(&addr.to_string())) {
            continue;
        }
        let device = adapter.device(addr).map_err(failed)?;
        let offers = device.uuids().await.ok().flatten().unwrap_or_default();
        if !offers.contains(&service) {
            continue;
        }
        if !device.is_connected().await.unwrap_or(false) {
            device.connect().await.map_err(failed)?;
        }
        if let Some((write, notify)) = characteristics(&device, service).await? {
            return Ok((device, write, notify));
        }
    }
    Err(failed("the scan ended without a plug"))
}

async fn characteristics(
    device: &Device,
    service: Uuid,
) -> Result<Option<(Characteristic, Characteristic)>, PairError> {
    let (write_id, notify_id) = (uuid(WRITE)?, uuid(NOTIFY)?);
    for s in device.services().await.map_err(failed)? {
        if s.uuid().await.map_err(failed)? != service {
            continue;
        }
        let (mut write, mut notify) = (None, None);
        for c in s.characteristics().await.map_err(failed)? {
            let id = c.uuid().await.map_err(failed)?;
            if id == write_id {
                write = Some(c);
            } else if id == notify_id {
                notify = Some(c);
            }
        }
        if let (Some(w), Some(n)) = (write, notify) {
            return Ok(Some((w, n)));
        }
    }
    Ok(None)
}
