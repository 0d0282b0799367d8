//! This process's own business with the system: its open-file limit and the signals that
//! stop it.

use tracing::warn;

/// Raises the soft limit on open files to the hard limit (the default soft limit, 1024,
/// is far under what a house of plugs needs); returns the limit in force.
pub fn raise_open_files_limit() -> Option<usize> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => usize::try_from(limit).ok(),
        Err(error) => {
            warn!(%error, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what systemd sends to stop a service).
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
