//! The command line: `serve`, `account`, `sim`, and the API clients.

use crate::client::{Client, ClientError};
use crate::config::{Config, ConfigError};
use crate::daemon;
use clap::{Parser, Subcommand};

mod account;
pub mod args;
mod call;
mod doctor;
mod error;
mod family;
pub mod family_args;
mod pair;
mod pair_ble;
mod pair_moko;
mod pair_takeover;
mod pair_wait;
mod remote;
mod resolve;
pub mod schedule_args;
mod schedules;
mod sim;
mod trace;
pub mod upgrade;
mod view;
mod words;
pub use error::CliError;
use std::path::{Path, PathBuf};

/// Your own cloud for Meross smart plugs.
#[derive(Parser, Debug)]
#[command(
    name = "merossd",
    version,
    about = "Your own cloud for Meross smart plugs"
)]
pub struct Cli {
    /// Configuration file (TOML). Without one, /etc/merossd/merossd.toml if it exists, else
    /// the defaults.
    #[arg(long, global = true, env = "MEROSSD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` in the config).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Admin API URL for the client commands (default: from the config).
    #[arg(long, global = true, env = "MEROSSD_URL")]
    pub url: Option<String>,
    /// Admin API token for the client commands (default: from the data directory).
    #[arg(long, global = true, env = "MEROSSD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Log level: error, warn, info, debug or trace (default: `[log] level`, info).
    /// `RUST_LOG` (e.g. `info,merossd::gate=debug`) overrides both.
    #[arg(long, global = true, value_parser = parse_level)]
    pub log_level: Option<crate::logging::LogLevel>,
    /// Log format: text or json, one object per line (default: `[log] format`, text).
    #[arg(long, global = true)]
    pub log_format: Option<crate::config::LogFormat>,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the Debian package puts the configuration.
pub const INSTALLED_CONFIG: &str = "/etc/merossd/merossd.toml";

/// What merossd is to do: run the daemon, a local tool, or a call to the daemon's API.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon.
    Serve,
    /// Print what a pairing tool needs: host, TLS port, user id and key (and the API token).
    Account {
        /// One JSON object with the keys host, port, user_id, key.
        #[arg(long)]
        json: bool,
    },
    /// Take a reset plug (in pairing mode: join its Meross_SW_XXXX Wi-Fi first) to this
    /// merossd, and wait until it has connected and bound.
    Pair(pair::PairArgs),
    /// Check a configuration file and print the settings in effect (secrets masked).
    CheckConfig {
        /// The file to check (the same as `--config FILE`).
        file: Option<PathBuf>,
    },
    /// Write one archive with a consistent copy of the database, the account, the API
    /// token, the certificate and the configuration file; the daemon may be running.
    Backup {
        /// Archive to write (its directory must exist).
        file: PathBuf,
        /// Overwrite the archive if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore an archive from `backup` into the data directory (the daemon must be
    /// stopped); what it replaces is kept as `<file>.bak`.
    Restore {
        /// Archive written by `merossd backup`.
        file: PathBuf,
    },
    /// Run simulated plugs against a merossd (for trying it without hardware, and tests).
    Sim(sim::SimArgs),
    /// List devices.
    Devices {
        /// The API's list as JSON, every field of every device.
        #[arg(long)]
        json: bool,
        /// Instead, the last logins that named a device merossd does not know (a plug
        /// whose key does not match, say), newest first.
        #[arg(long)]
        unknown: bool,
    },
    /// Show one device: name, type, firmware, online since, channels, power, its lights,
    /// thermostats, doors, shutters, sprays and sub-devices, last events.
    Device {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// Everything the API knows, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch a channel: on, off, or toggle (the other way round from now).
    Toggle {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// on, off or toggle (any case)
        #[arg(value_parser = remote::parse_switch)]
        state: remote::Switch,
        /// Which channel to switch (a plug with one has channel 0).
        #[arg(long, default_value_t = 0)]
        channel: u32,
    },
    /// Forget a device (it comes back if it connects again).
    Forget {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
    },
    /// Give a device a name (none: back to its default name).
    Rename {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// New name, at most 100 characters; without one, back to the default name.
        name: Option<String>,
    },
    /// Give one of a device's channels a name, say what is plugged in (an empty NAME,
    /// or none, clears it).
    NameChannel {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// The channel, as `merossd device` lists it (a plug with one has channel 0).
        channel: u32,
        /// The name, at most 100 characters; empty or none: no name.
        name: Option<String>,
        /// Print the API's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A device's latest events, newest first, in local time.
    Events {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// How many events to show (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// A metering plug's energy per day.
    Consumption {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// How many days back, today included (at most 3660).
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Show a device's time zone, or set it (`default`: back to the configured one).
    Timezone {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// IANA zone to set, such as Europe/Berlin, or `default`.
        zone: Option<String>,
    },
    /// Read a metering plug's power now.
    Power {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
    },
    /// Show a metering plug's power history.
    History {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// How far back: 30m, 24h, 7d, or a time (RFC 3339 or epoch seconds).
        #[arg(long, default_value = "24h")]
        since: String,
        /// raw or hour (default: raw up to two days, hour beyond).
        #[arg(long)]
        step: Option<String>,
    },
    /// Send any request to a device (signed for you) and print its reply.
    Request {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// The method: GET, SET or DELETE.
        method: String,
        /// e.g. Appliance.System.Runtime
        namespace: String,
        /// JSON payload (default {}).
        payload: Option<String>,
    },
    /// Commands to a device family: light, thermostat, garage, cover, spray, dnd,
    /// subdevice.
    #[command(flatten)]
    Family(family_args::FamilyCommand),
    /// Send a Meross device a firmware image and follow it until it is back with the new
    /// version (or say why not).
    Upgrade(upgrade::UpgradeArgs),
    /// Timers and auto-off rules: timers, timer, autooff.
    #[command(flatten)]
    Schedule(schedule_args::ScheduleCommand),
    /// Record the device's protocol trace (every message to and from it; it is asked
    /// everything its Ability lists meanwhile) and write it to a file to attach to a
    /// report. Obfuscated: identifiers replaced, signs and passwords removed.
    Trace {
        /// The device: its uuid, a unique start of it (4 characters or more) or its name,
        /// as `merossd devices` lists them.
        uuid: String,
        /// How long to record (at most 3600).
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Where to write it (default: `U<uuid>-merossd-<type>-<time>.csv` here).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Keep identifiers, keys and addresses as they are (do not share such a trace).
        #[arg(long)]
        no_obfuscate: bool,
    },
    /// Check what most often goes wrong (listener, certificate, clock, disk, data
    /// directory, API, unbound plugs, refused logins): one line each, with what to do.
    /// Exit 0 when all pass, 1 otherwise.
    Doctor,
}

impl Cli {
    /// The configuration the command runs with: the file (`--config`, else the installed
    /// package's when there is one), then the command line.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.config_file())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(level) = self.log_level {
            config.log.level = level;
        }
        if let Some(format) = self.log_format {
            config.log.format = format;
        }
        Ok(config)
    }

    /// The configuration file in use: `check-config FILE`, `--config`, else the installed
    /// package's when there is one.
    fn config_file(&self) -> Option<&Path> {
        let installed = Path::new(INSTALLED_CONFIG);
        let checked = match &self.command {
            Command::CheckConfig { file } => file.as_deref(),
            _ => None,
        };
        checked
            .or(self.config.as_deref())
            .or_else(|| installed.exists().then_some(installed))
    }

    fn client(&self, config: &Config) -> Result<Client, ClientError> {
        Client::new(config, self.url.clone(), self.token.clone())
    }

    /// Runs the command: the daemon, a local tool, or a call to the running daemon's API.
    pub async fn run(self) -> Result<(), CliError> {
        let config = self.load_config()?;
        match &self.command {
            // Where readiness and watchdog pings go comes from the environment, not the
            // file: it is handed to the daemon beside its configuration.
            Command::Serve => {
                if let Some(warning) = self.config_file().and_then(|f| config.exposed_secrets(f)) {
                    tracing::warn!("{warning}");
                }
                daemon::run(config, crate::notify::Notifier::from_env()).await?
            }
            Command::Account { json } => account::print(&config, *json)?,
            Command::Pair(args) if args.moko => {
                pair_moko::run(args, &config, self.client(&config).ok()).await?
            }
            Command::Pair(args) if args.ble => {
                pair_ble::run(args, &config, self.client(&config).ok()).await?
            }
            Command::Pair(args) if args.current_key.is_some() => {
                pair_takeover::run(args, &config, self.client(&config).ok()).await?
            }
            Command::Pair(args) => pair::run(args, &config, self.client(&config).ok()).await?,
            Command::Doctor => doctor::run(&config, self.client(&config).ok()).await?,
            Command::CheckConfig { .. } => {
                call::say(format!("{config:#?}"));
                if let Some(warning) = self.config_file().and_then(|f| config.exposed_secrets(f)) {
                    call::say(format!("warning: {warning}"));
                }
                call::say(format!(
                    "configuration OK{}",
                    self.config_file()
                        .map(|p| format!(": {}", p.display()))
                        .unwrap_or_else(|| " (the defaults: no file given)".into())
                ));
            }
            Command::Backup { file, force } => {
                let options = crate::backup::BackupOptions {
                    config: self.config_file().map(Path::to_owned),
                    force: *force,
                };
                let report = crate::backup::backup(&config.data_dir, file, &options)
                    .map_err(|e| CliError::Other(format!("backup: {e}")))?;
                call::say(format!(
                    "wrote {} ({} bytes: {}) in {:.2} s",
                    file.display(),
                    report.bytes,
                    report.files.join(", "),
                    report.seconds
                ));
            }
            Command::Restore { file } => {
                let report =
                    crate::backup::restore(&config.data_dir, file).map_err(|e| match e {
                        crate::backup::BackupError::Locked(e) => {
                            CliError::Config(ConfigError(e.to_string()))
                        }
                        other => CliError::Other(format!("restore: {other}")),
                    })?;
                call::say(format!(
                    "restored {} into {} in {:.2} s",
                    report.files.join(", "),
                    config.data_dir.display(),
                    report.seconds
                ));
            }
            Command::Sim(args) => sim::run(args, &config).await?,
            // The command is handed over whole: it may name its device in words, which
            // `remote::run` turns into the uuid first.
            _ => {
                let client = self.client(&config)?;
                remote::run(self.command, client).await?
            }
        }
        Ok(())
    }
}

/// `--log-level`: a level the log filter knows, or an error naming the accepted ones.
fn parse_level(text: &str) -> Result<crate::logging::LogLevel, String> {
    text.parse()
}
