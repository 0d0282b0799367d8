use super::*;
use crate::model::{Change, Channel, Device, Event, EventKind};
use crate::protocol::now_secs;
use crate::protocol::payloads::Hardware;

fn temp_db() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("merossd-store-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("t.db")
}

#[tokio::test]
async fn devices_and_channels_come_back_after_reopening() {
    let path = temp_db();
    let counters = Arc::new(Counters::default());
    let store = Store::open_path(&path, StoreOptions::default(), counters.clone()).unwrap();
    let mut d = Device::new("u1", 10);
    d.name = Some("fridge".into());
    d.online = true;
    d.hardware = Some(Hardware {
        kind: "mss310".into(),
        ..Default::default()
    });
    d.channels.insert(
        0,
        Channel {
            on: true,
            changed_at: 11,
        },
    );
    store.sink().emit(Change::Device(Box::new(d.clone())));
    store.sink().emit(Change::Event(Event {
        at: now_secs(),
        uuid: Some("u1".into()),
        kind: EventKind::Bound,
        detail: "x".into(),
    }));
    store.flush().await.unwrap();
    drop(store);

    let again = Store::open_path(&path, StoreOptions::default(), counters).unwrap();
    let devices = again.load_devices().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name.as_deref(), Some("fridge"));
    assert_eq!(devices[0].kind(), Some("mss310"));
    assert!(!devices[0].online, "nothing is online after a restart");
    assert_eq!(
        devices[0].channels[&0],
        Channel {
            on: true,
            changed_at: 11
        }
    );
    let events = again.events(Some("u1".into()), 10).await.unwrap();
    assert_eq!(events[0].kind, EventKind::Bound);
    assert_eq!(integrity_check(&path).unwrap(), "ok");
    drop(again);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_change_that_cannot_be_written_does_not_take_its_batch_with_it() {
    let path = temp_db();
    let store = Store::open_path(
        &path,
        StoreOptions::default(),
        Arc::new(Counters::default()),
    )
    .unwrap();
    let mut bad = Device::new("bad", 1);
    // Beyond SQLite's INTEGER range.
    bad.channels.insert(
        0,
        Channel {
            on: true,
            changed_at: u64::MAX,
        },
    );
    store.sink().emit(Change::Device(Box::new(bad)));
    store
        .sink()
        .emit(Change::Device(Box::new(Device::new("good", 1))));
    store.sink().emit(Change::Event(Event {
        at: now_secs(),
        uuid: Some("good".into()),
        kind: EventKind::Bound,
        detail: String::new(),
    }));
    store.flush().await.unwrap();
    let uuids: Vec<String> = store
        .load_devices()
        .unwrap()
        .into_iter()
        .map(|d| d.uuid)
        .collect();
    assert_eq!(uuids, vec!["good".to_owned()]);
    assert_eq!(store.events(Some("good".into()), 5).await.unwrap().len(), 1);
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_database_from_a_newer_merossd_is_refused() {
    let path = temp_db();
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = Store::open_path(
        &path,
        StoreOptions::default(),
        Arc::new(Counters::default()),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("newer"), "{err}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn forget_removes_device_and_channels() {
    let path = temp_db();
    let store = Store::open_path(
        &path,
        StoreOptions::default(),
        Arc::new(Counters::default()),
    )
    .unwrap();
    let mut d = Device::new("u2", 1);
    d.channels.insert(
        0,
        Channel {
            on: false,
            changed_at: 1,
        },
    );
    store.sink().emit(Change::Device(Box::new(d)));
    store.sink().emit(Change::Forget("u2".into()));
    store.flush().await.unwrap();
    assert!(store.load_devices().unwrap().is_empty());
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn answers_are_kept_as_sent_and_record_updates_leave_them_alone() {
    use crate::model::Ability;
    use crate::model::AnswerKind;
    let path = temp_db();
    let counters = Arc::new(Counters::default());
    let store = Store::open_path(&path, StoreOptions::default(), counters.clone()).unwrap();
    let answer = |kind, json: serde_json::Value| Change::Answer {
        uuid: "u1".into(),
        kind,
        json: json.to_string(),
    };
    let ability =
        serde_json::json!({"Appliance.Control.ToggleX": {}, "Appliance.Control.Electricity": {}});
    let mut d = Device::new("u1", 10);
    store.sink().emit(Change::Device(Box::new(d.clone())));
    store
        .sink()
        .emit(answer(AnswerKind::Ability, ability.clone()));
    store.sink().emit(answer(
        AnswerKind::All,
        serde_json::json!({"system": {"x": 1}}),
    ));
    store
        .sink()
        .emit(answer(AnswerKind::Report, serde_json::json!([1])));
    store
        .sink()
        .emit(answer(AnswerKind::Report, serde_json::json!([2])));
    // A later record (a toggle, say) does not touch them.
    d.name = Some("lamp".into());
    store.sink().emit(Change::Device(Box::new(d.clone())));
    store.flush().await.unwrap();
    let got = store.answers("u1".into()).await.unwrap();
    assert_eq!(got.ability, Some(ability));
    assert_eq!(got.all, Some(serde_json::json!({"system": {"x": 1}})));
    assert_eq!(got.report, Some(serde_json::json!([2])));
    assert_eq!(
        store.answers("nobody".into()).await.unwrap(),
        Answers::default()
    );
    drop(store);

    let again = Store::open_path(&path, StoreOptions::default(), counters).unwrap();
    let loaded = &again.load_devices().unwrap()[0];
    assert!(loaded.has_ability(Ability::Electricity));
    assert!(!loaded.has_ability(Ability::Toggle));
    drop(again);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn a_device_forgotten_and_back_starts_without_its_old_answers() {
    use crate::model::AnswerKind;
    let path = temp_db();
    let counters = Arc::new(Counters::default());
    let store = Store::open_path(&path, StoreOptions::default(), counters).unwrap();
    let d = Device::new("u1", 10);
    store.sink().emit(Change::Device(Box::new(d.clone())));
    store.sink().emit(Change::Answer {
        uuid: "u1".into(),
        kind: AnswerKind::Report,
        json: "[1]".into(),
    });
    store.flush().await.unwrap();
    // Forgotten and back, most likely within one batch of the writer.
    store.sink().emit(Change::Forget("u1".into()));
    store.sink().emit(Change::Device(Box::new(d)));
    store.flush().await.unwrap();
    assert_eq!(store.load_devices().unwrap().len(), 1);
    assert_eq!(
        store.answers("u1".into()).await.unwrap(),
        Answers::default()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
