//! The client commands: each calls the admin API and prints what a person wants to read
//! (or JSON), in local time.

use super::call::{encode, print_json, say, Api};
use super::resolve;
use super::view::{device_view, events_table, unknown_table};
use super::words::{local, on_off, text};
use super::{CliError, Command};
use crate::client::{devices_table, Client};
use serde_json::{json, Value};

/// What `toggle` was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
    /// The other way round from now.
    Toggle,
}

/// `on`, `OFF`, `Toggle`, ...
pub fn parse_switch(text: &str) -> Result<Switch, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Ok(Switch::On),
        "off" | "0" | "false" => Ok(Switch::Off),
        "toggle" => Ok(Switch::Toggle),
        _ => Err(format!("`{text}`: say on, off or toggle")),
    }
}

/// Runs one client command against the API; a device named by its name or a start of its
/// uuid is first looked up in the device list (a whole uuid goes as it is).
/// `GET path`: as JSON with `--json`, else in words.
async fn show(
    api: &Api,
    path: String,
    json: bool,
    words: fn(&Value) -> String,
) -> Result<(), CliError> {
    let answer = api.get(path).await?;
    if json {
        print_json(&answer);
    } else {
        say(words(&answer));
    }
    Ok(())
}

pub(super) async fn run(mut command: Command, client: Client) -> Result<(), CliError> {
    let api = Api(client);
    if let Some(uuid) = command.uuid_mut() {
        if !resolve::is_full_uuid(uuid.as_str()) {
            let list = api.get("/devices".into()).await?;
            *uuid = resolve::resolve(uuid.as_str(), &list).map_err(CliError::Other)?;
        }
    }
    match &command {
        Command::Devices {
            json,
            unknown: true,
        } => show(&api, "/logins/unknown".into(), *json, unknown_table).await?,
        Command::Devices { json, .. } => {
            show(&api, "/devices".into(), *json, devices_table).await?
        }
        Command::Trace {
            uuid,
            seconds,
            out,
            no_obfuscate,
        } => super::trace::run(&api, uuid, *seconds, out.as_ref(), !no_obfuscate).await?,
        Command::Device { uuid, json } => {
            let path = format!("/devices/{}", encode(uuid));
            show(&api, path, *json, device_view).await?
        }
        Command::Toggle {
            uuid,
            state,
            channel,
        } => toggle(&api, uuid, *state, *channel).await?,
        Command::Forget { uuid } => {
            api.send("DELETE", format!("/devices/{}", encode(uuid)), None)
                .await?;
            say(format!("{uuid} forgotten"));
        }
        Command::Rename { uuid, name } => {
            let body = json!({"name": name});
            let path = format!("/devices/{}", encode(uuid));
            let reply = api.send("PATCH", path, Some(body)).await?;
            say(format!(
                "{uuid} is now called {}",
                text(&reply["display_name"], "(no name)")
            ));
        }
        Command::Events { uuid, limit } => {
            let path = format!("/devices/{}/events?limit={limit}", encode(uuid));
            say(events_table(&api.get(path).await?["events"]));
        }
        Command::Consumption { uuid, days } => {
            let path = format!("/devices/{}/consumption?days={days}", encode(uuid));
            say(consumption_table(&api.get(path).await?));
        }
        Command::Timezone { uuid, zone } => timezone(&api, uuid, zone.as_deref()).await?,
        Command::Power { uuid } => {
            let reply = api
                .get(format!("/devices/{}/electricity", encode(uuid)))
                .await?;
            say(power_lines(&reply));
        }
        Command::History { uuid, since, step } => {
            let from = since_to_epoch(since)?;
            let mut path = format!("/devices/{}/history?from={from}", encode(uuid));
            if let Some(step) = step {
                path.push_str(&format!("&step={}", encode(step)));
            }
            say(history_table(&api.get(path).await?));
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
            print_json(&api.send("POST", path, Some(body)).await?);
        }
        Command::Family(family) => super::family::run(family, &api).await?,
        Command::Schedule(schedule) => super::schedules::run(schedule, &api).await?,
        Command::Upgrade(args) => super::upgrade::run(args, &api).await?,
        Command::NameChannel {
            uuid,
            channel,
            name,
            json,
        } => super::family::name_channel(&api, uuid, *channel, name.as_deref(), *json).await?,
        Command::Serve
        | Command::Account { .. }
        | Command::Sim(_)
        | Command::Doctor
        | Command::CheckConfig { .. }
        | Command::Pair(_)
        | Command::Backup { .. }
        | Command::Restore { .. } => {}
    }
    Ok(())
}

/// `toggle`: a toggle reads the channel's state first.
async fn toggle(api: &Api, uuid: &str, state: Switch, channel: u32) -> Result<(), CliError> {
    let on = match state {
        Switch::On => true,
        Switch::Off => false,
        Switch::Toggle => {
            let detail = api.get(format!("/devices/{}", encode(uuid))).await?;
            let now = detail["channels"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["channel"] == json!(channel))
                .and_then(|c| c["on"].as_bool())
                .ok_or_else(|| CliError::Other(format!("{uuid} has no channel {channel}")))?;
            !now
        }
    };
    let path = format!("/devices/{}/toggle", encode(uuid));
    let body = json!({"channel": channel, "on": on});
    let reply = api.send("POST", path, Some(body)).await?;
    let on = reply.get("on").and_then(Value::as_bool).unwrap_or(on);
    say(format!("{uuid} channel {channel} is {}", on_off(on)));
    Ok(())
}

/// `timezone`: shows the zone, or sets it (`default`: the configured one).
async fn timezone(api: &Api, uuid: &str, zone: Option<&str>) -> Result<(), CliError> {
    let path = format!("/devices/{}", encode(uuid));
    let detail = match zone {
        None => api.get(path).await?,
        Some(zone) => {
            let zone = if zone == "default" {
                Value::Null
            } else {
                json!(zone)
            };
            api.send("PATCH", path, Some(json!({ "timezone": zone })))
                .await?
        }
    };
    say(format!(
        "{uuid} keeps time in {}",
        text(&detail["timezone"], "?")
    ));
    Ok(())
}

/// Daily energy in kWh, and the total.
fn consumption_table(reply: &Value) -> String {
    let mut out = vec!["DATE          kWh".to_owned()];
    for d in reply["days"].as_array().into_iter().flatten() {
        let kwh = d["wh"].as_f64().unwrap_or(0.0) / 1000.0;
        out.push(format!("{:<12} {kwh:>6.3}", text(&d["date"], "?")));
    }
    let total = reply["total_wh"].as_f64().unwrap_or(0.0) / 1000.0;
    out.push(format!("{:<12} {total:>6.3}", "total"));
    out.join("\n")
}

/// Each channel's latest reading.
fn power_lines(reply: &Value) -> String {
    let lines: Vec<String> = reply["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|ch| {
            format!(
                "channel {}: {:.1} W  {:.1} V  {:.3} A",
                ch["channel"],
                ch["power_w"].as_f64().unwrap_or(0.0),
                ch["voltage_v"].as_f64().unwrap_or(0.0),
                ch["current_a"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    lines.join("\n")
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
