//! What every device has: do-not-disturb and its signal, asked after a bind.

use super::{everything, Family};
use crate::model::family::system::{self, NS_DND, NS_RUNTIME};

/// Do-not-disturb and signal.
pub(super) const SYSTEM: Family = Family {
    reads: &[
        (NS_DND, "DNDMode", system::read_dnd),
        (NS_RUNTIME, "runtime", system::read_runtime),
    ],
    digest: &[],
    ability: &[],
    asks: &[
        (NS_DND, |_| Some(everything("DNDMode"))),
        (NS_RUNTIME, |_| Some(everything("runtime"))),
    ],
};
