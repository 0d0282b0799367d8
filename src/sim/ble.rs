//! A simulated plug on hardware 8.x, reached over Bluetooth LE: a plug in pairing mode
//! (`pairing`, with no HTTP server) behind a [`Transport`] that carries the pieces of
//! frames as a GATT link would, so that `pair::ble` is tested without a radio.

use super::pairing::PairingPlug;
use crate::pair::ble::{frame, pieces, Reassembler, Transport};
use crate::protocol::{Message, Method};
use serde_json::json;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::mpsc as tokio_mpsc;

/// The pieces a simulated link carries at most, each way, before it is full.
const QUEUE: usize = 1024;

/// The pairing tool's end of a simulated link.
pub struct SimLink {
    mtu: usize,
    to_plug: tokio_mpsc::Sender<Vec<u8>>,
    from_plug: mpsc::Receiver<Vec<u8>>,
}

impl Transport for SimLink {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn write(&mut self, piece: &[u8]) -> std::io::Result<()> {
        self.to_plug
            .try_send(piece.to_vec())
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    fn read(&mut self, timeout: Duration) -> std::io::Result<Vec<u8>> {
        self.from_plug
            .recv_timeout(timeout)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string()))
    }
}

/// Connects to `plug` over a simulated link of `mtu`: the plug reads whole frames and
/// answers each in pieces; a piece that breaks a frame is answered with an ERROR, as a
/// message it could not read.
pub fn connect(plug: PairingPlug, mtu: usize) -> SimLink {
    let (to_plug, mut pieces_in) = tokio_mpsc::channel::<Vec<u8>>(QUEUE);
    let (pieces_out, from_plug) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
    tokio::spawn(async move {
        let mut whole = Reassembler::default();
        while let Some(piece) = pieces_in.recv().await {
            let answer = match whole.push(&piece) {
                Ok(None) => continue,
                Ok(Some(json)) => match Message::parse(&json) {
                    Ok(request) => plug.answer(&request),
                    Err(e) => refused(&e.to_string()),
                },
                Err(e) => refused(&e.to_string()),
            };
            let Ok(framed) = frame(&answer.to_bytes()) else {
                continue;
            };
            for p in pieces(&framed, mtu) {
                if pieces_out.try_send(p).is_err() {
                    return;
                }
            }
        }
    });
    SimLink {
        mtu,
        to_plug,
        from_plug,
    }
}

fn refused(detail: &str) -> Message {
    Message::new(
        Method::Error,
        "",
        json!({"error": {"code": 5000, "detail": detail}}),
        "",
        "",
    )
}
