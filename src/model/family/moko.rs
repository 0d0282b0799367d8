//! A MOKO MK102/MK112 plug: what it says beyond on/off and power (those go where a Meross
//! plug's go: channel 0 and its reading), read from its own topics (`protocol::moko`):
//! the countdown it runs, its firmware, its last upgrade's outcome, and whether it was
//! reset with its button. Readers take the payload of `<prefix>/device/<what>`.

use super::Families;
use crate::protocol::moko::{self, DelayLeft, OtaState};
use crate::protocol::now_secs;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest countdown a plug takes: 23 h 59 min.
pub const MAX_COUNTDOWN_MINUTES: u32 = 23 * 60 + 59;

/// What is known of a MOKO plug beyond its switch and meter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Moko {
    /// Its topics' first four levels (`iot_plug/plug_one/us/<mac>`).
    pub topic_prefix: String,
    /// Whether it measures power (`device_type` "1" at pairing, or a reading seen).
    #[serde(default)]
    pub metering: bool,
    /// The countdown it runs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown: Option<Countdown>,
    /// Who made it and when (`firmware_infor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<Made>,
    /// The last upgrade's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeOutcome>,
    /// When it said it was reset with its button (epoch seconds): it must be paired again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<u64>,
}

/// A running countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Countdown {
    /// Seconds left when the plug last said.
    pub seconds_left: u32,
    /// The state the plug takes when it ends.
    pub then_on: bool,
    /// When the plug said it, epoch seconds.
    pub at: u64,
}

/// `firmware_infor`'s maker fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    /// The maker (`moko`).
    pub company: String,
    /// The model (`plug_one`).
    pub model: String,
    /// When it was made (`201801`).
    pub production_date: String,
    /// When the plug said it, epoch seconds.
    #[serde(default)]
    pub said_at: u64,
}

/// An upgrade's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeOutcome {
    /// `R1` to `R4`.
    pub result: String,
    /// What it means, in words.
    pub meaning: String,
    /// When the plug said it, epoch seconds.
    pub at: u64,
}

/// The MOKO record of a device's families, added if there is none.
fn record(families: &mut Families) -> &mut Moko {
    families.moko.get_or_insert_with(Default::default)
}

fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

/// Reads `delay_time` from the plug: time left (0: the countdown is over).
pub fn read_countdown(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let left: DelayLeft = parse(value)?;
    if left.delay_hour > 23 || left.delay_minute > 59 || left.delay_second > 59 {
        return Err(format!("a countdown out of range: {value}"));
    }
    let then_on = moko::SwitchState {
        switch_state: left.switch_state.clone(),
    }
    .on()
    .ok_or_else(|| format!("`switch_state` is neither on nor off: {value}"))?;
    let moko = record(families);
    let started = moko.countdown.is_none();
    moko.countdown = (left.seconds() > 0).then(|| Countdown {
        seconds_left: left.seconds(),
        then_on,
        at: now_secs(),
    });
    Ok(if started && moko.countdown.is_some() {
        let then = if then_on { "on" } else { "off" };
        vec![format!("countdown: {then} in {} s", left.seconds())]
    } else {
        Vec::new()
    })
}

/// Reads `firmware_infor`'s maker fields (the version goes where a Meross device's does).
pub fn read_made(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let info: moko::FirmwareInfor = parse(value)?;
    record(families).made = Some(Made {
        company: info.company_name,
        model: info.product_model,
        production_date: info.production_date,
        said_at: now_secs(),
    });
    Ok(Vec::new())
}

/// Reads `ota_upgrade_state`.
pub fn read_upgrade(families: &mut Families, value: &Value) -> Result<Vec<String>, String> {
    let state: OtaState = parse(value)?;
    let meaning = moko::ota_meaning(&state.ota_result).to_owned();
    let said = format!("upgrade {}: {meaning}", state.ota_result);
    record(families).upgrade = Some(UpgradeOutcome {
        result: state.ota_result,
        meaning,
        at: now_secs(),
    });
    Ok(vec![said])
}

/// Reads `delete_device`: the plug was reset with its button.
pub fn read_reset(families: &mut Families, _value: &Value) -> Result<Vec<String>, String> {
    let moko = record(families);
    moko.reset_at = Some(now_secs());
    moko.countdown = None;
    Ok(vec![
        "reset with its button: it has forgotten this merossd; pair it again".to_owned(),
    ])
}

/// A switch state the plug said: a countdown ends with it (the plug cancels one when its
/// state changes, and says nothing more).
pub fn switched(families: &mut Families) {
    if let Some(moko) = families.moko.as_deref_mut() {
        moko.countdown = None;
    }
}

/// The countdown to send: `minutes` (0 cancels), as `delay_time` takes it.
pub fn countdown(minutes: u32) -> Result<moko::DelaySet, super::CommandError> {
    let minutes = super::within("minutes", minutes, 0, MAX_COUNTDOWN_MINUTES)?;
    Ok(moko::DelaySet {
        delay_hour: minutes / 60,
        delay_minute: minutes % 60,
    })
}

/// Where an upgrade is, from the URL an owner gives (`http://HOST[:PORT]/DIR/`): the plug
/// takes a server, a port and a directory, and picks the file there itself.
pub fn upgrade(url: &str) -> Result<moko::Upgrade, super::CommandError> {
    let invalid = |detail: &str| super::CommandError::Invalid {
        field: "url",
        detail: format!("{url:?}: {detail}"),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("the plug upgrades over plain http:// only"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| invalid("a bad port"))?),
        None => (authority, 80),
    };
    if host.is_empty() || host.len() > 64 || path.len() >= 100 || path.contains(['?', '#']) {
        return Err(invalid(
            "say http://HOST[:PORT]/DIRECTORY/ (host up to 64 bytes, directory under 100)",
        ));
    }
    let ip = host.parse::<std::net::IpAddr>().is_ok();
    Ok(moko::Upgrade {
        kind: u8::from(!ip),
        realm: host.to_owned(),
        port,
        catalogue: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_countdown_is_kept_until_it_ends_or_the_plug_switches() {
        let mut f = Families::default();
        let said = read_countdown(
            &mut f,
            &json!({"delay_hour":0,"delay_minute":1,"delay_second":5,"switch_state":"off"}),
        )
        .unwrap();
        assert_eq!(said, vec!["countdown: off in 65 s"]);
        let c = f.moko.as_ref().unwrap().countdown.unwrap();
        assert_eq!((c.seconds_left, c.then_on), (65, false));
        switched(&mut f);
        assert_eq!(f.moko.as_ref().unwrap().countdown, None);
        let bad = json!({"delay_hour":30,"delay_minute":1,"delay_second":5,"switch_state":"off"});
        assert!(read_countdown(&mut f, &bad).is_err());
        assert!(read_countdown(&mut f, &json!({"delay_hour":"x"})).is_err());
    }

    #[test]
    fn a_countdown_and_an_upgrade_url_are_checked() {
        assert_eq!(
            countdown(125).unwrap(),
            moko::DelaySet {
                delay_hour: 2,
                delay_minute: 5
            }
        );
        assert!(countdown(MAX_COUNTDOWN_MINUTES + 1).is_err());
        let u = upgrade("http://192.0.2.7:8080/smartplug/20180623/").unwrap();
        assert_eq!((u.kind, u.port), (0, 8080));
        assert_eq!(
            (u.realm.as_str(), u.catalogue.as_str()),
            ("192.0.2.7", "smartplug/20180623/")
        );
        assert_eq!(upgrade("http://fw.example/x/").unwrap().kind, 1);
        assert!(upgrade("https://fw.example/x/").is_err());
    }
}
