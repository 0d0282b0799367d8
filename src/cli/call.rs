//! How the client commands call the admin API and print: the API called off the async
//! runtime's threads, a uuid made safe for a path, JSON and lines to stdout.

use super::CliError;
use crate::client::{Client, ClientError};
use serde_json::Value;

/// The API, called off the async runtime's threads (the client blocks).
pub(super) struct Api(pub(super) Client);

impl Api {
    /// `GET path` (under `/api/v1`).
    pub(super) async fn get(&self, path: String) -> Result<Value, CliError> {
        self.send("GET", path, None).await
    }

    /// `method path` with a JSON body; the API's error becomes the command's.
    pub(super) async fn send(
        &self,
        method: &'static str,
        path: String,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        Ok(blocking(self.0.clone(), move |c| c.call(method, &path, body)).await?)
    }
}

pub(super) fn encode(uuid: &str) -> String {
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

/// Pretty JSON on stdout.
pub(super) fn print_json(value: &Value) {
    say(serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Writes a line to stdout. A reader that went away (`merossd devices | head -3`) ends the
/// command quietly, as for any Unix tool, instead of a panic.
pub(super) fn say(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("merossd: cannot write to stdout: {e}");
        std::process::exit(1);
    }
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
