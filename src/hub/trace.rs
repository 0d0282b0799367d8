//! Recording a device's protocol trace: every message to and from it passes the hub, which
//! hands each one of a device being traced to its recording, as a row of the fixtures'
//! format (`protocol::trace`), obfuscated unless the owner said not to
//! (`protocol::obfuscate`). Bounded: a few traces at once, each at most an hour and
//! [`MAX_BYTES`]; a device not traced costs one atomic load per message.

use crate::protocol::obfuscate::Obfuscator;
use crate::protocol::trace::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most a trace may hold.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The longest trace.
pub const MAX_SECONDS: u64 = 3600;
/// Traces recorded, or kept for download, at once; a finished one makes room for a new
/// one, the oldest first.
pub const MAX_TRACES: usize = 8;
/// How long a finished trace is kept for download.
const KEEP: Duration = Duration::from_secs(3600);

/// Why a trace cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// Asked for 0 s or more than [`MAX_SECONDS`].
    #[error("`seconds` must be 1 to {MAX_SECONDS}")]
    Seconds,
    /// [`MAX_TRACES`] traces are being recorded already.
    #[error("{MAX_TRACES} traces are being recorded already; wait for one to end")]
    Full,
}

struct Recording {
    until: Instant,
    obfuscator: Option<Obfuscator>,
    text: String,
    truncated: bool,
}

/// A trace as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Its rows, one line each.
    pub text: String,
    /// Its time is up.
    pub done: bool,
    /// Rows were left out past [`MAX_BYTES`].
    pub truncated: bool,
    /// Seconds left (0 once done).
    pub seconds_left: u64,
}

/// The recordings, by device.
#[derive(Default)]
pub struct Tracer {
    /// How many recordings are under way (read on every message).
    recording: AtomicUsize,
    traces: Mutex<HashMap<String, Recording>>,
}

impl Tracer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Recording>> {
        self.traces.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or starts again) recording `uuid` (with `mac`) for `seconds`. Its uuid and
    /// MAC get their stand-ins first, so that [`Tracer::stand_in`] names it from the start.
    pub fn start(
        &self,
        uuid: &str,
        mac: Option<&str>,
        seconds: u64,
        obfuscate: bool,
    ) -> Result<(), TraceError> {
        if seconds == 0 || seconds > MAX_SECONDS {
            return Err(TraceError::Seconds);
        }
        let now = Instant::now();
        let mut traces = self.lock();
        traces.retain(|_, r| r.until + KEEP > now);
        if !traces.contains_key(uuid) && traces.len() >= MAX_TRACES {
            let oldest_done = traces
                .iter()
                .filter(|(_, r)| r.until <= now)
                .min_by_key(|(_, r)| r.until)
                .map(|(k, _)| k.clone());
            match oldest_done {
                Some(done) => traces.remove(&done),
                None => return Err(TraceError::Full),
            };
        }
        traces.insert(
            uuid.to_owned(),
            Recording {
                until: now + Duration::from_secs(seconds),
                obfuscator: obfuscate.then(|| {
                    let mut o = Obfuscator::default();
                    let _ = o.data(&serde_json::json!({"uuid": uuid, "macAddress": mac}), false);
                    o
                }),
                text: String::new(),
                truncated: false,
            },
        );
        let under_way = traces.values().filter(|r| r.until > now).count();
        self.recording.store(under_way, Ordering::Relaxed);
        Ok(())
    }

    /// A message to (`rx` false) or from device `uuid` on `topic`.
    pub fn tap(&self, uuid: &str, rx: bool, topic: &str, payload: &[u8]) {
        if self.recording.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = Instant::now();
        let mut traces = self.lock();
        let Some(r) = traces.get_mut(uuid).filter(|r| r.until > now) else {
            return;
        };
        let Some(mut row) = Row::of(crate::protocol::now_secs(), rx, topic, payload) else {
            return;
        };
        if let Some(o) = r.obfuscator.as_mut() {
            row.data = o.data(&row.data, row.namespace.starts_with("Appliance.Hub."));
        }
        let line = row.line();
        if r.text.len() + line.len() > MAX_BYTES {
            r.truncated = true;
        } else {
            r.text.push_str(&line);
        }
    }

    /// The trace of `uuid`, if one was started (and not yet forgotten).
    pub fn get(&self, uuid: &str) -> Option<Trace> {
        let now = Instant::now();
        let mut traces = self.lock();
        let under_way = traces.values().filter(|r| r.until > now).count();
        self.recording.store(under_way, Ordering::Relaxed);
        let r = traces.get_mut(uuid)?;
        Some(Trace {
            text: r.text.clone(),
            done: r.until <= now,
            truncated: r.truncated,
            seconds_left: r.until.saturating_duration_since(now).as_secs(),
        })
    }

    /// The stand-in of `uuid` in its obfuscated trace (itself when not obfuscated).
    pub fn stand_in(&self, uuid: &str) -> String {
        let traces = self.lock();
        match traces.get(uuid).and_then(|r| r.obfuscator.as_ref()) {
            Some(o) => o.inside_of(uuid),
            None => uuid.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Message, Method};
    use serde_json::json;

    fn message(uuid: &str) -> Vec<u8> {
        Message::new(
            Method::GetAck,
            "Appliance.System.All",
            json!({"all": {"system": {"hardware": {"uuid": uuid}}}}),
            "/appliance/x/publish",
            "k",
        )
        .to_bytes()
    }

    #[test]
    fn only_a_traced_device_is_recorded_and_its_uuid_is_replaced() {
        let t = Tracer::default();
        let uuid = "2103170812345678901234298f1a2b3c";
        t.tap(uuid, true, "/appliance/x/publish", &message(uuid));
        t.start(uuid, None, 60, true).unwrap();
        t.tap(uuid, true, "/appliance/x/publish", &message(uuid));
        t.tap("other", true, "/appliance/x/publish", &message("other"));
        let trace = t.get(uuid).unwrap();
        assert_eq!(trace.text.lines().count(), 1);
        assert!(!trace.text.contains(uuid), "{}", trace.text);
        assert!(trace.text.contains(&t.stand_in(uuid)));
        assert!(t.get("other").is_none());
        assert!(!trace.done);
    }

    #[test]
    fn a_trace_is_bounded_in_time_count_and_size() {
        let t = Tracer::default();
        assert_eq!(t.start("u", None, 0, true), Err(TraceError::Seconds));
        assert_eq!(
            t.start("u", None, MAX_SECONDS + 1, true),
            Err(TraceError::Seconds)
        );
        for n in 0..MAX_TRACES {
            t.start(&format!("u{n}"), None, 1, false).unwrap();
        }
        assert_eq!(t.start("more", None, 1, false), Err(TraceError::Full));
        let big = vec![b'x'; 64 * 1024];
        let topic = "iot_plug/plug_one/us/11:22:33:44:55:66/device/switch_state";
        for _ in 0..40 {
            t.tap("u0", true, topic, &big);
        }
        let trace = t.get("u0").unwrap();
        assert!(trace.truncated && trace.text.len() <= MAX_BYTES);
    }
}
