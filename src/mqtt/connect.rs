//! The MQTT CONNECT packet as the gate sees it: read it (bounded), parse MQTT 3.1 (`MQIsdp`,
//! level 3) and 3.1.1 (`MQTT`, level 4), and write it again as 3.1.1 for the router.

use bytes::{Buf, BufMut, BytesMut};

/// The largest CONNECT we read. Real plugs send about 150 bytes.
pub const MAX_CONNECT_BYTES: usize = 2048;

/// CONNACK return codes (MQTT 3.1.1, 3.2.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnackCode {
    /// The login is accepted.
    Accepted = 0,
    /// The protocol is not one the server speaks: anything but MQTT 3.1 and 3.1.1 here.
    UnacceptableProtocol = 1,
    /// The client id is not allowed (the gate never sends it).
    IdentifierRejected = 2,
    /// The router behind the gate did not take the connection, or the identity holds
    /// its share of sessions already.
    ServerUnavailable = 3,
    /// Wrong credentials, or a uuid or MAC that belongs to another device.
    BadUserNameOrPassword = 4,
    /// Not let in: no credentials, a will topic the rules refuse, or an account's device
    /// limit reached.
    NotAuthorized = 5,
}

/// The four bytes of a CONNACK.
pub fn connack(code: ConnackCode) -> [u8; 4] {
    [0x20, 0x02, 0x00, code as u8]
}

/// A CONNECT's will: what the router publishes for a client that goes without a
/// DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Where it is published; the gate holds it against the topic rules first.
    pub topic: String,
    /// The payload, as the client sent it.
    pub message: Vec<u8>,
    /// Its QoS (0 to 2), from bits 3 and 4 of the CONNECT flags.
    pub qos: u8,
    /// Whether it is published retained.
    pub retain: bool,
}

/// A parsed CONNECT.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// 3 for MQTT 3.1, 4 for 3.1.1.
    pub level: u8,
    /// The clean-session flag; what the gate forwards to the router always has it set.
    pub clean_session: bool,
    /// Keep-alive in seconds; 0 means none.
    pub keep_alive: u16,
    /// The client id, as sent; a device's is `fmware:<uuid>_<random>`.
    pub client_id: String,
    /// The will, if the client sent one.
    pub will: Option<Will>,
    /// The user name, if sent; a device sends its MAC.
    pub username: Option<String>,
    /// The password as raw bytes, if sent; a device sends `<userId>_md5(mac + key)`.
    pub password: Option<Vec<u8>>,
}

