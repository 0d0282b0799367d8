//! Reading a configuration file: parse it, name the key and line of a bad value, and
//! check what TOML cannot (addresses to listen on, account ids, the time zone, topics).

use super::Config;
use std::path::Path;

/// A configuration that cannot be used; the daemon stops with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `path`, or returns the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Whether the file at `path` holds secrets (an account's key or password, the API
    /// token) and others than its owner may read it: the warning to give, if so.
    pub fn exposed_secrets(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let secrets = !self.api.token.is_empty()
            || self
                .accounts
                .iter()
                .any(|a| !a.key.is_empty() || a.password.is_some());
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (secrets && mode & 0o044 != 0).then(|| {
            format!(
                "{} holds account keys or passwords and others may read it (mode {:o}): `chmod 600 {}` (or 640 with the daemon's group)",
                path.display(),
                mode & 0o777,
                path.display()
            )
        })
    }

    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let start = e.span().map(|s| s.start.min(text.len()));
            let line = start.map(|at| text[..at].matches('\n').count() + 1);
            let place = match line {
                Some(line) => format!("{origin}, line {line}"),
                None => origin.to_owned(),
            };
            let message = e.message().trim_end();
            match start.and_then(|at| key_at(text, at)) {
                Some(key) => ConfigError(format!("{place}: `{key}`: {message}")),
                None => ConfigError(format!("{place}: {message}")),
            }
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{origin}: `{key}` {why}")));
        if self.mqtt.tls_listen.is_empty() {
            return bad(
                "mqtt.tls_listen",
                "needs at least one address: plugs connect there",
            );
        }
        for (i, account) in self.accounts.iter().enumerate() {
            if account.user_id.is_empty() || !account.user_id.chars().all(|c| c.is_ascii_digit()) {
                return bad(
                    &format!("accounts[{i}].user_id"),
                    "must be a number such as \"1234\" (plugs send it as digits)",
                );
            }
            if account.key.is_empty() {
                return bad(&format!("accounts[{i}].key"), "must not be empty");
            }
        }
        if crate::timezone::zone(&self.time.timezone).is_none() {
            return bad(
                "time.timezone",
                &format!(
                    "`{}` is not a time zone the tz database knows (try \"Europe/London\")",
                    self.time.timezone
                ),
            );
        }
        for (key, topic) in [
            (
                "homeassistant.discovery_prefix",
                &self.homeassistant.discovery_prefix,
            ),
            ("homeassistant.base_topic", &self.homeassistant.base_topic),
        ] {
            let ok = !topic.is_empty()
                && !topic.starts_with('/')
                && !topic.ends_with('/')
                && !topic.contains(['+', '#', '\0']);
            if !ok {
                return bad(
                    key,
                    "must be a topic such as \"merossd\" (no wildcards, no leading or trailing /)",
                );
            }
        }
        if self.energy.poll_interval_s == 0 {
            return bad("energy.poll_interval_s", "must be at least 1");
        }
        if self.api.request_timeout_s == 0 {
            return bad("api.request_timeout_s", "must be at least 1");
        }
        if self.mqtt.max_connections == 0 {
            return bad("mqtt.max_connections", "must be at least 1");
        }
        Ok(())
    }
}

/// The dotted key whose value starts on the line holding byte `at` (`mqtt.max_connections`),
/// for error messages: toml names the line of a bad value, not its key.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let section = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    Some(match section {
        Some(section) if !section.is_empty() => format!("{section}.{key}"),
        _ => key.to_owned(),
    })
}
