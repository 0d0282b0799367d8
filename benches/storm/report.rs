//! The bench's printed lines.

use crate::{silent_sockets, Figures};
use std::time::Duration;

pub fn row(server: &str, n: u32, f: &Figures) {
    let storm = f
        .storm
        .map(|s| format!("{:.2} s", s.as_secs_f64()))
        .unwrap_or_else(|| "> 300 s".into());
    let (p50, p99) = f
        .toggle
        .map(|(a, b)| (format!("{a:.2} ms"), format!("{b:.2} ms")))
        .unwrap_or_else(|| ("-".into(), "-".into()));
    println!(
        "{server:<9} | {n:>5} | {:>7.1} ms | {:>5.1} MB | {:>6.1} KB | {storm:>10} | {p50:>10} | {p99:>10}",
        f.cold.as_secs_f64() * 1e3,
        f.idle_kb as f64 / 1024.0,
        f.per_plug_kb,
    );
}

/// The storm against its floors (the server's handshakes alone; both sides', as the
/// simulated plugs share the cores), from one address, and past silent sockets.
pub fn fairness(n: u32, f: &Figures, floors: [Duration; 2]) {
    let secs = |d: Duration| d.as_secs_f64();
    if let Some(storm) = f.storm {
        println!(
            "{n:>5} plugs: the storm takes {:.2} × the server's handshake floor ({:.2} s), {:.2} × both sides' ({:.2} s)",
            secs(storm) / secs(floors[0]),
            secs(floors[0]),
            secs(storm) / secs(floors[1]),
            secs(floors[1])
        );
    }
    if let (Some(one), Some(each)) = (f.one_address, f.storm) {
        println!(
            "{n:>5} plugs behind one address: storm {:.2} s, {:.2} × the storm from an address each",
            secs(one),
            secs(one) / secs(each)
        );
    }
    if let Some((alone, past)) = f.silent {
        println!(
            "{n:>5} plugs: {} silent sockets from one address add {:.1} ms to a new plug's bind from another ({:.1} ms → {:.1} ms)",
            silent_sockets(),
            (secs(past) - secs(alone)) * 1e3,
            secs(alone) * 1e3,
            secs(past) * 1e3
        );
    }
}
