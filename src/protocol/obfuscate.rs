//! Obfuscation of a trace a user shares: every value that identifies a person, a home or
//! a device is replaced by a placeholder of the same shape (a uuid by 32 hex digits, a MAC
//! by a MAC, an address by a documentation address), the same value by the same
//! placeholder throughout one trace, so that the trace still replays as a simulated
//! device. Signs and passwords are redacted. Besides the fields by name, every string is
//! searched for the values already replaced (a uuid inside a topic or a `from`).

use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a field holds, for its placeholder's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Uuid,
    Mac,
    User,
    Key,
    Email,
    Ssid,
    Ip,
    Server,
    Port,
    Serial,
    HomeKit,
    Place,
    SubId,
    Redacted,
}

/// The kind of a field, by its name (any case).
fn kind_of(key: &str) -> Option<Kind> {
    let k = key.to_ascii_lowercase();
    Some(match k.as_str() {
        "uuid" | "deviceuuid" | "devuuid" => Kind::Uuid,
        "macaddress" | "wifimac" | "mac" | "bssid" | "gatewaymac" | "device_mac" | "devicemac" => {
            Kind::Mac
        }
        "userid" | "user_id" | "uid" => Kind::User,
        "key" | "token" | "accesstoken" | "access_token" | "cloudtoken" | "mqttkey" => Kind::Key,
        "email" | "mail" => Kind::Email,
        "ssid" | "wifi_ssid" | "wifissid" => Kind::Ssid,
        "innerip" | "ip" | "localip" | "outerip" | "gatewayip" => Kind::Ip,
        "server" | "secondserver" | "host" | "secondhost" | "domain" | "reserveddomain"
        | "realm" => Kind::Server,
        "port" | "secondport" => Kind::Port,
        "sn" | "serial" | "serialnumber" => Kind::Serial,
        "setupcode" | "setupid" | "homekitsetupcode" | "homekittoken" | "hk_token" => Kind::HomeKit,
        "latitude" | "longitude" | "lat" | "lng" | "lon" => Kind::Place,
        "subid" | "hubid" | "subdeviceid" => Kind::SubId,
        "sign" | "password" | "pwd" | "wifi_pwd" | "wifipwd" => Kind::Redacted,
        _ => return None,
    })
}

/// What stands for a redacted value.
pub const REDACTED: &str = "<redacted>";

/// The replacements of one trace.
#[derive(Debug, Default)]
pub struct Obfuscator {
    /// Original text (or number, as text) -> placeholder, per kind.
    seen: HashMap<(Kind, String), Value>,
    /// Per kind, how many placeholders were made.
    counts: HashMap<Kind, u32>,
    /// Original strings long enough to look for inside other strings, and their stand-ins.
    inside: Vec<(String, String)>,
}

impl Obfuscator {
    /// `data` with every identifying value replaced. `in_hub`: the namespace is a hub's
    /// (`Appliance.Hub.*`), where an `id` is a sub-device's.
    pub fn data(&mut self, data: &Value, in_hub: bool) -> Value {
        let replaced = self.walk(data, None, in_hub);
        self.strings(replaced)
    }

    fn walk(&mut self, v: &Value, kind: Option<Kind>, in_hub: bool) -> Value {
        match (v, kind) {
            (Value::Object(map), _) => {
                let mut out = Map::new();
                for (key, value) in map {
                    let kind = kind_of(key).or((in_hub && key == "id").then_some(Kind::SubId));
                    out.insert(key.clone(), self.walk(value, kind, in_hub));
                }
                Value::Object(out)
            }
            (Value::Array(list), _) => {
                Value::Array(list.iter().map(|x| self.walk(x, kind, in_hub)).collect())
            }
            (Value::Null | Value::Bool(_), _) | (_, None) => v.clone(),
            (_, Some(kind)) => self.replace(kind, v),
        }
    }

    /// The stand-in of one value of `kind` (a string or a number).
    fn replace(&mut self, kind: Kind, v: &Value) -> Value {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if kind == Kind::Redacted {
            return Value::String(REDACTED.to_owned());
        }
        if text.is_empty() || text.chars().all(|c| c == '#') {
            return v.clone();
        }
        if let Some(done) = self.seen.get(&(kind, text.clone())) {
            return done.clone();
        }
        let n = {
            let count = self.counts.entry(kind).or_default();
            *count += 1;
            *count
        };
        let made = placeholder(kind, n, v);
        self.seen.insert((kind, text.clone()), made.clone());
        if let Value::String(stand_in) = &made {
            self.remember(kind, &text, stand_in);
        }
        made
    }

