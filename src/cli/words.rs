//! A device's channels and families in words, one line each: for the family commands'
//! answers and for `merossd device`.

use crate::model::family::light::{RGB, TEMPERATURE};
use serde_json::Value;

/// One entry of a device's families in words.
type Line = fn(&Value) -> String;

/// A device's channels and families, one line each, for `merossd device`.
pub(super) fn lines(d: &Value) -> Vec<String> {
    let families = &d["families"];
    let mut out: Vec<String> = each(&d["channels"]).map(channel_line).collect();
    let parts: [(&str, Line); 6] = [
        ("lights", light_line),
        ("thermostats", thermostat_line),
        ("garage_doors", door_line),
        ("shutters", shutter_line),
        ("sprays", spray_line),
        ("subdevices", subdevice_line),
    ];
    for (list, line) in parts {
        out.extend(each(&families[list]).map(line));
    }
    if let Some(on) = families["dnd"].as_bool() {
        out.push(dnd_line(on));
    }
    if let Some(signal) = families["signal_percent"].as_u64() {
        out.push(format!("Wi-Fi signal {signal} %"));
    }
    if families["moko"].is_object() {
        out.extend(moko_lines(&families["moko"]));
    }
    out.extend(each(&families["schedules"]["timers"]).map(timer_line));
    out.extend(each(&families["schedules"]["triggers"]).map(trigger_line));
    out
}

/// Days as a person reads them: `mon-fri`, `every day`, `sat, sun`.
fn days_words(days: &Value) -> String {
    let names: Vec<&str> = each(days).filter_map(Value::as_str).collect();
    match names.as_slice() {
        [] => "no day".to_owned(),
        ["mon", "tue", "wed", "thu", "fri"] => "mon-fri".to_owned(),
        ["sat", "sun"] => "weekends".to_owned(),
        n if n.len() == 7 => "every day".to_owned(),
        n => n.join(", "),
    }
}

/// `timer 07:00 mon-fri: on (channel 0) "Coffee" [k3x9a0c2m4p6r8t1]`.
pub(super) fn timer_line(t: &Value) -> String {
    if t["pending"] == true {
        return format!(
            "timer [{}] on channel {}: not read yet",
            text(&t["id"], "?"),
            t["channel"]
        );
    }
    let when = if t["repeat"] == true { "" } else { " (once)" };
    let off = if t["enabled"] == true {
        ""
    } else {
        ", disabled"
    };
    let old = if t["read_only"] == true {
        ", read only"
    } else {
        ""
    };
    format!(
        "timer {} {}{when}: {} (channel {}) \"{}\" [{}]{off}{old}",
        text(&t["at"], "?"),
        days_words(&t["days"]),
        on_off(t["on"] == true),
        t["channel"],
        text(&t["name"], ""),
        text(&t["id"], "?"),
    )
}

/// `auto-off channel 0: off 20 min after on, every day [q7w2e4r6t8y0u1i3]`.
pub(super) fn trigger_line(t: &Value) -> String {
    if t["pending"] == true {
        return format!(
            "auto-off [{}] on channel {}: not read yet",
            text(&t["id"], "?"),
            t["channel"]
        );
    }
    let seconds = t["seconds"].as_u64().unwrap_or(0);
    let after = if seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    };
    let off = if t["enabled"] == true {
        ""
    } else {
        ", disabled"
    };
    format!(
        "auto-off channel {}: off {after} after on, {} [{}]{off}",
        t["channel"],
        days_words(&t["days"]),
        text(&t["id"], "?"),
    )
}

/// A MOKO plug's countdown, maker, last upgrade and button reset.
fn moko_lines(m: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(left) = m["countdown"]["seconds_left"].as_u64() {
        let then = on_off(m["countdown"]["then_on"] == true);
        out.push(format!(
            "countdown: {then} in {}:{:02} (as it last said)",
            left / 60,
            left % 60
        ));
    }
    if m["made"].is_object() {
        out.push(format!(
            "made by {} ({}), {}",
            text(&m["made"]["company"], "?"),
            text(&m["made"]["model"], "?"),
            text(&m["made"]["production_date"], "?")
        ));
    }
    if m["upgrade"].is_object() {
        out.push(format!(
            "last upgrade: {} ({})",
            text(&m["upgrade"]["meaning"], "?"),
            text(&m["upgrade"]["result"], "?")
        ));
    }
    if !m["reset_at"].is_null() {
        out.push("it was reset with its button: pair it again (merossd pair --moko)".to_owned());
    }
    out
}

/// The items of a JSON list (none if it is not one).
pub(super) fn each<'a>(list: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
    list.as_array().into_iter().flatten()
}

