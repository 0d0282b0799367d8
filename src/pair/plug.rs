//! A plug's local HTTP API (`POST /config`): one signed request, its answer; encrypted
//! once a key is agreed (`encrypt`).

use super::{encrypt, PairError};
use crate::protocol::{Message, Method};
use serde_json::Value;
use std::time::Duration;

/// How long the plug has to answer one request.
const PLUG_TIMEOUT: Duration = Duration::from_secs(10);

/// The plug's local HTTP API.
pub struct Plug {
    url: String,
    key: String,
    agent: ureq::Agent,
    /// The AES key of its encrypted API, once agreed (`encrypt`); until then, plain.
    cipher: std::sync::Mutex<Option<String>>,
}

impl Plug {
    /// `device` is the plug's base URL (`http://10.10.10.1`); `key` signs the messages
    /// (a plug in pairing mode does not check it).
    pub fn new(device: &str, key: &str) -> Plug {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(PLUG_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Plug {
            url: format!("{}/config", device.trim_end_matches('/')),
            key: key.to_owned(),
            agent,
            cipher: std::sync::Mutex::new(None),
        }
    }

    /// From now on, requests and answers are encrypted with `key`.
    pub fn encrypt_with(&self, key: String) {
        *self.cipher.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
    }

    fn cipher(&self) -> Option<String> {
        self.cipher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends one request and returns the plug's answer; an `ERROR` answer is an error.
    pub fn call(
        &self,
        step: &'static str,
        method: Method,
        namespace: &str,
        payload: Value,
    ) -> Result<Message, PairError> {
        let message = Message::new(method, namespace, payload, &self.url, &self.key);
        let failed = |detail: String| PairError::Step { step, detail };
        let cipher = self.cipher();
        let (body, kind) = match &cipher {
            Some(key) => (
                encrypt::seal(key, &message.to_bytes())
                    .map_err(|e| failed(e.to_string()))?
                    .into_bytes(),
                "text/plain",
            ),
            None => (message.to_bytes(), "application/json"),
        };
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("Content-Type", kind)
            .body(body)
            .map_err(|e| failed(e.to_string()))?;
        let mut response = self.agent.run(request).map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                PairError::Unreachable {
                    url: self.url.clone(),
                    detail: e.to_string(),
                }
            }
            other => PairError::Step {
                step,
                detail: other.to_string(),
            },
        })?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| PairError::Step {
                step,
                detail: e.to_string(),
            })?;
        if !status.is_success() {
            return Err(PairError::Step {
                step,
                detail: format!("HTTP {status}"),
            });
        }
        let plain = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let body = match &cipher {
            Some(key) if !plain => encrypt::open(key, &body).ok_or_else(|| {
                failed("its encrypted answer does not open with the agreed key".to_owned())
            })?,
            _ => body,
        };
        answer_of(step, &body)
    }
}

/// The plug's answer in `json`; an `ERROR` answer is an error.
pub fn answer_of(step: &'static str, json: &[u8]) -> Result<Message, PairError> {
    let reply = Message::parse(json).map_err(|e| PairError::Step {
        step,
        detail: format!("not a Meross message: {e}"),
    })?;
    if reply.header.method == Method::Error {
        return Err(PairError::Refused {
            step,
            code: reply.error_code().unwrap_or(0),
            detail: reply.payload.to_string(),
        });
    }
    Ok(reply)
}
