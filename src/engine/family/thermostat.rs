//! Thermostats: `Thermostat.Mode` (MTS200), `ModeB` (MTS960), window-open detection, and
//! the digest's `thermostat`.

use super::Family;
use crate::model::family::thermostat::{self, NS_MODE, NS_MODE_B, NS_WINDOW};
use serde_json::json;

/// Thermostats.
pub(super) const THERMOSTAT: Family = Family {
    reads: &[
        (NS_MODE, "mode", thermostat::read_mode),
        (NS_MODE_B, "modeB", thermostat::read_mode_b),
        (NS_WINDOW, "windowOpened", thermostat::read_window),
    ],
    digest: &[("thermostat", thermostat::read_digest)],
    ability: &[],
    // camelCase keys: lower case gets an empty list.
    asks: &[
        (NS_MODE, |_| Some(json!({"mode": [{"channel": 0}]}))),
        (NS_MODE_B, |_| Some(json!({"modeB": [{"channel": 0}]}))),
        (NS_WINDOW, |_| {
            Some(json!({"windowOpened": [{"channel": 0}]}))
        }),
    ],
    each: &[],
};
