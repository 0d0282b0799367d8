//! Where a device may answer: the `from` of the requests delivered to it, newest last
//! (a topic the router can take only), so that the topic rules can let its reply there.

use super::peek;
use crate::mqtt::packet::Publish;
use crate::protocol::topic::Topic;
use std::collections::VecDeque;

/// Reply topics remembered per device (the newest requests' `from`).
const MAX_REPLY_TOPICS: usize = 16;

/// Notes the `from` of a request delivered to a device: the device may answer there.
pub(super) fn remember_reply_topic(p: &Publish<'_>, replies: &mut VecDeque<String>) {
    remember_reply(p.topic, p.payload, replies)
}

/// The same, for a message by its topic and payload.
pub(super) fn remember_reply(topic: &str, payload: &[u8], replies: &mut VecDeque<String>) {
    if !matches!(Topic::parse(topic), Topic::DeviceSubscribe(_)) {
        return;
    }
    let Some(head) = peek::header(payload) else {
        return;
    };
    if !matches!(head.method.as_ref(), "GET" | "SET" | "DELETE") || head.from.is_empty() {
        return;
    }
    // Only a topic the router can take: the device's answer goes there.
    if !crate::broker::budget::routable_topic(&head.from) {
        return;
    }
    if replies.iter().any(|t| *t == head.from) {
        return;
    }
    if replies.len() == MAX_REPLY_TOPICS {
        replies.pop_front();
    }
    replies.push_back(head.from.into_owned());
}
