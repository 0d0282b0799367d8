//! Diffusers and humidifiers: sprays and a diffuser's light (a humidifier's light is a
//! plain `Control.Light`, see `light`).

use super::{everything, Family};
use crate::model::family::diffuser::{self, NS_DIFFUSER_SPRAY, NS_SPRAY};
use crate::model::family::light::{self, NS_DIFFUSER_LIGHT};

/// Diffusers and humidifiers.
pub(super) const DIFFUSER: Family = Family {
    reads: &[
        (NS_DIFFUSER_SPRAY, "spray", diffuser::read_diffuser_spray),
        (NS_DIFFUSER_LIGHT, "light", light::read_diffuser),
        (NS_SPRAY, "spray", diffuser::read_humidifier_spray),
    ],
    digest: &[
        ("diffuser", diffuser::read_digest),
        ("spray", diffuser::read_humidifier_spray),
    ],
    ability: &[],
    asks: &[(NS_SPRAY, |_| Some(everything("spray")))],
    each: &[],
};
