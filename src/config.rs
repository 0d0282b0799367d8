//! The configuration file (TOML): its keys, their defaults, and errors that name the key,
//! the file and the line.

use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the daemon can be told. Every key has a default; see `config/merossd.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database, the generated certificate, account and API token live.
    pub data_dir: PathBuf,
    /// The `[mqtt]` table: where plugs and local clients connect.
    pub mqtt: MqttConfig,
    /// The `[[accounts]]` plugs were paired with; empty (the default) has one generated
    /// into the data directory on first start.
    pub accounts: Vec<Account>,
    /// The `[tls]` table; `None` (the default) uses the pair generated into the data
    /// directory.
    pub tls: Option<TlsFiles>,
    /// The `[api]` table: the admin HTTP API.
    pub api: ApiConfig,
    /// The `[store]` table: the database's retention and write queue.
    pub store: StoreConfig,
    /// The `[time]` table: the time zone plugs are given.
    pub time: TimeConfig,
    /// The `[energy]` table: metering polls and how long samples are kept.
    pub energy: EnergyConfig,
    /// The `[homeassistant]` table: MQTT discovery for Home Assistant.
    pub homeassistant: HomeAssistantConfig,
    /// The `[cloud]` table: the Meross cloud HTTP API for MerossIot clients (off by default).
    pub cloud: CloudConfig,
    /// The `[mdns]` table: announcing merossd on the LAN.
    pub mdns: MdnsConfig,
    /// The `[log]` table: level and format.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            mqtt: MqttConfig::default(),
            accounts: Vec::new(),
            tls: None,
            api: ApiConfig::default(),
            store: StoreConfig::default(),
            time: TimeConfig::default(),
            energy: EnergyConfig::default(),
            homeassistant: HomeAssistantConfig::default(),
            cloud: CloudConfig::default(),
            mdns: MdnsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The `[mqtt]` table: the listeners plugs and local tools connect to, and their limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// TLS listeners where plugs connect.
    pub tls_listen: Vec<SocketAddr>,
    /// A plain MQTT listener for tools on this host; `""` disables it.
    #[serde(deserialize_with = "optional_addr")]
    pub local_listen: Option<SocketAddr>,
    /// Plain MQTT listeners for MOKO plugs set to `connect_mode` 0 (no TLS); none by
    /// default. Their logins and messages cross the network unencrypted, and only MOKO
    /// plugs' logins are taken on them.
    pub plain_device_listen: Vec<SocketAddr>,
    /// Seconds a new connection has to finish TLS and send its CONNECT.
    pub handshake_timeout_s: u64,
    /// Connections the gate holds at once, over all listeners; more are closed at once.
    pub max_connections: usize,
    /// Require an account login (user id, md5(user id + key)) on the local listener too.
    pub local_login: bool,
    /// The most plaintext bytes in one TLS record sent to a plug (their buffers: 4 KiB).
    pub max_tls_record: usize,
    /// Accept TLS 1.0 and 1.1 (through OpenSSL), for plugs that offer nothing newer.
    pub legacy_tls: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            tls_listen: vec![SocketAddr::from(([0, 0, 0, 0], 8883))],
            local_listen: Some(SocketAddr::from(([127, 0, 0, 1], 1883))),
            plain_device_listen: Vec::new(),
            handshake_timeout_s: 10,
            max_connections: 1024,
            local_login: false,
            max_tls_record: 4096,
            legacy_tls: false,
        }
    }
}

impl MqttConfig {
    /// `handshake_timeout_s` as a duration, at least one second.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_s.max(1))
    }

    /// The record limit, kept where both TLS stacks take it.
    pub fn max_tls_record(&self) -> usize {
        self.max_tls_record.clamp(512, 16 * 1024)
    }
}

/// A Meross account: the user id and key a plug was paired with, and, for clients of
/// the Meross cloud API (MerossIot), the e-mail and password they log in with.
#[derive(Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The Meross user id, all digits (`accounts[].user_id`); plugs log in with it.
    pub user_id: String,
    /// The shared key (`accounts[].key`, not empty): plugs log in with md5(mac + key), and
    /// messages are signed with it.
    pub key: String,
    /// The e-mail a cloud API client logs in with (matched ignoring case); `None`: no
    /// cloud login for this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The cloud login password in plain text; `password_md5` wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The password as md5 hex, instead of `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_md5: Option<String>,
}

impl Account {
    /// The md5 hex of the cloud login password, if one is set.
    pub fn password_hash(&self) -> Option<String> {
        match (&self.password_md5, &self.password) {
            (Some(md5), _) => Some(md5.to_ascii_lowercase()),
            (None, Some(plain)) => Some(crate::protocol::md5_hex(plain)),
            (None, None) => None,
        }
    }
}

