//! The database schema as a list of migrations; `PRAGMA user_version` says how many ran.

use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit one that has shipped: add another.
const MIGRATIONS: &[&str] = &[
    // 1: devices, their channels, and the events table.
    "CREATE TABLE devices (
        uuid        TEXT PRIMARY KEY NOT NULL,
        name        TEXT,
        mac         TEXT,
        user_id     TEXT,
        hw_type     TEXT,
        hw_sub_type TEXT,
        hw_version  TEXT,
        hw_chip     TEXT,
        fw_version  TEXT,
        fw_compile_time TEXT,
        inner_ip    TEXT,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        online      INTEGER NOT NULL DEFAULT 0,
        bound_at    INTEGER,
        ability     TEXT,
        system_all  TEXT,
        last_report TEXT
    );
    CREATE TABLE channels (
        uuid       TEXT NOT NULL REFERENCES devices(uuid) ON DELETE CASCADE,
        channel    INTEGER NOT NULL,
        is_on      INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        PRIMARY KEY (uuid, channel)
    );
    CREATE TABLE events (
        id     INTEGER PRIMARY KEY,
        at     INTEGER NOT NULL,
        uuid   TEXT,
        kind   TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX events_by_device ON events (uuid, id);
    CREATE INDEX events_by_time ON events (at);",
    // 2: a device's own time zone; electricity samples, hourly aggregates, daily energy.
    "ALTER TABLE devices ADD COLUMN timezone TEXT;
    -- In the device's own integer units (mW, dV, mA) and keyed without a rowid or a
    -- second index: a sample every 30 s is ~2900 rows per plug per day.
    CREATE TABLE samples (
        uuid       TEXT NOT NULL,
        channel    INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        power_mw   INTEGER NOT NULL,
        voltage_dv INTEGER NOT NULL,
        current_ma INTEGER NOT NULL,
        PRIMARY KEY (uuid, channel, at)
    ) WITHOUT ROWID;
    CREATE TABLE hourly (
        uuid      TEXT NOT NULL,
        channel   INTEGER NOT NULL,
        hour      INTEGER NOT NULL,
        samples   INTEGER NOT NULL,
        sum_w     REAL NOT NULL,
        min_w     REAL NOT NULL,
        max_w     REAL NOT NULL,
        energy_wh REAL NOT NULL,
        PRIMARY KEY (uuid, channel, hour)
    );
    CREATE TABLE consumption (
        uuid TEXT NOT NULL,
        date TEXT NOT NULL,
        wh   REAL NOT NULL,
        PRIMARY KEY (uuid, date)
    );",
    // 3: the typed state of device families beyond plugs, and the names a user gave a
    // device's channels; both JSON.
    "ALTER TABLE devices ADD COLUMN families TEXT;
    ALTER TABLE devices ADD COLUMN channel_names TEXT;",
];

/// Brings the schema up to date in one transaction per step.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        // Written by a newer merossd: running on it could lose what that one added.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database is at schema version {version}, newer than this merossd knows ({}); use the newer merossd",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(())
}
