//! A request waiting for its device's reply holds a guard: however the wait ends (a
//! reply, a timeout, a replaced switch command, or its caller giving up), its waiter and
//! any note that it was replaced go with it.

use super::{lock, Shared};

pub(super) struct PendingGuard<'a> {
    pub(super) shared: &'a Shared,
    pub(super) id: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.id);
        lock(&self.shared.superseded).remove(&self.id);
    }
}
