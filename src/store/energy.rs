//! Electricity history: raw samples, hourly aggregates (avg/min/max power and energy) built
//! as samples arrive, the per-day Wh the plugs count themselves, and pruning by age.

use crate::model::Sample;
use rusqlite::{params, Connection};
use serde::Serialize;
use std::collections::HashMap;

/// The last sample of each (uuid, channel), to integrate energy between samples.
pub type LastSeen = HashMap<(String, u32), (u64, f64)>;

/// Writes one sample and folds it into its hour. Energy is the trapezoid between this
/// sample and the previous one of the channel, when they are at most `max_gap_s` apart
/// (a longer gap is a plug that was away: no energy is guessed for it).
pub fn insert_sample(
    tx: &Connection,
    s: &Sample,
    last: &mut LastSeen,
    max_gap_s: u64,
) -> rusqlite::Result<()> {
    let r = &s.reading;
    // A second reading in the same second replaces the first.
    tx.prepare_cached(
        "INSERT OR REPLACE INTO samples (uuid, channel, at, power_mw, voltage_dv, current_ma)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        s.uuid,
        s.channel,
        r.at,
        (r.power_w * 1000.0).round() as i64,
        (r.voltage_v * 10.0).round() as i64,
        (r.current_a * 1000.0).round() as i64
    ])?;
    let key = (s.uuid.clone(), s.channel);
    let energy_wh = match last.get(&key) {
        Some(&(at, power)) if r.at > at && r.at - at <= max_gap_s => {
            (power + r.power_w) / 2.0 * (r.at - at) as f64 / 3600.0
        }
        _ => 0.0,
    };
    last.insert(key, (r.at, r.power_w));
    tx.prepare_cached(
        "INSERT INTO hourly (uuid, channel, hour, samples, sum_w, min_w, max_w, energy_wh)
         VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4, ?5)
         ON CONFLICT (uuid, channel, hour) DO UPDATE SET samples = samples + 1,
            sum_w = sum_w + ?4, min_w = MIN(min_w, ?4), max_w = MAX(max_w, ?4),
            energy_wh = energy_wh + ?5",
    )?
    .execute(params![
        s.uuid,
        s.channel,
        r.at - r.at % 3600,
        r.power_w,
        energy_wh
    ])?;
    Ok(())
}

/// Keeps the device's own per-day counts (a later read of the same day replaces it).
pub fn upsert_consumption(
    tx: &Connection,
    uuid: &str,
    days: &[(String, f64)],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO consumption (uuid, date, wh) VALUES (?1, ?2, ?3)
         ON CONFLICT (uuid, date) DO UPDATE SET wh = ?3",
    )?;
    for (date, wh) in days {
        stmt.execute(params![uuid, date, wh])?;
    }
    Ok(())
}

/// Removes everything about a forgotten device's energy.
pub fn forget(tx: &Connection, uuid: &str) -> rusqlite::Result<()> {
    for table in ["samples", "hourly", "consumption"] {
        tx.execute(&format!("DELETE FROM {table} WHERE uuid = ?1"), [uuid])?;
    }
    Ok(())
}

/// Drops raw samples older than `raw_s` and hourly rows older than `hourly_s`, as of `now`.
/// Returns (samples, hours) removed.
pub fn prune(
    conn: &Connection,
    now: u64,
    raw_s: u64,
    hourly_s: u64,
) -> rusqlite::Result<(usize, usize)> {
    let raw = conn.execute(
        "DELETE FROM samples WHERE at < ?1",
        [now.saturating_sub(raw_s)],
    )?;
    let hours = conn.execute(
        "DELETE FROM hourly WHERE hour < ?1",
        [now.saturating_sub(hourly_s)],
    )?;
    Ok((raw, hours))
}

/// One raw sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawPoint {
    /// When it was read, epoch seconds.
    pub at: u64,
    /// The channel it measures.
    pub channel: u32,
    /// Power in watts, as stored: to the mW.
    pub power_w: f64,
    /// Voltage in volts, as stored: to the 0.1 V.
    pub voltage_v: f64,
    /// Current in amperes, as stored: to the mA.
    pub current_a: f64,
}

/// One hour of one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourPoint {
    /// Start of the hour, epoch seconds.
    pub hour: u64,
    /// The channel it measures.
    pub channel: u32,
    /// How many readings were folded into the hour.
    pub samples: u64,
    /// Mean power of those readings in watts (0 when there are none).
    pub avg_w: f64,
    /// Lowest power read in the hour, watts.
    pub min_w: f64,
    /// Highest power read in the hour, watts.
    pub max_w: f64,
    /// Energy in Wh, integrated from the previous reading up to each reading of this hour
    /// (none over a gap longer than `StoreOptions::max_sample_gap`).
    pub energy_wh: f64,
}

/// Most points one history query returns.
pub const MAX_POINTS: usize = 20_000;

