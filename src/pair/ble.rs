//! Pairing over Bluetooth LE, as plugs on hardware 8.x take it (MSS305, MSS710): GATT
//! service [`SERVICE`], requests written to [`WRITE`], answers notified on [`NOTIFY`]. A
//! message is the same JSON as over HTTP, framed `55 aa | length (u16 BE) | JSON | crc32
//! (u32 BE) | aa 55` and written in pieces of the MTU less 3; in pairing mode the sign is
//! md5(messageId + timestamp), an empty key, with a random messageId. The radio is behind
//! [`Transport`], so that the framing and the flow are tested without one.
//! Sources: the MerossBLE README and kennedn/meross (`merossBLE.py`).

use super::{wifi, PairError, PlugInfo, Server, Step};
use crate::config::Account;
use crate::protocol::{Message, Method};
use serde_json::{json, Value};
use std::time::Duration;

/// The plug's pairing service.
pub const SERVICE: &str = "0000a00a-0000-1000-8000-00805f9b34fb";
/// Where requests are written.
pub const WRITE: &str = "0000b002-0000-1000-8000-00805f9b34fb";
/// Where answers are notified.
pub const NOTIFY: &str = "0000b003-0000-1000-8000-00805f9b34fb";
/// The longest message a frame holds (its length is 16 bits).
pub const MAX_MESSAGE: usize = u16::MAX as usize;
/// How long the plug has to answer.
const ANSWER: Duration = Duration::from_secs(10);
/// Pieces read for one answer, at most.
const MAX_PIECES: usize = 2048;

/// What carries the pieces: a GATT link in use, a simulated plug in tests.
pub trait Transport {
    /// The link's MTU (a piece is 3 bytes less).
    fn mtu(&self) -> usize;
    /// Writes one piece to [`WRITE`].
    fn write(&mut self, piece: &[u8]) -> std::io::Result<()>;
    /// The next piece notified on [`NOTIFY`], within `timeout`.
    fn read(&mut self, timeout: Duration) -> std::io::Result<Vec<u8>>;
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// It does not start with `55 aa`.
    #[error("a frame starts with 55 aa")]
    Start,
    /// Its CRC does not match its JSON.
    #[error("the frame's crc32 does not match")]
    Crc,
    /// It does not end with `aa 55` where its length says.
    #[error("a frame ends with aa 55")]
    End,
    /// More than a message may be.
    #[error("longer than {MAX_MESSAGE} bytes")]
    Long,
}

