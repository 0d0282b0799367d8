//! `cargo bench --bench backup`: a backup and restore round trip of a data directory with
//! MEROSSD_BENCH_DEVICES (default 1,000) devices and a day of energy samples each (one
//! every 30 s, as the poller takes them), with the sizes involved.

use merossd::metrics::Counters;
use merossd::model::{Change, Device};
use merossd::store::{Store, StoreOptions};
use std::sync::Arc;
use std::time::Instant;

const SAMPLES_PER_DAY: u64 = 86_400 / 30;

#[tokio::main]
async fn main() {
    let devices: u64 = std::env::var("MEROSSD_BENCH_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("merossd-bench-backup-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let db = data.join("merossd.db");
    let made = Instant::now();
    {
        let store = Store::open_path(&db, StoreOptions::default(), Arc::new(Counters::default()))
            .expect("store");
        let now = merossd::protocol::now_secs();
        for n in 0..devices {
            let mut d = Device::new(&format!("{n:020x}48e1e9{n:06x}"), now);
            d.mac = Some(format!("48:e1:e9:00:00:{:02x}", n % 256));
            d.user_id = Some("1234".into());
            store.sink().emit(Change::Device(Box::new(d)));
        }
        store.flush().await.expect("flush");
    }
    {
        // A day of samples, written straight into the table the poller fills.
        let mut conn = rusqlite::Connection::open(&db).expect("open");
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare("INSERT INTO samples (uuid, channel, at, power_mw, voltage_dv, current_ma) VALUES (?1, 0, ?2, ?3, 2300, ?4)")
                .expect("prepare");
            let start = merossd::protocol::now_secs() - 86_400;
            for n in 0..devices {
                let uuid = format!("{n:020x}48e1e9{n:06x}");
                for i in 0..SAMPLES_PER_DAY {
                    let power = 50_000 + ((n * 7 + i * 13) % 2000) as i64;
                    insert
                        .execute(rusqlite::params![uuid, start + i * 30, power, power / 230])
                        .expect("insert");
                }
            }
        }
        tx.commit().expect("commit");
    }
    std::fs::write(
        data.join("account.json"),
        r#"{"user_id":"1234","key":"benchkey"}"#,
    )
    .expect("account");
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(data.join("merossd.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "{devices} devices, {} samples, database {:.1} MB, made in {:.1} s",
        devices * SAMPLES_PER_DAY,
        db_bytes as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );

    let archive = dir.join("backup.tar");
    let options = merossd::backup::BackupOptions::default();
    let backup = merossd::backup::backup(&data, &archive, &options).expect("backup");
    let restored = dir.join("restored");
    let restore = merossd::backup::restore(&restored, &archive).expect("restore");
    println!(
        "backup {:.2} s ({:.1} MB archive), restore {:.2} s, round trip {:.2} s",
        backup.seconds,
        backup.bytes as f64 / 1e6,
        restore.seconds,
        backup.seconds + restore.seconds
    );
    let _ = std::fs::remove_dir_all(&dir);
}
