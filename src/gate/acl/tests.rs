use super::*;

const MINE: &str = "2208022697555151200348e1e9aabbcc";
const OTHER: &str = "1908022697555151200348e1e9000001";
const OTHER_ACCOUNT: &str = "1908022697555151200348e1e9000002";

const MOKO_MINE: &str = "iot_plug/plug_one/us/11:22:33:44:55:66";
const MOKO_OTHER: &str = "iot_plug/plug_one/us/11:22:33:44:55:77";

struct Known;
impl Owners for Known {
    fn owned_by(&self, uuid: &str, user_id: &str) -> Option<bool> {
        match uuid {
            MINE | OTHER | "moko112233445566" => Some(user_id == "1234"),
            "moko112233445577" => Some(user_id == "999"),
            OTHER_ACCOUNT => Some(user_id == "999"),
            _ => None,
        }
    }
}

fn acl() -> Acl {
    Acl {
        discovery_prefix: "homeassistant".into(),
        base_topic: "merossd".into(),
    }
}

fn device() -> Identity {
    Identity::Device {
        uuid: MINE.into(),
        mac: "48:e1:e9:aa:bb:cc".into(),
        user_id: "1234".into(),
    }
}

fn app() -> Identity {
    Identity::App {
        user_id: "1234".into(),
    }
}

fn publish(topic: &str) -> Action<'_> {
    Action::Publish {
        topic,
        retain: false,
    }
}

fn subscribe(filter: &str) -> Action<'_> {
    Action::Subscribe { filter }
}

fn receive(topic: &str) -> Action<'_> {
    Action::Receive { topic }
}

const ALLOW: Verdict = Verdict::Allow;
const RETAINED: Verdict = Verdict::Deny(Denial::Retained);
const BAD: Verdict = Verdict::Deny(Denial::BadTopic);
const NOT_YOURS: Verdict = Verdict::Deny(Denial::NotYours);
const NO_ROW: Verdict = Verdict::Deny(Denial::NotInTable);

