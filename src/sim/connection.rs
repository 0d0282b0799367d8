//! A simulated device's connection: logged in (`link`), then the firmware's session loop
//! (Bind until answered, Clock, keepalive, PUSHes) until it ends; reconnect.

use super::answer::answer;
use super::device::{lock, Command, SimState};
use super::link::{log_in, Link};
use super::says::{bind_message, device_message, remember, togglex_push};
use super::{tls, SimConfig};
use crate::protocol::{self, device_publish_topic, Message, Method};
use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Packet, PingReq, PubAck};
use rumqttc::mqttbytes::QoS;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_rustls::TlsConnector;
use tracing::{debug, info, warn};

/// Connects, runs a session, and reconnects after it ends, for ever.
pub(super) async fn run(
    config: SimConfig,
    state: Arc<Mutex<SimState>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let tls = TlsConnector::from(tls::client_config());
    loop {
        match session(&config, &tls, &state, &mut commands).await {
            Ok(why) => debug!(uuid = %config.uuid, why, "session ended"),
            Err(e) => debug!(uuid = %config.uuid, error = %e, "session failed"),
        }
        {
            let mut s = lock(&state);
            s.connected = false;
            s.bound = false;
        }
        tokio::time::sleep(config.timings.reconnect_delay).await;
    }
}

/// When the device next binds, says its clock and pings, as firmware does.
struct Schedule {
    binds: u32,
    next_bind: Instant,
    clock_tries: u32,
    /// `None` until bound, and once the clock was answered.
    next_clock: Option<Instant>,
    next_ping: Instant,
}

impl Schedule {
    /// The first moment something is due.
    fn wake(&self, bound: bool) -> Instant {
        let mut wake = self.next_ping;
        if !bound {
            wake = wake.min(self.next_bind);
        }
        if let Some(due) = self.next_clock {
            wake = wake.min(due);
        }
        wake
    }
}

/// Sends what is due: a Bind until answered, the Clock once bound, a PINGREQ; `Some`
/// (why) when the device gives up on this connection.
async fn due(
    config: &SimConfig,
    state: &Mutex<SimState>,
    link: &mut Link,
    when: &mut Schedule,
) -> std::io::Result<Option<&'static str>> {
    let t = &config.timings;
    let pub_topic = device_publish_topic(&config.uuid);
    let now = Instant::now();
    let (bound, muted) = {
        let s = lock(state);
        (s.bound, s.muted)
    };
    // Bind until answered; the (n+1)-th due time after n binds means giving up.
    if !bound && !muted && now >= when.next_bind {
        if when.binds >= t.binds_before_reconnect {
            info!(uuid = %config.uuid, "no SETACK for Bind; disconnecting to try again");
            let _ = link.write(&[0xe0, 0x00]).await; // DISCONNECT
            return Ok(Some("bind unanswered"));
        }
        let bind = bind_message(config, state);
        when.binds += 1;
        link.publish(&pub_topic, &bind).await?;
        lock(state).binds_sent += 1;
        when.next_bind = Instant::now() + t.bind_interval;
    }
    if when.next_clock.is_some_and(|due| now >= due) {
        if when.clock_tries >= t.clock_tries {
            info!(uuid = %config.uuid, "Clock never answered; restarting");
            return Ok(Some("clock unanswered"));
        }
        when.clock_tries += 1;
        let clock = json!({"clock": {"timestamp": protocol::now_secs()}});
        let clock = device_message(
            config,
            Method::Push,
            "Appliance.System.Clock",
            clock,
            &pub_topic,
        );
        link.publish(&pub_topic, &clock).await?;
        when.next_clock = Some(Instant::now() + t.clock_interval);
    }
    // Doors and shutters that got where they were sent say so.
    let arrived: Vec<_> = {
        let mut s = lock(state);
        let (due, later) = std::mem::take(&mut s.later)
            .into_iter()
            .partition(|l| l.at <= now);
        s.later = later;
        due
    };
    for later in arrived {
        if let Some(push) = super::families::arrive(config, state, later) {
            link.publish(&pub_topic, &push).await?;
        }
    }
    if let Some((push, why)) = super::upgrade::run(config, state, &pub_topic).await {
        if let Some(push) = push {
            link.publish(&pub_topic, &push).await?;
        }
        let _ = link.write(&[0xe0, 0x00]).await; // DISCONNECT
        return Ok(Some(why));
    }
    for push in super::schedule::due(config, state, &pub_topic) {
        link.publish(&pub_topic, &push).await?;
    }
    if now >= when.next_ping {
        let mut out = BytesMut::new();
        PingReq.write(&mut out).map_err(std::io::Error::other)?;
        link.write(&out).await?;
        when.next_ping = Instant::now() + t.keepalive;
    }
    Ok(None)
}

