//! A copy of every retained message merossd put on the router. Only merossd retains (the
//! topic rules refuse a client's retained publish), so this copy is complete: the gate
//! hands a client the retained messages of a filter it subscribes to again (rumqttd sends
//! them only for a filter new to the connection, where MQTT 3.1.1 §3.3.1.3 wants them
//! on every SUBSCRIBE), and a router started again is given them back.

use crate::mqtt::filter;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// topic -> payload, for every retained message merossd holds on the router.
#[derive(Debug, Default)]
pub struct Retained(Mutex<BTreeMap<String, Bytes>>);

impl Retained {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Bytes>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a retained publish; an empty payload clears the topic, as at the router.
    pub fn set(&self, topic: &str, payload: &[u8]) {
        let mut map = self.lock();
        if payload.is_empty() {
            map.remove(topic);
        } else {
            map.insert(topic.to_owned(), Bytes::copy_from_slice(payload));
        }
    }

    /// The retained messages `filter` matches, in topic order.
    pub fn matching(&self, filter: &str) -> Vec<(String, Bytes)> {
        self.lock()
            .iter()
            .filter(|(topic, _)| filter::matches(filter, topic))
            .map(|(t, p)| (t.clone(), p.clone()))
            .collect()
    }

    /// Every retained message.
    pub fn all(&self) -> Vec<(String, Bytes)> {
        self.matching("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_gets_what_it_matches_and_an_empty_payload_clears() {
        let r = Retained::default();
        r.set("merossd/a/availability", b"online");
        r.set("merossd/b/availability", b"offline");
        r.set("homeassistant/switch/a/config", b"{}");
        let got = r.matching("merossd/+/availability");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            (
                "merossd/a/availability".into(),
                Bytes::from_static(b"online")
            )
        );
        r.set("merossd/a/availability", b"");
        assert_eq!(r.matching("merossd/#").len(), 1);
        assert_eq!(r.all().len(), 2);
    }
}
