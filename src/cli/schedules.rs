//! `merossd timers`, `timer add | change | rm` and `autooff`: a device's timers and
//! auto-off rules through the API, in words (or JSON).

use super::call::{encode, print_json, say, Api};
use super::schedule_args::{ScheduleCommand, TimerAction};
use super::words::{each, timer_line, trigger_line};
use super::CliError;
use serde_json::{json, Map, Value};

/// Runs a schedule command (`remote::run` hands them here).
pub(super) async fn run(command: &ScheduleCommand, api: &Api) -> Result<(), CliError> {
    match command {
        ScheduleCommand::Timers { uuid, json } => list(api, uuid, *json).await,
        ScheduleCommand::Timer { action } => timer(api, action).await,
        ScheduleCommand::Autooff {
            uuid,
            channel,
            minutes,
            days,
            remove,
            json,
        } => {
            let path = format!("/devices/{}/triggers", encode(uuid));
            let listed = api.get(path.clone()).await?;
            // The enabled rule first: the one `merossd timers` shows as the channel's.
            let mut rules: Vec<&Value> = each(&listed["triggers"]).collect();
            rules.sort_by_key(|t| t["enabled"] != true);
            let mine: Vec<String> = rules
                .into_iter()
                .filter(|t| {
                    t["channel"] == *channel && t["read_only"] != true && t["pending"] != true
                })
                .filter_map(|t| t["id"].as_str().map(str::to_owned))
                .collect();
            let answer = match (minutes, *remove) {
                (None, false) => listed,
                (None, true) => remove_all(api, &path, &mine, listed).await?,
                (Some(minutes), _) => {
                    let mut body = json!({"minutes": minutes});
                    if let Some(days) = days {
                        body["days"] = json!(days);
                    }
                    match mine.first() {
                        Some(id) => {
                            api.send("PATCH", format!("{path}/{id}"), Some(body))
                                .await?
                        }
                        None => {
                            body["channel"] = json!(channel);
                            api.send("POST", path, Some(body)).await?
                        }
                    }
                }
            };
            show(&answer, "triggers", trigger_line, "no auto-off", *json);
            Ok(())
        }
    }
}

async fn remove_all(
    api: &Api,
    path: &str,
    ids: &[String],
    listed: Value,
) -> Result<Value, CliError> {
    let mut answer = listed;
    for id in ids {
        answer = api.send("DELETE", format!("{path}/{id}"), None).await?;
    }
    Ok(answer)
}

async fn list(api: &Api, uuid: &str, as_json: bool) -> Result<(), CliError> {
    let timers = api.get(format!("/devices/{}/timers", encode(uuid))).await?;
    let triggers = api
        .get(format!("/devices/{}/triggers", encode(uuid)))
        .await?;
    if as_json {
        print_json(
            &json!({"uuid": timers["uuid"], "timers": timers["timers"], "triggers": triggers["triggers"]}),
        );
        return Ok(());
    }
    show(&timers, "timers", timer_line, "no timers", false);
    show(&triggers, "triggers", trigger_line, "no auto-off", false);
    Ok(())
}

fn show(answer: &Value, key: &str, line: fn(&Value) -> String, none: &str, as_json: bool) {
    if as_json {
        return print_json(answer);
    }
    let lines: Vec<String> = each(&answer[key]).map(line).collect();
    if lines.is_empty() {
        say(none);
    }
    for l in lines {
        say(l);
    }
}

fn put(body: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        body.insert(key.to_owned(), value);
    }
}

/// `Some(true)` for `--yes`, `Some(false)` for `--no`, else none.
fn either(yes: bool, no: bool) -> Option<Value> {
    (yes || no).then(|| json!(yes))
}

async fn timer(api: &Api, action: &TimerAction) -> Result<(), CliError> {
    let (answer, as_json) = match action {
        TimerAction::Add {
            uuid,
            at,
            days,
            on,
            off: _,
            channel,
            name,
            once,
            json,
        } => {
            let mut body =
                json!({"at": at, "days": days, "on": on, "channel": channel, "repeat": !once});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            let path = format!("/devices/{}/timers", encode(uuid));
            (api.send("POST", path, Some(body)).await?, *json)
        }
        TimerAction::Change {
            uuid,
            id,
            at,
            days,
            on,
            off,
            enable,
            disable,
            name,
            json,
        } => {
            let mut body = Map::new();
            put(&mut body, "at", at.as_ref().map(|a| json!(a)));
            put(&mut body, "days", days.as_ref().map(|d| json!(d)));
            put(&mut body, "on", either(*on, *off));
            put(&mut body, "enabled", either(*enable, *disable));
            put(&mut body, "name", name.as_ref().map(|n| json!(n)));
            let path = format!("/devices/{}/timers/{}", encode(uuid), encode(id));
            (
                api.send("PATCH", path, Some(Value::Object(body))).await?,
                *json,
            )
        }
        TimerAction::Rm { uuid, id } => {
            let path = format!("/devices/{}/timers/{}", encode(uuid), encode(id));
            (api.send("DELETE", path, None).await?, false)
        }
    };
    show(&answer, "timers", timer_line, "no timers", as_json);
    Ok(())
}
