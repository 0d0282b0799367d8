//! The packet loop between a logged-in client and the router. Both directions are cut into
//! whole packets: what the client sends is held against the topic rules before it reaches
//! the router; what the router delivers is checked too (an app sees only its account) and
//! read for the `from` of requests to a device (where the device may then answer). The
//! gate answers what it refuses itself (PUBACK, SUBACK 0x80), so each side's write half
//! has one owner and an answer never lands inside another packet.

use super::acl::{Action, Verdict};
use super::auth::Identity;
use super::peer::{ack_publish, State, Who};
use super::replies::remember_reply_topic;
use crate::mqtt::framed::PacketReader;
use crate::mqtt::packet::{self, Packet, SUBACK_FAILURE};
use crate::shutdown::Shutdown;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::debug;

/// The largest packet taken either way; under the router's own payload limit, so the gate
/// is the one that refuses.
pub const MAX_PACKET_BYTES: usize = 255 * 1024;
/// Answers the gate may have queued for one side; a client that does not read them is
/// dropped rather than buffered without end.
const ANSWER_QUEUE: usize = 64;
/// How long the client's side gets to close cleanly at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a client that asked for no keepalive may send nothing: the router would
/// otherwise hold its session for as long as the TCP connection lives.
pub const NO_KEEPALIVE_IDLE: Duration = Duration::from_secs(600);

/// How long the client may send nothing: one and a half keepalives, as MQTT says.
fn idle_limit(keep_alive: u16) -> Duration {
    match keep_alive {
        0 => NO_KEEPALIVE_IDLE,
        secs => Duration::from_millis(u64::from(secs) * 1500),
    }
}

/// What to do with one packet.
pub(super) enum Step {
    Pass,
    /// Pass it on, and answer the sender with these bytes.
    PassAndAnswer(Vec<u8>),
    /// Pass these bytes instead.
    Replace(Vec<u8>),
    /// Drop it and answer the sender with these bytes (maybe nothing).
    Answer(Vec<u8>),
    Close(&'static str),
}

/// Runs until either side ends, a rule says close, or the daemon stops.
pub(super) async fn run<C, U>(
    who: &Who<'_>,
    client: C,
    buffered: &[u8],
    router: U,
    mut shutdown: Shutdown,
) where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (client_rx, mut client_tx) = tokio::io::split(client);
    let (router_rx, mut router_tx) = tokio::io::split(router);
    let mut from_client = PacketReader::new(client_rx, buffered, MAX_PACKET_BYTES);
    let mut from_router = PacketReader::new(router_rx, &[], MAX_PACKET_BYTES);
    // Shared by the two directions, locked for a decision only, never across a write.
    let state = std::sync::Mutex::new(State::default());
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let (answer_client, mut answers_to_client) = mpsc::channel::<Vec<u8>>(ANSWER_QUEUE);
    let (answer_router, mut answers_to_router) = mpsc::channel::<Vec<u8>>(ANSWER_QUEUE);

    let idle = idle_limit(who.keep_alive);
    let up = async {
        let silent = tokio::time::sleep(idle);
        tokio::pin!(silent);
        loop {
            tokio::select! {
                _ = &mut silent => return "keepalive missed",
                read = from_client.next() => {
                    let frame = match read {
                        Ok(Some(frame)) => frame,
                        Ok(None) => return "client closed",
                        Err(error) => return who.bad_packet(error),
                    };
                    silent.as_mut().reset(tokio::time::Instant::now() + idle);
                    let step = who.on_client_packet(&frame, &mut lock());
                    if matches!(step, Step::Pass) && frame.first() == Some(&(packet::DISCONNECT << 4)) {
                        lock().said_goodbye = true;
                        let _ = router_tx.write_all(&frame).await;
                        return "client disconnected";
                    }
                    let ends = ("router closed", "client does not read its answers");
                    if let Err(why) = apply(step, &frame, &mut router_tx, &answer_client, ends).await {
                        return why;
                    }
                }
                Some(bytes) = answers_to_router.recv() => {
                    if router_tx.write_all(&bytes).await.is_err() {
                        return "router closed";
                    }
                }
            }
        }
    };
    let down = async {
        loop {
            tokio::select! {
                read = from_router.next() => {
                    let frame = match read {
                        Ok(Some(frame)) => frame,
                        Ok(None) | Err(_) => return "router closed",
                    };
                    let step = who.on_router_packet(&frame, &mut lock());
                    let ends = ("client closed", "router does not read its answers");
                    if let Err(why) = apply(step, &frame, &mut client_tx, &answer_router, ends).await {
                        return why;
                    }
                }
                Some(bytes) = answers_to_client.recv() => {
                    if client_tx.write_all(&bytes).await.is_err() {
                        return "client closed";
                    }
                }
            }
        }
    };
    let why = tokio::select! {
        why = up => why,
        why = down => why,
        _ = shutdown.wait() => "daemon stopping",
    };
    debug!(why, "connection ends");
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, client_tx.shutdown()).await;
    // Wait for the router to close its side: by then it has queued this connection's end,
    // ahead of any later connection that could be given the same router-side number (a
    // late end would otherwise close that one).
    // After a DISCONNECT the router closes by itself; closing first would make it report
    // the end twice, and the second report can hit the connection that took the number.
    let said_goodbye = lock().said_goodbye;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if !said_goodbye {
            let _ = router_tx.shutdown().await;
        }
        while let Ok(Some(_)) = from_router.next().await {}
    })
    .await;
}

