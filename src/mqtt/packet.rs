//! MQTT 3.1/3.1.1 packets after the CONNECT, as the gate needs them: find where a packet
//! ends, read the few fields a policy decision needs (a PUBLISH's topic and flags, a
//! SUBSCRIBE's filters, a SUBACK's codes), and write the handful of packets the gate
//! answers itself. The bytes of a passed packet are forwarded as they came, never
//! re-encoded.

use bytes::{BufMut, BytesMut};

/// Packet types (the high nibble of the first byte).
pub const CONNECT: u8 = 1;
/// A message on a topic, either way.
pub const PUBLISH: u8 = 3;
/// The answer to a QoS 1 PUBLISH.
pub const PUBACK: u8 = 4;
/// The first answer to a QoS 2 PUBLISH.
pub const PUBREC: u8 = 5;
/// The sender's second step of a QoS 2 PUBLISH, after the PUBREC.
pub const PUBREL: u8 = 6;
/// The last answer of a QoS 2 PUBLISH, to the PUBREL.
pub const PUBCOMP: u8 = 7;
/// A client asks for messages on filters.
pub const SUBSCRIBE: u8 = 8;
/// The answer to a SUBSCRIBE: one code per filter.
pub const SUBACK: u8 = 9;
/// A client drops filters.
pub const UNSUBSCRIBE: u8 = 10;
/// The answer to an UNSUBSCRIBE.
pub const UNSUBACK: u8 = 11;
/// A client's keep-alive ping; the gate answers a device's itself.
pub const PINGREQ: u8 = 12;
/// The answer to a PINGREQ.
pub const PINGRESP: u8 = 13;
/// A client's clean goodbye: its will is not published.
pub const DISCONNECT: u8 = 14;

/// The SUBACK code for a refused filter (MQTT 3.1.1 only; 3.1 has no such code).
pub const SUBACK_FAILURE: u8 = 0x80;

/// Why bytes are not a packet we take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The packet, header included, would be this many bytes: more than the limit.
    #[error("packet of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The remaining length does not end within four bytes.
    #[error("malformed remaining length")]
    BadLength,
    /// Bytes that break MQTT's rules (a field cut short or not UTF-8, QoS 3, a SUBSCRIBE
    /// without filters, ...): the text says which.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}

/// Where the next packet in `buf` ends: `Ok(None)` means read more. Refuses a packet
/// longer than `max` as soon as its length is known, before it is read.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, PacketError> {
    Ok(packet_len(buf, max)?.filter(|&total| buf.len() >= total))
}

/// The whole length of the packet `buf` starts with, once its fixed header is in (its
/// body may not be); `Ok(None)` while the header is not.
pub fn packet_len(buf: &[u8], max: usize) -> Result<Option<usize>, PacketError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let total = 1 + (i + 1) + value;
            if total > max {
                return Err(PacketError::TooLarge(total));
            }
            return Ok(Some(total));
        }
    }
    Err(PacketError::BadLength)
}

/// The parts of a PUBLISH the policy reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish<'a> {
    /// The topic name, checked to be UTF-8.
    pub topic: &'a str,
    /// The QoS, 0 to 2 (3 is refused as malformed).
    pub qos: u8,
    /// Whether the router is to keep it for later subscribers to the topic.
    pub retain: bool,
    /// Present for QoS 1 and 2.
    pub pkid: Option<u16>,
    /// The bytes after the topic and packet id, as sent (a Meross message is JSON).
    pub payload: &'a [u8],
}

