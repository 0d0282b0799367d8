//! A device's own JSON answers (Ability, System.All, the last Report), held as their
//! compact text. They are shown as they came and seldom read, so a parsed tree of maps and
//! strings (about four times the size, and copied with every copy of the device's record)
//! would be memory spent on nothing: with thousands of plugs, it was the largest part of
//! what each plug cost the daemon.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

/// One JSON value as compact text; copying it copies a pointer.
#[derive(Clone, PartialEq, Eq)]
pub struct Json(Arc<str>);

impl Json {
    pub fn new(value: &Value) -> Json {
        // A `Value` always serializes (its keys are strings).
        Json(value.to_string().into())
    }

    /// The text, compact JSON.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The value, parsed (for the rare reader that walks it).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// From stored text; `None` if it is not JSON.
    pub fn parse(text: &str) -> Option<Json> {
        let value: Value = serde_json::from_str(text).ok()?;
        Some(Json::new(&value))
    }
}

impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(s),
            Err(_) => Value::Null.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        Ok(Json::new(&Value::deserialize(d)?))
    }
}

/// The namespaces the engine asks about on every toggle and poll: looked up once, when the
/// abilities arrive, instead of in the text each time.
const KNOWN: [&str; 5] = [
    "Appliance.Control.ToggleX",
    "Appliance.Control.Toggle",
    "Appliance.Control.Electricity",
    "Appliance.Control.ElectricityX",
    "Appliance.Control.ConsumptionX",
];

/// A device's `Appliance.System.Ability` answer: namespace -> its parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct Abilities {
    json: Json,
    /// Bit i: the device has `KNOWN[i]`.
    known: u8,
}

impl Abilities {
    pub fn new(value: &Value) -> Abilities {
        let known = KNOWN
            .iter()
            .enumerate()
            .filter(|(_, ns)| value.get(**ns).is_some())
            .fold(0u8, |bits, (i, _)| bits | 1 << i);
        Abilities {
            json: Json::new(value),
            known,
        }
    }

    /// True if the device lists `namespace`.
    pub fn has(&self, namespace: &str) -> bool {
        match KNOWN.iter().position(|k| *k == namespace) {
            Some(i) => self.known & (1 << i) != 0,
            None => self.json.value().get(namespace).is_some(),
        }
    }

    pub fn json(&self) -> &Json {
        &self.json
    }
}

impl std::fmt::Debug for Abilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

impl Serialize for Abilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Abilities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Abilities, D::Error> {
        Ok(Abilities::new(&Value::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_and_other_namespaces_are_found_and_missing_ones_not() {
        let a = Abilities::new(&json!({
            "Appliance.Control.ToggleX": {},
            "Appliance.Control.Electricity": {},
            "Appliance.System.DNDMode": {},
        }));
        assert!(a.has("Appliance.Control.ToggleX"));
        assert!(a.has("Appliance.Control.Electricity"));
        assert!(a.has("Appliance.System.DNDMode"));
        assert!(!a.has("Appliance.Control.Toggle"));
        assert!(!a.has("Appliance.Control.ConsumptionX"));
        assert!(!a.has("Appliance.Garage.State"));
    }

    #[test]
    fn the_value_comes_back_as_it_went_in_through_serde_and_text() {
        let v = json!({"system": {"hardware": {"type": "mss310", "uuid": "é\"x"}}, "n": [1, 2.5, null]});
        let j = Json::new(&v);
        assert_eq!(j.value(), v);
        assert_eq!(serde_json::to_value(&j).unwrap(), v);
        assert_eq!(Json::parse(j.text()).unwrap(), j);
        let back: Json = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, j);
        assert!(Json::parse("{not json").is_none());
        let a = Abilities::new(&json!({"Appliance.Control.Toggle": {}}));
        let again: Abilities = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(again, a);
    }
}
