//! An in-process client of the router that does not stay dead: a writer thread (rumqttd's
//! `LinkTx` calls block when the router's channel is full) and a reader task. If the
//! router drops the link for any reason, it is opened again under the same id, its
//! subscriptions are made again, and [`Health`] says "degraded" until then.

use super::Retained;
use crate::metrics::{inc, Counters};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::Notification;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// Publishes a link may have waiting for its writer thread.
const OUTBOX_CAPACITY: usize = 8192;
/// Pause between tries to open a link again.
const RELINK_PAUSE: Duration = Duration::from_millis(200);

/// Opens a link to the router by client id.
pub type LinkOpener = Arc<dyn Fn(&str) -> Result<(LinkTx, LinkRx), String> + Send + Sync>;

/// One message seen by a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The topic it was published to.
    pub topic: String,
    /// Its payload, as the router forwarded it.
    pub payload: bytes::Bytes,
}

/// What a link's writer thread is asked to do.
#[derive(Debug)]
enum Outgoing {
    Publish {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
    Subscribe(String),
    /// Answered once everything sent before it reached the router.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// The reader saw link number `.0` die: open a new one.
    Reopen(u64),
}

/// A handle that sends to the router without blocking the caller.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Outgoing>,
    /// Every link's retained publishes are also kept here (see [`Retained`]).
    retained: Arc<Retained>,
}

/// The link's writer thread has stopped, so nothing sent reaches the router any more.
#[derive(Debug, thiserror::Error)]
#[error("the router's link is closed")]
pub struct LinkClosed;

impl Outbox {
    /// Publishes a message that is not retained.
    pub async fn publish(&self, topic: String, payload: Vec<u8>) -> Result<(), LinkClosed> {
        self.send(Outgoing::Publish {
            topic,
            payload,
            retain: false,
        })
        .await
    }

    /// Publishes a retained message; an empty payload clears the topic's retained one.
    pub async fn publish_retained(
        &self,
        topic: String,
        payload: Vec<u8>,
    ) -> Result<(), LinkClosed> {
        self.retained.set(&topic, &payload);
        self.send(Outgoing::Publish {
            topic,
            payload,
            retain: true,
        })
        .await
    }

    async fn send(&self, out: Outgoing) -> Result<(), LinkClosed> {
        self.tx.send(out).await.map_err(|_| LinkClosed)
    }

    /// Subscribes, now and after every reopening.
    pub async fn subscribe(&self, filter: &str) -> Result<(), LinkClosed> {
        self.send(Outgoing::Subscribe(filter.to_owned())).await
    }

    /// Waits until everything sent before reached the router.
    pub async fn flush(&self) -> Result<(), LinkClosed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Outgoing::Flush(tx)).await?;
        rx.await.map_err(|_| LinkClosed)
    }
}

/// One in-process client of the router: send through `outbox`, receive on `incoming`.
pub struct Link {
    /// Sends to the router; clones of it may be handed out.
    pub outbox: Outbox,
    /// Every message the router forwards for the link's subscriptions.
    pub incoming: mpsc::Receiver<Incoming>,
    /// False while the link is being opened again.
    pub up: Arc<AtomicBool>,
}