/// One packet, read from a whole frame (as [`frame_len`] cut it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A PUBLISH, with the parts the policy reads.
    Publish(Publish<'a>),
    /// A SUBSCRIBE, with at least one filter.
    Subscribe {
        /// The packet id its SUBACK must carry.
        pkid: u16,
        /// (filter, requested QoS)
        filters: Vec<(&'a str, u8)>,
    },
    /// A SUBACK; the gate merges its own refusals into the router's.
    Suback {
        /// The packet id of the SUBSCRIBE it answers.
        pkid: u16,
        /// One code per filter, in order: the QoS granted, or [`SUBACK_FAILURE`].
        codes: &'a [u8],
    },
    /// PUBREL: the client's second step of a QoS 2 publish.
    Pubrel {
        /// The packet id of the QoS 2 PUBLISH it completes.
        pkid: u16,
    },
    /// An UNSUBSCRIBE, with at least one filter.
    Unsubscribe {
        /// The packet id its UNSUBACK must carry.
        pkid: u16,
        /// The filters to drop.
        filters: Vec<&'a str>,
    },
    /// A CONNECT after the first packet: a protocol error that closes the connection.
    Connect,
    /// Any other packet type; passed on as it is.
    Other(u8),
}

/// Reads a whole frame. Never panics, whatever the bytes.
pub fn parse(frame: &[u8]) -> Result<Packet<'_>, PacketError> {
    let first = *frame.first().ok_or(PacketError::Malformed("empty"))?;
    let header_len = 1 + frame[1..]
        .iter()
        .take(4)
        .position(|b| b & 0x80 == 0)
        .map(|i| i + 1)
        .ok_or(PacketError::BadLength)?;
    let mut body = frame.get(header_len..).unwrap_or_default();
    match first >> 4 {
        PUBLISH => {
            let qos = (first >> 1) & 0x03;
            if qos == 3 {
                return Err(PacketError::Malformed("QoS 3"));
            }
            let topic = string(&mut body)?;
            let pkid = if qos > 0 {
                Some(u16_(&mut body)?)
            } else {
                None
            };
            Ok(Packet::Publish(Publish {
                topic,
                qos,
                retain: first & 0x01 != 0,
                pkid,
                payload: body,
            }))
        }
        SUBSCRIBE => {
            let pkid = u16_(&mut body)?;
            let mut filters = Vec::new();
            while !body.is_empty() {
                let filter = string(&mut body)?;
                let qos = *body.first().ok_or(PacketError::Malformed("truncated"))?;
                body = &body[1..];
                filters.push((filter, qos & 0x03));
            }
            if filters.is_empty() {
                return Err(PacketError::Malformed("SUBSCRIBE without filters"));
            }
            Ok(Packet::Subscribe { pkid, filters })
        }
        SUBACK => Ok(Packet::Suback {
            pkid: u16_(&mut body)?,
            codes: body,
        }),
        PUBREL => Ok(Packet::Pubrel {
            pkid: u16_(&mut body)?,
        }),
        UNSUBSCRIBE => {
            let pkid = u16_(&mut body)?;
            let mut filters = Vec::new();
            while !body.is_empty() {
                filters.push(string(&mut body)?);
            }
            if filters.is_empty() {
                return Err(PacketError::Malformed("UNSUBSCRIBE without filters"));
            }
            Ok(Packet::Unsubscribe { pkid, filters })
        }
        CONNECT => Ok(Packet::Connect),
        other => Ok(Packet::Other(other)),
    }
}

fn u16_(b: &mut &[u8]) -> Result<u16, PacketError> {
    match b {
        [hi, lo, rest @ ..] => {
            let v = u16::from_be_bytes([*hi, *lo]);
            *b = rest;
            Ok(v)
        }
        _ => Err(PacketError::Malformed("truncated")),
    }
}

fn string<'a>(b: &mut &'a [u8]) -> Result<&'a str, PacketError> {
    let len = usize::from(u16_(b)?);
    let bytes = b
        .get(..len)
        .ok_or(PacketError::Malformed("field runs past the packet"))?;
    *b = &b[len..];
    std::str::from_utf8(bytes).map_err(|_| PacketError::Malformed("string is not UTF-8"))
}

