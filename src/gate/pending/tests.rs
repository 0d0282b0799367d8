use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const LATER: Duration = Duration::from_secs(3);

#[test]
fn a_silent_source_past_its_share_gives_up_its_silent_ones_down_to_its_share() {
    let table = Arc::new(PendingTable::default());
    let lan = ip("192.0.2.7");
    let t0 = Instant::now();
    let held: Vec<Pending> = (0..20).map(|_| table.take_at(lan, t0).0.unwrap()).collect();
    assert_eq!(table.waiting(lan), 20, "none has been silent long yet");
    held[3].heard();
    let (_newest, evicted) = table.take_at(lan, t0 + LATER);
    assert_eq!(evicted, 5);
    assert_eq!(table.waiting(lan), MAX_PENDING_PER_SOURCE);
    let (_other, evicted) = table.take_at(ip("192.0.2.8"), t0 + LATER);
    assert_eq!(evicted, 0, "others are not affected");
    let mut held = held;
    assert!(held[3].release(), "the one that spoke kept its place");
    assert!(!held[0].release(), "the oldest silent one went");
}

#[test]
fn a_crowd_at_work_behind_one_address_is_taken_past_its_share() {
    let table = Arc::new(PendingTable::default());
    let nat = ip("192.0.2.9");
    let t0 = Instant::now();
    let crowd: Vec<Pending> = (0..200)
        .map(|_| table.take_at(nat, t0).0.unwrap())
        .collect();
    crowd.iter().for_each(Pending::heard);
    let (_one_more, evicted) = table.take_at(nat, t0 + LATER);
    assert_eq!(evicted, 0);
    assert_eq!(table.waiting(nat), 201);
}

#[tokio::test]
async fn a_full_pool_takes_a_connection_that_has_not_spoken_and_tells_it() {
    let table = Arc::new(PendingTable::new(8));
    let flood: Vec<Pending> = (0..8)
        .map(|_| table.take(ip("127.0.0.9")).0.unwrap())
        .collect();
    let mut oldest = flood.into_iter();
    let mut first = oldest.next().unwrap();
    let (plug, evicted) = table.take(ip("127.0.0.1"));
    assert!(plug.is_some());
    assert_eq!(evicted, 1);
    tokio::time::timeout(std::time::Duration::from_secs(1), first.eviction().wait())
        .await
        .expect("the oldest of the flood was told to go");
    assert_eq!(table.waiting(ip("127.0.0.9")), 7);
}

#[test]
fn a_full_pool_takes_a_silent_connection_before_one_at_work() {
    let table = Arc::new(PendingTable::new(3));
    let busy = ip("192.0.2.10");
    let t0 = Instant::now();
    let mut held: Vec<Pending> = (0..3).map(|_| table.take_at(busy, t0).0.unwrap()).collect();
    held[0].heard();
    held[2].heard();
    let (_plug, evicted) = table.take_at(ip("192.0.2.11"), t0 + LATER);
    assert_eq!(evicted, 1);
    assert!(!held[1].release(), "the silent one went");
    assert!(held[0].release() && held[2].release());
}

#[test]
fn a_full_pool_of_plugs_at_work_turns_the_newcomer_away_until_one_stalls() {
    let table = Arc::new(PendingTable::new(4));
    let t0 = Instant::now();
    let mut crowd: Vec<Pending> = (1..=4u64)
        .map(|i| {
            let at = t0 + Duration::from_millis(i);
            table.take_at(ip(&format!("192.0.2.{i}")), at).0.unwrap()
        })
        .collect();
    crowd.iter().for_each(Pending::heard);
    let (newcomer, evicted) = table.take_at(ip("192.0.2.99"), t0 + LATER);
    assert!(newcomer.is_none(), "no handshake under way is cut short");
    assert_eq!(evicted, 0);
    let later = t0 + STALLED_AFTER + Duration::from_millis(1);
    let (newcomer, evicted) = table.take_at(ip("192.0.2.99"), later);
    assert!(newcomer.is_some());
    assert_eq!(evicted, 1);
    assert!(!crowd[0].release(), "the oldest, stalled, went");
}

#[test]
fn an_ipv6_64_is_one_source() {
    assert_eq!(
        Source::of(ip("2001:db8:1:2::1")),
        Source::of(ip("2001:db8:1:2:ffff::7"))
    );
    assert_ne!(
        Source::of(ip("2001:db8:1:2::1")),
        Source::of(ip("2001:db8:1:3::1"))
    );
    assert_eq!(
        Source::of(ip("::ffff:192.0.2.1")),
        Source::of(ip("192.0.2.1"))
    );
}
