//! `merossd doctor`'s checks that ask the running daemon: its API answers with the token,
//! plugs that connected in the last day are bound, and no login was refused.

use super::Check;
use crate::cli::pair_wait::off;
use crate::cli::CliError;
use crate::client::Client;
use crate::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;

/// What "the last day" is.
const DAY_S: u64 = 86_400;
/// Devices looked at in detail, at most.
const MAX_DETAILS: usize = 500;

/// The checks through the API (failing ones when it cannot be reached).
pub(super) async fn checks(config: &Config, api: Option<Client>) -> Result<Vec<Check>, CliError> {
    let Some(api) = api else {
        let dir = config.data_dir.display().to_string();
        return Ok(vec![Check::fail(
            "api",
            format!("no API token: none in [api] token and none in {dir} (has merossd run with this data directory?)"),
        )]);
    };
    off(move || {
        let health = match api.get_if_found("/health") {
            Ok(Some(h)) => h,
            Ok(None) => Value::Null,
            Err(e) => return vec![Check::fail("api", e.to_string())],
        };
        let mut checks = vec![Check::pass(
            "api",
            format!(
                "merossd {} answers with the token; {} devices known, {} online",
                health["version"].as_str().unwrap_or("?"),
                health["devices"]["known"],
                health["devices"]["online"]
            ),
        )];
        let details = recent_details(&api);
        checks.push(unbound(&details));
        checks.push(refused(&api, &details));
        checks
    })
    .await
}

/// The detail of each device heard from in the last day.
fn recent_details(api: &Client) -> Vec<Value> {
    let since = crate::protocol::now_secs().saturating_sub(DAY_S);
    let list = api.call("GET", "/devices", None).unwrap_or(Value::Null);
    list["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["last_seen"].as_u64().is_some_and(|t| t >= since))
        .take(MAX_DETAILS)
        .filter_map(|d| {
            let uuid = d["uuid"].as_str()?;
            api.get_if_found(&format!("/devices/{uuid}")).ok().flatten()
        })
        .collect()
}

fn name(d: &Value) -> String {
    d["display_name"].as_str().unwrap_or("?").to_owned()
}

/// Plugs that connected in the last day and did not bind since.
fn unbound(details: &[Value]) -> Check {
    const NAME: &str = "bound";
    let not: Vec<String> = details
        .iter()
        .filter(|d| {
            let c = &d["connection"];
            let connected_at = (c["last_login"]["outcome"] == "connected")
                .then(|| c["last_login"]["at"].as_u64())
                .flatten();
            let bound_after = |at: u64| d["bound_at"].as_u64().is_some_and(|b| b >= at);
            !c["said_before_bind"].is_null()
                || (d["families"]["moko"].is_null()
                    && connected_at.is_some_and(|at| !bound_after(at)))
        })
        .map(|d| {
            format!(
                "{} ({})",
                name(d),
                d["why_offline"].as_str().unwrap_or("not bound")
            )
        })
        .collect();
    if !not.is_empty() {
        return Check::fail(
            NAME,
            format!("{} connected in the last day but did not bind: {}. A plug that sends no Bind may be paired for another server: pair it again", not.len(), not.join("; ")),
        );
    }
    Check::pass(
        NAME,
        format!(
            "every plug heard from in the last day is bound ({})",
            details.len()
        ),
    )
}

/// Logins refused in the last day, by reason: of known devices and of unknown ones.
fn refused(api: &Client, details: &[Value]) -> Check {
    const NAME: &str = "logins";
    let since = crate::protocol::now_secs().saturating_sub(DAY_S);
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in details {
        let last = &d["connection"]["last_login"];
        if last["outcome"] == "refused" && last["at"].as_u64().is_some_and(|t| t >= since) {
            let why = last["detail"].as_str().unwrap_or("?").to_owned();
            reasons.entry(why).or_default().push(name(d));
        }
    }
    let unknown = api
        .call("GET", "/logins/unknown", None)
        .unwrap_or(Value::Null);
    for l in unknown["logins"].as_array().into_iter().flatten() {
        if l["at"].as_u64().is_some_and(|t| t >= since) {
            let why = format!(
                "{} (a device merossd does not know)",
                l["detail"].as_str().unwrap_or("?")
            );
            reasons
                .entry(why)
                .or_default()
                .push(l["uuid"].as_str().unwrap_or("?").to_owned());
        }
    }
    if reasons.is_empty() {
        return Check::pass(NAME, "no login refused in the last day");
    }
    let said: Vec<String> = reasons
        .iter()
        .map(|(why, who)| format!("{why}: {}", who.join(", ")))
        .collect();
    Check::fail(
        NAME,
        format!("refused in the last day: {}. A plug with another key or account than this merossd's: pair it again (`merossd pair`), or add its account to [[accounts]]", said.join("; ")),
    )
}
