//! `GET /metrics`: Prometheus text, per device (power, voltage, current, energy, online)
//! and the daemon's own counters. Built fresh from the current state at each scrape.

use super::error::ApiError;
use super::AppState;
use crate::metrics::Snapshot;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let totals = state
        .store
        .energy_totals()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut registry = Registry::default();
    let power = Family::<Labels, FloatGauge>::default();
    let voltage = Family::<Labels, FloatGauge>::default();
    let current = Family::<Labels, FloatGauge>::default();
    let energy = Family::<Labels, Counter<f64, AtomicU64>>::default();
    let online = Family::<Labels, Gauge>::default();
    for d in state.engine.devices() {
        let labels = vec![
            ("uuid".to_owned(), d.uuid.clone()),
            ("name".to_owned(), d.name.clone().unwrap_or_default()),
        ];
        online.get_or_create(&labels).set(i64::from(d.online));
        for (channel, r) in &d.electricity {
            let mut l = labels.clone();
            l.push(("channel".to_owned(), channel.to_string()));
            power.get_or_create(&l).set(r.power_w);
            voltage.get_or_create(&l).set(r.voltage_v);
            current.get_or_create(&l).set(r.current_a);
        }
        if let Some(wh) = totals.get(&d.uuid) {
            energy.get_or_create(&labels).inc_by(*wh);
        }
    }
    registry.register("merossd_power_watts", "Latest power reading", power);
    registry.register("merossd_voltage_volts", "Latest voltage reading", voltage);
    registry.register("merossd_current_amperes", "Latest current reading", current);
    registry.register(
        "merossd_energy_wh",
        "Energy the plug counted over the days kept, in Wh",
        energy,
    );
    registry.register(
        "merossd_device_online",
        "1 while the device is connected",
        online,
    );
    daemon_metrics(&mut registry, &state.engine.counters().snapshot());

    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| ApiError::internal(&e))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// A metric: its name, its help, and where its value is in a [`Snapshot`].
type Metric = (&'static str, &'static str, fn(&Snapshot) -> u64);

/// What is held now.
const GAUGES: &[Metric] = &[
    (
        "merossd_connections_open",
        "MQTT connections held now",
        |s| s.connections_open,
    ),
    ("merossd_store_queue_depth", "Store writes waiting", |s| {
        s.store_queue_depth
    }),
];

/// What has happened since the start, in the order `/metrics` lists it.
const COUNTERS: &[Metric] = &[
    ("merossd_connections", "MQTT connections accepted", |s| {
        s.connections_total
    }),
    ("merossd_binds", "Device binds answered", |s| s.binds),
    ("merossd_messages_in", "Messages the engine received", |s| {
        s.messages_in
    }),
    ("merossd_messages_out", "Messages the engine sent", |s| {
        s.messages_out
    }),
    (
        "merossd_sign_failures",
        "Messages whose sign did not verify",
        |s| s.sign_failures,
    ),
    (
        "merossd_bad_messages",
        "Messages that were not valid Meross JSON",
        |s| s.bad_messages,
    ),
    (
        "merossd_refused_logins",
        "Logins refused with a CONNACK code",
        |s| s.refused_logins,
    ),
    (
        "merossd_request_timeouts",
        "Requests a device did not answer in time",
        |s| s.request_timeouts,
    ),
    (
        "merossd_handshake_failures",
        "TLS handshakes that failed",
        |s| s.handshake_failures,
    ),
    (
        "merossd_store_queue_full",
        "Store writes dropped: queue full",
        |s| s.store_queue_full,
    ),
    (
        "merossd_acl_denied",
        "Publishes and subscriptions the topic rules refused",
        |s| s.acl_denied,
    ),
    (
        "merossd_bad_packets",
        "MQTT packets malformed or over the size limit",
        |s| s.bad_packets,
    ),
    (
        "merossd_upstream_failures",
        "Connections the router did not take",
        |s| s.upstream_failures,
    ),
    (
        "merossd_link_restarts",
        "In-process router links opened again",
        |s| s.link_restarts,
    ),
    (
        "merossd_api_over_cap",
        "API connections closed at the connection cap",
        |s| s.api_over_cap,
    ),
    (
        "merossd_store_write_failures",
        "Store batches that could not be written, kept to try again",
        |s| s.store_write_failures,
    ),
    (
        "merossd_router_refused",
        "Topics and filters kept from the router (unsafe shape or over budget)",
        |s| s.router_refused,
    ),
    (
        "merossd_router_restarts",
        "Times the router was found dead and started again",
        |s| s.router_restarts,
    ),
    (
        "merossd_commands_coalesced",
        "Switch commands folded into a later one for the same channel",
        |s| s.commands_coalesced,
    ),
    (
        "merossd_handshakes_evicted",
        "Connections not yet logged in, closed to make room",
        |s| s.handshakes_evicted,
    ),
    (
        "merossd_api_evicted",
        "Idle API connections closed to make room",
        |s| s.api_evicted,
    ),
    (
        "merossd_connections_over_cap",
        "MQTT connections closed at once: the cap was full of logged-in clients",
        |s| s.connections_over_cap,
    ),
    (
        "merossd_device_queue_full",
        "Messages for a device dropped: it did not read the ones before",
        |s| s.device_queue_full,
    ),
    (
        "merossd_handshake_timeouts",
        "Connections dropped at the handshake deadline",
        |s| s.handshake_timeouts,
    ),
    (
        "merossd_bad_connects",
        "First packets that were not a well-formed CONNECT",
        |s| s.bad_connects,
    ),
    (
        "merossd_logins_throttled",
        "Logins refused unread: too soon after failed ones",
        |s| s.logins_throttled,
    ),
    (
        "merossd_sessions_over_share",
        "Logins refused: the identity holds its share of sessions",
        |s| s.sessions_over_share,
    ),
    (
        "merossd_sessions_over_budget",
        "Clients closed: QoS 2 publishes left open, or a packet not completed in time",
        |s| s.sessions_over_budget,
    ),
    (
        "merossd_sign_ins_refused",
        "Sign-ins to the web page refused: a wrong token",
        |s| s.sign_ins_refused,
    ),
];

fn daemon_metrics(registry: &mut Registry, s: &Snapshot) {
    let tls = Family::<Labels, Counter<u64>>::default();
    for (stack, version, value) in [
        ("rustls", "TLSv1.3", s.tls_rustls_13),
        ("rustls", "TLSv1.2", s.tls_rustls_12),
        ("openssl", "TLSv1.3", s.tls_openssl_13),
        ("openssl", "TLSv1.2", s.tls_openssl_12),
        ("openssl", "legacy", s.tls_openssl_legacy),
    ] {
        let labels = vec![
            ("stack".to_owned(), stack.to_owned()),
            ("version".to_owned(), version.to_owned()),
        ];
        tls.get_or_create(&labels).inc_by(value);
    }
    registry.register(
        "merossd_tls_handshakes",
        "TLS handshakes done, per stack and version",
        tls,
    );
    for (name, help, value) in GAUGES {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(value(s)).unwrap_or(i64::MAX));
        registry.register(*name, *help, g);
    }
    for (name, help, value) in COUNTERS {
        let c = Counter::<u64>::default();
        c.inc_by(value(s));
        registry.register(*name, *help, c);
    }
}
