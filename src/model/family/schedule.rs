//! What a device keeps in its own flash and runs without any server: its timers (weekly
//! or one-off switching, `timer`) and its auto-off rules (`trigger`), per channel, in one
//! record (what the two share is `items`'). Whether it can take new ones is its
//! Ability's: `Ability::TimerX`, `TriggerX`, `SunOffset`.

use super::timer::Timer;
use super::trigger::Trigger;
use serde::{Deserialize, Serialize};

/// A device's timers and auto-off rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedules {
    /// Its timers, as the device reported them (or as a SET it acknowledged left them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<Timer>,
    /// Its auto-off rules, the same way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}