/// One message as a frame.
pub fn frame(json: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u16::try_from(json.len()).map_err(|_| FrameError::Long)?;
    let mut out = Vec::with_capacity(json.len() + 10);
    out.extend_from_slice(&[0x55, 0xaa]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(json);
    out.extend_from_slice(&crc32fast::hash(json).to_be_bytes());
    out.extend_from_slice(&[0xaa, 0x55]);
    Ok(out)
}

/// A frame in the pieces a link of `mtu` takes.
pub fn pieces(frame: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    frame
        .chunks(mtu.saturating_sub(3).max(1))
        .map(<[u8]>::to_vec)
        .collect()
}

/// Pieces put together until they make a frame.
#[derive(Debug, Default)]
pub struct Reassembler {
    buf: Vec<u8>,
}

impl Reassembler {
    /// Adds a piece; the message once the frame is whole.
    pub fn push(&mut self, piece: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        self.buf.extend_from_slice(piece);
        if self.buf.len() >= 2 && self.buf[..2] != [0x55, 0xaa] {
            self.buf.clear();
            return Err(FrameError::Start);
        }
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
        let whole = 4 + len + 6;
        if self.buf.len() < whole {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..whole).collect();
        if frame[whole - 2..] != [0xaa, 0x55] {
            return Err(FrameError::End);
        }
        let json = &frame[4..4 + len];
        let crc = u32::from_be_bytes([
            frame[4 + len],
            frame[5 + len],
            frame[6 + len],
            frame[7 + len],
        ]);
        if crc != crc32fast::hash(json) {
            return Err(FrameError::Crc);
        }
        Ok(Some(json.to_vec()))
    }
}

/// A plug in pairing mode at the other end of a transport.
pub struct BlePlug<T: Transport> {
    transport: T,
}

impl<T: Transport> BlePlug<T> {
    /// Over `transport`, connected and with notifications on.
    pub fn new(transport: T) -> BlePlug<T> {
        BlePlug { transport }
    }

    /// Sends one request (signed with an empty key) and returns the answer; an `ERROR`
    /// answer is an error.
    pub fn call(
        &mut self,
        step: &'static str,
        method: Method,
        namespace: &str,
        payload: Value,
    ) -> Result<Message, PairError> {
        let failed = |detail: String| PairError::Step { step, detail };
        let message = Message::new(method, namespace, payload, "", "");
        let framed = frame(&message.to_bytes()).map_err(|e| failed(e.to_string()))?;
        for piece in pieces(&framed, self.transport.mtu()) {
            self.transport
                .write(&piece)
                .map_err(|e| failed(format!("writing: {e}")))?;
        }
        let mut whole = Reassembler::default();
        // Each turn reads a piece or ends: bounded by the count and the timeout.
        for _ in 0..MAX_PIECES {
            let piece = self
                .transport
                .read(ANSWER)
                .map_err(|e| failed(format!("no answer: {e}")))?;
            let Some(json) = whole.push(&piece).map_err(|e| failed(e.to_string()))? else {
                continue;
            };
            return super::answer_of(step, &json);
        }
        Err(failed("the answer never ended".to_owned()))
    }
}

/// Who the plug is (`System.Hardware`).
pub fn identify<T: Transport>(plug: &mut BlePlug<T>) -> Result<PlugInfo, PairError> {
    const STEP: &str = "reading the plug (System.Hardware)";
    let reply = plug.call(STEP, Method::Get, "Appliance.System.Hardware", json!({}))?;
    let hw = &reply.payload["hardware"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let info = PlugInfo {
        kind: text(&hw["type"]),
        uuid: text(&hw["uuid"]),
        mac: text(&hw["macAddress"]).to_ascii_lowercase(),
        firmware: text(&reply.payload["firmware"]["version"]),
        hardware: text(&hw["version"]),
        wifix: true,
        time: false,
    };
    if info.uuid.is_empty() || info.mac.is_empty() || info.kind.is_empty() {
        return Err(PairError::Step {
            step: STEP,
            detail: "its answer names no type, uuid or MAC".to_owned(),
        });
    }
    Ok(info)
}

/// The requests over Bluetooth: the server and key, then the Wi-Fi with its password
/// encrypted (`Config.WifiX`).
pub fn plan(
    info: &PlugInfo,
    account: &Account,
    server: &Server,
    ssid: &str,
    password: &str,
) -> Result<Vec<Step>, PairError> {
    let mut steps = super::to_merossd(info, account, server, None);
    let sealed = super::sealed_password(info, password)?;
    steps.push((
        "giving it the Wi-Fi (Config.WifiX)",
        "Appliance.Config.WifiX",
        json!({"wifi": {"ssid": wifi::encode(ssid), "password": sealed}}),
    ));
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_marked_measured_and_checked() {
        let f = frame(b"{}").unwrap();
        // crc32 of "{}" from `python3 -c 'import zlib; print(hex(zlib.crc32(b"{}")))'`.
        assert_eq!(
            f,
            [0x55, 0xaa, 0, 2, b'{', b'}', 0xa3, 0xa6, 0xbf, 0x43, 0xaa, 0x55]
        );
        let mut r = Reassembler::default();
        assert_eq!(r.push(&f).unwrap(), Some(b"{}".to_vec()));
    }

    #[test]
    fn pieces_of_the_mtu_less_three_come_back_together() {
        let json = vec![b'x'; 1000];
        let f = frame(&json).unwrap();
        let parts = pieces(&f, 203);
        assert!(parts.iter().all(|p| p.len() <= 200));
        let mut r = Reassembler::default();
        let mut got = None;
        for p in &parts {
            got = r.push(p).unwrap();
        }
        assert_eq!(got, Some(json));
    }

    #[test]
    fn a_corrupt_frame_is_refused() {
        let mut f = frame(b"{\"a\":1}").unwrap();
        f[5] ^= 1;
        assert_eq!(Reassembler::default().push(&f), Err(FrameError::Crc));
        assert_eq!(
            Reassembler::default().push(&[0x12, 0x34]),
            Err(FrameError::Start)
        );
        let mut g = frame(b"{}").unwrap();
        let n = g.len();
        g[n - 1] = 0;
        assert_eq!(Reassembler::default().push(&g), Err(FrameError::End));
    }
}
