//! Whether the store can write. A batch that cannot be written (the disk is full, say) is
//! kept and tried again; meanwhile the store is *failing*, with the reason, and the API
//! refuses changes it could not keep, `/health` says `degraded`, and a counter counts the
//! failed batches. The first batch that lands again clears it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Shared by the writer thread (which sets it) and everyone who asks.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: AtomicBool,
    reason: Mutex<Option<String>>,
    /// What start-up found amiss (see `continuity`).
    warnings: Mutex<Vec<String>>,
}

impl StoreHealth {
    fn reason(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn fail(&self, reason: String) {
        *self.reason() = Some(reason);
        self.failing.store(true, Ordering::Release);
    }

    pub(super) fn recover(&self) {
        self.failing.store(false, Ordering::Release);
        *self.reason() = None;
    }

    /// Keeps a warning for `/health`.
    pub fn warn(&self, warning: Option<String>) {
        if let Some(w) = warning {
            self.warnings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(w);
        }
    }

    /// What start-up found amiss.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the store cannot write now, or `None` while it can.
    pub fn problem(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.reason().clone()
    }
}