#[test]
fn the_table() {
    let mine_says = format!("/appliance/{MINE}/publish");
    let mine_hears = format!("/appliance/{MINE}/subscribe");
    let other_says = format!("/appliance/{OTHER}/publish");
    let other_hears = format!("/appliance/{OTHER}/subscribe");
    let foreign_hears = format!("/appliance/{OTHER_ACCOUNT}/subscribe");
    let foreign_says = format!("/appliance/{OTHER_ACCOUNT}/publish");
    let mine_upper = format!("/appliance/{}/publish", MINE.to_uppercase());
    let extra = format!("/appliance/{MINE}/publish/extra");
    let set_other = format!("merossd/{OTHER}/0/set");
    let set_foreign = format!("merossd/{OTHER_ACCOUNT}/0/set");
    let light_other = format!("merossd/{OTHER}/light_0/set");
    let light_foreign = format!("merossd/{OTHER_ACCOUNT}/climate_0_temperature/set");
    let state_foreign = format!("merossd/{OTHER_ACCOUNT}");
    let long = "a".repeat(MAX_TOPIC_BYTES + 1);
    let l = Identity::Local;
    let (d, a) = (device(), app());
    // (who, action, named as a reply topic, expected)
    let cases: Vec<(&Identity, Action, bool, Verdict)> = vec![
        // A device speaks only as itself and hears only its own topic.
        (&d, publish(&mine_says), false, ALLOW),
        (&d, subscribe(&mine_hears), false, ALLOW),
        (&d, publish(&other_says), false, NOT_YOURS),
        (&d, publish(&other_hears), false, NOT_YOURS),
        (&d, publish(&mine_upper), false, NOT_YOURS),
        (&d, publish(&extra), false, NO_ROW),
        (&d, subscribe("#"), false, NO_ROW),
        (&d, subscribe("/appliance/+/publish"), false, NO_ROW),
        (&d, subscribe(&other_hears), false, NOT_YOURS),
        (&d, subscribe("$SYS/#"), false, NO_ROW),
        (&d, publish("merossd/x/0/set"), false, NOT_YOURS),
        (&d, publish(&set_other), false, NOT_YOURS),
        (&d, publish("homeassistant/status"), false, NO_ROW),
        (&d, publish("a/+"), false, BAD),
        (&d, publish("#"), false, BAD),
        (&d, publish(""), false, BAD),
        (&d, publish("a\0b"), false, BAD),
        (&d, publish(&long), false, BAD),
        (
            &d,
            Action::Publish {
                topic: &mine_says,
                retain: true,
            },
            false,
            RETAINED,
        ),
        // Replies go where a request's `from` said, unless that means something else.
        (&d, publish("/app/1234-abc/subscribe"), true, ALLOW),
        (&d, publish("/app/999-abc/subscribe"), true, NOT_YOURS),
        (&d, publish("/app/999/subscribe"), true, NOT_YOURS),
        (&d, publish("/app/merossd-1a2b/subscribe"), true, ALLOW),
        (&d, publish("/appliance/meross_lan/publish"), true, ALLOW),
        (&d, publish("/app/1234-abc/subscribe"), false, NOT_YOURS),
        (&d, publish("/appliance/meross_lan/publish"), false, NO_ROW),
        (&d, publish(&other_says), true, NOT_YOURS),
        (&d, publish(&other_hears), true, NOT_YOURS),
        (&d, publish(&set_other), true, NOT_YOURS),
        (&d, publish("homeassistant/status"), true, NO_ROW),
        (&d, publish("merossd/bridge/state"), true, NOT_YOURS),
        (&d, publish("$SYS/x"), true, NO_ROW),
        (&d, publish("a/#"), true, BAD),
        // An app commands its account's devices and reads, filtered per delivery.
        (&a, publish(&mine_hears), false, ALLOW),
        (&a, publish(&other_hears), false, ALLOW),
        (&a, publish(&foreign_hears), false, NOT_YOURS),
        (
            &a,
            publish("/appliance/unknown0000000000000000000000/subscribe"),
            false,
            NOT_YOURS,
        ),
        (&a, publish(&mine_says), false, NO_ROW),
        (&a, publish(&set_other), false, ALLOW),
        (&a, publish(&set_foreign), false, NOT_YOURS),
        // A family's command object, as a channel: the account's devices only.
        (&a, publish(&light_other), false, ALLOW),
        (&a, publish(&light_foreign), false, NOT_YOURS),
        (&d, publish(&light_other), false, NOT_YOURS),
        (&a, publish("homeassistant/status"), false, ALLOW),
        (&a, publish("homeassistant/switch/x/config"), false, NO_ROW),
        (&a, publish("merossd/bridge/state"), false, NO_ROW),
        (&a, publish("my/own/thing"), false, ALLOW),
        (&a, publish("/app/1234-abc/subscribe"), false, NO_ROW),
        (&a, subscribe("/appliance/+/publish"), false, ALLOW),
        (&a, subscribe("/app/1234-abc/subscribe"), false, ALLOW),
        (&a, subscribe("/app/999/subscribe"), false, NOT_YOURS),
        (&a, subscribe(&foreign_says), false, NOT_YOURS),
        (&a, subscribe("merossd/#"), false, ALLOW),
        (&a, subscribe("homeassistant/#"), false, ALLOW),
        (&a, subscribe("#"), false, ALLOW),
        (&a, subscribe("$SYS/#"), false, NO_ROW),
        (&a, receive(&other_says), false, ALLOW),
        (&a, receive(&foreign_says), false, NOT_YOURS),
        (&a, receive(&state_foreign), false, NOT_YOURS),
        (&a, receive("/app/999-x/subscribe"), false, NOT_YOURS),
        (&a, receive("merossd/bridge/state"), false, ALLOW),
        // The loopback listener: commands and reads for any device, never as a device.
        (&l, publish(&foreign_hears), false, ALLOW),
        (&l, publish(&set_foreign), false, ALLOW),
        (&l, publish(&mine_says), false, NO_ROW),
        (&l, publish(&other_says), false, NO_ROW),
        (&l, publish("/appliance/ééé/publish"), false, ALLOW),
        (&l, publish("homeassistant/status"), false, ALLOW),
        (&l, publish("homeassistant/switch/x/config"), false, NO_ROW),
        (&l, publish("merossd/bridge/state"), false, NO_ROW),
        (
            &l,
            Action::Publish {
                topic: "homeassistant/switch/x/config",
                retain: true,
            },
            false,
            RETAINED,
        ),
        (
            &l,
            Action::Publish {
                topic: "anything",
                retain: true,
            },
            false,
            RETAINED,
        ),
        (&l, subscribe("#"), false, ALLOW),
        (&l, subscribe("/appliance/+/publish"), false, ALLOW),
        (&l, subscribe("$SYS/#"), false, NO_ROW),
        (&l, receive(&foreign_says), false, ALLOW),
    ];
    for (i, (who, action, named, want)) in cases.iter().enumerate() {
        let got = acl().check(who, *action, *named, &Known);
        assert_eq!(got, *want, "row {i}: {who:?} {action:?} named={named}");
    }
}

