//! Whole MQTT packets off a byte stream: the buffer lives here, so a read cancelled by a
//! `select!` loses nothing, and a packet over the limit is refused before it is read.

use super::packet::{packet_len, PacketError};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why no packet came.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The header announces a packet over the limit, or a bad remaining length.
    #[error("{0}")]
    Packet(#[from] PacketError),
    /// The stream ended after a packet's first byte and before its last.
    #[error("connection closed inside a packet")]
    Truncated,
    /// A packet begun and not finished within [`PACKET_DEADLINE`]: its buffer would
    /// otherwise be held for as long as the sender likes.
    #[error("a packet was not finished in time")]
    Slow,
    /// Reading the connection failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Bytes of room a read is given at least: thousands of idle plugs each hold a buffer this
/// size. A longer packet gets the room its header announces, at most this much more per
/// read, so that a header alone does not buy its whole length.
const READ_ROOM: usize = 256;
const GROW_STEP: usize = 16 * 1024;
/// How long a packet may take from its first byte to its last (a 255 KiB one at a
/// Pi's Wi-Fi speed takes well under a second).
pub const PACKET_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The read half of a connection, cut into packets.
pub struct PacketReader<R> {
    inner: R,
    buf: BytesMut,
    max: usize,
    /// When the packet in the buffer must be whole.
    due: Option<tokio::time::Instant>,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    /// `buffered` are bytes already read past the CONNECT; `max` the largest packet taken.
    pub fn new(inner: R, buffered: &[u8], max: usize) -> Self {
        PacketReader {
            inner,
            buf: BytesMut::from(buffered),
            max,
            due: None,
        }
    }

    /// The next whole packet, or `None` at a clean end of the stream. Cancel-safe.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ReadError> {
        loop {
            let announced = packet_len(&self.buf, self.max)?;
            if let Some(n) = announced.filter(|&n| self.buf.len() >= n) {
                let frame = self.buf.split_to(n).freeze();
                self.due = None;
                if self.buf.is_empty() {
                    // The room read into goes with the frame; waiting takes a small one.
                    self.buf = BytesMut::new();
                }
                return Ok(Some(frame));
            }
            let want = announced
                .map_or(0, |n| n - self.buf.len())
                .clamp(READ_ROOM, GROW_STEP);
            if self.buf.capacity() - self.buf.len() < want {
                self.buf.reserve(want);
            }
            let read = match self.due {
                None if self.buf.is_empty() => self.inner.read_buf(&mut self.buf).await?,
                _ => {
                    let due = *self
                        .due
                        .get_or_insert_with(|| tokio::time::Instant::now() + PACKET_DEADLINE);
                    tokio::time::timeout_at(due, self.inner.read_buf(&mut self.buf))
                        .await
                        .map_err(|_| ReadError::Slow)??
                }
            };
            if read == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::Truncated)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::packet::publish;
    use std::time::Duration;

    #[tokio::test]
    async fn packets_split_at_every_byte_come_out_whole() {
        let one = publish("a/b", b"hello", 1, false, 9);
        let two = publish("c", b"", 0, false, 0);
        let stream: Vec<u8> = [one.clone(), two.clone()].concat();
        for cut in 0..stream.len() {
            let (mut tx, rx) = tokio::io::duplex(8);
            let (head, tail) = stream.split_at(cut);
            let (head, tail) = (head.to_vec(), tail.to_vec());
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                tx.write_all(&head).await.unwrap();
                tx.write_all(&tail).await.unwrap();
            });
            let mut reader = PacketReader::new(rx, &[], 1024);
            assert_eq!(reader.next().await.unwrap().unwrap(), one);
            assert_eq!(reader.next().await.unwrap().unwrap(), two);
            writer.await.unwrap();
            assert!(reader.next().await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn packets_larger_than_the_read_room_come_out_whole_between_small_ones() {
        let small = publish("s", b"x", 1, false, 1);
        let large = publish("/appliance/x/publish", &[7u8; 9000], 1, false, 2);
        let stream: Vec<u8> = [small.clone(), large.clone(), small.clone()].concat();
        let (mut tx, rx) = tokio::io::duplex(700);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            tx.write_all(&stream).await.unwrap();
        });
        let mut reader = PacketReader::new(rx, &[], 64 * 1024);
        assert_eq!(reader.next().await.unwrap().unwrap(), small);
        assert_eq!(reader.next().await.unwrap().unwrap(), large);
        assert_eq!(reader.next().await.unwrap().unwrap(), small);
        writer.await.unwrap();
        assert!(reader.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_header_alone_does_not_buy_the_room_it_announces() {
        // A PUBLISH announcing 200,000 bytes, of which 10 come.
        let mut start = vec![0x30, 0xc0, 0x9a, 0x0c];
        start.extend_from_slice(&[0u8; 10]);
        let (mut tx, rx) = tokio::io::duplex(64);
        use tokio::io::AsyncWriteExt;
        tx.write_all(&start).await.unwrap();
        let mut reader = PacketReader::new(rx, &[], 256 * 1024);
        let waited = tokio::time::timeout(Duration::from_millis(50), reader.next()).await;
        assert!(waited.is_err(), "the rest never came");
        assert!(
            reader.buf.capacity() <= GROW_STEP + 2 * READ_ROOM,
            "{} bytes held for 14 received",
            reader.buf.capacity()
        );
        drop(tx);
    }

    #[tokio::test]
    async fn a_packet_over_the_limit_is_an_error() {
        let big = publish("t", &[0u8; 300], 0, false, 0);
        let mut reader = PacketReader::new(&big[..], &[], 100);
        assert!(matches!(
            reader.next().await,
            Err(ReadError::Packet(PacketError::TooLarge(_)))
        ));
    }
}
