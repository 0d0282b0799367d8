//! One shutdown signal that reaches every task, and a drain that waits for them.
//!
//! Every task the daemon starts holds a drain token: a [`Shutdown`] it watches (long-lived
//! parts: listeners, connections, the engine's loop), or its place in a [`Spawner`], which
//! also ends the task when shutdown comes (short-lived work: a request, a timer). The
//! [`Trigger`] signals, then waits, bounded, until every token is given back, as
//! mini-redis's server does with its `shutdown_complete` channel.

use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The sending side: `trigger` once, every [`Shutdown`] sees it; `drain` waits for them.
#[derive(Debug)]
pub struct Trigger {
    signal: watch::Sender<bool>,
    /// The first token: lets [`Spawner`]s start tasks before anything else holds one.
    token: Option<mpsc::Sender<()>>,
    /// Closed once every token is dropped.
    drained: mpsc::Receiver<()>,
}

/// A handle a task waits on; it holds a drain token for as long as it lives.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Receiver<bool>,
    _token: mpsc::Sender<()>,
}

/// Starts short tasks that the drain waits for and shutdown ends. Holding one does not
/// hold the drain up (parts that live as long as the daemon keep one).
#[derive(Debug, Clone)]
pub struct Spawner {
    signal: watch::Receiver<bool>,
    token: mpsc::WeakSender<()>,
}

/// A trigger and the first handle of it.
pub fn channel() -> (Trigger, Shutdown) {
    let (signal, watch) = watch::channel(false);
    let (token, drained) = mpsc::channel(1);
    let shutdown = Shutdown {
        signal: watch,
        _token: token.clone(),
    };
    let trigger = Trigger {
        signal,
        token: Some(token),
        drained,
    };
    (trigger, shutdown)
}

impl Trigger {
    /// Tells every task to stop.
    pub fn trigger(&self) {
        self.signal.send_replace(true);
    }

    /// Tells every task to stop and waits until all of them did, or `within` passed.
    /// Returns whether they all did.
    pub async fn drain(mut self, within: Duration) -> bool {
        self.trigger();
        self.token = None;
        tokio::time::timeout(within, self.drained.recv())
            .await
            .is_ok()
    }

    /// A spawner for tasks this trigger drains.
    pub fn spawner(&self) -> Spawner {
        let token = self.token.as_ref().map(mpsc::Sender::downgrade);
        Spawner {
            signal: self.signal.subscribe(),
            // A drained trigger has no token left: its spawner starts nothing.
            token: token.unwrap_or_else(|| mpsc::channel(1).0.downgrade()),
        }
    }
}

impl Shutdown {
    /// Resolves once shutdown was triggered (or its trigger dropped).
    pub async fn wait(&mut self) {
        let _ = self.signal.wait_for(|stop| *stop).await;
    }
}

impl Spawner {
    /// Starts `task`, which ends early if shutdown comes first; false (and not started)
    /// once shutdown began.
    pub fn spawn<F>(&self, task: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(token) = self.token.upgrade() else {
            return false;
        };
        let mut signal = self.signal.clone();
        if *signal.borrow() {
            return false;
        }
        tokio::spawn(async move {
            let _token = token;
            tokio::select! {
                _ = task => {}
                _ = signal.wait_for(|stop| *stop) => {}
            }
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_drain_waits_for_every_handle_and_spawned_task() {
        let (trigger, shutdown) = channel();
        let spawner = trigger.spawner();
        let (done_tx, mut done) = mpsc::unbounded_channel();
        for n in 0..3 {
            let mut shutdown = shutdown.clone();
            let done_tx = done_tx.clone();
            tokio::spawn(async move {
                shutdown.wait().await;
                tokio::time::sleep(Duration::from_millis(20 * n)).await;
                let _ = done_tx.send(n);
            });
        }
        // A spawned task that would run for an hour is ended by the shutdown.
        assert!(spawner.spawn(tokio::time::sleep(Duration::from_secs(3600))));
        drop(shutdown);
        drop(done_tx);
        assert!(trigger.drain(Duration::from_secs(5)).await);
        let mut finished = Vec::new();
        while let Some(n) = done.recv().await {
            finished.push(n);
        }
        assert_eq!(
            finished.len(),
            3,
            "the drain returned before its tasks ended"
        );
        assert!(
            !spawner.spawn(async {}),
            "a task was started after the drain"
        );
    }

    #[tokio::test]
    async fn the_drain_is_bounded() {
        let (trigger, shutdown) = channel();
        // A task that holds its handle and never looks at it.
        let stuck = tokio::spawn(async move {
            let _held = shutdown;
            std::future::pending::<()>().await;
        });
        assert!(!trigger.drain(Duration::from_millis(50)).await);
        stuck.abort();
    }
}
