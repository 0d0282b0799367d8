//! `merossd device` for a person: who it is, whether it is online and, if not, why; its
//! channels and families, its last events; and the logins of unknown devices.

use super::words::{local, text};
use serde_json::Value;

/// One device for a person.
pub(super) fn device_view(d: &Value) -> String {
    let mut out = vec![
        format!(
            "{}  ({})",
            text(&d["display_name"], "(no name)"),
            text(&d["uuid"], "?")
        ),
        format!(
            "type      {} firmware {}",
            text(&d["type"], "?"),
            text(&d["firmware"], "?")
        ),
    ];
    let seen = d["last_seen"].as_u64().map(local).unwrap_or_default();
    out.push(match d["online"].as_bool() {
        Some(true) => format!(
            "online    since {} from {}",
            d["bound_at"]
                .as_u64()
                .map(local)
                .unwrap_or_else(|| seen.clone()),
            // A MOKO plug says no address of its own: where it connected from.
            text(
                if d["ip"].is_null() {
                    &d["peer"]
                } else {
                    &d["ip"]
                },
                "?"
            )
        ),
        _ => format!("offline   last seen {seen}"),
    });
    if let Some(why) = d["why_offline"].as_str() {
        out.push(format!("why       {why}"));
    }
    let connection = &d["connection"];
    if let Some(at) = connection["last_login"]["at"].as_u64() {
        out.push(format!(
            "last try  {} from {}: {} ({})",
            local(at),
            text(&connection["last_login"]["from"], "?"),
            text(&connection["last_login"]["outcome"], "?").replace('_', " "),
            text(&connection["last_login"]["detail"], "")
        ));
    }
    if let Some(n) = connection["reconnects_24h"].as_u64().filter(|n| *n > 0) {
        out.push(format!("reconnects {n} in the last 24 h"));
    }
    out.push(format!("mac       {}", text(&d["mac"], "?")));
    if !d["tls"].is_null() {
        out.push(format!("tls       {}", text(&d["tls"], "?")));
    }
    out.push(format!("time zone {}", text(&d["timezone"], "?")));
    out.extend(super::words::lines(d));
    let events = d["events"].as_array().cloned().unwrap_or_default();
    if !events.is_empty() {
        out.push("last events:".to_owned());
        out.push(events_table(&Value::Array(
            events.into_iter().take(10).collect(),
        )));
    }
    out.join("\n")
}

/// The last logins naming unknown devices, one line each.
pub(super) fn unknown_table(list: &Value) -> String {
    let rows: Vec<String> = list["logins"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "{}  {}  from {}  user {}: {}",
                local(l["at"].as_u64().unwrap_or(0)),
                text(&l["uuid"], "?"),
                text(&l["from"], "?"),
                text(&l["user"], "-"),
                text(&l["detail"], "")
            )
        })
        .collect();
    if rows.is_empty() {
        return "no refused logins of unknown devices since merossd started".to_owned();
    }
    let head = "a plug tried to connect but its login does not match (wrong key or account):";
    format!("{head}\n{}", rows.join("\n"))
}

pub(super) fn events_table(events: &Value) -> String {
    let rows: Vec<String> = events
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "  {}  {:<14} {}",
                local(e["at"].as_u64().unwrap_or(0)),
                text(&e["kind"], "?"),
                text(&e["detail"], "")
            )
        })
        .collect();
    if rows.is_empty() {
        "  (no events)".to_owned()
    } else {
        rows.join("\n")
    }
}
