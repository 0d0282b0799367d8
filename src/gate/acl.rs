//! Who may publish, subscribe to and receive which topic: one table of rows, and a pure,
//! synchronous check. No I/O here, so that the same rules can later answer an external
//! broker's auth/ACL hook.
//!
//! | who | may publish | may subscribe | receives |
//! |---|---|---|---|
//! | device | its own `/appliance/<uuid>/publish`; the `from` topic of a request it received | its own `/appliance/<uuid>/subscribe` | what it subscribed |
//! | MOKO plug | its own `<prefix>/device/<what>` | its own `<prefix>/app/...` | what it subscribed |
//! | app (account login) | `/appliance/<uuid>/subscribe` and `<base>/<uuid>/<object>/set` of its account's devices; `<prefix>/status`; free topics | anything but `$...` (a MOKO plug's topics: its account's) | all but other accounts' device and app topics |
//! | local (loopback, no login) | `/appliance/<uuid>/subscribe`, `<prefix>/app/<what>` of a MOKO plug, `<base>/<uuid>/<object>/set` of any device; `<prefix>/status`; free topics | anything but `$...` | everything |
//!
//! A MOKO topic is `<function>/<name>/<region>/<mac>/{device,app}/<what>`; the plug's
//! prefix is the one it was paired with, and only merossd and local tools speak to it.
//!
//! For everyone: nothing retained (only merossd retains, on its own link), no wildcard,
//! empty, NUL or over-long topic in a publish, nothing as another device, nothing into
//! merossd's or Home Assistant's namespaces but the two command topics above. A will is
//! a publish checked at login.

use super::auth::Identity;
use crate::protocol::moko::{MokoTopic, Side};
use crate::protocol::topic::{Topic, ALL_DEVICES_PUBLISH, ENGINE_APP};

/// The longest topic or filter taken (real ones are under 120 bytes).
pub const MAX_TOPIC_BYTES: usize = 512;

/// What a connection asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// A PUBLISH from the connection (also its will, checked at login).
    Publish {
        /// The topic published to.
        topic: &'a str,
        /// The packet's retain flag: denied for everyone but merossd.
        retain: bool,
    },
    /// One filter of a SUBSCRIBE.
    Subscribe {
        /// The topic filter, wildcards allowed.
        filter: &'a str,
    },
    /// A message the router delivers to this connection.
    Receive {
        /// The topic the message was published to.
        topic: &'a str,
    },
}

/// Why the rules said no; counters and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Only merossd retains messages.
    Retained,
    /// Empty, over-long, NUL, or a wildcard where a topic is needed.
    BadTopic,
    /// Another device's topic, or another account's.
    NotYours,
    /// No row allows it.
    NotInTable,
}

impl Denial {
    /// The snake_case name logs give as `why`.
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::Retained => "retained",
            Denial::BadTopic => "bad_topic",
            Denial::NotYours => "not_yours",
            Denial::NotInTable => "not_in_table",
        }
    }
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A row allows it.
    Allow,
    /// Refused, and why.
    Deny(Denial),
}

/// Who owns which device, as far as the gate knows.
pub trait Owners {
    /// `Some(true)` if `uuid` belongs to account `user_id`, `Some(false)` if to another,
    /// `None` if the device is unknown.
    fn owned_by(&self, uuid: &str, user_id: &str) -> Option<bool>;
}

/// The registry is who owns which device, for the rules (the trait lets the rules' tests
/// use a table of their own).
impl Owners for crate::registry::Registry {
    fn owned_by(&self, uuid: &str, user_id: &str) -> Option<bool> {
        crate::registry::Registry::owned_by(self, uuid, user_id)
    }
}

/// The topic shapes the rows speak of; "mine" is relative to the one asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `/appliance/<uuid>/publish` of my device (or my own, for a device).
    MyDeviceSays,
    /// `/appliance/<uuid>/subscribe` of my device.
    MyDeviceHears,
    /// `<prefix>/device/<what>` of my MOKO plug (my own, for a MOKO plug).
    MyMokoSays,
    /// `<prefix>/app/...` of my MOKO plug.
    MyMokoHears,
    /// `/appliance/+/publish`: every device, filtered per delivery.
    AllDevicesSay,
    /// A topic a request to this device named as `from`.
    NamedReply,
    /// `/app/<my user>...`
    MyApp,
    /// `<base>/<uuid>/<object>/set` of my device.
    MyCommand,
    /// `<prefix>/status`: Home Assistant's birth and will.
    HaStatus,
    /// Anything under merossd's base or the discovery prefix not named above.
    Bridge,
    /// Someone else's device or app topic.
    Theirs,
    /// `$SYS` and the like.
    System,
    /// A filter with wildcards outside the shapes above.
    Wildcard,
    /// Not a topic.
    Invalid,
    /// Nothing merossd or Meross uses.
    Free,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Device,
    Moko,
    App,
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Pub,
    Sub,
}

