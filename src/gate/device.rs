//! A logged-in device's session, served by the gate itself: no router connection of its
//! own. The gate answers its SUBSCRIBE, PINGREQ and acknowledgements, holds every PUBLISH
//! against the topic rules and hands the allowed ones to the hub, and writes to it what
//! the hub routes to its uuid. It ends when the device goes, misses its keepalive, sends
//! something malformed, or the daemon stops.

use super::acl::{Action, Verdict};
use super::peer::{ack_publish, State, Who};
use super::proxy::MAX_PACKET_BYTES;
use super::replies::remember_reply;
use super::shares::Share;
use crate::hub::queue::Delivery;
use crate::hub::Deliveries;
use crate::mqtt::framed::PacketReader;
use crate::mqtt::packet::{self, Packet, SUBACK_FAILURE};
use crate::shutdown::Shutdown;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::debug;

/// How long one write to a device may take: one that stops reading is closed, so that
/// neither its keepalive nor the daemon's shutdown waits on it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most filters a device's SUBSCRIBE may carry: a plug subscribes to its own topic.
const MAX_DEVICE_FILTERS: usize = 16;
/// How long the device's side gets to close cleanly at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What to do after a packet from the device.
enum Next {
    Go,
    /// It subscribed to its own topic: messages for it may flow.
    Subscribed,
    Unsubscribed,
    End(&'static str),
}

/// What the gate knows of a device's session.
pub(super) struct Session<'a> {
    pub uuid: &'a str,
    /// Tells this connection from a later one of the same uuid.
    pub conn: u64,
    /// The CONNECT's, in seconds.
    pub keep_alive: u16,
    /// Its place among the device's sessions (a newer one may take it).
    pub share: Share,
}

/// Serves the session until it ends.
pub(super) async fn run<C>(
    who: &Who<'_>,
    session: Session<'_>,
    client: C,
    buffered: &[u8],
    mut shutdown: Shutdown,
) where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let Session {
        uuid,
        conn,
        keep_alive,
        mut share,
    } = session;
    let hub = &who.gate.hub;
    // Messages for the device, once it has subscribed to its topic.
    let mut deliveries: Option<Deliveries> = None;
    let (client_rx, mut client_tx) = tokio::io::split(client);
    let mut from_client = PacketReader::new(client_rx, buffered, MAX_PACKET_BYTES);
    let mut state = State::default();
    let mut next_pkid: u16 = 0;
    // MQTT's rule: one and a half keepalives without a packet *from the device* and it is
    // gone. Only what is read moves the deadline: what merossd writes (an energy poll, a
    // command) says nothing of whether the device is still there.
    let idle = match keep_alive {
        0 => None,
        secs => Some(Duration::from_millis(u64::from(secs) * 1500)),
    };
    let silent = tokio::time::sleep(idle.unwrap_or(Duration::ZERO));
    tokio::pin!(silent);
    let why = loop {
        tokio::select! {
            _ = shutdown.wait() => break "daemon stopping",
            _ = share.displaced() => break "a newer session of this device took its place",
            _ = &mut silent, if idle.is_some() => break "keepalive missed",
            read = from_client.next() => {
                let frame = match read {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break "device closed",
                    Err(error) => break who.bad_packet(error),
                };
                if let Some(idle) = idle {
                    silent.as_mut().reset(tokio::time::Instant::now() + idle);
                }
                let mut out = Vec::new();
                match on_packet(who, uuid, &frame, &mut state, &mut out).await {
                    Next::Go => {}
                    // A MOKO plug subscribes to each of its topics in turn: one route.
                    Next::Subscribed if deliveries.is_none() => {
                        deliveries = Some(hub.register(uuid, conn))
                    }
                    Next::Subscribed => {}
                    Next::Unsubscribed => {
                        hub.unregister(uuid, conn);
                        deliveries = None;
                    }
                    Next::End(why) => break why,
                }
                if !out.is_empty() && !write(&mut client_tx, &out).await {
                    break "device closed or stopped reading";
                }
            }
            Some((topic, payload)) = next_delivery(&mut deliveries) => {
                remember_reply(&topic, &payload, &mut state.replies);
                next_pkid = next_pkid.wrapping_add(1).max(1);
                let bytes = packet::publish(&topic, &payload, 1, false, next_pkid);
                if !write(&mut client_tx, &bytes).await {
                    break "device closed or stopped reading";
                }
            }
        }
    };
    debug!(why, "device session ends");
    hub.unregister(uuid, conn);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, client_tx.shutdown()).await;
}

/// Writes to the device within [`WRITE_TIMEOUT`]; false if that failed.
async fn write<W: AsyncWrite + Unpin>(client: &mut W, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, client.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// The next message for the device, or never before it subscribed.
async fn next_delivery(deliveries: &mut Option<Deliveries>) -> Option<Delivery> {
    match deliveries {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}

/// Handles one packet from the device; what to write back goes to `out`.
async fn on_packet(
    who: &Who<'_>,
    uuid: &str,
    frame: &[u8],
    state: &mut State,
    out: &mut Vec<u8>,
) -> Next {
    let packet = match packet::parse(frame) {
        Ok(p) => p,
        Err(error) => return Next::End(who.bad_packet(error.into())),
    };
    match packet {
        Packet::Publish(p) => {
            // Boxed: the waits for room (the engine's budget, the router link's queue)
            // are a large future, and an idle session would carry its space.
            if who.check_publish(&p, state) == Verdict::Allow
                && Box::pin(who.gate.hub.publish(uuid, p.topic, p.payload))
                    .await
                    .is_err()
            {
                return Next::End("router link closed");
            }
            // Acknowledged either way, so that the device does not send it again.
            out.extend_from_slice(&ack_publish(&p, &mut state.refused_from_client));
        }
        Packet::Pubrel { pkid } => {
            state.refused_from_client.remove(&pkid);
            out.extend_from_slice(&packet::ack(packet::PUBCOMP, pkid));
        }
        Packet::Subscribe { pkid, filters } => {
            if filters.len() > MAX_DEVICE_FILTERS {
                return Next::End(who.bad_packet(
                    packet::PacketError::Malformed("too many filters in one SUBSCRIBE").into(),
                ));
            }
            let mut codes = Vec::with_capacity(filters.len());
            let mut own = false;
            for (filter, qos) in &filters {
                let verdict = who.check(Action::Subscribe { filter }, state);
                if verdict == Verdict::Allow {
                    own |= who.own_inbox(filter, uuid);
                    codes.push((*qos).min(1));
                } else {
                    who.denied("subscribe", filter, verdict);
                    if who.level == 3 {
                        // MQTT 3.1 has no code for a refused filter.
                        return Next::End("refused subscription on MQTT 3.1");
                    }
                    codes.push(SUBACK_FAILURE);
                }
            }
            out.extend_from_slice(&packet::suback(pkid, &codes));
            if own {
                return Next::Subscribed;
            }
        }
        Packet::Unsubscribe { pkid, .. } => {
            out.extend_from_slice(&packet::ack(packet::UNSUBACK, pkid));
            return Next::Unsubscribed;
        }
        Packet::Connect => {
            return Next::End(
                who.bad_packet(packet::PacketError::Malformed("a second CONNECT").into()),
            )
        }
        Packet::Other(packet::PINGREQ) => out.extend_from_slice(&[packet::PINGRESP << 4, 0]),
        Packet::Other(packet::DISCONNECT) => return Next::End("device disconnected"),
        // Acknowledgements of what the gate sent (QoS 1, never sent again): nothing to do.
        Packet::Suback { .. } | Packet::Other(_) => {}
    }
    Next::Go
}
