//! `merossd doctor`'s checks of this host and its files: the TLS listeners, the
//! certificate, the clock, free disk and the data directory.

use super::Check;
use crate::config::Config;
use crate::datadir::{self, DataDir};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Less free space than this in the data directory fails the check.
const MIN_FREE_BYTES: u64 = 100 * 1024 * 1024;
/// How long a listener has to take a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A certificate ending sooner than this is said to need renewing.
const RENEW_DAYS: u32 = 30;

/// The TLS listeners: reachable from the network (not loopback only), and taking
/// connections now.
pub(super) fn listeners(config: &Config) -> Vec<Check> {
    const NAME: &str = "tls listener";
    let listen = &config.mqtt.tls_listen;
    let Some(first) = listen.first() else {
        return vec![Check::fail(
            NAME,
            "no [mqtt] tls_listen: plugs have nowhere to connect; set tls_listen = [\"0.0.0.0:8883\"]",
        )];
    };
    let mut checks = Vec::new();
    if listen.iter().all(|a| a.ip().is_loopback()) {
        checks.push(Check::fail(
            NAME,
            format!("{first} is on loopback only: plugs on your network cannot reach it; set [mqtt] tls_listen = [\"0.0.0.0:{}\"]", first.port()),
        ));
    } else {
        let lan: Vec<String> = crate::host::addresses()
            .iter()
            .filter(|ip| ip.is_ipv4())
            .map(ToString::to_string)
            .collect();
        checks.push(Check::pass(
            NAME,
            format!(
                "{} reachable from the network (this host: {})",
                listen
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if lan.is_empty() {
                    "no LAN address".to_owned()
                } else {
                    lan.join(", ")
                }
            ),
        ));
    }
    for addr in listen {
        let dial = dialled(*addr);
        checks.push(match TcpStream::connect_timeout(&dial, CONNECT_TIMEOUT) {
            Ok(_) => Check::pass("tls answers", format!("{dial} takes connections")),
            Err(e) => Check::fail(
                "tls answers",
                format!("{dial}: {e}: is merossd running? (`systemctl status merossd`, or `merossd serve`)"),
            ),
        });
    }
    checks
}

/// The certificate plugs get: readable, in date, an RSA key, naming this host.
pub(super) fn certificate(config: &Config) -> Check {
    const NAME: &str = "certificate";
    let path = match &config.tls {
        Some(own) => own.cert.clone(),
        None => DataDir::existing(&config.data_dir).file(datadir::CERT_FILE),
    };
    let shown = path.display();
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{shown}: {e} (merossd makes one on its first start)"),
            )
        }
    };
    let cert = match openssl::x509::X509::from_pem(&pem) {
        Ok(cert) => cert,
        Err(e) => return Check::fail(NAME, format!("{shown} is not a PEM certificate: {e}")),
    };
    let now = openssl::asn1::Asn1Time::days_from_now(0);
    let soon = openssl::asn1::Asn1Time::days_from_now(RENEW_DAYS);
    let (Ok(now), Ok(soon)) = (now, soon) else {
        return Check::fail(NAME, "cannot read this host's clock");
    };
    let fix = "delete it and its key from the data directory and restart merossd to make a new one (plugs do not check it)";
    if cert.not_after() < now {
        return Check::fail(
            NAME,
            format!("{shown} expired on {}: {fix}", cert.not_after()),
        );
    }
    if cert.not_before() > now {
        return Check::fail(
            NAME,
            format!(
                "{shown} is valid only from {}: check the clock",
                cert.not_before()
            ),
        );
    }
    let rsa = cert
        .public_key()
        .is_ok_and(|k| k.id() == openssl::pkey::Id::RSA);
    if !rsa {
        return Check::fail(
            NAME,
            format!("{shown} has no RSA key: some plug firmware refuses others; {fix}"),
        );
    }
    let names: Vec<String> = cert
        .subject_alt_names()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            n.dnsname()
                .map(str::to_owned)
                .or_else(|| n.ipaddress().and_then(ip_text))
        })
        .collect();
    let here: Vec<String> = crate::host::names();
    let named = names
        .iter()
        .any(|n| n != "localhost" && n != "127.0.0.1" && here.contains(n));
    if !named {
        return Check::fail(
            NAME,
            format!("{shown} names {} but none of this host's names and addresses ({}): tools that check it will refuse it; {fix}", names.join(", "), here.join(", ")),
        );
    }
    let ends = if cert.not_after() < soon {
        " (ends within 30 days)"
    } else {
        ""
    };
    Check::pass(
        NAME,
        format!(
            "RSA, valid until {}{ends}, names {}",
            cert.not_after(),
            names.join(", ")
        ),
    )
}

/// An IP address as a certificate holds it (4 or 16 bytes), as text.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        _ => None,
    }
}

/// The clock: plugs take their time from merossd.
pub(super) fn clock() -> Check {
    const NAME: &str = "clock";
    let now = jiff::Timestamp::now();
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    if (2025..2100).contains(&year) {
        Check::pass(NAME, format!("{} UTC", now.strftime("%Y-%m-%d %H:%M:%S")))
    } else {
        Check::fail(NAME, format!("{now} is not a believable time: plugs get their time from merossd; set the clock (a Pi without network time starts in the past: `timedatectl`)"))
    }
}

/// Free space where the database lives.
pub(super) fn disk(dir: &Path) -> Check {
    const NAME: &str = "disk";
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            let mib = free / (1024 * 1024);
            if free >= MIN_FREE_BYTES {
                Check::pass(NAME, format!("{mib} MiB free in {}", dir.display()))
            } else {
                Check::fail(NAME, format!("only {mib} MiB free in {}: the database stops taking history when the disk is full; free some space", dir.display()))
            }
        }
        Err(e) => Check::fail(NAME, format!("{}: {e}", dir.display())),
    }
}

/// The data directory: writable, and held by a running daemon.
pub(super) fn data_dir(dir: &Path) -> Check {
    const NAME: &str = "data dir";
    let probe = dir.join(".doctor-probe");
    if let Err(e) = std::fs::write(&probe, b"") {
        return Check::fail(
            NAME,
            format!(
                "{} is not writable: {e} (it must be the service user's: `chown -R merossd: {}`)",
                dir.display(),
                dir.display()
            ),
        );
    }
    let _ = std::fs::remove_file(&probe);
    match DataDir::existing(dir).lock() {
        Err(datadir::LockError::Held { pid, .. }) => Check::pass(
            NAME,
            format!(
                "{} is writable and used by merossd (pid {pid})",
                dir.display()
            ),
        ),
        Ok(_released) => Check::fail(
            NAME,
            format!(
                "no merossd runs with {}: start it (`systemctl start merossd`, or `merossd serve`)",
                dir.display()
            ),
        ),
        Err(e) => Check::fail(NAME, e.to_string()),
    }
}

/// Where to reach a listener from this host: an unspecified address by loopback.
fn dialled(addr: SocketAddr) -> SocketAddr {
    let mut dial = addr;
    if dial.ip().is_unspecified() {
        dial.set_ip(IpAddr::from([127, 0, 0, 1]));
    }
    dial
}