/// Whether every link is up, by name.
#[derive(Clone, Default)]
pub struct Health(pub Vec<(&'static str, Arc<AtomicBool>)>);

impl Health {
    /// The names of the links that are down now.
    pub fn down(&self) -> Vec<&'static str> {
        self.0
            .iter()
            .filter(|(_, up)| !up.load(Ordering::Relaxed))
            .map(|(name, _)| *name)
            .collect()
    }
}

impl Link {
    /// Opens the link and starts its writer thread and reader task.
    pub fn start(
        name: &'static str,
        opener: LinkOpener,
        counters: Arc<Counters>,
        retained: Arc<Retained>,
    ) -> std::io::Result<Link> {
        let (out_tx, out_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (in_tx, in_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (handoff_tx, handoff_rx) = mpsc::channel(1);
        let up = Arc::new(AtomicBool::new(false));
        let first = opener(name).map_err(|e| std::io::Error::other(format!("router link: {e}")))?;
        let writer = Writer {
            name,
            opener,
            counters,
            up: up.clone(),
            handoff: handoff_tx,
            filters: Vec::new(),
            generation: 0,
        };
        std::thread::Builder::new()
            .name(format!("router-writer-{name}"))
            .spawn(move || writer.run(first, out_rx))?;
        let outbox = Outbox {
            tx: out_tx,
            retained,
        };
        tokio::spawn(reader(handoff_rx, in_tx, outbox.clone(), up.clone()));
        Ok(Link {
            outbox,
            incoming: in_rx,
            up,
        })
    }
}

struct Writer {
    name: &'static str,
    opener: LinkOpener,
    counters: Arc<Counters>,
    up: Arc<AtomicBool>,
    /// Hands each new `LinkRx` (with its number) to the reader.
    handoff: mpsc::Sender<(u64, LinkRx)>,
    /// Every filter subscribed so far, made again after a reopening.
    filters: Vec<String>,
    generation: u64,
}

impl Writer {
    /// Runs on its own thread: `LinkTx` calls may block until the router drains its
    /// channel (`LinkTx::send`, needed for retained publishes, is async only in name).
    fn run(mut self, first: (LinkTx, LinkRx), mut rx: mpsc::Receiver<Outgoing>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return error!(error = %e, "cannot start the router writer"),
        };
        runtime.block_on(async move {
            let Some(mut link) = self.hand_over(first).await else {
                return;
            };
            while let Some(out) = rx.recv().await {
                let result = match out {
                    Outgoing::Reopen(generation) if generation == self.generation => Err(()),
                    Outgoing::Reopen(_) => Ok(()), // an older link's death: already reopened
                    Outgoing::Flush(done) => {
                        let _ = done.send(());
                        Ok(())
                    }
                    Outgoing::Subscribe(filter) => {
                        let sent = link.subscribe(filter.clone()).map(|_| ()).map_err(|_| ());
                        self.filters.push(filter);
                        sent
                    }
                    Outgoing::Publish {
                        topic,
                        payload,
                        retain,
                    } => publish(&mut link, topic, payload, retain).await,
                };
                if result.is_err() {
                    match self.reopen(&mut rx).await {
                        Some(new) => link = new,
                        None => return,
                    }
                }
            }
        });
    }

    /// Opens the link again until it works or the daemon stops.
    async fn reopen(&mut self, rx: &mut mpsc::Receiver<Outgoing>) -> Option<LinkTx> {
        self.up.store(false, Ordering::Relaxed);
        inc(&self.counters.link_restarts);
        warn!(link = self.name, "router link dropped; opening it again");
        loop {
            if rx.is_closed() && rx.is_empty() {
                return None;
            }
            match (self.opener)(self.name) {
                Ok(pair) => {
                    let link = self.hand_over(pair).await?;
                    info!(link = self.name, "router link open again");
                    return Some(link);
                }
                Err(e) => {
                    warn!(link = self.name, error = %e, "router link cannot be opened yet");
                    tokio::time::sleep(RELINK_PAUSE).await;
                }
            }
        }
    }

    /// Subscribes a new link to every filter and gives its read half to the reader.
    async fn hand_over(&mut self, (mut tx, rx): (LinkTx, LinkRx)) -> Option<LinkTx> {
        for filter in &self.filters {
            if tx.subscribe(filter.clone()).is_err() {
                warn!(link = self.name, %filter, "resubscribe failed");
            }
        }
        self.generation += 1;
        self.handoff.send((self.generation, rx)).await.ok()?;
        self.up.store(true, Ordering::Relaxed);
        Some(tx)
    }
}

async fn publish(
    link: &mut LinkTx,
    topic: String,
    payload: Vec<u8>,
    retain: bool,
) -> Result<(), ()> {
    if !retain {
        return link.publish(topic, payload).map(|_| ()).map_err(|_| ());
    }
    let publish = rumqttd::protocol::Publish::new(
        bytes::Bytes::from(topic),
        bytes::Bytes::from(payload),
        true,
    );
    link.send(rumqttd::protocol::Packet::Publish(publish, None))
        .await
        .map(|_| ())
        .map_err(|_| ())
}

/// Reads each link's notifications in turn. The router stops scheduling a link that has
/// had `max_outgoing_packet_count` packets and says `Unschedule`: it must be woken again
/// or the link stalls silently.
async fn reader(
    mut links: mpsc::Receiver<(u64, LinkRx)>,
    tx: mpsc::Sender<Incoming>,
    kick: Outbox,
    up: Arc<AtomicBool>,
) {
    while let Some((generation, mut link)) = links.recv().await {
        loop {
            match link.next().await {
                Ok(Some(Notification::Forward(forward))) => {
                    let publish = forward.publish;
                    let Ok(topic) = String::from_utf8(publish.topic.to_vec()) else {
                        warn!("dropped a publish with a non-UTF-8 topic");
                        continue;
                    };
                    let incoming = Incoming {
                        topic,
                        payload: publish.payload,
                    };
                    if tx.send(incoming).await.is_err() {
                        return;
                    }
                }
                Ok(Some(Notification::Unschedule)) => {
                    if link.wake().await.is_err() {
                        break;
                    }
                }
                Ok(Some(other)) => debug!(?other, "router notification"),
                Ok(None) => {}
                Err(_) => break,
            }
        }
        up.store(false, Ordering::Relaxed);
        if kick.send(Outgoing::Reopen(generation)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_the_links_that_are_down() {
        let engine = Arc::new(AtomicBool::new(true));
        let bridge = Arc::new(AtomicBool::new(true));
        let health = Health(vec![("engine", engine.clone()), ("bridge", bridge.clone())]);
        assert!(health.down().is_empty());
        bridge.store(false, Ordering::Relaxed);
        assert_eq!(health.down(), vec!["bridge"]);
    }
}