impl std::fmt::Debug for Account {
    // The key and password never reach a log, not even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("key", &"<hidden>")
            .field("email", &self.email)
            .field("password", &self.password_hash().map(|_| "<hidden>"))
            .finish()
    }
}

/// A certificate and key of the user's own, in place of the generated pair.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// `tls.cert`: the PEM certificate (chain) served to plugs; its key must be RSA.
    pub cert: PathBuf,
    /// `tls.key`: the PEM private key of that certificate (RSA: others are refused).
    pub key: PathBuf,
}

/// The `[api]` table: the admin HTTP API (default `127.0.0.1:8080`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Where the admin API listens.
    pub listen: SocketAddr,
    /// The bearer token; when empty one is generated into the data directory.
    pub token: String,
    /// Seconds a device has to answer a command sent through the API.
    pub request_timeout_s: u64,
    /// Serve `/metrics` without the token (for a Prometheus on this host).
    pub metrics_public: bool,
    /// HTTP connections served at once; more are closed at once.
    pub max_connections: usize,
    /// The port firmware images are served on while `merossd upgrade` runs, on the
    /// address the device reaches this host by (0: any free port).
    pub firmware_port: u16,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("listen", &self.listen)
            .field("token", &"<hidden>")
            .field("request_timeout_s", &self.request_timeout_s)
            .field("metrics_public", &self.metrics_public)
            .field("max_connections", &self.max_connections)
            .field("firmware_port", &self.firmware_port)
            .finish()
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: String::new(),
            request_timeout_s: 10,
            metrics_public: false,
            max_connections: 64,
            firmware_port: 0,
        }
    }
}

/// The `[store]` table: how long events are kept and how many writes may wait.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Days the events table keeps.
    pub event_retention_days: u64,
    /// Writes the store's queue holds before it drops (and counts) new ones.
    pub queue_capacity: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            event_retention_days: 30,
            queue_capacity: 10_000,
        }
    }
}

/// The `[time]` table: the time zone plugs are given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeConfig {
    /// IANA zone the plugs are given (`Europe/London`); default: the host's, else UTC.
    pub timezone: String,
}

impl Default for TimeConfig {
    fn default() -> Self {
        TimeConfig {
            timezone: crate::timezone::host_zone_name(),
        }
    }
}

/// The Meross cloud's HTTP API, for scripts and apps built on MerossIot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// Where it listens (plain HTTP, as MerossIot can use); `""` (the default) disables it.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
    /// Serve it over TLS with the daemon's certificate (the one the plugs get) instead
    /// of plain HTTP; clients must then trust that certificate.
    pub tls: bool,
}

/// The `[mdns]` table: merossd announced by mDNS/DNS-SD as `_meross-mqtt._tcp` (and
/// `_meross-api._tcp` with the cloud API), for pairing apps that browse for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnsConfig {
    /// Announce at all.
    pub enabled: bool,
    /// The IPv4 addresses to announce on (their interfaces only); empty: every IPv4
    /// address of this host but loopback.
    pub interfaces: Vec<std::net::Ipv4Addr>,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        MdnsConfig {
            enabled: true,
            interfaces: Vec::new(),
        }
    }
}

/// The `[energy]` table: how often metering plugs are read and how long samples are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnergyConfig {
    /// Seconds between Electricity polls of each metering plug (jittered).
    pub poll_interval_s: u64,
    /// Days full-resolution samples are kept.
    pub raw_retention_days: u64,
    /// Days hourly aggregates are kept.
    pub hourly_retention_days: u64,
}

impl Default for EnergyConfig {
    fn default() -> Self {
        EnergyConfig {
            poll_interval_s: 30,
            raw_retention_days: 7,
            hourly_retention_days: 365,
        }
    }
}

impl EnergyConfig {
    /// `poll_interval_s` as a duration, at least one second; the poller jitters it by 10 %.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_s.max(1))
    }
}

/// The `[homeassistant]` table: discovery, states and commands on merossd's own broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeAssistantConfig {
    /// Publish MQTT discovery, states and availability for Home Assistant.
    pub enabled: bool,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// Where states, availability and commands live (`<base_topic>/<uuid>`...).
    pub base_topic: String,
    /// A link Home Assistant shows on each device's page (e.g. a dashboard reachable
    /// from the browsers that open Home Assistant); `""` leaves it out.
    pub configuration_url: String,
}

impl Default for HomeAssistantConfig {
    fn default() -> Self {
        HomeAssistantConfig {
            enabled: true,
            discovery_prefix: "homeassistant".to_owned(),
            base_topic: "merossd".to_owned(),
            configuration_url: String::new(),
        }
    }
}

fn optional_addr<'de, D: Deserializer<'de>>(de: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(de)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an address such as \"127.0.0.1:1883\" (\"\" disables the listener)"
        ))
    })
}

pub use crate::logging::{LogConfig, LogFormat};
pub use load::ConfigError;

mod load;
#[cfg(test)]
mod tests;
