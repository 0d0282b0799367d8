//! What the engine asks of a device's `Appliance.System.Ability` answer: which of a few
//! namespaces it has, on every toggle and poll. Those are read once, when the answer
//! arrives, into a few bits. The answer itself (with System.All and the last Report) goes
//! to the store and is read from there by the one view that shows it: with thousands of
//! plugs, holding them in memory was the largest part of what each plug cost.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A namespace the engine's behaviour depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ability {
    /// `Appliance.Control.ToggleX`: switching by channel; used whenever a device has it.
    ToggleX,
    /// `Appliance.Control.Toggle`: the older one-channel switch, used only without ToggleX.
    Toggle,
    /// `Appliance.Control.Electricity`: the metering read, preferred when a device has both.
    Electricity,
    /// `Appliance.Control.ElectricityX`: the same read as a list of channels, used only
    /// without Electricity.
    ElectricityX,
    /// `Appliance.Control.ConsumptionX`: the plug's own per-day Wh, read hourly.
    ConsumptionX,
    /// `Appliance.Control.TimerX`: timers the device keeps and runs.
    TimerX,
    /// `Appliance.Control.TriggerX`: auto-off rules the same way.
    TriggerX,
    /// TimerX's `{"sunOffsetSupport": 1}`: timers that count from sunrise or sunset.
    SunOffset,
    /// `Appliance.Control.Upgrade`: a firmware upgrade from a URL.
    Upgrade,
}

impl Ability {
    const ALL: [Ability; 9] = [
        Ability::ToggleX,
        Ability::Toggle,
        Ability::Electricity,
        Ability::ElectricityX,
        Ability::ConsumptionX,
        Ability::TimerX,
        Ability::TriggerX,
        Ability::SunOffset,
        Ability::Upgrade,
    ];

    /// The namespace's name as it is listed in the Ability answer and sent in requests.
    pub fn namespace(self) -> &'static str {
        match self {
            Ability::ToggleX => "Appliance.Control.ToggleX",
            Ability::Toggle => "Appliance.Control.Toggle",
            Ability::Electricity => "Appliance.Control.Electricity",
            Ability::ElectricityX => "Appliance.Control.ElectricityX",
            Ability::ConsumptionX => "Appliance.Control.ConsumptionX",
            Ability::TimerX | Ability::SunOffset => "Appliance.Control.TimerX",
            Ability::TriggerX => "Appliance.Control.TriggerX",
            Ability::Upgrade => "Appliance.Control.Upgrade",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

/// Which [`Ability`]s a device listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abilities(u16);

impl Abilities {
    /// From the answer's `ability` object (namespace -> parameters).
    pub fn new(ability: &Value) -> Abilities {
        Abilities(
            Ability::ALL
                .iter()
                .filter(|a| match (a, ability.get(a.namespace())) {
                    (Ability::SunOffset, Some(options)) => {
                        options.get("sunOffsetSupport").and_then(Value::as_u64) == Some(1)
                    }
                    (_, listed) => listed.is_some(),
                })
                .fold(0, |bits, a| bits | a.bit()),
        )
    }

    /// Whether the device listed `ability`'s namespace.
    pub fn has(self, ability: Ability) -> bool {
        self.0 & ability.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_namespaces_are_found_and_others_not() {
        let a = Abilities::new(&json!({
            "Appliance.Control.ToggleX": {},
            "Appliance.Control.Electricity": {},
            "Appliance.System.DNDMode": {},
        }));
        assert!(a.has(Ability::ToggleX));
        assert!(a.has(Ability::Electricity));
        assert!(!a.has(Ability::Toggle));
        assert!(!a.has(Ability::ElectricityX));
        assert!(!a.has(Ability::ConsumptionX));
        let none = Abilities::new(&json!([]));
        assert!(Ability::ALL.iter().all(|a| !none.has(*a)));
    }
}
