//! A real-size house: Home Assistant-sized subscriptions, retained messages on every
//! subscribe, honest offline, a router nothing can crash or bloat, a device's newest
//! session, and relays that are not hammered.

use crate::common::*;
use crate::raw::{self, device_connect, Got};
use merossd::broker::budget::{MAX_FILTERS_PER_CONNECTION, MAX_NEW_TOPICS_PER_CONNECTION};
use merossd::daemon::Daemon;
use merossd::mqtt::connect::Connect;
use merossd::mqtt::packet;
use std::time::Duration;

fn anonymous(client_id: &str) -> Connect {
    Connect::new(4, client_id, 30)
}

/// What Home Assistant sends on every (re)connect with `plugs` plugs: 7 filters of its
/// own and 2 per plug, in one SUBSCRIBE.
fn home_assistant_filters(plugs: usize) -> Vec<String> {
    let mut f: Vec<String> = [
        "homeassistant/status",
        "homeassistant/+/+/config",
        "homeassistant/+/+/+/config",
        "merossd/bridge/state",
        "homeassistant/device_automation/+/+/config",
        "homeassistant/tag/+/+/config",
        "homeassistant/event/+/+/config",
    ]
    .map(str::to_owned)
    .to_vec();
    for n in 0..plugs {
        f.push(format!("merossd/{n:032x}"));
        f.push(format!("merossd/{n:032x}/availability"));
    }
    f
}

#[tokio::test]
async fn a_subscribe_as_large_as_home_assistant_with_500_plugs_sends_is_taken_whole() {
    let d = daemon().await;
    let (mut ha, code) = raw::local(&d, &anonymous("ha-500")).await;
    assert_eq!(code, Some(0));
    let filters = home_assistant_filters(500);
    assert_eq!(filters.len(), 1007);
    let list: Vec<&str> = filters.iter().map(String::as_str).collect();
    let codes = ha
        .subscribe(&list)
        .await
        .expect("a SUBACK, not a closed connection");
    assert_eq!(codes.len(), 1007);
    assert!(
        codes.iter().all(|c| *c <= 1),
        "every filter granted: {codes:?}"
    );
    // And the connection is still there to use.
    assert!(ha.publish("homeassistant/status", b"online", false).await);
}

#[tokio::test]
async fn one_connection_holds_a_bounded_number_of_filters_and_the_rest_are_refused() {
    let d = daemon().await;
    let (mut c, _) = raw::local(&d, &anonymous("greedy")).await;
    let mut granted = 0;
    for batch in 0..(MAX_FILTERS_PER_CONNECTION / 512 + 1) {
        let filters: Vec<String> = (0..512).map(|i| format!("g/{batch}/{i}")).collect();
        let list: Vec<&str> = filters.iter().map(String::as_str).collect();
        let codes = c.subscribe(&list).await.expect("a SUBACK");
        granted += codes.iter().filter(|c| **c <= 1).count();
    }
    assert_eq!(granted, MAX_FILTERS_PER_CONNECTION);
    assert!(metric(&d, "merossd_router_refused").await >= 512);
    // Others still get theirs.
    let (mut other, _) = raw::local(&d, &anonymous("modest")).await;
    assert_eq!(other.subscribe(&["modest/#"]).await, Some(vec![1]));
}

#[tokio::test]
async fn a_retained_message_comes_again_on_every_subscribe_to_it() {
    let d = daemon().await;
    let plug = &plugs(&d, "rt", 1)[0];
    known(&d, plug).await;
    let topic = format!("merossd/{}/availability", plug.uuid);
    let (mut ha, _) = raw::local(&d, &anonymous("ha-again")).await;
    let mut received = 0;
    for round in 0..3 {
        // Home Assistant subscribes again, with a filter it holds already, for every
        // entity it adds.
        assert_eq!(
            ha.subscribe(&[&topic]).await,
            Some(vec![1]),
            "round {round}"
        );
        match ha.next_publish(Duration::from_secs(3)).await {
            Some((t, payload)) if t == topic => {
                assert_eq!(payload, b"online");
                received += 1;
            }
            other => panic!("round {round}: no retained availability: {other:?}"),
        }
    }
    assert_eq!(received, 3);
}

