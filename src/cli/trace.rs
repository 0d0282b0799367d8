//! `merossd trace UUID`: records the device's protocol trace for a while (the daemon asks
//! it everything its Ability lists meanwhile), then writes it where the owner says, in the
//! fixtures' format and obfuscated unless `--no-obfuscate`: a file to attach to a report,
//! and a `merossd sim --trace` device as it is.

use super::call::{encode, say, Api};
use super::CliError;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// How often the wait says how long is left.
const SAY_EVERY: Duration = Duration::from_secs(30);

/// Records `uuid` for `seconds` and writes the trace to `out` (default: the name the
/// daemon gives it).
pub(super) async fn run(
    api: &Api,
    uuid: &str,
    seconds: u64,
    out: Option<&PathBuf>,
    obfuscate: bool,
) -> Result<(), CliError> {
    let path = format!("/devices/{}/trace", encode(uuid));
    let body = json!({"seconds": seconds, "obfuscate": obfuscate});
    let started = api.send("POST", path.clone(), Some(body)).await?;
    let out = out
        .cloned()
        .unwrap_or_else(|| PathBuf::from(started["file"].as_str().unwrap_or("merossd-trace.csv")));
    eprintln!(
        "recording {} for {} s{} (the plug is asked everything it lists meanwhile)",
        uuid,
        seconds,
        if obfuscate {
            ", obfuscated"
        } else {
            ", NOT obfuscated"
        }
    );
    let total = Duration::from_secs(seconds);
    let deadline = tokio::time::Instant::now() + total;
    // Bounded by the trace's own length.
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(SAY_EVERY)).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !left.is_zero() {
            eprintln!("{} s left", left.as_secs());
        }
    }
    let trace = api.get(path).await?;
    let text = trace.as_str().unwrap_or_default();
    std::fs::write(&out, text)
        .map_err(|e| CliError::Other(format!("cannot write {}: {e}", out.display())))?;
    say(format!(
        "{} messages written to {}",
        text.lines().count(),
        out.display()
    ));
    Ok(())
}