/// One message from the server: the Bind's SETACK, the Clock's answer, or a request to
/// answer (then a PUSH of what it changed).
async fn on_publish(
    config: &SimConfig,
    state: &Mutex<SimState>,
    link: &mut Link,
    when: &mut Schedule,
    publish: rumqttc::mqttbytes::v4::Publish,
) -> std::io::Result<()> {
    if publish.qos == QoS::AtLeastOnce {
        let mut out = BytesMut::new();
        PubAck::new(publish.pkid)
            .write(&mut out)
            .map_err(std::io::Error::other)?;
        link.write(&out).await?;
    }
    if lock(state).muted {
        return Ok(());
    }
    let Ok(message) = Message::parse(&publish.payload) else {
        warn!(uuid = %config.uuid, "received something that is not a Meross message");
        return Ok(());
    };
    remember(state, &message);
    match (message.header.method, message.header.namespace.as_str()) {
        (Method::SetAck, "Appliance.Control.Bind") => {
            let mut s = lock(state);
            if !s.bound {
                s.bound = true;
                s.bound_at = Some(Instant::now());
                drop(s);
                debug!(uuid = %config.uuid, "bound");
                when.next_clock = Some(Instant::now());
            }
        }
        (Method::Push, "Appliance.System.Clock") => {
            let mut s = lock(state);
            s.clock_answered = true;
            s.clock_from_server = message
                .payload
                .pointer("/clock/timestamp")
                .and_then(Value::as_u64);
            when.next_clock = None;
        }
        (Method::Get | Method::Set | Method::Delete, _) => {
            let pub_topic = device_publish_topic(&config.uuid);
            let (reply, push) = answer(config, state, &message);
            let to = if message.header.from.is_empty() {
                pub_topic.clone()
            } else {
                message.header.from.clone()
            };
            link.publish(&to, &reply).await?;
            if let Some(push) = push {
                link.publish(&pub_topic, &push).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// One connection's life. Returns why it ended.
async fn session(
    config: &SimConfig,
    tls: &TlsConnector,
    state: &Mutex<SimState>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> std::io::Result<&'static str> {
    let mut link = match log_in(config, tls, state).await? {
        Ok(link) => link,
        Err(why) => return Ok(why),
    };
    let pub_topic = device_publish_topic(&config.uuid);
    let mut when = Schedule {
        binds: 0,
        next_bind: Instant::now(),
        clock_tries: 0,
        next_clock: None,
        next_ping: Instant::now() + config.timings.keepalive,
    };
    loop {
        if let Some(why) = due(config, state, &mut link, &mut when).await? {
            return Ok(why);
        }
        let wake = {
            let s = lock(state);
            let later = s.later.iter().map(|l| l.at).min();
            let schedule = super::schedule::next_wake(&s);
            let wake = when.wake(s.bound);
            [later, schedule]
                .into_iter()
                .flatten()
                .fold(wake, Instant::min)
        };
        tokio::select! {
            packet = link.read() => {
                if let Packet::Publish(publish) = packet? {
                    on_publish(config, state, &mut link, &mut when, publish).await?;
                }
            }
            command = commands.recv() => match command {
                Some(Command::Press(channel)) => {
                    let on = {
                        let mut s = lock(state);
                        let on = !s.relays.get(&channel).copied().unwrap_or(false);
                        s.relays.insert(channel, on);
                        on
                    };
                    let push = togglex_push(config, channel, on, &pub_topic);
                    link.publish(&pub_topic, &push).await?;
                }
                Some(Command::Say(message)) => link.publish(&pub_topic, &message).await?,
                Some(Command::Drop) => return Ok("dropped on request"),
                Some(Command::Freeze) => {
                    // Holds the connection without a byte either way until stopped.
                    while let Some(command) = commands.recv().await {
                        debug!(uuid = %config.uuid, ?command, "frozen: ignored");
                    }
                    return Ok("stopped");
                }
                None => return Ok("stopped"),
            },
            _ = sleep_until(wake) => {}
        }
    }
}
