//! The device families' commands (`light`, `thermostat`, `garage`, `cover`, `spray`,
//! `dnd`, `subdevice`, `name-channel`), and a device's channels and families in words,
//! one line each, for these commands and for `merossd device`.

use super::call::{encode, print_json, say, Api};
use super::family_args::{CoverAction, DoorAction, FamilyCommand, OnOff};
use super::words::{
    dnd_line, door_line, each, light_line, shutter_line, spray_line, subdevice_line, text,
    thermostat_line,
};
use super::CliError;
use serde_json::{json, Map, Value};

/// Runs a family command (`remote::run` hands them here).
pub(super) async fn run(command: &FamilyCommand, api: &Api) -> Result<(), CliError> {
    match command {
        FamilyCommand::Light {
            uuid,
            channel,
            on,
            off,
            brightness,
            rgb,
            temperature,
            json,
        } => {
            let mut body = switch(*on, *off);
            put(&mut body, "brightness", *brightness);
            put(&mut body, "rgb", rgb.as_deref());
            put(&mut body, "temperature", *temperature);
            let part = Part::channel("lights", "light", *channel, light_line);
            ask(api, uuid, "light", body, part, *json).await
        }
        FamilyCommand::Thermostat {
            uuid,
            channel,
            on,
            off,
            mode,
            target,
            json,
        } => {
            let mut body = switch(*on, *off);
            put(&mut body, "mode", mode.as_deref());
            put(&mut body, "target_c", *target);
            let part = Part::channel("thermostats", "thermostat", *channel, thermostat_line);
            ask(api, uuid, "thermostat", body, part, *json).await
        }
        FamilyCommand::Garage {
            uuid,
            action,
            channel,
            json,
        } => {
            let mut body = Map::new();
            put(&mut body, "open", Some(*action == DoorAction::Open));
            let part = Part::channel("garage_doors", "door", *channel, door_line);
            ask(api, uuid, "garage", body, part, *json).await
        }
        FamilyCommand::Cover {
            uuid,
            action,
            position,
            channel,
            json,
        } => {
            let mut body = Map::new();
            put(&mut body, "position", *position);
            put(&mut body, "action", action.map(cover_word));
            let part = Part::channel("shutters", "shutter", *channel, shutter_line);
            ask(api, uuid, "shutter", body, part, *json).await
        }
        FamilyCommand::Spray {
            uuid,
            mode,
            channel,
            json,
        } => {
            let mut body = Map::new();
            put(&mut body, "mode", Some(mode.as_str()));
            let part = Part::channel("sprays", "spray", *channel, spray_line);
            ask(api, uuid, "spray", body, part, *json).await
        }
        FamilyCommand::Dnd { uuid, state, json } => dnd(api, uuid, *state, *json).await,
        FamilyCommand::Countdown {
            uuid,
            minutes,
            json,
        } => countdown(api, uuid, *minutes, *json).await,
        FamilyCommand::Subdevice {
            uuid,
            id,
            on,
            off,
            mode,
            target,
            json,
        } => {
            let mut body = switch(*on, *off);
            put(&mut body, "mode", mode.as_deref());
            put(&mut body, "target_c", *target);
            let part = Part {
                list: "subdevices",
                noun: "sub-device",
                key: "id",
                want: Value::from(id.as_str()),
                line: subdevice_line,
            };
            let route = format!("subdevices/{}", encode(id));
            ask(api, uuid, &route, body, part, *json).await
        }
    }
}

/// Which entry of an answer's families the command shows, and how.
struct Part {
    /// The list in `families`, e.g. `lights`.
    list: &'static str,
    /// What a person calls one, e.g. `light`.
    noun: &'static str,
    /// The key the entry is found by: `channel` (then also sent), or a sub-device's `id`.
    key: &'static str,
    /// That key's value.
    want: Value,
    /// The entry, in one line.
    line: fn(&Value) -> String,
}

impl Part {
    /// The entry of `list` on `channel`.
    fn channel(
        list: &'static str,
        noun: &'static str,
        channel: u32,
        line: fn(&Value) -> String,
    ) -> Part {
        Part {
            list,
            noun,
            key: "channel",
            want: Value::from(channel),
            line,
        }
    }
}

