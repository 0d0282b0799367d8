//! `merossd doctor`: what most often goes wrong, checked one by one on this host, one line
//! each with what to do about it. Exit 0 when every check passes, 1 otherwise. The checks
//! of the host and its files are in `host`; those that ask the running daemon in `daemon`.

mod daemon;
mod host;

use super::call::say;
use super::CliError;
use crate::client::Client;
use crate::config::Config;

/// One check's outcome: what was found, and if it failed, what to do.
pub(super) struct Check {
    pub(super) name: &'static str,
    pub(super) ok: bool,
    pub(super) says: String,
}

impl Check {
    pub(super) fn pass(name: &'static str, says: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            says: says.into(),
        }
    }

    pub(super) fn fail(name: &'static str, says: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            says: says.into(),
        }
    }
}

/// Runs every check, prints one line each, and fails if any failed.
pub(super) async fn run(config: &Config, api: Option<Client>) -> Result<(), CliError> {
    let cfg = config.clone();
    let mut checks = super::pair_wait::off(move || {
        let mut checks = host::listeners(&cfg);
        checks.push(host::certificate(&cfg));
        checks.push(host::clock());
        checks.push(host::disk(&cfg.data_dir));
        checks.push(host::data_dir(&cfg.data_dir));
        checks
    })
    .await?;
    checks.extend(daemon::checks(config, api).await?);
    let failed = checks.iter().filter(|c| !c.ok).count();
    for c in &checks {
        say(format!(
            "{}  {:<12} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.says
        ));
    }
    if failed == 0 {
        return Ok(());
    }
    Err(CliError::Other(format!(
        "{failed} of {} checks failed",
        checks.len()
    )))
}
