//! The command line: `serve`, `account`, `sim`, and the API clients.

use crate::client::{devices_table, Client, ClientError};
use crate::config::{Config, ConfigError};
use crate::daemon::{self, StartError};
use crate::datadir::DataDir;
use clap::{Parser, Subcommand};

mod sim;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "merossd",
    version,
    about = "Your own cloud for Meross smart plugs"
)]
pub struct Cli {
    /// Configuration file (TOML); without one, the defaults apply.
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
    #[command(subcommand)]
    pub command: Command,
}

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
    /// Run simulated plugs against a merossd (for trying it without hardware, and tests).
    Sim(sim::SimArgs),
    /// List devices.
    Devices,
    /// Show one device.
    Device { uuid: String },
    /// Switch a channel on or off.
    Toggle {
        uuid: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[arg(long, default_value_t = 0)]
        channel: u32,
    },
    /// Read a metering plug's power now.
    Power { uuid: String },
    /// Show a metering plug's power history.
    History {
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
        uuid: String,
        /// GET or SET
        method: String,
        /// e.g. Appliance.System.Runtime
        namespace: String,
        /// JSON payload (default {}).
        payload: Option<String>,
    },
}

/// What went wrong, with the exit code it deserves.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => 2,
            CliError::Start(e) => e.exit_code(),
            CliError::Client(_) | CliError::Other(_) => 1,
        }
    }
}

impl Cli {
    fn load_config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        Ok(config)
    }

    fn client(&self, config: &Config) -> Result<Client, ClientError> {
        Client::new(config, self.url.clone(), self.token.clone())
    }

    pub async fn run(self) -> Result<(), CliError> {
        let config = self.load_config()?;
        match &self.command {
            Command::Serve => daemon::run(config).await?,
            Command::Account { json } => account(&config, *json)?,
            Command::Sim(args) => sim::run(args, &config).await?,
            Command::Devices => {
                let list =
                    blocking(self.client(&config)?, |c| c.call("GET", "/devices", None)).await?;
                println!("{}", devices_table(&list));
            }
            Command::Device { uuid } => {
                let path = format!("/devices/{}", encode(uuid));
                print_json(
                    &blocking(self.client(&config)?, move |c| c.call("GET", &path, None)).await?,
                );
            }
            Command::Toggle {
                uuid,
                state,
                channel,
            } => {
                let path = format!("/devices/{}/toggle", encode(uuid));
                let body = json!({"channel": channel, "on": state == "on"});
                let reply = blocking(self.client(&config)?, move |c| {
                    c.call("POST", &path, Some(body))
                })
                .await?;
                let on = reply.get("on").and_then(Value::as_bool).unwrap_or(false);
                println!(
                    "{uuid} channel {channel} is {}",
                    if on { "on" } else { "off" }
                );
            }
            Command::Power { uuid } => {
                let path = format!("/devices/{}/electricity", encode(uuid));
                let reply =
                    blocking(self.client(&config)?, move |c| c.call("GET", &path, None)).await?;
                for ch in reply["channels"].as_array().into_iter().flatten() {
                    println!(
                        "channel {}: {:.1} W  {:.1} V  {:.3} A",
                        ch["channel"],
                        ch["power_w"].as_f64().unwrap_or(0.0),
                        ch["voltage_v"].as_f64().unwrap_or(0.0),
                        ch["current_a"].as_f64().unwrap_or(0.0)
                    );
                }
            }
            Command::History { uuid, since, step } => {
                let from = since_to_epoch(since)?;
                let mut path = format!("/devices/{}/history?from={from}", encode(uuid));
                if let Some(step) = step {
                    path.push_str(&format!("&step={}", encode(step)));
                }
                let reply =
                    blocking(self.client(&config)?, move |c| c.call("GET", &path, None)).await?;
                println!("{}", history_table(&reply));
            }
            Command::Request {
                uuid,
                method,
                namespace,
                payload,
            } => {
                let payload: Value = match payload {
                    Some(text) => serde_json::from_str(text)
                        .map_err(|e| CliError::Other(format!("PAYLOAD is not JSON: {e}")))?,
                    None => json!({}),
                };
                let path = format!("/devices/{}/request", encode(uuid));
                let body = json!({"method": method, "namespace": namespace, "payload": payload});
                print_json(
                    &blocking(self.client(&config)?, move |c| {
                        c.call("POST", &path, Some(body))
                    })
                    .await?,
                );
            }
        }
        Ok(())
    }
}