#[tokio::test]
async fn an_unsubscribe_gets_one_unsuback_whatever_it_names() {
    let d = daemon().await;
    let (mut c, _) = raw::local(&d, &anonymous("unsub")).await;
    assert_eq!(c.subscribe(&["u/1", "u/2"]).await, Some(vec![1, 1]));
    for filters in [vec!["u/1", "u/2"], vec!["never/held"]] {
        let pkid = 77;
        let mut body = vec![0, pkid];
        for f in &filters {
            body.extend_from_slice(&(f.len() as u16).to_be_bytes());
            body.extend_from_slice(f.as_bytes());
        }
        c.send(&packet::with_header((packet::UNSUBSCRIBE << 4) | 2, &body))
            .await;
        let mut unsubacks = 0;
        while let Got::Packet(p) = c.next(Duration::from_millis(800)).await {
            if p == packet::ack(packet::UNSUBACK, u16::from(pkid)) {
                unsubacks += 1;
            }
        }
        assert_eq!(unsubacks, 1, "for {filters:?}");
    }
}

#[tokio::test]
async fn a_frozen_metering_plug_goes_offline_on_its_own_keepalive_though_it_is_polled() {
    let d = polled_daemon("frozen").await;
    let mut sc = sim_config(&d, merossd::sim::Profile::metering_plug());
    sc.timings.keepalive = Duration::from_secs(2);
    let plug = &merossd::sim::fleet(&sc, "fz", 1, 1)[0];
    known(&d, plug).await;
    first_reading(&d, plug).await;
    plug.freeze();
    let frozen = std::time::Instant::now();
    // 1.5 keepalives (3 s), though the energy poll writes to it every second.
    eventually("the frozen plug offline", Duration::from_secs(8), || {
        d.engine.device(&plug.uuid).is_some_and(|x| !x.online)
    })
    .await;
    assert!(frozen.elapsed() >= Duration::from_millis(2500));
    eprintln!(
        "a frozen metering plug offline after {:?} (keepalive 2 s)",
        frozen.elapsed()
    );
    plug.stop();
}

#[tokio::test]
async fn a_topic_the_router_cannot_take_is_refused_and_everyone_goes_on() {
    let d = daemon().await;
    let plug = &plugs(&d, "mb", 1)[0];
    known(&d, plug).await;
    let (mut evil, _) = raw::local(&d, &anonymous("evil")).await;
    assert_eq!(evil.subscribe(&["x/#"]).await, Some(vec![1]));
    // The gate acknowledges what it drops, so the sender does not send it again.
    assert!(evil.publish("é/x", b"boom", false).await);
    evil.publish0("ü", b"boom").await;
    assert_eq!(evil.subscribe(&["é/#"]).await, Some(vec![0x80]));
    assert!(metric(&d, "merossd_router_refused").await >= 3);
    // The router is alive: a new client subscribes and hears, the plug switches.
    assert_routes(&d, "after/x").await;
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);
    assert_eq!(health_status(&d).await, "ok");
    assert_eq!(metric(&d, "merossd_router_restarts").await, 0);
}

/// Asserts the router still routes: a new local client's publish on `topic` reaches a
/// new subscriber (tried a few times: a subscription takes a moment to hold).
async fn assert_routes(d: &Daemon, topic: &str) {
    let (_client, mut rx) = listen(d, &format!("hears-{topic}"), topic).await;
    let (mut talker, _) = raw::local(d, &anonymous(&format!("says-{topic}"))).await;
    for _ in 0..20 {
        talker.publish0(topic, b"hello").await;
        if receive_until(&mut rx, Duration::from_millis(250), |t, _| t == topic)
            .await
            .is_some()
        {
            return;
        }
    }
    panic!("the router no longer routes");
}

