//! The Meross MQTT topics, named once: what a topic is tells the engine whose message it
//! reads and tells the gate's rules who may use it.

use super::valid_uuid;

/// What a Meross topic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// `/appliance/<uuid>/publish`: everything a device says.
    DevicePublish(&'a str),
    /// `/appliance/<uuid>/subscribe`: everything said to a device.
    DeviceSubscribe(&'a str),
    /// `/app/<user>[-<app>]/subscribe` (and anything else under `/app/<user>...`): an
    /// app's inbox; `user` is the part before the first `-`.
    App {
        /// The user id of the account the inbox belongs to ([`ENGINE_APP`] for the engine's).
        user: &'a str,
    },
    /// Any other topic.
    Other,
}

impl<'a> Topic<'a> {
    /// Reads a topic (or a filter: `+` and `#` are then just other characters).
    pub fn parse(topic: &'a str) -> Topic<'a> {
        if let Some(rest) = topic.strip_prefix("/appliance/") {
            let device = |suffix| rest.strip_suffix(suffix).filter(|uuid| valid_uuid(uuid));
            if let Some(uuid) = device("/publish") {
                return Topic::DevicePublish(uuid);
            }
            if let Some(uuid) = device("/subscribe") {
                return Topic::DeviceSubscribe(uuid);
            }
            return Topic::Other;
        }
        if let Some(rest) = topic.strip_prefix("/app/") {
            let inbox = rest.split('/').next().unwrap_or_default();
            let user = inbox.split('-').next().unwrap_or_default();
            if !user.is_empty() {
                return Topic::App { user };
            }
        }
        Topic::Other
    }
}

/// The user part of the engine's own reply topic (`/app/merossd-<id>/subscribe`).
pub const ENGINE_APP: &str = "merossd";

/// The filter that reads what every device says.
pub const ALL_DEVICES_PUBLISH: &str = "/appliance/+/publish";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_named() {
        let uuid = "2208022697555151200348e1e9aabbcc";
        let cases = [
            (
                format!("/appliance/{uuid}/publish"),
                Topic::DevicePublish(uuid),
            ),
            (
                format!("/appliance/{uuid}/subscribe"),
                Topic::DeviceSubscribe(uuid),
            ),
            ("/appliance/meross_lan/publish".into(), Topic::Other),
            (format!("/appliance/{uuid}/publish/x"), Topic::Other),
            ("/appliance/+/publish".into(), Topic::Other),
            (
                "/app/1234-abc/subscribe".into(),
                Topic::App { user: "1234" },
            ),
            ("/app/1234/subscribe".into(), Topic::App { user: "1234" }),
            (
                "/app/merossd-1a2b/subscribe".into(),
                Topic::App { user: "merossd" },
            ),
            ("/app//subscribe".into(), Topic::Other),
            ("merossd/x/0/set".into(), Topic::Other),
        ];
        for (topic, want) in &cases {
            assert_eq!(Topic::parse(topic), *want, "{topic}");
        }
    }
}
