//! What every device has: do-not-disturb and its signal, asked after its first bind.

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
    // Asked once: a device whose record has them (from an earlier bind, kept in the
    // store) is not asked again, so that a restart storm costs no more requests.
    asks: &[
        (NS_DND, |f| f.dnd.is_none().then(|| everything("DNDMode"))),
        (NS_RUNTIME, |f| {
            f.signal_percent.is_none().then(|| everything("runtime"))
        }),
    ],
    each: &[],
};