/// `30m`, `24h`, `7d` back from now, or a time as the API takes it.
fn since_to_epoch(since: &str) -> Result<String, CliError> {
    let units = [('s', 1u64), ('m', 60), ('h', 3600), ('d', 86_400)];
    if let Some((unit, secs)) = units.iter().find(|(u, _)| since.ends_with(*u)) {
        if let Ok(n) = since.trim_end_matches(*unit).parse::<u64>() {
            return Ok(crate::protocol::now_secs()
                .saturating_sub(n * secs)
                .to_string());
        }
    }
    if since.parse::<u64>().is_ok() || since.parse::<jiff::Timestamp>().is_ok() {
        return Ok(since.to_owned());
    }
    Err(CliError::Other(format!(
        "--since {since}: use 30m, 24h, 7d, RFC 3339 or epoch seconds"
    )))
}

fn history_table(reply: &Value) -> String {
    let local = |t: u64| {
        jiff::Timestamp::from_second(t as i64)
            .map(|t| {
                t.to_zoned(jiff::tz::TimeZone::system())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let points = reply["points"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    if reply["step"] == "hour" {
        out.push("HOUR                 CH   AVG W    MIN W    MAX W      Wh".to_owned());
        for p in &points {
            out.push(format!(
                "{:<20} {:>2} {:>7.1} {:>8.1} {:>8.1} {:>7.1}",
                local(p["hour"].as_u64().unwrap_or(0)),
                p["channel"],
                p["avg_w"].as_f64().unwrap_or(0.0),
                p["min_w"].as_f64().unwrap_or(0.0),
                p["max_w"].as_f64().unwrap_or(0.0),
                p["energy_wh"].as_f64().unwrap_or(0.0)
            ));
        }
    } else {
        out.push("TIME                 CH   POWER W  VOLTAGE V  CURRENT A".to_owned());
        for p in &points {
            out.push(format!(
                "{:<20} {:>2} {:>9.1} {:>10.1} {:>10.3}",
                local(p["at"].as_u64().unwrap_or(0)),
                p["channel"],
                p["power_w"].as_f64().unwrap_or(0.0),
                p["voltage_v"].as_f64().unwrap_or(0.0),
                p["current_a"].as_f64().unwrap_or(0.0)
            ));
        }
    }
    if points.is_empty() {
        out.push("(no readings in that range yet)".to_owned());
    }
    out.join("\n")
}

fn encode(uuid: &str) -> String {
    uuid.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32 & 0xff)
            }
        })
        .collect()
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Runs a blocking HTTP call off the async runtime.
async fn blocking<T: Send + 'static>(
    client: Client,
    call: impl FnOnce(&Client) -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(move || call(&client))
        .await
        .map_err(|e| ClientError(e.to_string()))?
}

/// `merossd account`: host, TLS port, user id, key (and where the API is).
fn account(config: &Config, as_json: bool) -> Result<(), CliError> {
    let data = DataDir::existing(&config.data_dir);
    let accounts = daemon::existing_accounts(config).map_err(|e| CliError::Other(e.to_string()))?;
    let account = &accounts[0];
    let port = config.mqtt.tls_listen[0].port();
    let host = crate::host::addresses()
        .into_iter()
        .find(|ip| ip.is_ipv4())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let token = if config.api.token.is_empty() {
        data.read_api_token()
    } else {
        Some(config.api.token.clone())
    };
    if as_json {
        print_json(
            &json!({"host": host, "port": port, "user_id": account.user_id, "key": account.key}),
        );
    } else {
        println!("host     {host}");
        println!("port     {port}");
        println!("user_id  {}", account.user_id);
        println!("key      {}", account.key);
        println!("api      http://{}", config.api.listen);
        println!(
            "token    {}",
            token.unwrap_or_else(|| "(generated when the daemon first starts)".into())
        );
    }
    Ok(())
}
