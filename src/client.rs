//! The command-line clients (`merossd devices`, `toggle`, ...): they talk to the admin API
//! of the daemon on this host, found from the config and data directory.

use crate::config::Config;
use crate::datadir::DataDir;
use serde_json::{json, Value};
use std::time::Duration;

/// Longest a command waits for the daemon (a toggle waits for the device too).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the API is and how to get in (cheap to clone: the agent is shared).
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// An error for the user: one clear line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

impl Client {
    /// From `--url`/`--token` (or `MEROSSD_URL`/`MEROSSD_TOKEN`), else the config and data
    /// directory of the daemon on this host.
    pub fn new(
        config: &Config,
        url: Option<String>,
        token: Option<String>,
    ) -> Result<Client, ClientError> {
        let base = url.unwrap_or_else(|| {
            let mut addr = config.api.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        });
        let token = match token {
            Some(t) => t,
            None if !config.api.token.is_empty() => config.api.token.clone(),
            None => DataDir::existing(&config.data_dir)
                .read_api_token()
                .ok_or_else(|| {
                    ClientError(format!(
                    "no API token: the daemon has not run with data directory {} (or pass --token)",
                    config.data_dir.display()
                ))
                })?,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CLIENT_TIMEOUT))
            .build()
            .into();
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            agent,
        })
    }

    /// `GET path`, with a 404 as `None` (a device not known yet, say).
    pub fn get_if_found(&self, path: &str) -> Result<Option<Value>, ClientError> {
        let url = format!("{}/api/v1{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        match response {
            Ok(r) if r.status().as_u16() == 404 => Ok(None),
            _ => self.call("GET", path, None).map(Some),
        }
    }

    /// The value of a counter in `/metrics` (0 when absent).
    pub fn counter(&self, name: &str) -> Result<u64, ClientError> {
        let url = format!("{}/metrics", self.base);
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| ClientError(format!("request to {} failed: {e}", self.base)))?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok(text
            .lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum())
    }

    /// Calls the API; a non-2xx answer becomes its error message.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}/api/v1{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("PATCH", body) => self
                .agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or(json!({}))),
            (_, body) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or(json!({}))),
        };
        self.answer(result)
    }

    /// `POST path` with raw bytes (a firmware image) as the body.
    pub fn post_bytes(&self, path: &str, bytes: &[u8]) -> Result<Value, ClientError> {
        let url = format!("{}/api/v1{path}", self.base);
        let result = (self.agent.post(&url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/octet-stream")
            .send(bytes);
        self.answer(result)
    }

    /// The API's answer as JSON, or its error's message.
    fn answer(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut response = result.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                ClientError(format!(
                    "cannot reach merossd at {} (is it running? `merossd serve`)",
                    self.base
                ))
            }
            other => ClientError(format!("request to {} failed: {other}", self.base)),
        })?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            Ok(value)
        } else {
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}"));
            Err(ClientError(message))
        }
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

fn channels(v: &Value) -> String {
    let list: Vec<String> = v
        .get("channels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let on = c.get("on").and_then(Value::as_bool).unwrap_or(false);
            format!(
                "{}:{}",
                c.get("channel").and_then(Value::as_u64).unwrap_or(0),
                if on { "on" } else { "off" }
            )
        })
        .collect();
    if list.is_empty() {
        "-".into()
    } else {
        list.join(" ")
    }
}

/// The `devices` table: name, uuid, type, firmware, online, channels.
pub fn devices_table(list: &Value) -> String {
    let rows: Vec<[String; 6]> = list
        .get("devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            [
                text(d, "display_name"),
                text(d, "uuid"),
                text(d, "type"),
                text(d, "firmware"),
                if d.get("online").and_then(Value::as_bool).unwrap_or(false) {
                    "yes".into()
                } else {
                    "no".into()
                },
                channels(d),
            ]
        })
        .collect();
    let header = ["NAME", "UUID", "TYPE", "FIRMWARE", "ONLINE", "CHANNELS"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 6]| {
        row.iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(&header)];
    out.extend(rows.iter().map(line));
    if rows.is_empty() {
        out.push("(no devices yet: pair a plug with `merossd account`'s values)".into());
    }
    out.join("\n")
}
