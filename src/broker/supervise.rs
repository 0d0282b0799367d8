//! The router runs supervised. rumqttd's router is one thread: if it dies (a panic on
//! input the gate did not foresee, say), every router link and every app and local
//! client loses it, while the plugs, served by the gate, do not notice. The supervisor
//! sees the death within [`WATCH_EVERY`], starts a new router with a server on a new
//! port, gives it merossd's retained messages back, and points new connections and the
//! links (which open themselves again) at it. `/health` says `degraded` meanwhile.

use super::{spawn_router, CurrentUpstream, Retained, RouterBudget, Running};
use crate::metrics::{inc, Counters};
use crate::shutdown::Shutdown;
use rumqttd::local::LinkTx;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tracing::{error, info, warn};

/// How often the router is looked at.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);
/// Pause before trying again when a new router could not be started.
const RETRY: Duration = Duration::from_secs(1);
/// The client id of the link that hands a new router its retained messages.
const RESTORE_LINK: &str = "merossd-restore";

/// Watches the router; see the module.
pub struct Supervisor {
    pub(super) current: Arc<RwLock<Running>>,
    pub(super) upstream: Arc<CurrentUpstream>,
    pub(super) retained: Arc<Retained>,
    pub(super) budget: Arc<RouterBudget>,
    /// False while the router is dead or being started again.
    pub(super) up: Arc<AtomicBool>,
    pub(super) counters: Arc<Counters>,
}

impl Supervisor {
    fn alive(&self) -> bool {
        let running = self.current.read().unwrap_or_else(|e| e.into_inner());
        (running.alive)()
    }

    /// Watches until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        let supervisor = Arc::new(self);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(WATCH_EVERY) => {}
            }
            if supervisor.alive() {
                continue;
            }
            supervisor.up.store(false, Ordering::Relaxed);
            inc(&supervisor.counters.router_restarts);
            error!("the router died; starting it again");
            // Starting a router blocks (its readiness probe): off the async threads.
            let again = supervisor.clone();
            match tokio::task::spawn_blocking(move || again.restart()).await {
                Ok(Ok(retained)) => {
                    supervisor.up.store(true, Ordering::Relaxed);
                    info!(retained, "router running again");
                }
                Ok(Err(e)) => {
                    warn!(error = %e, "the router could not be started again yet");
                    tokio::time::sleep(RETRY).await;
                }
                Err(e) => {
                    warn!(error = %e, "starting the router again failed");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Starts a new router, gives it the retained messages, and makes it the current one.
    /// Returns how many retained messages it was given.
    fn restart(&self) -> std::io::Result<usize> {
        let (mut running, listen) = spawn_router();
        let (mut tx, rx) = super::open_within(running.open.clone(), RESTORE_LINK)
            .map_err(std::io::Error::other)?;
        let upstream = listen()?;
        let retained = self.retained.all();
        let count = retained.len();
        restore(&mut tx, retained)?;
        running.keep = Some((tx, rx));
        // The new router holds nothing that clients made.
        self.budget.clear();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = running;
        self.upstream.set(upstream);
        Ok(count)
    }
}

/// Publishes every retained message on a new router's link.
fn restore(tx: &mut LinkTx, retained: Vec<(String, bytes::Bytes)>) -> std::io::Result<()> {
    // `LinkTx::send` (the only way to publish retained) is async in name only: it may
    // block, and this runs on a blocking thread with a runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        for (topic, payload) in retained {
            let publish = rumqttd::protocol::Publish::new(bytes::Bytes::from(topic), payload, true);
            tx.send(rumqttd::protocol::Packet::Publish(publish, None))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(())
    })
}