/// Kills the router from inside (an in-process link is not held to the gate's rules).
async fn kill_router(d: &Daemon) {
    let (mut tx, _rx) = (d.router_links)("router-killer").expect("a link");
    tokio::task::spawn_blocking(move || {
        let _ = tx.publish("é/boom", "x");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_dead_router_is_started_again_within_a_second_and_plugs_never_notice() {
    let d = daemon().await;
    let plug = &plugs(&d, "rd", 1)[0];
    known(&d, plug).await;
    let connects = plug.state().connects;
    kill_router(&d).await;
    let died = std::time::Instant::now();
    eventually("the router restarted", Duration::from_secs(5), || {
        d.counters.snapshot().router_restarts >= 1
    })
    .await;
    let mut ok = false;
    for _ in 0..100 {
        if health_status(&d).await == "ok" {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, h) = api(&d, "GET", "/api/v1/health", None, None).await;
    assert!(ok, "health did not come back to ok: {h}");
    let back = died.elapsed();
    eprintln!("router dead to health ok: {back:?}");
    assert!(back < Duration::from_secs(3), "took {back:?}");
    // Local clients work again, and merossd's retained messages are there again.
    let (mut c, code) = raw::local(&d, &anonymous("after-restart")).await;
    assert_eq!(code, Some(0));
    let topic = format!("merossd/{}/availability", plug.uuid);
    assert_eq!(c.subscribe(&[&topic]).await, Some(vec![1]));
    let got = c.next_publish(Duration::from_secs(3)).await;
    assert_eq!(got, Some((topic, b"online".to_vec())));
    // The plug's own session went on, and it still switches.
    assert_eq!(plug.state().connects, connects);
    assert!(d.engine.device(&plug.uuid).unwrap().online);
    assert_eq!(switch_via_api(&d, &plug.uuid, false).await, 200);
}

#[tokio::test]
async fn one_local_client_cannot_make_the_router_hold_topics_without_end() {
    let d = daemon().await;
    let (_sub, _rx) = listen(&d, "catch-all", "#").await;
    let (mut c, _) = raw::local(&d, &anonymous("topic-spray")).await;
    let extra = 50;
    for i in 0..MAX_NEW_TOPICS_PER_CONNECTION + extra {
        c.publish0(&format!("spray/{i}"), b"x").await;
    }
    // A QoS 1 publish to sync on: every publish before it was handled.
    assert!(c.publish("spray/0", b"sync", false).await);
    let refused = metric(&d, "merossd_router_refused").await;
    assert_eq!(refused, extra as u64);
}

#[tokio::test]
async fn a_second_session_of_a_plug_that_ends_leaves_it_online() {
    let d = daemon().await;
    let plug = &plugs(&d, "s2", 1)[0];
    known(&d, plug).await;
    // A second login with the plug's credentials and another client-id suffix, which
    // then leaves, as a plug reconnecting before its old connection is found dead does.
    let (uuid, connect) = device_connect("s2", 1, 4, "again");
    assert_eq!(uuid, plug.uuid);
    let open = || d.counters.snapshot().connections_open;
    let before = open();
    let (mut second, code) = raw::local(&d, &connect).await;
    assert_eq!(code, Some(0));
    second.send(&[packet::DISCONNECT << 4, 0]).await;
    drop(second);
    eventually("the second session ended", Duration::from_secs(3), || {
        open() == before
    })
    .await;
    // A command through the engine, after the gate told it the session ended.
    assert_eq!(switch_via_api(&d, &uuid, true).await, 200);
    assert!(
        d.engine.device(&uuid).unwrap().online,
        "offline after the newer session left"
    );

    // The other way round: a newer session stays while the older one ends.
    let (mut newer, _) = raw::local(&d, &connect).await;
    assert_eq!(
        newer
            .subscribe(&[&format!("/appliance/{uuid}/subscribe")])
            .await,
        Some(vec![1])
    );
    let with_both = open();
    plug.stop();
    eventually("the plug's session ended", Duration::from_secs(5), || {
        open() < with_both
    })
    .await;
    let events = api(
        &d,
        "GET",
        &format!("/api/v1/devices/{uuid}/events"),
        None,
        None,
    )
    .await;
    assert!(
        d.engine.device(&uuid).unwrap().online,
        "offline though a newer session is up: {events:?}"
    );
    newer.send(&[packet::DISCONNECT << 4, 0]).await;
    eventually(
        "offline once every session ended",
        Duration::from_secs(3),
        || d.engine.device(&uuid).is_some_and(|x| !x.online),
    )
    .await;
}

#[tokio::test]
async fn a_burst_of_commands_switches_a_relay_a_few_times_a_second_and_the_last_one_wins() {
    let d = daemon().await;
    let plug = &plugs(&d, "hm", 1)[0];
    known(&d, plug).await;
    let (mut c, _) = raw::local(&d, &anonymous("hammer")).await;
    let topic = format!("merossd/{}/0/set", plug.uuid);
    let start = std::time::Instant::now();
    // 2,000 commands as fast as a local client can send them, ending with ON.
    for i in 0..2000 {
        let command: &[u8] = if i % 2 == 0 { b"OFF" } else { b"ON" };
        c.publish0(&topic, command).await;
    }
    assert!(c.publish(&topic, b"ON", false).await);
    eventually(
        "the last command carried out",
        Duration::from_secs(10),
        || {
            plug.state().relays.get(&0) == Some(&true)
                && d.engine
                    .device(&plug.uuid)
                    .is_some_and(|x| x.channels.get(&0).is_some_and(|ch| ch.on))
        },
    )
    .await;
    // Settled: nothing more arrives for a while.
    let switches = plug.state().switches;
    let elapsed = start.elapsed();
    eventually("no more switching", Duration::from_secs(3), || {
        std::thread::sleep(Duration::from_millis(400));
        plug.state().switches == switches
    })
    .await;
    let most = (elapsed.as_millis() / 250) as u32 + 3;
    eprintln!("2,001 commands: {switches} switches in {elapsed:?}");
    assert!(
        switches <= most,
        "{switches} switches in {elapsed:?}: at most {most} allowed"
    );
    assert!(metric(&d, "merossd_commands_coalesced").await > 1000);

    // Three API calls at once: at most one goes now, the next waits its turn, and the
    // next takes its place; whose command was replaced is told so.
    let (a, b, c) = tokio::join!(
        switch_via_api(&d, &plug.uuid, false),
        switch_via_api(&d, &plug.uuid, true),
        switch_via_api(&d, &plug.uuid, false),
    );
    let codes = [a, b, c];
    assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");
    let replaced = codes.iter().filter(|c| **c == 409).count();
    assert!((1..=2).contains(&replaced), "{codes:?}");
}

#[tokio::test]
async fn a_request_naming_a_reply_topic_the_router_cannot_take_does_not_kill_it() {
    use merossd::protocol::{Message, Method};
    let d = daemon().await;
    let plug = &plugs(&d, "rf", 1)[0];
    known(&d, plug).await;
    let (mut c, _) = raw::local(&d, &anonymous("odd-from")).await;
    // A request whose `from` is a topic rumqttd's matcher would panic on: the plug
    // answers there, and that answer must not reach the router.
    let request = Message::new(
        Method::Get,
        "Appliance.System.All",
        serde_json::json!({}),
        "é/replies",
        KEY,
    );
    let id = request.header.message_id.clone();
    let inbox = format!("/appliance/{}/subscribe", plug.uuid);
    assert!(c.publish(&inbox, &request.to_bytes(), false).await);
    eventually("the plug got the request", Duration::from_secs(5), || {
        plug.state()
            .received
            .iter()
            .any(|m| m.header.message_id == id)
    })
    .await;
    // The plug's answer went out at once; the router is alive after it.
    assert_eq!(switch_via_api(&d, &plug.uuid, true).await, 200);
    assert_routes(&d, "still/x").await;
    assert_eq!(metric(&d, "merossd_router_restarts").await, 0);
}
