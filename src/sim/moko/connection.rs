//! A simulated MOKO plug's way in: it dials (TLS or plain TCP), logs in with MQTT 3.1.1
//! and subscribes; after a session ends (`session`) it waits and dials again, unless it
//! was reset.

use super::link::Link;
use super::session::{serve, End};
use super::{lock, Command, MokoConfig, MokoState};
use crate::mqtt::connect::Connect;
use crate::protocol::moko::{self, what};
use crate::sim::tls;
use rumqttc::mqttbytes::v4::{ConnectReturnCode, Packet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::TlsConnector;
use tracing::{debug, warn};

/// Deadline for TCP + TLS, and again for the CONNACK.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The topics the plug subscribes to, by their last level.
const SUBSCRIBED: [&str; 5] = [
    what::SWITCH_STATE,
    what::DELAY_TIME,
    what::RESET,
    what::UPGRADE,
    what::READ_FIRMWARE_INFOR,
];

/// Dials, runs a session, and dials again after it ends. Ends when the plug is reset; else
/// its handle aborts it (stop or drop).
pub(super) async fn run(
    config: MokoConfig,
    state: Arc<Mutex<MokoState>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let tls = config.tls.then(|| TlsConnector::from(tls::client_config()));
    let mac = config.info.device_mac.clone();
    loop {
        let end = match session(&config, tls.as_ref(), &state, &mut commands).await {
            Ok(end) => end,
            Err(e) => {
                debug!(%mac, error = %e, "MOKO session failed");
                End::Again("failed")
            }
        };
        lock(&state).connected = false;
        match end {
            End::Done => return,
            End::Again(why) => debug!(%mac, why, "MOKO session ended"),
        }
        if !offline(&config, &state, &mut commands).await {
            return;
        }
    }
}

/// Waits out the reconnect delay as a plug without a connection: its button still works.
/// False when it was reset meanwhile, or its handle is gone.
async fn offline(
    config: &MokoConfig,
    state: &Mutex<MokoState>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> bool {
    let end = Instant::now() + config.reconnect_delay;
    // Each turn takes one command or ends at the deadline.
    loop {
        tokio::select! {
            _ = sleep_until(end) => return true,
            command = commands.recv() => match command {
                Some(Command::Press) => {
                    let mut s = lock(state);
                    let on = !s.on;
                    s.switch(on);
                    s.countdown = None;
                }
                Some(Command::HoldReset) => {
                    lock(state).reset = true;
                    return false;
                }
                // Nothing to publish on while offline.
                Some(Command::Publish(..)) => {}
                None => return false,
            },
        }
    }
}

/// Dials and logs in (MQTT 3.1.1, client id the MAC's hex digits), then subscribes to each
/// `app/...` topic with one SUBSCRIBE. `None` when the login was refused.
async fn log_in(
    config: &MokoConfig,
    tls: Option<&TlsConnector>,
    state: &Mutex<MokoState>,
) -> std::io::Result<Option<Link>> {
    let timed_out = |stage: &'static str| std::io::Error::new(std::io::ErrorKind::TimedOut, stage);
    let mut link = timeout(CONNECT_TIMEOUT, Link::dial(&config.host, config.port, tls))
        .await
        .map_err(|_| timed_out("connect"))??;
    let client_id = moko::mac_hex(&config.info.device_mac)
        .unwrap_or_else(|| config.info.device_mac.replace(':', ""));
    let keepalive = config.keepalive.as_secs().clamp(1, u64::from(u16::MAX)) as u16;
    let connect = Connect::new(4, client_id, keepalive)
        .login(config.username.clone(), config.password.clone());
    link.write(&connect.encode()).await?;
    let ack = timeout(CONNECT_TIMEOUT, link.read())
        .await
        .map_err(|_| timed_out("connack"))??;
    match ack {
        Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => {}
        Packet::ConnAck(ack) => {
            let code = ack.code as u8;
            lock(state).refused = Some(code);
            warn!(mac = %config.info.device_mac, code, "MOKO login refused");
            return Ok(None);
        }
        _ => return Err(std::io::Error::other("the first packet is not a CONNACK")),
    }
    {
        let mut s = lock(state);
        s.connected = true;
        s.connects += 1;
        s.refused = None;
    }
    let prefix = config.info.prefix();
    for asked in SUBSCRIBED {
        link.subscribe(&moko::app_topic(&prefix, asked)).await?;
    }
    Ok(Some(link))
}

/// One connection: the login, then the session.
async fn session(
    config: &MokoConfig,
    tls: Option<&TlsConnector>,
    state: &Mutex<MokoState>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> std::io::Result<End> {
    match log_in(config, tls, state).await? {
        Some(link) => serve(config, state, link, commands).await,
        None => Ok(End::Again("refused")),
    }
}