impl std::fmt::Debug for Connect {
    // The password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("level", &self.level)
            .field("clean_session", &self.clean_session)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Why the bytes at the start of a connection are not (yet) a CONNECT the gate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The bytes end before the packet does: read more.
    #[error("need more bytes")]
    Incomplete,
    /// The first packet is of another type (its type number, 0 to 15).
    #[error("first packet is not a CONNECT (type {0})")]
    NotConnect(u8),
    /// The packet, header included, is this many bytes: more than [`MAX_CONNECT_BYTES`].
    #[error("CONNECT of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The remaining length does not end within four bytes.
    #[error("malformed remaining length")]
    BadLength,
    /// Another protocol than MQTT 3.1 or 3.1.1 (answered with `UnacceptableProtocol`).
    #[error("protocol {name:?} level {level} is not MQTT 3.1 or 3.1.1")]
    Protocol {
        /// The protocol name sent, e.g. `MQTT`.
        name: String,
        /// The protocol level sent, e.g. 5 for MQTT 5.
        level: u8,
    },
    /// A field cut short, running past the packet or not UTF-8, or a reserved flag set:
    /// the text says which.
    #[error("malformed CONNECT: {0}")]
    Malformed(&'static str),
}

/// Tries to frame one CONNECT at the start of `buf`. On success returns the packet and
/// how many bytes it took; `Incomplete` means read more (up to the limit).
pub fn parse(buf: &[u8]) -> Result<(Connect, usize), ConnectError> {
    let first = *buf.first().ok_or(ConnectError::Incomplete)?;
    if first != 0x10 {
        return Err(ConnectError::NotConnect(first >> 4));
    }
    let (remaining, header_len) = remaining_length(&buf[1..])?;
    let total = 1 + header_len + remaining;
    if total > MAX_CONNECT_BYTES {
        return Err(ConnectError::TooLarge(total));
    }
    if buf.len() < total {
        return Err(ConnectError::Incomplete);
    }
    let mut body = &buf[1 + header_len..total];
    let connect = parse_body(&mut body)?;
    Ok((connect, total))
}

fn remaining_length(buf: &[u8]) -> Result<(usize, usize), ConnectError> {
    let mut value = 0usize;
    for (i, byte) in buf.iter().enumerate().take(4) {
        value |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= 4 {
        Err(ConnectError::BadLength)
    } else {
        Err(ConnectError::Incomplete)
    }
}

fn parse_body(b: &mut &[u8]) -> Result<Connect, ConnectError> {
    let name = string(b, "protocol name")?;
    let level = u8_(b)?;
    match (name.as_str(), level) {
        ("MQIsdp", 3) | ("MQTT", 4) => {}
        _ => return Err(ConnectError::Protocol { name, level }),
    }
    let flags = u8_(b)?;
    if level == 4 && flags & 0x01 != 0 {
        return Err(ConnectError::Malformed("reserved flag set"));
    }
    let keep_alive = u16_(b)?;
    let client_id = string(b, "client id")?;
    let will = if flags & 0x04 != 0 {
        let topic = string(b, "will topic")?;
        let message = binary(b)?;
        Some(Will {
            topic,
            message,
            qos: (flags >> 3) & 0x03,
            retain: flags & 0x20 != 0,
        })
    } else {
        None
    };
    let username = if flags & 0x80 != 0 {
        Some(string(b, "user name")?)
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        Some(binary(b)?)
    } else {
        None
    };
    Ok(Connect {
        level,
        clean_session: flags & 0x02 != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
    })
}

fn u8_(b: &mut &[u8]) -> Result<u8, ConnectError> {
    if b.is_empty() {
        return Err(ConnectError::Malformed("truncated"));
    }
    Ok(b.get_u8())
}

fn u16_(b: &mut &[u8]) -> Result<u16, ConnectError> {
    if b.len() < 2 {
        return Err(ConnectError::Malformed("truncated"));
    }
    Ok(b.get_u16())
}

fn binary(b: &mut &[u8]) -> Result<Vec<u8>, ConnectError> {
    let len = u16_(b)? as usize;
    if b.len() < len {
        return Err(ConnectError::Malformed("field runs past the packet"));
    }
    let out = b[..len].to_vec();
    b.advance(len);
    Ok(out)
}

fn string(b: &mut &[u8], what: &'static str) -> Result<String, ConnectError> {
    String::from_utf8(binary(b)?).map_err(|_| ConnectError::Malformed(what))
}

impl Connect {
    /// A clean-session CONNECT without will or credentials, at `level` (3 or 4).
    pub fn new(level: u8, client_id: impl Into<String>, keep_alive: u16) -> Connect {
        Connect {
            level,
            clean_session: true,
            keep_alive,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }

    /// The same CONNECT with a user name and password.
    pub fn login(mut self, username: impl Into<String>, password: impl Into<Vec<u8>>) -> Connect {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Writes this CONNECT as a packet at `self.level` (3 writes `MQIsdp`).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = BytesMut::new();
        let (name, level): (&[u8], u8) = if self.level == 3 {
            (b"MQIsdp", 3)
        } else {
            (b"MQTT", 4)
        };
        put_binary(&mut body, name);
        body.put_u8(level);
        let mut flags = 0u8;
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos.min(2) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        body.put_u8(flags);
        body.put_u16(self.keep_alive);
        put_binary(&mut body, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            put_binary(&mut body, will.topic.as_bytes());
            put_binary(&mut body, &will.message);
        }
        if let Some(user) = &self.username {
            put_binary(&mut body, user.as_bytes());
        }
        if let Some(pass) = &self.password {
            put_binary(&mut body, pass);
        }
        super::packet::with_header(super::packet::CONNECT << 4, &body)
    }
}

fn put_binary(buf: &mut BytesMut, bytes: &[u8]) {
    // Every field we write came from a parsed packet or from us: shorter than 64 KiB.
    buf.put_u16(bytes.len().min(u16::MAX as usize) as u16);
    buf.put_slice(&bytes[..bytes.len().min(u16::MAX as usize)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(level: u8) -> Connect {
        Connect::new(
            level,
            "fmware:0123456789abcdef0123456789abcdef_AbCdEfGhIjKlMnOp",
            120,
        )
        .login("48:e1:e9:aa:bb:cc", "1234_5ac868a81f2f21b4a87f7d2bb3467cb5")
    }

    #[test]
    fn mqtt31_and_311_round_trip() {
        for level in [3, 4] {
            let c = sample(level);
            let bytes = c.encode();
            let (back, used) = parse(&bytes).unwrap();
            assert_eq!(back, c);
            assert_eq!(used, bytes.len());
        }
        assert!(sample(3).encode().windows(6).any(|w| w == b"MQIsdp"));
    }

    #[test]
    fn every_truncation_is_incomplete_or_malformed_never_a_panic() {
        let bytes = sample(3).encode();
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]).unwrap_err(), ConnectError::Incomplete);
        }
    }

    #[test]
    fn oversized_connect_is_refused_before_it_is_read() {
        let header = [0x10, 0xff, 0xff, 0x03];
        assert!(matches!(parse(&header), Err(ConnectError::TooLarge(_))));
    }

    #[test]
    fn lying_field_lengths_are_malformed() {
        // remaining length 12 but a client id claiming 200 bytes
        let mut p = vec![0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 200];
        p.truncate(14);
        assert!(matches!(parse(&p), Err(ConnectError::Malformed(_))));
    }

    #[test]
    fn other_protocols_are_named() {
        let mut c = sample(4).encode();
        c[8] = 5; // MQTT 5
        assert!(matches!(
            parse(&c),
            Err(ConnectError::Protocol { level: 5, .. })
        ));
    }
}