/// A packet of one type with a packet id and nothing else (PUBACK, PUBREC, PUBCOMP).
pub fn ack(kind: u8, pkid: u16) -> [u8; 4] {
    let [hi, lo] = pkid.to_be_bytes();
    [kind << 4, 2, hi, lo]
}

/// A SUBACK with one code per filter.
pub fn suback(pkid: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = BytesMut::with_capacity(2 + codes.len());
    body.put_u16(pkid);
    body.put_slice(codes);
    with_header(SUBACK << 4, &body)
}

/// A SUBSCRIBE of `filters`, each with its requested QoS.
pub fn subscribe(pkid: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_u16(pkid);
    for (filter, qos) in filters {
        // Every filter came from a parsed packet: shorter than 64 KiB.
        body.put_u16(filter.len() as u16);
        body.put_slice(filter.as_bytes());
        body.put_u8(*qos);
    }
    with_header((SUBSCRIBE << 4) | 0x02, &body)
}

/// A packet: its first byte, the remaining length, then `body`.
pub fn with_header(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(first);
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A PUBLISH, for tests and the simulated plug.
pub fn publish(topic: &str, payload: &[u8], qos: u8, retain: bool, pkid: u16) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_u16(topic.len() as u16);
    body.put_slice(topic.as_bytes());
    if qos > 0 {
        body.put_u16(pkid);
    }
    body.put_slice(payload);
    with_header((PUBLISH << 4) | (qos.min(2) << 1) | u8::from(retain), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_publish_round_trips_through_frame_and_parse() {
        let bytes = publish("/appliance/abc/publish", b"{}", 1, true, 7);
        assert_eq!(frame_len(&bytes, 1024), Ok(Some(bytes.len())));
        for cut in 0..bytes.len() {
            assert_eq!(frame_len(&bytes[..cut], 1024), Ok(None), "cut at {cut}");
        }
        let Ok(Packet::Publish(p)) = parse(&bytes) else {
            panic!("not a publish");
        };
        assert_eq!(
            p,
            Publish {
                topic: "/appliance/abc/publish",
                qos: 1,
                retain: true,
                pkid: Some(7),
                payload: b"{}"
            }
        );
    }

    #[test]
    fn a_subscribe_round_trips() {
        let bytes = subscribe(3, &[("a/+", 1), ("#", 0)]);
        assert_eq!(
            parse(&bytes),
            Ok(Packet::Subscribe {
                pkid: 3,
                filters: vec![("a/+", 1), ("#", 0)]
            })
        );
        assert_eq!(
            parse(&suback(3, &[1, SUBACK_FAILURE])),
            Ok(Packet::Suback {
                pkid: 3,
                codes: &[1, 0x80]
            })
        );
    }

    #[test]
    fn an_oversized_length_is_refused_before_the_body_comes() {
        assert_eq!(
            frame_len(&[0x30, 0xff, 0xff, 0x7f], 1024),
            Err(PacketError::TooLarge(2_097_155))
        );
        assert_eq!(
            frame_len(&[0x30, 0xff, 0xff, 0xff, 0xff], usize::MAX),
            Err(PacketError::BadLength)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// The fuzz target: whatever a client sends, framing and parsing answer, never panic.
        #[test]
        fn any_bytes_frame_and_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some(n)) = frame_len(&bytes, 256) {
                let _ = parse(&bytes[..n]);
            }
            let _ = parse(&bytes);
        }

        /// Valid packets with one byte changed still never panic.
        #[test]
        fn mutated_packets_never_panic(
            topic in "[a-z/+#]{0,40}",
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            at in any::<usize>(),
            with in any::<u8>(),
        ) {
            for mut bytes in [publish(&topic, &payload, 1, false, 1), subscribe(1, &[(&topic, 1)])] {
                let i = at % bytes.len();
                bytes[i] = with;
                if let Ok(Some(n)) = frame_len(&bytes, 1024) {
                    let _ = parse(&bytes[..n]);
                }
            }
        }
    }
}
