//! Roller shutters: position and motion (no digest: both are asked after a bind).

use super::Family;
use crate::model::family::shutter::{self, NS_POSITION, NS_STATE};
use serde_json::json;

/// Roller shutters.
pub(super) const SHUTTER: Family = Family {
    reads: &[
        (NS_POSITION, "position", shutter::read_position),
        (NS_STATE, "state", shutter::read_state),
    ],
    digest: &[],
    ability: &[],
    asks: &[
        (NS_POSITION, |_| Some(json!({"position": []}))),
        (NS_STATE, |_| Some(json!({"state": []}))),
    ],
    each: &[],
};