use Act::*;
use Role::*;
use Shape::*;

/// Everything allowed; the rest is denied. Receiving is allowed unless the shape is
/// `Theirs` (see [`Acl::check`]).
const ALLOW: &[(Role, Act, Shape)] = &[
    (Device, Pub, MyDeviceSays),
    (Device, Pub, NamedReply),
    (Device, Sub, MyDeviceHears),
    (Moko, Pub, MyMokoSays),
    (Moko, Sub, MyMokoHears),
    (App, Sub, MyMokoSays),
    (App, Sub, MyMokoHears),
    (Local, Pub, MyMokoHears),
    (Local, Sub, MyMokoSays),
    (Local, Sub, MyMokoHears),
    (App, Pub, MyDeviceHears),
    (App, Pub, MyCommand),
    (App, Pub, HaStatus),
    (App, Pub, Free),
    (App, Sub, MyDeviceSays),
    (App, Sub, MyDeviceHears),
    (App, Sub, AllDevicesSay),
    (App, Sub, MyApp),
    (App, Sub, MyCommand),
    (App, Sub, HaStatus),
    (App, Sub, Bridge),
    (App, Sub, Wildcard),
    (App, Sub, Free),
    (Local, Pub, MyDeviceHears),
    (Local, Pub, MyCommand),
    (Local, Pub, HaStatus),
    (Local, Pub, Free),
    (Local, Sub, MyDeviceSays),
    (Local, Sub, MyDeviceHears),
    (Local, Sub, AllDevicesSay),
    (Local, Sub, MyApp),
    (Local, Sub, MyCommand),
    (Local, Sub, HaStatus),
    (Local, Sub, Bridge),
    (Local, Sub, Wildcard),
    (Local, Sub, Free),
];

/// The rules, with the parts that come from the configuration.
#[derive(Debug, Clone)]
pub struct Acl {
    /// Home Assistant's discovery prefix (`homeassistant`).
    pub discovery_prefix: String,
    /// merossd's own state and command topics (`merossd`).
    pub base_topic: String,
}

impl Acl {
    /// Decides one action. `named_reply` says whether a request this device received named
    /// the topic as its `from` (only devices have such topics).
    pub fn check(
        &self,
        who: &Identity,
        action: Action<'_>,
        named_reply: bool,
        owners: &dyn Owners,
    ) -> Verdict {
        let role = match who {
            Identity::Device { .. } => Device,
            Identity::Moko { .. } => Moko,
            Identity::App { .. } => App,
            Identity::Local => Local,
        };
        let (act, text) = match action {
            Action::Publish { retain: true, .. } => return Verdict::Deny(Denial::Retained),
            Action::Publish { topic, .. } => (Pub, topic),
            Action::Subscribe { filter } => (Sub, filter),
            Action::Receive { topic } => {
                return match self.shape(who, topic, false, owners) {
                    Theirs => Verdict::Deny(Denial::NotYours),
                    _ => Verdict::Allow,
                };
            }
        };
        if act == Pub && text.contains(['+', '#']) {
            return Verdict::Deny(Denial::BadTopic);
        }
        let shape = self.shape(who, text, named_reply && act == Pub, owners);
        if ALLOW.contains(&(role, act, shape)) {
            return Verdict::Allow;
        }
        Verdict::Deny(match shape {
            Invalid => Denial::BadTopic,
            Theirs => Denial::NotYours,
            _ => Denial::NotInTable,
        })
    }

