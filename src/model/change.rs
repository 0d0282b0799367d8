//! What the engine reports: changes for the store, events for the events table, and
//! notices for observers (the Home Assistant bridge, the API).

use super::device::{Device, Sample};
use serde::{Deserialize, Serialize};

/// Something that happened to a device, for the events table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: u64,
    pub uuid: Option<String>,
    pub kind: EventKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Connected,
    Disconnected,
    Bound,
    Unbound,
    StateChanged,
    RefusedLogin,
    SignFailure,
    Forgotten,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::Bound => "bound",
            EventKind::Unbound => "unbound",
            EventKind::StateChanged => "state_changed",
            EventKind::RefusedLogin => "refused_login",
            EventKind::SignFailure => "sign_failure",
            EventKind::Forgotten => "forgotten",
        }
    }
}

/// What the engine reports to the store and to observers.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The device's whole current record.
    Device(Box<Device>),
    /// The device was forgotten.
    Forget(String),
    Event(Event),
    /// An electricity reading for the history.
    Sample(Sample),
    /// One of the device's own answers, as JSON text, to keep as it came.
    Answer {
        uuid: String,
        kind: AnswerKind,
        json: String,
    },
    /// Per-day energy the device itself counted: (uuid, [(YYYY-MM-DD, Wh)]).
    Consumption(String, Vec<(String, f64)>),
}

/// Which of a device's answers an [`Change::Answer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `Appliance.System.Ability`'s `ability`.
    Ability,
    /// `Appliance.System.All`'s `all`.
    All,
    /// The last `Appliance.System.Report` PUSH's `report`.
    Report,
}

/// What observers (the Home Assistant bridge) hear: which device to look at again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Its record or readings changed.
    Updated(String),
    /// It was forgotten.
    Forgotten(String),
    /// New per-day energy counts were handed to the store.
    Energy(String),
}
