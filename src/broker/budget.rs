//! What app and local clients may make the router hold. rumqttd keeps a log for every
//! distinct filter and an index entry for every distinct topic it has seen, and frees
//! neither while it runs, so the gate counts them and refuses new ones past a cap: per
//! connection (so one client cannot take everyone's share) and in all (so many clients
//! cannot either). A router started again holds nothing, and the count starts again.
//!
//! | what | per connection | in all |
//! |---|---|---|
//! | filters held | [`MAX_FILTERS_PER_CONNECTION`] | [`MAX_ROUTER_FILTERS`] distinct |
//! | topics published | [`MAX_NEW_TOPICS_PER_CONNECTION`] new ones | [`MAX_ROUTER_TOPICS`] distinct |

use crate::mqtt::filter;
use std::collections::HashSet;
use std::sync::Mutex;

/// The most filters one SUBSCRIBE may carry: Home Assistant sends all of its filters in
/// one (7, and 2 per plug; 8 per plug with meross_lan), and mosquitto takes 500.
pub const MAX_FILTERS_PER_SUBSCRIBE: usize = 1536;
/// The most filters one connection may hold at once: half of what the router may hold.
pub const MAX_FILTERS_PER_CONNECTION: usize = 1536;
/// Distinct filters the router may be given while it runs. rumqttd gives each a log that
/// reserves 232 KiB of address space and uses some KB of memory (a few MB once busy):
/// two Home Assistants with 750 plugs each, in 700 MB of a 32-bit Pi's address space.
pub const MAX_ROUTER_FILTERS: usize = 3072;
/// Topics one connection may be the first to publish to.
pub const MAX_NEW_TOPICS_PER_CONNECTION: usize = 2048;
/// Distinct topics clients may publish to while the router runs (about 200 bytes each
/// there once a filter matched them).
pub const MAX_ROUTER_TOPICS: usize = 20_000;

/// Whether the router can take `topic` in a PUBLISH (or a will): rumqttd's matcher slices
/// the first byte off every topic (`topic[..1]`), which panics its thread when the first
/// character is more than one byte long; and a `$` topic matches nothing there. Such a
/// topic, or one that is not a topic name at all, is kept from the router.
pub fn routable_topic(topic: &str) -> bool {
    filter::valid_topic(topic) && starts_plain(topic)
}

/// The same for a filter in a SUBSCRIBE: the matcher also compares filters, and rumqttd
/// drops a connection whose filter starts with `$` without a SUBACK.
pub fn routable_filter(filter: &str) -> bool {
    filter::valid_filter(filter) && starts_plain(filter)
}

fn starts_plain(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii() && c != '$')
}

/// Why a filter or topic was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// This connection holds (or made) as many as it may.
    Connection,
    /// The router holds as many as it may.
    Router,
}

impl OverBudget {
    /// The reason as the gate logs it ("connection_budget" or "router_budget").
    pub fn as_str(self) -> &'static str {
        match self {
            OverBudget::Connection => "connection_budget",
            OverBudget::Router => "router_budget",
        }
    }
}

/// What the router holds, as far as clients made it.
#[derive(Debug, Default)]
pub struct RouterBudget {
    filters: Mutex<HashSet<String>>,
    topics: Mutex<HashSet<String>>,
}

fn lock(set: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    set.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes `item` into `set` unless it is new and the set is full; whether it was new.
fn take(set: &Mutex<HashSet<String>>, item: &str, cap: usize) -> Result<bool, OverBudget> {
    let mut set = lock(set);
    if set.contains(item) {
        return Ok(false);
    }
    if set.len() >= cap {
        return Err(OverBudget::Router);
    }
    set.insert(item.to_owned());
    Ok(true)
}

impl RouterBudget {
    /// May a connection that holds `held` filters subscribe to `filter` too?
    pub fn filter(&self, filter: &str, held: usize) -> Result<(), OverBudget> {
        if held >= MAX_FILTERS_PER_CONNECTION {
            return Err(OverBudget::Connection);
        }
        take(&self.filters, filter, MAX_ROUTER_FILTERS).map(drop)
    }

    /// May a connection that was first to publish to `made` topics publish to `topic`?
    /// Ok(true) if the topic is new to the router (the connection's count grows).
    pub fn topic(&self, topic: &str, made: usize) -> Result<bool, OverBudget> {
        if lock(&self.topics).contains(topic) {
            return Ok(false);
        }
        if made >= MAX_NEW_TOPICS_PER_CONNECTION {
            return Err(OverBudget::Connection);
        }
        take(&self.topics, topic, MAX_ROUTER_TOPICS)
    }

    /// The router started again empty.
    pub fn clear(&self) {
        lock(&self.filters).clear();
        lock(&self.topics).clear();
    }

    /// (distinct filters, distinct topics) the router holds from clients.
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        (lock(&self.filters).len(), lock(&self.topics).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_character_of_more_than_one_byte_never_reaches_the_router() {
        assert!(routable_topic("a/é") && routable_filter("a/é/#"));
        assert!(!routable_topic("é/x") && !routable_filter("é/#") && !routable_filter("ü"));
        assert!(!routable_topic("") && !routable_filter("a/#/b"));
    }

    #[test]
    fn a_known_filter_or_topic_costs_nothing_and_new_ones_stop_at_the_caps() {
        let b = RouterBudget::default();
        assert_eq!(b.filter("a/#", 0), Ok(()));
        assert_eq!(
            b.filter("a/#", MAX_FILTERS_PER_CONNECTION),
            Err(OverBudget::Connection)
        );
        assert_eq!(b.topic("t/1", 0), Ok(true));
        assert_eq!(b.topic("t/1", MAX_NEW_TOPICS_PER_CONNECTION), Ok(false));
        assert_eq!(
            b.topic("t/2", MAX_NEW_TOPICS_PER_CONNECTION),
            Err(OverBudget::Connection)
        );
        for i in 0..MAX_ROUTER_TOPICS - 1 {
            assert_eq!(b.topic(&format!("x/{i}"), 0), Ok(true));
        }
        assert_eq!(b.topic("one/more", 0), Err(OverBudget::Router));
        assert_eq!(b.held(), (1, MAX_ROUTER_TOPICS));
        b.clear();
        assert_eq!(b.topic("one/more", 0), Ok(true));
    }
}
