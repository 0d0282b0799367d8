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
        .or_else(|_| EnvFilter::try_new(format!("{},{QUIET}", config.level)))
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
    /// `error`, `warn`, `info`, `debug` or `trace`; `RUST_LOG` overrides it.
    pub level: String,
    /// `log.format`: `"text"` (the default) or `"json"`; `--log-format` overrides it.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
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