    /// Keeps `text` (and a MAC's bare hex too) to look for inside other strings.
    fn remember(&mut self, kind: Kind, text: &str, stand_in: &str) {
        if text.len() >= 6 {
            self.inside.push((text.to_owned(), stand_in.to_owned()));
        }
        if kind == Kind::Mac {
            let bare: String = text.chars().filter(char::is_ascii_hexdigit).collect();
            let stand: String = stand_in.chars().filter(char::is_ascii_hexdigit).collect();
            if bare.len() == 12 {
                self.inside.push((bare.to_ascii_lowercase(), stand.clone()));
                self.inside
                    .push((bare.to_ascii_uppercase(), stand.to_ascii_uppercase()));
            }
        }
        // The longest first: a uuid ends with its MAC's hex.
        self.inside.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
    }

    /// Every string of `v` with the values replaced so far replaced inside it too.
    fn strings(&self, v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.inside_of(&s)),
            Value::Array(list) => Value::Array(list.into_iter().map(|x| self.strings(x)).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, x)| (k, self.strings(x))).collect())
            }
            other => other,
        }
    }

    /// `s` with each remembered original inside it replaced.
    pub fn inside_of(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (original, stand_in) in &self.inside {
            if out.contains(original.as_str()) {
                out = out.replace(original.as_str(), stand_in);
            }
        }
        out
    }
}

/// The `n`-th placeholder of `kind`, shaped as the original `v` (a number stays one).
fn placeholder(kind: Kind, n: u32, v: &Value) -> Value {
    let text = match kind {
        Kind::Uuid => format!("{n:032x}"),
        Kind::Mac => {
            let sep = match v.as_str() {
                Some(s) if s.contains('-') => "-",
                Some(s) if !s.contains(':') => "",
                _ => ":",
            };
            let b = n.to_be_bytes();
            [
                "02",
                "00",
                &format!("{:02x}", b[0]),
                &format!("{:02x}", b[1]),
                &format!("{:02x}", b[2]),
                &format!("{:02x}", b[3]),
            ]
            .join(sep)
        }
        Kind::User => format!("{}", 100_000 + n),
        Kind::Key => format!("key{n:08}"),
        Kind::Email => format!("user{n}@example.com"),
        Kind::Ssid => format!("ssid{n}"),
        Kind::Ip => format!("192.0.2.{}", n % 250 + 1),
        Kind::Server => format!("server{n}.example.com"),
        Kind::Port => format!("{}", 10_000 + n),
        Kind::Serial => format!("SN{n:08}"),
        Kind::HomeKit => format!("HK{n:06}"),
        Kind::Place => format!("{}", f64::from(n) / 1000.0),
        Kind::SubId => format!("{n:08x}"),
        Kind::Redacted => REDACTED.to_owned(),
    };
    match v {
        Value::Number(_) => text
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_value_gets_the_same_stand_in_and_topics_follow() {
        let mut o = Obfuscator::default();
        let uuid = "2103170812345678901234298f1a2b3c";
        let a = o.data(
            &json!({"hardware": {"uuid": uuid, "macAddress": "48:e1:e9:1a:2b:3c"}}),
            false,
        );
        let b = o.data(
            &json!({"from": format!("/appliance/{uuid}/publish"), "uuid": uuid}),
            false,
        );
        let stand_in = a["hardware"]["uuid"].as_str().unwrap().to_owned();
        assert_eq!(stand_in.len(), 32);
        assert_eq!(b["uuid"], stand_in.as_str());
        assert_eq!(b["from"], format!("/appliance/{stand_in}/publish"));
        assert_eq!(a["hardware"]["macAddress"], "02:00:00:00:00:01");
    }

    #[test]
    fn numbers_stay_numbers_and_signs_are_redacted() {
        let mut o = Obfuscator::default();
        let out = o.data(
            &json!({"port": 8883, "sign": "abc", "lat": 45.07, "onoff": 1}),
            false,
        );
        assert!(out["port"].is_number());
        assert_eq!(out["sign"], REDACTED);
        assert!(out["lat"].is_number() && out["lat"] != 45.07);
        assert_eq!(out["onoff"], 1);
    }

    #[test]
    fn a_hubs_sub_device_ids_are_replaced_consistently() {
        let mut o = Obfuscator::default();
        let a = o.data(&json!({"all": [{"id": "01008C11"}]}), true);
        let b = o.data(&json!({"mode": [{"id": "01008C11", "state": 1}]}), true);
        assert_eq!(a["all"][0]["id"], b["mode"][0]["id"]);
        assert_ne!(a["all"][0]["id"], "01008C11");
        let timer = o.data(&json!({"timerx": [{"id": "iojt92798uas7qq9"}]}), false);
        assert_eq!(timer["timerx"][0]["id"], "iojt92798uas7qq9");
    }
}
