//! What the engine reports: changes for the store, events for the events table, and
//! notices for observers (the Home Assistant bridge, the API).

use super::device::{Device, Sample};
use serde::{Deserialize, Serialize};

/// Something that happened to a device, for the events table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When, in Unix seconds.
    pub at: u64,
    /// The device; `None` for a refused login whose client id names no device.
    pub uuid: Option<String>,
    /// What happened; stored by [`EventKind::as_str`].
    pub kind: EventKind,
    /// Free text that depends on the kind (a peer address, `channel 1 on`...); may be empty.
    pub detail: String,
}

/// What kind of thing an [`Event`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The device logged in; the detail is its address.
    Connected,
    /// The device's last connection closed; the detail is that connection's address.
    Disconnected,
    /// The device's first Bind on a connection; the detail is its type and firmware.
    Bound,
    /// The device said it was reset (Unbind).
    Unbound,
    /// A channel switched; the detail is `channel <n> on` or `off`.
    StateChanged,
    /// A login was refused; the detail is the address and the CONNACK code.
    RefusedLogin,
    /// A message's sign did not verify (recorded sparingly, as it is logged); the detail is
    /// its method, namespace and the total so far.
    SignFailure,
    /// The device was forgotten through the API.
    Forgotten,
}

impl EventKind {
    /// The snake_case name, as in JSON and the events table's `kind` column.
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
    /// Something to add to the events table.
    Event(Event),
    /// An electricity reading for the history.
    Sample(Sample),
    /// One of the device's own answers, as JSON text, to keep as it came.
    Answer {
        /// The device that answered.
        uuid: String,
        /// Which answer it is, and so which column of `devices` keeps it.
        kind: AnswerKind,
        /// The answer's payload part (`ability`, `all` or `report`) as JSON text.
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