/// Parts of a line joined, or that nothing is known yet.
fn listed(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "nothing reported yet".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `channel 1 (Kettle) on  12.0 W`.
fn channel_line(c: &Value) -> String {
    let name = c["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let power = c["power_w"]
        .as_f64()
        .map(|w| format!("  {w:.1} W"))
        .unwrap_or_default();
    let on = on_off(c["on"].as_bool().unwrap_or(false));
    format!("channel {}{name} {on}{power}", c["channel"])
}

/// `light 0 is on, 40 %, colour ff8800` (or `temperature 60`: a white).
pub(super) fn light_line(l: &Value) -> String {
    let mut out = match l["on"].as_bool() {
        Some(on) => format!("light {} is {}", l["channel"], on_off(on)),
        None => format!("light {}", l["channel"]),
    };
    if let Some(b) = l["brightness"].as_u64() {
        out.push_str(&format!(", {b} %"));
    }
    let colour = l["rgb"].as_str().map(|c| format!(", colour {c}"));
    let white = l["temperature"]
        .as_u64()
        .map(|t| format!(", temperature {t}"));
    // What it shows now: `mode` has the `capacity` bits of the light's latest report.
    let mode = l["mode"].as_u64().unwrap_or(0);
    let shown = if mode & u64::from(RGB) != 0 {
        colour
    } else if mode & u64::from(TEMPERATURE) != 0 {
        white
    } else {
        colour.or(white)
    };
    out.push_str(&shown.unwrap_or_default());
    if let Some(effect) = l["effect"].as_u64() {
        out.push_str(&format!(", effect {effect}"));
    }
    out
}

/// `thermostat 0: 21.0 °C, target 21.5 °C, manual, heating`.
pub(super) fn thermostat_line(t: &Value) -> String {
    let mut parts = Vec::new();
    if t["on"].as_bool() == Some(false) {
        parts.push("off".to_owned());
    }
    if let Some(c) = t["current_c"].as_f64() {
        parts.push(format!("{c:.1} °C"));
    }
    if let Some(c) = t["target_c"].as_f64() {
        parts.push(format!("target {c:.1} °C"));
    }
    if let Some(mode) = t["mode"].as_str() {
        parts.push(mode.to_owned());
    }
    for (key, word) in [
        ("heating", "heating"),
        ("cooling", "cooling"),
        ("window_open", "window open"),
    ] {
        if t[key].as_bool() == Some(true) {
            parts.push(word.to_owned());
        }
    }
    format!("thermostat {}: {}", t["channel"], listed(parts))
}

/// `door 1 is opening` (then closing, open or closed).
pub(super) fn door_line(d: &Value) -> String {
    let now = match (d["moving_to"].as_bool(), d["open"].as_bool()) {
        (Some(true), _) => "opening",
        (Some(false), _) => "closing",
        (None, Some(true)) => "open",
        (None, Some(false)) => "closed",
        (None, None) => "in a state not reported yet",
    };
    format!("door {} is {now}", d["channel"])
}

/// `shutter 0 is closing, position 40 %`, or where it stands.
pub(super) fn shutter_line(s: &Value) -> String {
    let channel = &s["channel"];
    let moving = s["motion"].as_str().filter(|m| *m != "idle");
    match (moving, s["position"].as_u64()) {
        (Some(m), Some(p)) => format!("shutter {channel} is {m}, position {p} %"),
        (Some(m), None) => format!("shutter {channel} is {m}"),
        (None, Some(0)) => format!("shutter {channel} is closed (0 %)"),
        (None, Some(100)) => format!("shutter {channel} is open (100 %)"),
        (None, Some(p)) => format!("shutter {channel} is at {p} %"),
        (None, None) => format!("shutter {channel}: nothing reported yet"),
    }
}

/// `spray 0: eco`.
pub(super) fn spray_line(s: &Value) -> String {
    format!(
        "spray {}: {}",
        s["channel"],
        text(&s["mode"], "mode not reported yet")
    )
}

/// `sub-device 01008C11 (mts100v3): on, auto, 19.5 °C, target 21.0 °C, heating, battery 80 %`.
pub(super) fn subdevice_line(s: &Value) -> String {
    let mut parts = Vec::new();
    if s["online"].as_bool() == Some(false) {
        parts.push("offline".to_owned());
    }
    if let Some(on) = s["on"].as_bool() {
        parts.push(on_off(on).to_owned());
    }
    if let Some(mode) = s["mode"].as_str() {
        parts.push(mode.to_owned());
    }
    if let Some(c) = s["temperature_c"].as_f64() {
        parts.push(format!("{c:.1} °C"));
    }
    if let Some(c) = s["target_c"].as_f64() {
        parts.push(format!("target {c:.1} °C"));
    }
    if let Some(h) = s["humidity_percent"].as_f64() {
        parts.push(format!("humidity {h:.0} %"));
    }
    for (key, word) in [
        ("heating", "heating"),
        ("window_open", "window open"),
        ("leak", "water found"),
    ] {
        if s[key].as_bool() == Some(true) {
            parts.push(word.to_owned());
        }
    }
    if let Some(open) = s["door_open"].as_bool() {
        parts.push(if open { "door open" } else { "door closed" }.to_owned());
    }
    if let Some(code) = s["smoke_status"].as_u64() {
        parts.push(format!("smoke status {code}"));
    }
    if let Some(b) = s["battery_percent"].as_u64() {
        parts.push(format!("battery {b} %"));
    }
    let kind = s["kind"]
        .as_str()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default();
    format!(
        "sub-device {}{kind}: {}",
        text(&s["id"], "?"),
        listed(parts)
    )
}

/// `do-not-disturb is on (the LED stays off)`.
pub(super) fn dnd_line(on: bool) -> String {
    if on {
        "do-not-disturb is on (the LED stays off)".to_owned()
    } else {
        "do-not-disturb is off".to_owned()
    }
}

pub(super) fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

pub(super) fn text(v: &Value, absent: &str) -> String {
    match v {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null => absent.to_owned(),
        Value::String(_) => absent.to_owned(),
        other => other.to_string(),
    }
}

/// Epoch seconds as local time, `2026-11-22 10:00:00`.
pub(super) fn local(t: u64) -> String {
    jiff::Timestamp::from_second(t as i64)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}
