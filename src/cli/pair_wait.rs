//! After pairing: follows the daemon until the plug is in (a Meross plug bound, a MOKO
//! plug connected), printing each change of what it sees, and says why not if it is not;
//! and `off`, which runs both pairings' blocking calls off the runtime.

use super::call::say;
use super::CliError;
use crate::client::Client;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Runs a blocking call off the runtime.
pub(super) async fn off<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CliError::Other(e.to_string()))
}

/// Counters that tell why a plug did not get in.
#[derive(Default)]
pub(super) struct Counts {
    refused: u64,
    tls_failed: u64,
}

impl Counts {
    /// Read from the daemon's `/metrics` (zeros when it cannot be read).
    pub(super) async fn read(api: &Client) -> Counts {
        let api = api.clone();
        off(move || Counts {
            refused: api.counter("merossd_refused_logins").unwrap_or(0),
            tls_failed: api.counter("merossd_handshake_failures").unwrap_or(0),
        })
        .await
        .unwrap_or_default()
    }
}

/// Which kind of plug, for what "in" means and what a refusal says.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// In once it bound (`bound_at`) after pairing started.
    Meross,
    /// In once it is online and was heard from after pairing started (no Bind in MOKO).
    Moko,
}

/// What to follow, and since when.
pub(super) struct Follow {
    /// The device's id in merossd (a uuid, or `moko<mac hex>`).
    pub(super) id: String,
    pub(super) kind: Kind,
    /// Seconds since the epoch when pairing began.
    pub(super) started: u64,
    pub(super) timeout: Duration,
    /// The counters before pairing began.
    pub(super) before: Counts,
}

impl Follow {
    /// What the device view `detail` says of the plug; `None` once it is in.
    fn state(&self, detail: &Option<Value>) -> Option<&'static str> {
        let since = |field: &str| {
            detail
                .as_ref()
                .and_then(|d| d[field].as_u64())
                .is_some_and(|t| t >= self.started)
        };
        match (detail, self.kind) {
            (None, _) => Some("waiting for the plug to join the Wi-Fi and connect"),
            (Some(d), _) if d["online"] != true => Some("known to merossd, not connected yet"),
            (Some(_), Kind::Meross) if since("bound_at") => None,
            (Some(_), Kind::Moko) if since("last_seen") => None,
            (Some(_), Kind::Meross) => Some("connected; waiting for its Bind"),
            (Some(_), Kind::Moko) => Some("connected before pairing; waiting for it to reconnect"),
        }
    }

    /// Polls the device view twice a second until the plug is in or the time is up.
    pub(super) async fn run(&self, api: &Client) -> Result<(), CliError> {
        let deadline = Instant::now() + self.timeout;
        let mut said = "";
        let mut connected = false;
        loop {
            let (a, path) = (api.clone(), format!("/devices/{}", self.id));
            let detail = off(move || a.get_if_found(&path)).await??;
            let Some(now) = self.state(&detail) else {
                let done = match self.kind {
                    Kind::Meross => "is connected and bound",
                    Kind::Moko => "is connected",
                };
                say(format!("{} {done}", self.id));
                return Ok(());
            };
            connected |= detail.as_ref().is_some_and(|d| d["online"] == true);
            if now != said {
                eprintln!("{now}");
                said = now;
            }
            if Instant::now() >= deadline {
                let why = self.why_not(api, connected).await;
                return Err(CliError::Other(format!(
                    "{} did not {} within {} s: {why}",
                    self.id,
                    if self.kind == Kind::Meross {
                        "bind"
                    } else {
                        "connect"
                    },
                    self.timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn why_not(&self, api: &Client, connected: bool) -> &'static str {
        let after = Counts::read(api).await;
        if connected && self.kind == Kind::Moko {
            "it stayed on its old connection and did not reconnect with the new login"
        } else if connected {
            "it connected but did not bind (see the daemon's log)"
        } else if after.refused > self.before.refused {
            match self.kind {
                Kind::Meross => "a login was refused: the plug has another key than this merossd (re-pair it, or check --account)",
                Kind::Moko => "a login was refused: the plug has another login than the one just given (re-pair it)",
            }
        } else if after.tls_failed > self.before.tls_failed {
            "a TLS handshake failed: the daemon's warn line names what the plug offered"
        } else {
            "it never connected: check the Wi-Fi name and password, and that the plug can reach this host"
        }
    }
}
