//! A device as people type it: its uuid, a unique start of its uuid, or its name. The
//! client commands turn that text into the uuid the API wants, from the API's device
//! list, before they run.

use super::Command;
use serde_json::Value;

/// The fewest characters of a uuid that count as its start.
pub(super) const MIN_PREFIX: usize = 4;

/// Whether `text` is a whole uuid as devices have them: 32 lower-case hex digits. Such a
/// text goes to the API as it is, with no look-up.
pub(super) fn is_full_uuid(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The uuid `text` stands for among `devices` (the answer of `GET /api/v1/devices`, or its
/// `devices` array): an exact uuid wins; else the one device whose name is `text`,
/// ignoring case; else the one uuid that starts with `text` (at least [`MIN_PREFIX`]
/// characters, any case). A whole uuid that is not in the list comes back unchanged, so
/// the API says what it says of it. The error is one line for a person.
pub fn resolve(text: &str, devices: &Value) -> Result<String, String> {
    let list: Vec<(&str, Option<&str>)> = devices
        .get("devices")
        .unwrap_or(devices)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d.get("uuid")?.as_str()?,
                d.get("name").and_then(Value::as_str),
            ))
        })
        .collect();
    if list.iter().any(|(uuid, _)| *uuid == text) || is_full_uuid(text) {
        return Ok(text.to_owned());
    }
    let wanted = text.to_lowercase();
    let named: Vec<_> = list
        .iter()
        .filter(|(_, name)| name.is_some_and(|n| n.to_lowercase() == wanted))
        .collect();
    let found: Vec<&(&str, Option<&str>)> =
        if named.is_empty() && text.chars().count() >= MIN_PREFIX {
            list.iter()
                .filter(|(uuid, _)| uuid.to_lowercase().starts_with(&wanted))
                .collect()
        } else {
            named
        };
    match found.as_slice() {
        [(uuid, _)] => Ok((*uuid).to_owned()),
        [] => Err(format!(
            "no device is called or starts with `{text}`: `merossd devices` lists them"
        )),
        several => {
            let each: Vec<String> = several
                .iter()
                .map(|(uuid, name)| format!("{uuid} ({})", name.unwrap_or("no name")))
                .collect();
            Err(format!(
                "`{text}` could be: {}; give more of the uuid",
                each.join(", ")
            ))
        }
    }
}

impl Command {
    /// The device a client command is for, as typed (`None`: a command for no one device),
    /// for `remote::run` to turn a name or a start of a uuid into the uuid.
    pub(super) fn uuid_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Device { uuid, .. }
            | Command::Toggle { uuid, .. }
            | Command::Forget { uuid }
            | Command::Rename { uuid, .. }
            | Command::NameChannel { uuid, .. }
            | Command::Events { uuid, .. }
            | Command::Consumption { uuid, .. }
            | Command::Timezone { uuid, .. }
            | Command::Power { uuid }
            | Command::Trace { uuid, .. }
            | Command::History { uuid, .. }
            | Command::Request { uuid, .. } => Some(uuid),
            Command::Family(family) => Some(family.uuid_mut()),
            Command::Schedule(schedule) => Some(schedule.uuid_mut()),
            Command::Upgrade(args) => Some(&mut args.uuid),
            Command::Serve
            | Command::Account { .. }
            | Command::Pair(_)
            | Command::CheckConfig { .. }
            | Command::Backup { .. }
            | Command::Restore { .. }
            | Command::Sim(_)
            | Command::Doctor
            | Command::Devices { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LAMP: &str = "2103221234567890a1b2c3d4e5f60001";
    const LAMP2: &str = "2103221234567890a1b2c3d4e5f60002";
    const KETTLE: &str = "1905aa00000000000000000000000003";

    fn fleet() -> Value {
        json!({"devices": [
            {"uuid": LAMP, "name": "Kitchen lamp"},
            {"uuid": LAMP2, "name": "kitchen LAMP"},
            {"uuid": KETTLE, "name": "Kettle"},
            {"uuid": "abcd00000000000000000000000000ff", "name": null},
        ]})
    }

    #[test]
    fn a_unique_name_is_its_uuid() {
        assert_eq!(resolve("Kettle", &fleet()), Ok(KETTLE.to_owned()));
    }

    #[test]
    fn a_name_in_another_case_is_its_uuid() {
        assert_eq!(resolve("kETTLE", &fleet()), Ok(KETTLE.to_owned()));
    }

    #[test]
    fn a_unique_start_of_a_uuid_is_the_uuid() {
        assert_eq!(resolve("1905", &fleet()), Ok(KETTLE.to_owned()));
        assert_eq!(resolve("1905AA", &fleet()), Ok(KETTLE.to_owned()));
        assert_eq!(
            resolve("abcd", &fleet()),
            Ok("abcd00000000000000000000000000ff".to_owned())
        );
    }

    #[test]
    fn a_start_shorter_than_four_characters_is_not_taken() {
        assert!(resolve("190", &fleet()).is_err());
    }

    #[test]
    fn a_name_two_devices_have_names_them_both() {
        let error = resolve("kitchen lamp", &fleet()).unwrap_err();
        assert!(error.starts_with("`kitchen lamp` could be: "), "{error}");
        assert!(error.contains(&format!("{LAMP} (Kitchen lamp)")), "{error}");
        assert!(
            error.contains(&format!("{LAMP2} (kitchen LAMP)")),
            "{error}"
        );
        assert!(error.ends_with("give more of the uuid"), "{error}");
    }

    #[test]
    fn a_start_two_uuids_share_names_them_both() {
        let error = resolve("21032212", &fleet()).unwrap_err();
        assert!(error.contains(LAMP) && error.contains(LAMP2), "{error}");
        assert!(error.ends_with("give more of the uuid"), "{error}");
    }

    #[test]
    fn nothing_that_matches_is_an_error_that_says_where_to_look() {
        assert_eq!(
            resolve("Toaster", &fleet()),
            Err(
                "no device is called or starts with `Toaster`: `merossd devices` lists them"
                    .to_owned()
            )
        );
        assert!(resolve("Kettle", &json!({"devices": []})).is_err());
    }

    #[test]
    fn a_whole_uuid_goes_through_unchanged_even_when_unknown() {
        let unknown = "ffffffffffffffffffffffffffffffff";
        assert!(is_full_uuid(unknown));
        assert_eq!(resolve(unknown, &fleet()), Ok(unknown.to_owned()));
        assert_eq!(resolve(LAMP, &fleet()), Ok(LAMP.to_owned()));
        assert_eq!(resolve(KETTLE, &json!({})), Ok(KETTLE.to_owned()));
    }

    #[test]
    fn an_exact_uuid_wins_over_a_name() {
        let list = json!([
            {"uuid": "sim0001", "name": "x"},
            {"uuid": "sim00011", "name": "sim0001"},
        ]);
        assert_eq!(resolve("sim0001", &list), Ok("sim0001".to_owned()));
        assert_eq!(resolve("SIM0001", &list), Ok("sim00011".to_owned()));
    }
}