/// The raw samples of `uuid` with `from <= at <= to` (epoch seconds), oldest first and
/// by channel; at most [`MAX_POINTS`], the oldest ones.
pub fn raw_history(
    conn: &Connection,
    uuid: &str,
    from: u64,
    to: u64,
) -> rusqlite::Result<Vec<RawPoint>> {
    conn.prepare_cached(
        "SELECT at, channel, power_mw, voltage_dv, current_ma FROM samples
         WHERE uuid = ?1 AND at >= ?2 AND at <= ?3 ORDER BY at, channel LIMIT ?4",
    )?
    .query_map(params![uuid, from, to, MAX_POINTS as i64], |r| {
        let (mw, dv, ma): (i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
        Ok(RawPoint {
            at: r.get(0)?,
            channel: r.get(1)?,
            power_w: mw as f64 / 1000.0,
            voltage_v: dv as f64 / 10.0,
            current_a: ma as f64 / 1000.0,
        })
    })?
    .collect()
}

/// The hours of `uuid` from the one holding `from` to the last starting at or before `to`
/// (epoch seconds), oldest first and by channel; at most [`MAX_POINTS`].
pub fn hourly_history(
    conn: &Connection,
    uuid: &str,
    from: u64,
    to: u64,
) -> rusqlite::Result<Vec<HourPoint>> {
    conn.prepare_cached(
        "SELECT hour, channel, samples, sum_w, min_w, max_w, energy_wh FROM hourly
         WHERE uuid = ?1 AND hour >= ?2 AND hour <= ?3 ORDER BY hour, channel LIMIT ?4",
    )?
    .query_map(
        params![uuid, from - from % 3600, to, MAX_POINTS as i64],
        |r| {
            let samples: u64 = r.get(2)?;
            let sum: f64 = r.get(3)?;
            Ok(HourPoint {
                hour: r.get(0)?,
                channel: r.get(1)?,
                samples,
                avg_w: if samples > 0 {
                    sum / samples as f64
                } else {
                    0.0
                },
                min_w: r.get(4)?,
                max_w: r.get(5)?,
                energy_wh: r.get(6)?,
            })
        },
    )?
    .collect()
}

/// The device's own daily counts from `since` (YYYY-MM-DD) on, oldest first.
pub fn consumption(
    conn: &Connection,
    uuid: &str,
    since: &str,
) -> rusqlite::Result<Vec<(String, f64)>> {
    conn.prepare_cached(
        "SELECT date, wh FROM consumption WHERE uuid = ?1 AND date >= ?2 ORDER BY date",
    )?
    .query_map(params![uuid, since], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// Total Wh each device counted, over every day kept.
pub fn energy_totals(conn: &Connection) -> rusqlite::Result<HashMap<String, f64>> {
    conn.prepare_cached("SELECT uuid, SUM(wh) FROM consumption GROUP BY uuid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reading;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        c
    }

    fn sample(at: u64, power_w: f64) -> Sample {
        Sample {
            uuid: "u".into(),
            channel: 0,
            reading: Reading {
                power_w,
                voltage_v: 230.0,
                current_a: power_w / 230.0,
                at,
            },
        }
    }

    fn write(c: &mut Connection, samples: &[Sample], last: &mut LastSeen) {
        let tx = c.transaction().unwrap();
        for s in samples {
            insert_sample(&tx, s, last, 300).unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn hourly_aggregates_average_extremes_and_energy() {
        let mut c = db();
        let mut last = LastSeen::new();
        let h = 1_800_000_000; // on the hour
                               // 100 W for the first half hour, 300 W for the second, every 30 s.
        let samples: Vec<Sample> = (0..120)
            .map(|i| sample(h + i * 30, if i < 60 { 100.0 } else { 300.0 }))
            .collect();
        write(&mut c, &samples, &mut last);
        let hours = hourly_history(&c, "u", h, h + 3599).unwrap();
        assert_eq!(hours.len(), 1);
        let hour = &hours[0];
        assert_eq!(hour.samples, 120);
        assert_eq!((hour.min_w, hour.max_w), (100.0, 300.0));
        assert!((hour.avg_w - 200.0).abs() < 1e-9);
        // 59 intervals of 30 s at 100 W, one at the step (200 W on average), 59 at 300 W.
        let expected = (59.0 * 30.0 * 100.0 + 30.0 * 200.0 + 59.0 * 30.0 * 300.0) / 3600.0;
        assert!(
            (hour.energy_wh - expected).abs() < 1e-6,
            "{}",
            hour.energy_wh
        );
    }

    #[test]
    fn a_gap_adds_no_energy() {
        let mut c = db();
        let mut last = LastSeen::new();
        let h = 1_800_003_600;
        write(
            &mut c,
            &[sample(h, 1000.0), sample(h + 1000, 1000.0)],
            &mut last,
        );
        assert_eq!(hourly_history(&c, "u", h, h).unwrap()[0].energy_wh, 0.0);
    }

    #[test]
    fn retention_drops_old_raw_samples_before_old_hours() {
        let mut c = db();
        let mut last = LastSeen::new();
        let day = 86_400;
        let now = 1_800_000_000;
        let samples: Vec<Sample> = [
            now - 400 * day,
            now - 30 * day,
            now - 8 * day,
            now - 6 * day,
            now - 60,
        ]
        .iter()
        .map(|&t| sample(t, 50.0))
        .collect();
        write(&mut c, &samples, &mut last);
        let (raw, hours) = prune(&c, now, 7 * day, 365 * day).unwrap();
        assert_eq!((raw, hours), (3, 1));
        assert_eq!(raw_history(&c, "u", 0, now).unwrap().len(), 2);
        assert_eq!(hourly_history(&c, "u", 0, now).unwrap().len(), 4);
    }

    #[test]
    fn consumption_days_replace_and_total() {
        let mut c = db();
        let tx = c.transaction().unwrap();
        upsert_consumption(
            &tx,
            "u",
            &[("2026-11-19".into(), 100.0), ("2026-11-20".into(), 50.0)],
        )
        .unwrap();
        upsert_consumption(&tx, "u", &[("2026-11-20".into(), 80.0)]).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            consumption(&c, "u", "2026-11-20").unwrap(),
            vec![("2026-11-20".to_owned(), 80.0)]
        );
        assert_eq!(energy_totals(&c).unwrap()["u"], 180.0);
    }
}
