//! Where log lines go and what they look like: stderr (the journal under systemd), text
//! or JSON, colour only on a terminal, at the configured level. `RUST_LOG` wins over the
//! configuration when set.

use serde::Deserialize;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// rumqttd logs every ordinary disconnect at ERROR; the gate counts and logs what matters
/// about connections. `RUST_LOG=info,rumqttd=debug` shows it anyway.
const QUIET: &str = "rumqttd=off";

/// Starts logging. Call once, first thing.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},{QUIET}", config.level.as_str())))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

/// How merossd logs (to stderr; under systemd, the journal).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `log.level`: `error`, `warn` (or `warning`), `info` (the default), `debug` or
    /// `trace`; `--log-level` and `RUST_LOG` override it.
    pub level: LogLevel,
    /// `log.format`: `"text"` (the default) or `"json"`; `--log-format` overrides it.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: LogLevel::Info,
            format: LogFormat::Text,
        }
    }
}

/// How much is logged. Anything else is refused, naming the accepted values: a level the
/// filter does not know would otherwise silence the daemon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings (refused logins, bad packets...).
    Warn,
    /// What an operator wants to see (the default).
    #[default]
    Info,
    /// Every session step.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The level as the log filter takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<LogLevel, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(LogLevel::Error),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            _ => Err(format!(
                "`{text}` is not a log level: error, warn, info, debug or trace"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<LogLevel, D::Error> {
        let text = String::deserialize(de)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Lines for people, or one JSON object per line for log shippers.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured only when stderr is a terminal (the default).
    #[default]
    Text,
    /// One JSON object per line, never coloured.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_a_wrong_one_names_the_accepted_values() {
        assert_eq!("warning".parse(), Ok(LogLevel::Warn));
        assert_eq!("DEBUG".parse(), Ok(LogLevel::Debug));
        let err = "loud".parse::<LogLevel>().unwrap_err();
        assert!(err.contains("error, warn, info, debug or trace"), "{err}");
    }
}
