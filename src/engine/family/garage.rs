//! Garage doors: `GarageDoor.State` and the digest's `garageDoor`.

use super::{everything, Family};
use crate::model::family::garage::{self, NS_STATE};

/// Garage door openers.
pub(super) const GARAGE: Family = Family {
    reads: &[(NS_STATE, "state", garage::read)],
    digest: &[("garageDoor", garage::read)],
    ability: &[],
    asks: &[(NS_STATE, |_| Some(everything("state")))],
    each: &[],
};