    fn shape(&self, who: &Identity, topic: &str, named_reply: bool, owners: &dyn Owners) -> Shape {
        if topic.is_empty() || topic.len() > MAX_TOPIC_BYTES || topic.contains('\0') {
            return Invalid;
        }
        if topic.starts_with('$') {
            return System;
        }
        // Whether a device is the asker's: known yes, known no, or unknown.
        let mine = |uuid: &str| match who {
            Identity::Device { uuid: own, .. } | Identity::Moko { id: own, .. } => {
                Some(own == uuid)
            }
            Identity::App { user_id } => owners.owned_by(uuid, user_id),
            Identity::Local => Some(true),
        };
        if let Some(moko) = MokoTopic::parse(topic) {
            return moko_shape(who, &moko, mine);
        }
        let intrinsic = match Topic::parse(topic) {
            Topic::DevicePublish(uuid) if mine(uuid) == Some(true) => MyDeviceSays,
            Topic::DeviceSubscribe(uuid) if mine(uuid) == Some(true) => MyDeviceHears,
            Topic::DevicePublish(_) | Topic::DeviceSubscribe(_) => Theirs,
            Topic::App { user } => match who {
                Identity::Local => MyApp,
                Identity::App { user_id } if user_id == user => MyApp,
                _ => Theirs,
            },
            Topic::Other if topic == ALL_DEVICES_PUBLISH => AllDevicesSay,
            Topic::Other => self.bridge_shape(topic, mine),
        };
        // A device may answer a request wherever its `from` said, unless that is a topic
        // with a meaning of its own (a device's, merossd's, Home Assistant's).
        if named_reply {
            match (Topic::parse(topic), intrinsic, who) {
                // An app inbox: only its own account's, or merossd's own.
                (Topic::App { user }, _, Identity::Device { user_id, .. })
                    if user == user_id || user == ENGINE_APP =>
                {
                    return NamedReply
                }
                (Topic::Other, Free, _) => return NamedReply,
                _ => {}
            }
        }
        intrinsic
    }

    fn bridge_shape(&self, topic: &str, mine: impl Fn(&str) -> Option<bool>) -> Shape {
        if let Some(rest) = under(topic, &self.base_topic) {
            let parts: Vec<&str> = rest.split('/').collect();
            if let [uuid, object, "set"] = parts[..] {
                if crate::protocol::valid_uuid(uuid) && command_object(object) {
                    // A command needs a device known to be the asker's.
                    return if mine(uuid) == Some(true) {
                        MyCommand
                    } else {
                        Theirs
                    };
                }
            }
            // State: hidden only where the device is known to be someone else's.
            return match parts.first() {
                Some(uuid) if crate::protocol::valid_uuid(uuid) && mine(uuid) == Some(false) => {
                    Theirs
                }
                _ => Bridge,
            };
        }
        if let Some(rest) = under(topic, &self.discovery_prefix) {
            return if rest == "status" { HaStatus } else { Bridge };
        }
        if topic.contains(['+', '#']) {
            return Wildcard;
        }
        Free
    }
}

/// A MOKO topic's shape: a plug's own is the prefix it was paired with; anyone else's
/// is whose the plug's id is.
fn moko_shape(who: &Identity, topic: &MokoTopic<'_>, mine: impl Fn(&str) -> Option<bool>) -> Shape {
    let is_mine = match who {
        Identity::Moko { prefix, .. } => prefix == topic.prefix,
        Identity::Device { .. } => false,
        _ => topic.id().is_some_and(|id| mine(&id) == Some(true)),
    };
    match (is_mine, topic.side) {
        (false, _) => Theirs,
        // A plug says one thing per topic: no wildcards on its own side.
        (true, Side::Device) if topic.what.contains(['+', '#']) => Wildcard,
        (true, Side::Device) => MyMokoSays,
        (true, Side::App) => MyMokoHears,
    }
}

/// What a Home Assistant command topic may name between the uuid and `set`: a channel
/// (`0`) or a family's object (`light_0`, `climate_0_temperature`, `sub_01008C11_mode`).
fn command_object(object: &str) -> bool {
    (1..=64).contains(&object.len())
        && object
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The part of `topic` under `prefix/`, or `None`; a filter that covers the prefix (`#`,
/// `+/...`) counts as under it too.
fn under<'a>(topic: &'a str, prefix: &str) -> Option<&'a str> {
    if let Some(rest) = topic.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
        return Some(rest);
    }
    let first = topic.split('/').next().unwrap_or_default();
    (first == "#" || first == "+").then_some("#")
}

#[cfg(test)]
mod tests;
