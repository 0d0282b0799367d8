//! Timers and auto-off rules: their items (`TimerX`, `TriggerX`, PUSHed after every change
//! and read from SETACKs), their digests (which ids the device keeps, in `System.All`'s
//! digest too) and old firmware's read-only lists. After a bind only the ids the store
//! does not hold yet are asked, one GET each, so a restart storm costs nothing more when
//! the store is in step with the devices.

use super::Family;
use crate::model::family::items;
use crate::model::family::timer::{self, Timer};
use crate::model::family::trigger::{self, Trigger};
use serde_json::json;

/// Timers and auto-off.
pub(super) const SCHEDULE: Family = Family {
    reads: &[
        (timer::NS_TIMERX, "timerx", timer::read),
        (timer::NS_DIGEST, "digest", items::read_digest::<Timer>),
        (timer::NS_TIMER, "timer", timer::read_legacy),
        (trigger::NS_TRIGGERX, "triggerx", trigger::read),
        (trigger::NS_DIGEST, "digest", items::read_digest::<Trigger>),
        (trigger::NS_TRIGGER, "trigger", trigger::read_legacy),
    ],
    digest: &[
        ("timerx", items::read_digest::<Timer>),
        ("triggerx", items::read_digest::<Trigger>),
    ],
    ability: &[],
    // Old firmware lists its timers and rules whole, in one answer each (asked only when
    // its Ability lists them: TimerX firmware lists neither).
    asks: &[
        (timer::NS_TIMER, |_| Some(json!({}))),
        (trigger::NS_TRIGGER, |_| Some(json!({}))),
    ],
    each: &[
        (timer::NS_TIMERX, items::pending_asks::<Timer>),
        (trigger::NS_TRIGGERX, items::pending_asks::<Trigger>),
    ],
};
