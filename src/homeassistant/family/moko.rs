//! A MOKO plug's countdown: a `number` in minutes (0 to 1439; 0 cancels) taking its
//! value on `<base>/<id>/countdown/set`, showing the minutes left (state key
//! `countdown`). Its switch and power sensors are a plug's, from channel 0.

use super::{put, Order};
use crate::homeassistant::discovery::{common, read_key, Entity, Topics};
use crate::model::family::moko::MAX_COUNTDOWN_MINUTES;
use crate::model::family::Families;
use crate::model::Device;
use serde_json::{json, Value};

/// The countdown `number`, for a MOKO plug.
pub fn entities(t: &Topics, d: &Device, url: Option<&str>, f: &Families) -> Vec<Entity> {
    if f.moko.is_none() {
        return Vec::new();
    }
    let mut p = common(t, d, url, "countdown");
    p["name"] = json!("Countdown");
    p["icon"] = json!("mdi:timer-outline");
    p["command_topic"] = json!(t.set(&d.uuid, "countdown"));
    p["value_template"] = json!(read_key("countdown"));
    p["min"] = json!(0);
    p["max"] = json!(MAX_COUNTDOWN_MINUTES);
    p["step"] = json!(1);
    p["mode"] = json!("box");
    p["unit_of_measurement"] = json!("min");
    vec![Entity {
        topic: t.config("number", &d.uuid, "countdown"),
        payload: p,
    }]
}

/// `countdown`: whole minutes left (rounded up), 0 when none runs.
pub fn state(f: &Families, s: &mut Value) {
    let Some(moko) = f.moko.as_deref() else {
        return;
    };
    let left = moko.countdown.map_or(0, |c| c.seconds_left.div_ceil(60));
    put(s, "countdown".into(), Some(left));
}

/// Reads a countdown Home Assistant sent: minutes, 0 to 1439.
pub fn parse(payload: &str) -> Result<Order, String> {
    let minutes = super::number(payload)?;
    if !(0.0..=f64::from(MAX_COUNTDOWN_MINUTES)).contains(&minutes) {
        return Err(format!(
            "{minutes} minutes is out of range: 0 to {MAX_COUNTDOWN_MINUTES}"
        ));
    }
    Ok(Order::Countdown(minutes.round() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::family::moko::{Countdown, Moko};

    #[test]
    fn a_moko_plug_has_a_countdown_number_in_minutes() {
        let t = Topics {
            prefix: "homeassistant".into(),
            base: "merossd".into(),
        };
        let d = Device::new("moko112233445566", 1);
        let mut f = Families::default();
        assert!(entities(&t, &d, None, &f).is_empty());
        f.moko = Some(Box::new(Moko::default()));
        let e = entities(&t, &d, None, &f);
        assert_eq!(
            e[0].topic,
            "homeassistant/number/moko112233445566/countdown/config"
        );
        assert_eq!(
            e[0].payload["command_topic"],
            "merossd/moko112233445566/countdown/set"
        );
        let mut s = json!({});
        state(&f, &mut s);
        assert_eq!(s, json!({"countdown": 0}));
        if let Some(m) = f.moko.as_deref_mut() {
            m.countdown = Some(Countdown {
                seconds_left: 61,
                then_on: false,
                at: 1,
            });
        }
        state(&f, &mut s);
        assert_eq!(s, json!({"countdown": 2}));
        assert_eq!(parse("20"), Ok(Order::Countdown(20)));
        assert!(parse("2000").is_err());
        assert!(parse("soon").is_err());
    }
}