/// Sends `body` to the family's route under the device (with the part's channel), or,
/// with nothing to change, reads the device; then prints the part's line, or the JSON
/// answer (`{"uuid", "families"}` either way).
async fn ask(
    api: &Api,
    uuid: &str,
    route: &str,
    mut body: Map<String, Value>,
    part: Part,
    as_json: bool,
) -> Result<(), CliError> {
    let device = format!("/devices/{}", encode(uuid));
    let reply = if body.is_empty() {
        let detail = api.get(device).await?;
        json!({"uuid": uuid, "families": detail["families"]})
    } else {
        if part.key == "channel" {
            body.insert("channel".into(), part.want.clone());
        }
        let path = format!("{device}/{route}");
        api.send("POST", path, Some(Value::Object(body))).await?
    };
    if as_json {
        print_json(&reply);
        return Ok(());
    }
    let found = each(&reply["families"][part.list]).find(|e| e[part.key] == part.want);
    match found {
        Some(entry) => {
            say((part.line)(entry));
            Ok(())
        }
        None => Err(CliError::Other(format!(
            "{uuid} has reported no {} {}",
            part.noun,
            text(&part.want, "?")
        ))),
    }
}

/// `dnd`: the device's answer has no list to pick from.
async fn dnd(api: &Api, uuid: &str, state: OnOff, as_json: bool) -> Result<(), CliError> {
    let on = state == OnOff::On;
    let path = format!("/devices/{}/dnd", encode(uuid));
    let reply = api.send("POST", path, Some(json!({ "on": on }))).await?;
    if as_json {
        print_json(&reply);
    } else {
        say(dnd_line(reply["families"]["dnd"].as_bool().unwrap_or(on)));
    }
    Ok(())
}

/// `countdown`: a MOKO plug's countdown, said back in words.
async fn countdown(api: &Api, uuid: &str, minutes: u32, as_json: bool) -> Result<(), CliError> {
    let path = format!("/devices/{}/countdown", encode(uuid));
    let reply = api
        .send("POST", path, Some(json!({ "minutes": minutes })))
        .await?;
    if as_json {
        print_json(&reply);
        return Ok(());
    }
    let running = &reply["families"]["moko"]["countdown"];
    say(match running["seconds_left"].as_u64() {
        Some(left) => format!(
            "countdown: {} in {} min {} s",
            if running["then_on"] == true {
                "on"
            } else {
                "off"
            },
            left / 60,
            left % 60
        ),
        None => "no countdown".to_owned(),
    });
    Ok(())
}

/// `name-channel`: a PATCH of the device's `channel_names`; empty clears.
pub(super) async fn name_channel(
    api: &Api,
    uuid: &str,
    channel: u32,
    name: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let mut names = Map::new();
    names.insert(channel.to_string(), name.map_or(Value::Null, Value::from));
    let body = json!({ "channel_names": Value::Object(names) });
    let path = format!("/devices/{}", encode(uuid));
    let reply = api.send("PATCH", path, Some(body)).await?;
    if as_json {
        print_json(&reply);
        return Ok(());
    }
    let now = each(&reply["channels"])
        .find(|c| c["channel"] == channel)
        .map(|c| text(&c["name"], ""))
        .unwrap_or_default();
    say(if now.is_empty() {
        format!("{uuid} channel {channel} has no name now")
    } else {
        format!("{uuid} channel {channel} is now called {now}")
    });
    Ok(())
}

/// A body with `on` when `--on` or `--off` was given (clap lets only one through).
fn switch(on: bool, off: bool) -> Map<String, Value> {
    let mut body = Map::new();
    if on || off {
        body.insert("on".into(), Value::Bool(on));
    }
    body
}

/// Puts `key` into the body when the option was given.
fn put<T: Into<Value>>(body: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        body.insert(key.to_owned(), value.into());
    }
}

/// The API's word for a cover action.
fn cover_word(action: CoverAction) -> &'static str {
    match action {
        CoverAction::Open => "open",
        CoverAction::Close => "close",
        CoverAction::Stop => "stop",
    }
}
