use super::*;
use crate::protocol::Method;

fn read_digest(f: &mut Families, v: &Value) -> Result<Vec<String>, String> {
    items::read_digest::<Timer>(f, v)
}

fn pending_asks(f: &Families) -> Vec<Value> {
    items::pending_asks::<Timer>(f)
}
use crate::model::Channel;

fn plug(channels: &[u32]) -> Device {
    let mut d = Device::new("u", 0);
    for c in channels {
        d.channels.insert(
            *c,
            Channel {
                on: false,
                changed_at: 0,
            },
        );
    }
    let ability = json!({"Appliance.Control.TimerX": {"sunOffsetSupport": 1}});
    d.ability = Some(crate::model::Abilities::new(&ability));
    d
}

fn spec(at: &str, days: &str) -> TimerSpec {
    TimerSpec {
        channel: 0,
        at: at.into(),
        days: DaysText::One(days.into()),
        on: true,
        name: None,
        enabled: true,
        repeat: true,
    }
}

#[test]
fn a_new_timer_is_the_whole_item_the_firmware_takes() {
    let new = NewTimer {
        spec: spec("07:00", "mon-fri"),
        id: "abcdefghijklm123".into(),
        now: 1_560_513_180,
    };
    let sets = new.sets(&plug(&[0])).unwrap();
    assert_eq!(sets[0].namespace, "Appliance.Control.TimerX");
    assert_eq!(
        sets[0].payload,
        json!({"timerx": {
            "id": "abcdefghijklm123", "channel": 0, "alias": "on 07:00", "type": 1,
            "enable": 1, "week": 0b1011_1110, "time": 420, "sunOffset": 0, "duration": 0,
            "createTime": 1_560_513_180u64, "extend": {"toggle": {"onoff": 1, "lmTime": 0}}
        }})
    );
    // What the SET wrote reads back as the same timer.
    let mut f = Families::default();
    read(&mut f, &sets[0].payload["timerx"]).unwrap();
    let t = &f.schedules.as_ref().unwrap().timers[0];
    assert_eq!(
        (t.at.as_str(), t.days.len(), t.on, t.repeat),
        ("07:00", 5, true, true)
    );
}

#[test]
fn bad_times_days_and_channels_are_refused_naming_the_field() {
    let device = plug(&[0]);
    let new = |s| NewTimer {
        spec: s,
        id: "x".into(),
        now: 0,
    };
    let e = new(spec("25:00", "mon")).sets(&device).unwrap_err();
    assert!(
        matches!(e, CommandError::Invalid { field: "at", .. }),
        "{e}"
    );
    let e = new(spec("07:00", "")).sets(&device).unwrap_err();
    assert!(
        matches!(e, CommandError::Invalid { field: "days", .. }),
        "{e}"
    );
    let e = new(TimerSpec {
        channel: 3,
        ..spec("07:00", "mon")
    })
    .sets(&device)
    .unwrap_err();
    assert!(matches!(e, CommandError::Unsupported(_)), "{e}");
    // A device whose Ability lists no TimerX takes none.
    let e = new(spec("07:00", "mon"))
        .sets(&Device::new("v", 0))
        .unwrap_err();
    assert!(e.to_string().contains("does not keep timers"), "{e}");
}

#[test]
fn the_digest_lists_ids_which_are_asked_and_drops_what_is_gone() {
    // The digest recorded from an MOD100 (meross_lan's trace).
    let mut f = Families::default();
    let digest = json!([{"channel": 0, "id": "iojt92798uas7qq9", "count": 4}]);
    read_digest(&mut f, &digest).unwrap();
    assert_eq!(
        pending_asks(&f),
        [json!({"timerx": {"id": "iojt92798uas7qq9"}})]
    );
    let item = json!({"id": "iojt92798uas7qq9", "channel": 0, "alias": "on 20:52", "type": 1,
        "enable": 1, "week": 129, "time": 1252, "duration": 0, "createTime": 1_560_513_180u64,
        "extend": {"toggle": {"onoff": 1, "lmTime": 0}}});
    let said = read(&mut f, &json!({"timerx": item})["timerx"]).unwrap();
    assert!(
        said.is_empty(),
        "filling in a pending timer is no change: {said:?}"
    );
    assert!(pending_asks(&f).is_empty());
    let t = &f.schedules.as_ref().unwrap().timers[0];
    assert_eq!(
        (t.at.as_str(), t.days.clone()),
        ("20:52", vec!["sun".to_owned()])
    );
    let said = read_digest(&mut f, &json!([])).unwrap();
    assert_eq!(said, ["timer \"on 20:52\" removed"]);
    assert!(f.schedules.is_none());
    // An empty answer (`{"timerx": {}}`) is no timer and no error.
    assert!(read(&mut f, &json!({})).unwrap().is_empty());
}

#[test]
fn old_firmware_timers_are_shown_read_only() {
    // seeds/000's `Appliance.Control.Timer` answer.
    let mut f = Families::default();
    let list = json!([{"id": "abcdefghijklm123", "type": 1, "enable": 1, "alias": "on 20:52",
        "time": 1252, "week": 129, "duration": 0, "createTime": 1_560_513_180u64,
        "extend": {"toggle": {"onoff": 1, "lmTime": 0}}}]);
    read_legacy(&mut f, &list).unwrap();
    let timers = &f.schedules.as_ref().unwrap().timers;
    assert!(timers[0].read_only && timers[0].on);
    // The digest of a TimerX never drops them.
    read_digest(&mut f, &json!([])).unwrap();
    let change = TimerChange {
        id: "abcdefghijklm123".into(),
        on: Some(false),
        ..Default::default()
    };
    assert!(change.changed(&f).is_err());
}

#[test]
fn a_change_keeps_what_it_does_not_name_and_a_delete_is_a_delete() {
    let mut device = plug(&[0, 1]);
    let new = NewTimer {
        spec: spec("07:00", "mon-fri"),
        id: "t1".into(),
        now: 5,
    };
    let mut f = crate::model::family::of(&device);
    new.acknowledged(&mut f);
    device.families = Some(Box::new(f));
    let change = TimerChange {
        id: "t1".into(),
        at: Some("06:30".into()),
        enabled: Some(false),
        ..Default::default()
    };
    let set = &change.sets(&device).unwrap()[0];
    assert_eq!(set.payload["timerx"]["time"], 390);
    assert_eq!(set.payload["timerx"]["enable"], 0);
    assert_eq!(set.payload["timerx"]["week"], 0b1011_1110);
    let delete = DeleteTimer::new("t1".into());
    assert_eq!(delete.method(), Method::Delete);
    assert_eq!(
        delete.sets(&device).unwrap()[0].payload,
        json!({"timerx": {"id": "t1"}})
    );
}

#[test]
fn a_device_that_says_it_keeps_too_many_is_not_believed() {
    let mut f = Families::default();
    let ids: Vec<_> = (0..65)
        .map(|i| json!({"channel": 0, "id": format!("t{i}"), "count": 1}))
        .collect();
    assert!(read_digest(&mut f, &json!(ids)).is_err());
    let items: Vec<_> = (0..65)
        .map(|i| json!({"id": format!("t{i}"), "channel": 0, "type": 1, "enable": 1, "time": 60, "week": 129}))
        .collect();
    assert!(read(&mut f, &json!(items)).is_err());
}
