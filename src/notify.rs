//! Tells the service manager how the daemon is (systemd `Type=notify`): `READY=1` once
//! every listener is bound and the store is open, `STATUS=` with the plugs online,
//! `WATCHDOG=1` only while the engine's loop and the store's writer both still work, and
//! `STOPPING=1` at shutdown. Without `NOTIFY_SOCKET` it does nothing.

use crate::engine::Engine;
use crate::shutdown::Shutdown;
use crate::store::Store;
use sd_notify::NotifyState;
use std::path::PathBuf;
use std::time::Duration;
use tracing::warn;

/// How often `STATUS=` is refreshed when there is no watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// Where notifications go.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Target,
    /// The watchdog's timeout, if the service manager set one.
    watchdog: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
enum Target {
    #[default]
    Off,
    /// `NOTIFY_SOCKET`, through sd-notify.
    Systemd,
    /// A datagram socket of the caller's (tests).
    Socket(PathBuf),
}

impl Notifier {
    /// What systemd gave this process (`NOTIFY_SOCKET`, `WATCHDOG_USEC`); off without it.
    pub fn from_env() -> Notifier {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Notifier::default();
        }
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec));
        Notifier {
            target: Target::Systemd,
            watchdog,
        }
    }

    /// Notifications to a datagram socket at `path`, with a watchdog of `watchdog`.
    pub fn to_socket(path: PathBuf, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            target: Target::Socket(path),
            watchdog,
        }
    }

    /// False when there is no service manager to tell (no `NOTIFY_SOCKET`): nothing is sent.
    pub fn is_on(&self) -> bool {
        !matches!(self.target, Target::Off)
    }

    /// Sends `states`; a failure is logged, never fatal.
    pub fn send(&self, states: &[NotifyState]) {
        let result = match &self.target {
            Target::Off => Ok(()),
            Target::Systemd => sd_notify::notify(false, states),
            Target::Socket(path) => {
                let text: Vec<String> = states.iter().map(ToString::to_string).collect();
                std::os::unix::net::UnixDatagram::unbound()
                    .and_then(|s| s.send_to(text.join("\n").as_bytes(), path))
                    .map(|_| ())
            }
        };
        if let Err(error) = result {
            warn!(%error, "cannot notify the service manager");
        }
    }
}

/// The plugs online, as systemd shows it (`systemctl status`).
pub fn status(engine: &Engine) -> String {
    let devices = engine.devices();
    let online = devices.iter().filter(|d| d.online).count();
    format!("{online} of {} plugs online", devices.len())
}

/// Refreshes `STATUS=` and, while the engine and the store's writer prove alive, pings the
/// watchdog at half its timeout. A stuck part stops the pings, so that systemd restarts
/// the daemon.
pub async fn run(notifier: Notifier, engine: Engine, store: Store, mut shutdown: Shutdown) {
    let every = notifier.watchdog.map_or(STATUS_EVERY, |t| t / 2);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat = engine.heartbeat();
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let beat = engine.heartbeat();
        let engine_ok = beat != last_beat;
        last_beat = beat;
        // The writer answers (a full disk is no stuck writer: a restart would not help, and
        // the changes it keeps would be lost).
        let store_ok = matches!(
            tokio::time::timeout(every / 2, store.flush()).await,
            Ok(Ok(()) | Err(crate::store::StoreError::Unwritable(_)))
        );
        let mut text = status(&engine);
        if let Some(why) = store.problem() {
            text = format!("degraded: the database cannot be written ({why}); {text}");
        }
        if notifier.watchdog.is_none() {
            notifier.send(&[NotifyState::Status(&text)]);
        } else if engine_ok && store_ok {
            notifier.send(&[NotifyState::Watchdog, NotifyState::Status(&text)]);
        } else {
            warn!(
                engine_ok,
                store_ok, "not pinging the watchdog: a part of merossd is stuck"
            );
        }
    }
}
