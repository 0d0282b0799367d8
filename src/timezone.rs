//! Time zones for `Appliance.System.Time`: the zone's IANA name and the `timeRule` list of
//! UTC-offset transitions (`[utc_start, offset_s, is_dst]`), from jiff's bundled tz
//! database. Metering plugs report 0 W until they have a zone, and schedules run on the
//! plug's own clock.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

/// Rules sent to a device: the one in effect now and the next ones, ~10 years of DST.
pub const RULES: usize = 20;

/// A zone by IANA name; `None` if the tz database does not know it.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

/// The host's zone name if it has one jiff knows, else `UTC`.
pub fn host_zone_name() -> String {
    TimeZone::system()
        .iana_name()
        .filter(|n| zone(n).is_some())
        .unwrap_or("UTC")
        .to_owned()
}

/// `[utc_start, offset_s, is_dst]` for the transition in effect at `now` and the following
/// ones, `count` in all. A zone without transitions ahead gets the single rule in effect.
pub fn time_rules(tz: &TimeZone, now: Timestamp, count: usize) -> Vec<[i64; 3]> {
    let rule = |start: i64, offset: jiff::tz::Offset, dst: bool| {
        [start.max(0), i64::from(offset.seconds()), i64::from(dst)]
    };
    let mut rules = Vec::with_capacity(count);
    // `preceding` is strict: look from just after `now` so a transition at `now` counts.
    let current = tz.preceding(now + SignedDuration::from_secs(1)).next();
    match current {
        Some(t) => rules.push(rule(
            t.timestamp().as_second(),
            t.offset(),
            t.dst().is_dst(),
        )),
        None => {
            let info = tz.to_offset_info(now);
            rules.push(rule(0, info.offset(), info.dst().is_dst()));
        }
    }
    for t in tz.following(now).take(count.saturating_sub(1)) {
        rules.push(rule(
            t.timestamp().as_second(),
            t.offset(),
            t.dst().is_dst(),
        ));
    }
    rules
}

/// The payload of `SET Appliance.System.Time` for zone `name` at `now` (epoch seconds).
pub fn time_payload(name: &str, tz: &TimeZone, now: i64) -> Value {
    let ts = Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH);
    json!({"time": {"timestamp": now, "timezone": name, "timeRule": time_rules(tz, ts, RULES)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-21T00:00:00Z. Expected values were taken from Python's zoneinfo (the system
    // tz database), independently of jiff; London's also match the mss310 trace.
    const NOW: i64 = 1_795_219_200;

    fn rules(name: &str) -> Vec<[i64; 3]> {
        time_rules(
            &zone(name).unwrap(),
            Timestamp::from_second(NOW).unwrap(),
            RULES,
        )
    }

    #[test]
    fn london_has_bst_transitions() {
        let r = rules("Europe/London");
        assert_eq!(r.len(), RULES);
        assert_eq!(
            &r[..5],
            &[
                [1792890000, 0, 0],
                [1806195600, 3600, 1],
                [1824944400, 0, 0],
                [1837645200, 3600, 1],
                [1856394000, 0, 0]
            ]
        );
    }

    #[test]
    fn new_york_has_edt_transitions() {
        let r = rules("America/New_York");
        assert_eq!(
            &r[..5],
            &[
                [1793512800, -18000, 0],
                [1805007600, -14400, 1],
                [1825567200, -18000, 0],
                [1836457200, -14400, 1],
                [1857016800, -18000, 0]
            ]
        );
    }

    #[test]
    fn sydney_is_in_summer_time_in_november() {
        let r = rules("Australia/Sydney");
        assert_eq!(
            &r[..5],
            &[
                [1791043200, 39600, 1],
                [1806768000, 36000, 0],
                [1822492800, 39600, 1],
                [1838217600, 36000, 0],
                [1853942400, 39600, 1]
            ]
        );
    }

    #[test]
    fn kolkata_without_dst_gets_one_rule() {
        let r = rules("Asia/Kolkata");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0][1..], [19800, 0]);
    }

    #[test]
    fn rules_alternate_and_ascend() {
        for name in [
            "Europe/London",
            "America/New_York",
            "Australia/Sydney",
            "Europe/Rome",
        ] {
            let r = rules(name);
            assert!(
                r.windows(2)
                    .all(|w| w[0][0] < w[1][0] && w[0][2] != w[1][2]),
                "{name}: {r:?}"
            );
        }
    }
}
