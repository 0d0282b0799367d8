//! The domain model, below the store and the engine, which both speak it: a device and
//! what is known of it (`device`), what it can do (`abilities`), and what happens to it
//! (`change`: changes, events, notices), and the typed state of each device family
//! beyond plugs (`family`).

pub mod abilities;
pub mod change;
pub mod device;
pub mod family;

pub use abilities::{Abilities, Ability};
pub use change::{AnswerKind, Change, Event, EventKind, Notice};
pub use device::{Channel, Device, Reading, Sample};
pub use family::Families;