#[test]
fn a_device_cannot_subscribe_to_another_devices_topic() {
    let filter = format!("/appliance/{OTHER}/subscribe");
    assert_eq!(
        acl().check(&device(), subscribe(&filter), false, &Known),
        NOT_YOURS
    );
}

#[test]
fn a_will_on_another_devices_topic_is_refused_at_login() {
    let will = format!("/appliance/{OTHER}/publish");
    assert_ne!(acl().check(&device(), publish(&will), false, &Known), ALLOW);
}

fn moko() -> Identity {
    Identity::Moko {
        id: "moko112233445566".into(),
        mac: "11:22:33:44:55:66".into(),
        user_id: "1234".into(),
        prefix: MOKO_MINE.into(),
    }
}

#[test]
fn a_moko_plug_says_and_hears_only_its_own_topics() {
    let mine = |side_what: &str| format!("{MOKO_MINE}/{side_what}");
    let other = |side_what: &str| format!("{MOKO_OTHER}/{side_what}");
    let plug = moko();
    assert_eq!(check(&plug, publish(&mine("device/switch_state"))), ALLOW);
    assert_eq!(check(&plug, subscribe(&mine("app/switch_state"))), ALLOW);
    assert_eq!(check(&plug, subscribe(&mine("app/#"))), ALLOW);
    // Not another plug's, not what is said to it, not the Meross world, not free topics.
    assert_eq!(
        check(&plug, publish(&other("device/switch_state"))),
        NOT_YOURS
    );
    assert_eq!(
        check(&plug, subscribe(&other("app/switch_state"))),
        NOT_YOURS
    );
    assert_eq!(check(&plug, publish(&mine("app/switch_state"))), NO_ROW);
    assert_eq!(check(&plug, subscribe(&mine("device/+"))), NO_ROW);
    let meross = format!("/appliance/{MINE}/publish");
    assert_eq!(check(&plug, publish(&meross)), NOT_YOURS);
    assert_eq!(check(&plug, publish("anything/else")), NO_ROW);
    assert_eq!(check(&plug, subscribe("#")), NO_ROW);
    // Its MAC under another prefix is not its topic either.
    let renamed = "iot_plug/plug_two/us/11:22:33:44:55:66/device/switch_state";
    assert_eq!(check(&plug, publish(renamed)), NOT_YOURS);
    // A Meross plug may not speak for a MOKO plug.
    assert_eq!(
        check(&device(), publish(&mine("device/switch_state"))),
        NOT_YOURS
    );
    assert_eq!(
        check(&device(), publish(&mine("app/switch_state"))),
        NOT_YOURS
    );
}

#[test]
fn only_local_tools_speak_to_a_moko_plug_and_apps_read_their_accounts() {
    let said_to = format!("{MOKO_MINE}/app/switch_state");
    let says = format!("{MOKO_MINE}/device/switch_state");
    let theirs = format!("{MOKO_OTHER}/device/switch_state");
    assert_eq!(check(&Identity::Local, publish(&said_to)), ALLOW);
    assert_eq!(check(&Identity::Local, subscribe(&says)), ALLOW);
    assert_eq!(check(&app(), publish(&said_to)), NO_ROW);
    assert_eq!(check(&app(), subscribe(&says)), ALLOW);
    assert_eq!(check(&app(), subscribe(&theirs)), NOT_YOURS);
    assert_eq!(check(&app(), receive(&theirs)), NOT_YOURS);
    assert_eq!(check(&app(), receive(&says)), ALLOW);
}

fn check(who: &Identity, action: Action<'_>) -> Verdict {
    acl().check(who, action, false, &Known)
}
