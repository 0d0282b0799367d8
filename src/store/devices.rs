//! Device records and events in SQL: one upsert and one load for a whole `Device`, and the
//! events read back.

use super::StoreError;
use crate::model::Abilities;
use crate::model::{AnswerKind, Channel, Device, Event, EventKind};
use crate::protocol::payloads::{Firmware, Hardware};
use rusqlite::{params, Connection, OptionalExtension};

pub(super) fn upsert_device(tx: &Connection, d: &Device) -> rusqlite::Result<()> {
    let hw = d.hardware.clone().unwrap_or_default();
    let fw = d.firmware.clone().unwrap_or_default();
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let families = d
        .families
        .as_ref()
        .and_then(|f| serde_json::to_string(f).ok());
    let channel_names = (!d.channel_names.is_empty())
        .then(|| serde_json::to_string(&d.channel_names).ok())
        .flatten();
    tx.prepare_cached(
        "INSERT INTO devices (uuid, name, mac, user_id, hw_type, hw_sub_type, hw_version, hw_chip,
            fw_version, fw_compile_time, inner_ip, first_seen, last_seen, online, bound_at,
            timezone, families, channel_names)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (uuid) DO UPDATE SET name = ?2, mac = ?3, user_id = ?4, hw_type = ?5,
            hw_sub_type = ?6, hw_version = ?7, hw_chip = ?8, fw_version = ?9,
            fw_compile_time = ?10, inner_ip = ?11, first_seen = ?12, last_seen = ?13,
            online = ?14, bound_at = ?15, timezone = ?16, families = ?17, channel_names = ?18",
    )?
    .execute(params![
        d.uuid,
        d.name,
        d.mac,
        d.user_id,
        some(&hw.kind),
        some(&hw.sub_type),
        some(&hw.version),
        some(&hw.chip_type),
        some(&fw.version),
        some(&fw.compile_time),
        some(&fw.inner_ip),
        d.first_seen,
        d.last_seen,
        d.online,
        d.bound_at,
        d.timezone,
        families,
        channel_names,
    ])?;
    tx.execute("DELETE FROM channels WHERE uuid = ?1", [&d.uuid])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO channels (uuid, channel, is_on, changed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (channel, state) in &d.channels {
        insert.execute(params![d.uuid, channel, state.on, state.changed_at])?;
    }
    Ok(())
}

/// Keeps one of a device's answers (the device's row must exist).
pub(super) fn keep_answer(
    tx: &Connection,
    uuid: &str,
    kind: AnswerKind,
    json: &str,
) -> rusqlite::Result<()> {
    let sql = match kind {
        AnswerKind::Ability => "UPDATE devices SET ability = ?2 WHERE uuid = ?1",
        AnswerKind::All => "UPDATE devices SET system_all = ?2 WHERE uuid = ?1",
        AnswerKind::Report => "UPDATE devices SET last_report = ?2 WHERE uuid = ?1",
    };
    tx.prepare_cached(sql)?
        .execute(params![uuid, json])
        .map(drop)
}

/// A device's answers as it sent them: Ability, System.All, the last Report.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answers {
    /// The `ability` object (namespace -> parameters), from the `ability` column; `None`
    /// if never received or not valid JSON.
    pub ability: Option<serde_json::Value>,
    /// System.All's `all` object, from the `system_all` column; `None` likewise.
    pub all: Option<serde_json::Value>,
    /// The last Report PUSH's `report`, from the `last_report` column; `None` likewise.
    pub report: Option<serde_json::Value>,
}

pub(super) fn answers(conn: &Connection, uuid: &str) -> rusqlite::Result<Answers> {
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    conn.query_row(
        "SELECT ability, system_all, last_report FROM devices WHERE uuid = ?1",
        [uuid],
        |r| {
            Ok(Answers {
                ability: parse(r.get(0)?),
                all: parse(r.get(1)?),
                report: parse(r.get(2)?),
            })
        },
    )
    .optional()
    .map(Option::unwrap_or_default)
}

pub(super) fn load_devices(conn: &Connection) -> Result<Vec<Device>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT uuid, name, mac, user_id, hw_type, hw_sub_type, hw_version, hw_chip, fw_version,
                fw_compile_time, inner_ip, first_seen, last_seen, online, bound_at, ability,
                timezone, families, channel_names
         FROM devices ORDER BY uuid",
    )?;
    let abilities = |t: Option<String>| {
        let value: serde_json::Value = serde_json::from_str(&t?).ok()?;
        Some(Abilities::new(&value))
    };
    fn json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
        serde_json::from_str(&text?).ok()
    }
    let mut devices: Vec<Device> = stmt
        .query_map([], |r| {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            let mac: Option<String> = r.get(2)?;
            Ok(Device {
                uuid: r.get(0)?,
                name: r.get(1)?,
                user_id: r.get(3)?,
                hardware: Some(Hardware {
                    kind: text(4)?,
                    sub_type: text(5)?,
                    version: text(6)?,
                    chip_type: text(7)?,
                    uuid: r.get(0)?,
                    mac_address: mac.clone().unwrap_or_default(),
                }),
                firmware: Some(Firmware {
                    version: text(8)?,
                    compile_time: text(9)?,
                    inner_ip: text(10)?,
                    wifi_mac: mac.clone().unwrap_or_default(),
                }),
                mac,
                first_seen: r.get(11)?,
                last_seen: r.get(12)?,
                online: r.get(13)?,
                bound_at: r.get(14)?,
                ability: abilities(r.get(15)?),
                timezone: r.get(16)?,
                // What cannot be read back (a newer or damaged record) is asked again
                // of the device at its next bind.
                families: json(r.get(17)?),
                channel_names: json(r.get(18)?).unwrap_or_default(),
                ..Default::default()
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt =
        conn.prepare("SELECT channel, is_on, changed_at FROM channels WHERE uuid = ?1")?;
    for device in &mut devices {
        let channels = stmt
            .query_map([&device.uuid], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    Channel {
                        on: r.get(1)?,
                        changed_at: r.get(2)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        device.channels = channels;
    }
    Ok(devices)
}

pub(super) fn read_events(
    conn: &Connection,
    uuid: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let limit = limit.min(10_000) as i64;
    let row = |r: &rusqlite::Row| -> rusqlite::Result<Event> {
        let kind: String = r.get(2)?;
        Ok(Event {
            at: r.get(0)?,
            uuid: r.get(1)?,
            kind: serde_json::from_value(serde_json::Value::String(kind))
                .unwrap_or(EventKind::StateChanged),
            detail: r.get(3)?,
        })
    };
    let events = match uuid {
        Some(uuid) => conn
            .prepare_cached("SELECT at, uuid, kind, detail FROM events WHERE uuid = ?1 ORDER BY id DESC LIMIT ?2")?
            .query_map(params![uuid, limit], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached("SELECT at, uuid, kind, detail FROM events ORDER BY id DESC LIMIT ?1")?
            .query_map(params![limit], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    Ok(events)
}