/// Carries out a step for one packet: pass it (or what replaces it) on with `forward`, or
/// queue an answer for its sender. `ends` names why the connection ends when the forward
/// side is closed, or when the sender does not read its answers.
async fn apply<W: AsyncWrite + Unpin>(
    step: Step,
    frame: &[u8],
    forward: &mut W,
    answers: &mpsc::Sender<Vec<u8>>,
    ends: (&'static str, &'static str),
) -> Result<(), &'static str> {
    let written = match step {
        Step::Pass => forward.write_all(frame).await,
        Step::PassAndAnswer(bytes) => {
            forward.write_all(frame).await.map_err(|_| ends.0)?;
            return answers.try_send(bytes).map_err(|_| ends.1);
        }
        Step::Replace(bytes) => forward.write_all(&bytes).await,
        Step::Answer(bytes) if bytes.is_empty() => Ok(()),
        Step::Answer(bytes) => return answers.try_send(bytes).map_err(|_| ends.1),
        Step::Close(why) => return Err(why),
    };
    written.map_err(|_| ends.0)
}

impl Who<'_> {
    fn on_client_packet(&self, frame: &[u8], state: &mut State) -> Step {
        let packet = match packet::parse(frame) {
            Ok(p) => p,
            Err(error) => return Step::Close(self.bad_packet(error.into())),
        };
        match packet {
            Packet::Publish(p) => {
                if self.check_publish(&p, state) == Verdict::Allow && self.routable(&p, state) {
                    return self.pass_publish(&p, state);
                }
                Step::Answer(ack_publish(&p, &mut state.refused_from_client))
            }
            Packet::Pubrel { pkid } if state.refused_from_client.remove(&pkid) => {
                Step::Answer(packet::ack(packet::PUBCOMP, pkid).to_vec())
            }
            Packet::Pubrel { pkid } => {
                if let Some(bytes) = state.open_qos2.remove(&pkid) {
                    state.open_qos2_bytes -= bytes;
                }
                Step::Pass
            }
            Packet::Subscribe { pkid, filters } => self.subscribe(pkid, &filters, state),
            Packet::Unsubscribe { pkid, filters } => {
                for filter in filters {
                    state.filters.remove(filter);
                }
                // rumqttd answers one UNSUBACK per filter it held and none for others:
                // the gate answers once, as MQTT says, and drops the router's.
                Step::PassAndAnswer(packet::ack(packet::UNSUBACK, pkid).to_vec())
            }
            Packet::Connect => Step::Close(
                self.bad_packet(packet::PacketError::Malformed("a second CONNECT").into()),
            ),
            _ => Step::Pass,
        }
    }

    fn on_router_packet(&self, frame: &[u8], state: &mut State) -> Step {
        let Ok(packet) = packet::parse(frame) else {
            return Step::Pass; // the router's own bytes; the client judges them
        };
        match packet {
            Packet::Publish(p) => {
                if matches!(self.identity, Identity::Device { .. }) {
                    remember_reply_topic(&p, &mut state.replies);
                }
                let verdict = self.check(Action::Receive { topic: p.topic }, state);
                if verdict == Verdict::Allow && !self.another_accounts_device(&p) {
                    return Step::Pass;
                }
                debug!(topic = %p.topic, "delivery withheld: another account's");
                Step::Answer(ack_publish(&p, &mut state.refused_from_router))
            }
            Packet::Pubrel { pkid } if state.refused_from_router.remove(&pkid) => {
                Step::Answer(packet::ack(packet::PUBCOMP, pkid).to_vec())
            }
            Packet::Suback { pkid, codes } => {
                let suback = state.partial.remove(&pkid).map(|allowed| {
                    let mut granted = codes.iter();
                    let merged: Vec<u8> = allowed
                        .iter()
                        .map(|ok| match ok {
                            true => granted.next().copied().unwrap_or(SUBACK_FAILURE),
                            false => SUBACK_FAILURE,
                        })
                        .collect();
                    packet::suback(pkid, &merged)
                });
                match (suback, state.resend.remove(&pkid)) {
                    (None, None) => Step::Pass,
                    (suback, resend) => {
                        let mut bytes = suback.unwrap_or_else(|| frame.to_vec());
                        for filter in resend.unwrap_or_default() {
                            self.retained_for(&filter, state, &mut bytes);
                        }
                        Step::Replace(bytes)
                    }
                }
            }
            // See the UNSUBSCRIBE above: the client had its answer.
            Packet::Other(packet::UNSUBACK) => Step::Answer(Vec::new()),
            _ => Step::Pass,
        }
    }
}
