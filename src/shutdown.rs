//! One shutdown signal that reaches every task.

use tokio::sync::watch;

/// The sending side: `trigger` once, every [`Shutdown`] sees it.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// A handle a task waits on.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Resolves once shutdown was triggered (or its trigger dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
