//! Lights and dimmers: `Control.Light` (the digest's `light`), what the Ability says
//! they can do, and their effects' list is left to `merossd request`.

use super::{everything, Family};
use crate::model::family::light::{self, NS_LIGHT};

/// Lights.
pub(super) const LIGHT: Family = Family {
    reads: &[(NS_LIGHT, "light", light::read)],
    digest: &[("light", light::read)],
    ability: &[(NS_LIGHT, light::read_ability)],
    asks: &[(NS_LIGHT, |_| Some(everything("light")))],
    each: &[],
};
