//! What the gate writes down of each try to get in (`registry::attempts`), so that a
//! person can learn why a device is offline: a login, a refusal and its reason, or a
//! connection that ended before it said who it was.

use super::handshake::Failed;
use super::Gate;
use crate::mqtt::connect::Connect;
use crate::protocol::now_secs;
use crate::registry::attempts::{Outcome, Refusal};
use std::net::SocketAddr;

/// The device a login names: a Meross plug's uuid from its client id, a MOKO plug's id
/// from its user name.
fn claimed(connect: &Connect) -> Option<String> {
    if let Some(hex) = connect
        .username
        .as_deref()
        .and_then(|u| u.strip_prefix("moko_"))
    {
        return crate::protocol::moko::id_of(hex);
    }
    super::auth::device_uuid(&connect.client_id).map(str::to_owned)
}

/// Device `uuid` logged in.
pub(super) fn connected(gate: &Gate, uuid: &str, addr: SocketAddr, tls: Option<String>) {
    let attempts = gate.registry.attempts();
    attempts.connected(uuid, addr, tls.as_deref(), now_secs());
}

/// A login was refused with `code` for `why`; recorded against the device it names, or
/// among the unknown ones.
pub(super) fn refused(gate: &Gate, connect: &Connect, addr: SocketAddr, why: &str, code: u8) {
    let Some(uuid) = claimed(connect) else {
        return;
    };
    let known =
        gate.registry.owned_by(&uuid, "").is_some() || gate.registry.moko().get(&uuid).is_some();
    let refusal = Refusal {
        uuid: &uuid,
        user: connect.username.as_deref().unwrap_or(""),
        known,
        from: addr,
        why,
        code,
    };
    gate.registry.attempts().refused(&refusal, now_secs());
}

/// A TLS handshake did not end in a session.
pub(super) fn tls_failed(gate: &Gate, addr: SocketAddr, failed: &Failed) {
    let (outcome, detail) = match failed {
        Failed::Closed => return,
        Failed::Silent(what) => (Outcome::Silent, (*what).to_owned()),
        Failed::Refused(detail) => (Outcome::TlsFailed, detail.clone()),
    };
    let attempts = gate.registry.attempts();
    attempts.failed_before_login(addr, outcome, &detail, now_secs());
}

/// A connection gave no CONNECT merossd takes: `silent` when none came in time.
pub(super) fn no_login(gate: &Gate, addr: SocketAddr, silent: bool, detail: &str) {
    let outcome = if silent {
        Outcome::Silent
    } else {
        Outcome::BadConnect
    };
    let attempts = gate.registry.attempts();
    attempts.failed_before_login(addr, outcome, detail, now_secs());
}
