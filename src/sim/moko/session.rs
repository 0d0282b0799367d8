//! A simulated MOKO plug's session on one connection: it says its state and firmware,
//! then what is due (its state, its power, a countdown, a ping), and answers what it is
//! told, until the connection ends.

use super::link::Link;
use super::{lock, Command, MokoConfig, MokoState};
use crate::protocol::moko::{
    self, what, DelayLeft, DelaySet, FirmwareInfor, OtaState, SwitchState, Upgrade,
};
use rumqttc::mqttbytes::v4::{Packet, Publish};
use rumqttc::mqttbytes::QoS;
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};

/// How long an upgrade tries to reach its firmware server.
const OTA_TIMEOUT: Duration = Duration::from_secs(3);
/// A countdown says what is left this often.
const TICK: Duration = Duration::from_secs(1);
/// The shortest period anything repeats at, so that a zero in a config cannot spin.
const SHORTEST: Duration = Duration::from_millis(10);
/// The plug's voltage (dV) as it reports it.
const VOLTAGE_DV: f64 = 2205.0;

/// How a session ended.
pub(super) enum End {
    /// Dial again after the delay, for this reason.
    Again(&'static str),
    /// Reset, or the handle is gone: dial no more.
    Done,
}

/// One connection's life after the login. Returns how it ended.
pub(super) async fn serve(
    config: &MokoConfig,
    state: &Mutex<MokoState>,
    link: Link,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> std::io::Result<End> {
    let (ota, mut ota_done) = mpsc::unbounded_channel();
    let now = Instant::now();
    let prefix = config.info.prefix();
    let mut s = Session {
        config,
        state,
        link,
        app_prefix: format!("{prefix}/app/"),
        prefix,
        next_state: now + config.state_every.max(SHORTEST),
        next_power: (config.info.device_type == "1")
            .then(|| now + config.electricity_every.max(SHORTEST)),
        next_ping: now + ping_every(config),
        next_tick: None,
        heard: now,
        ota,
    };
    // On every connect: its state, then its firmware.
    s.say_state().await?;
    s.say_firmware().await?;
    // Until the connection ends or the plug is reset (or its handle aborts it); each turn
    // waits at most until something is due.
    loop {
        if let Some(end) = s.due().await? {
            return Ok(end);
        }
        let wake = s.wake();
        tokio::select! {
            packet = s.link.read() => {
                s.heard = Instant::now();
                if let Packet::Publish(publish) = packet? {
                    if let Some(end) = s.on_publish(publish).await? {
                        return Ok(end);
                    }
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return Ok(End::Done) };
                if let Some(end) = s.on_command(command).await? {
                    return Ok(end);
                }
            }
            Some(reached) = ota_done.recv() => s.upgraded(reached).await?,
            _ = sleep_until(wake) => {}
        }
    }
}

/// Pings at half the keepalive, as the plug's MQTT stack does.
fn ping_every(config: &MokoConfig) -> Duration {
    (config.keepalive / 2).max(SHORTEST)
}

/// A connected plug: its link and when things are due.
struct Session<'a> {
    config: &'a MokoConfig,
    state: &'a Mutex<MokoState>,
    link: Link,
    prefix: String,
    /// `<prefix>/app/`: what it is told arrives under it.
    app_prefix: String,
    next_state: Instant,
    /// `None` for a plug that does not measure power.
    next_power: Option<Instant>,
    next_ping: Instant,
    /// The next countdown second, while one runs.
    next_tick: Option<Instant>,
    /// When the server last sent anything.
    heard: Instant,
    /// Where an upgrade's attempt says whether it reached its server.
    ota: mpsc::UnboundedSender<bool>,
}

impl Session<'_> {
    /// A server silent for one and a half keepalives is gone.
    fn silence_limit(&self) -> Duration {
        (self.config.keepalive * 3 / 2).max(SHORTEST)
    }

    /// The first moment something is due.
    fn wake(&self) -> Instant {
        let mut wake = self.next_ping.min(self.next_state);
        wake = wake.min(self.heard + self.silence_limit());
        for due in [self.next_power, self.next_tick].into_iter().flatten() {
            wake = wake.min(due);
        }
        wake
    }

    /// Says what is due; `Some` when the connection is given up.
    async fn due(&mut self) -> std::io::Result<Option<End>> {
        let now = Instant::now();
        if now.duration_since(self.heard) > self.silence_limit() {
            return Ok(Some(End::Again("the server went silent")));
        }
        if now >= self.next_ping {
            self.link.ping().await?;
            self.next_ping = now + ping_every(self.config);
        }
        if now >= self.next_state {
            self.say_state().await?;
            self.next_state = now + self.config.state_every.max(SHORTEST);
        }
        if self.next_power.is_some_and(|at| now >= at) {
            self.say_power().await?;
            self.next_power = Some(now + self.config.electricity_every.max(SHORTEST));
        }
        if self.next_tick.is_some_and(|at| now >= at) {
            self.tick().await?;
        }
        Ok(None)
    }

    async fn say(&mut self, what: &str, payload: &impl serde::Serialize) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(payload).map_err(std::io::Error::other)?;
        let topic = moko::device_topic(&self.prefix, what);
        self.link.publish(&topic, bytes).await
    }

    async fn say_state(&mut self) -> std::io::Result<()> {
        let on = lock(self.state).on;
        self.say(what::SWITCH_STATE, &SwitchState::new(on)).await
    }

    async fn say_firmware(&mut self) -> std::io::Result<()> {
        let info = &self.config.info;
        let firmware = FirmwareInfor {
            company_name: "moko".to_owned(),
            production_date: "201801".to_owned(),
            product_model: info.device_name.clone(),
            firmware_version: lock(self.state).firmware_version.clone(),
            device_mac: info.device_mac.clone(),
        };
        self.say(what::FIRMWARE_INFOR, &firmware).await
    }

    async fn say_power(&mut self) -> std::io::Result<()> {
        let power = lock(self.state).power_w;
        let current = (power * 1000.0 / (VOLTAGE_DV / 10.0)).round() as i64;
        let message = json!({
            "voltage": VOLTAGE_DV as i64, "current": current, "power": power.round() as i64
        });
        self.say(what::ELECTRICITY_INFORMATION, &message).await
    }

    async fn say_delay(&mut self, left: u32, then_on: bool) -> std::io::Result<()> {
        let delay = DelayLeft {
            delay_hour: left / 3600,
            delay_minute: left / 60 % 60,
            delay_second: left % 60,
            switch_state: SwitchState::new(then_on).switch_state,
        };
        self.say(what::DELAY_TIME, &delay).await
    }

    /// Switches the relay (ending any countdown, as a change of state does) and says so.
    async fn set(&mut self, on: bool) -> std::io::Result<()> {
        {
            let mut s = lock(self.state);
            s.switch(on);
            s.countdown = None;
        }
        self.next_tick = None;
        self.say_state().await
    }

    /// One second of the countdown: says what is left, and at 0 switches.
    async fn tick(&mut self) -> std::io::Result<()> {
        let countdown = lock(self.state).countdown;
        let Some((left, then_on)) = countdown else {
            self.next_tick = None;
            return Ok(());
        };
        let left = left.saturating_sub(1);
        self.say_delay(left, then_on).await?;
        if left == 0 {
            return self.set(then_on).await;
        }
        lock(self.state).countdown = Some((left, then_on));
        self.next_tick = self.next_tick.map(|at| at + TICK);
        Ok(())
    }

    /// A countdown to the opposite of the current state; 0 h 0 min cancels the one running.
    async fn start_countdown(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let Ok(d) = serde_json::from_slice::<DelaySet>(payload) else {
            return Ok(());
        };
        if d.delay_hour > 23 || d.delay_minute > 59 {
            return Ok(());
        }
        let total = d.delay_hour * 3600 + d.delay_minute * 60;
        let then_on = {
            let mut s = lock(self.state);
            let then_on = !s.on;
            s.countdown = (total > 0).then_some((total, then_on));
            then_on
        };
        if total == 0 {
            self.next_tick = None;
            return Ok(());
        }
        self.say_delay(total, then_on).await?;
        self.next_tick = Some(Instant::now() + TICK);
        Ok(())
    }

    /// Tries to reach the firmware server, off the session loop; the answer comes back
    /// through `ota` within [`OTA_TIMEOUT`].
    fn upgrade(&self, payload: &[u8]) {
        let Ok(upgrade) = serde_json::from_slice::<Upgrade>(payload) else {
            return;
        };
        let done = self.ota.clone();
        tokio::spawn(async move {
            let dial = tokio::net::TcpStream::connect((upgrade.realm.as_str(), upgrade.port));
            let reached = matches!(timeout(OTA_TIMEOUT, dial).await, Ok(Ok(_)));
            let _ = done.send(reached);
        });
    }

    async fn upgraded(&mut self, reached: bool) -> std::io::Result<()> {
        let result = if reached {
            lock(self.state).firmware_version = "000002".to_owned();
            "R1"
        } else {
            "R3"
        };
        let state = OtaState {
            ota_result: result.to_owned(),
        };
        self.say(what::OTA_UPGRADE_STATE, &state).await
    }

    /// A message from the server; `Some` when it ends the plug's connection.
    async fn on_publish(&mut self, publish: Publish) -> std::io::Result<Option<End>> {
        if publish.qos == QoS::AtLeastOnce {
            self.link.puback(publish.pkid).await?;
        }
        lock(self.state).remember(&publish.topic, &publish.payload);
        let Some(asked) = publish.topic.strip_prefix(self.app_prefix.as_str()) else {
            return Ok(None);
        };
        match asked {
            what::SWITCH_STATE => {
                // A malformed one is ignored, as the firmware does.
                let on = serde_json::from_slice::<SwitchState>(&publish.payload)
                    .ok()
                    .and_then(|s| s.on());
                if let Some(on) = on {
                    self.set(on).await?;
                }
            }
            what::DELAY_TIME => self.start_countdown(&publish.payload).await?,
            what::READ_FIRMWARE_INFOR => self.say_firmware().await?,
            what::UPGRADE => self.upgrade(&publish.payload),
            what::RESET => {
                // Back to factory settings: it says nothing and leaves for good.
                lock(self.state).reset = true;
                return Ok(Some(End::Done));
            }
            _ => {}
        }
        Ok(None)
    }

    /// What the handle asked; `Some` when it ends the plug's connection.
    async fn on_command(&mut self, command: Command) -> std::io::Result<Option<End>> {
        match command {
            Command::Press => {
                let on = !lock(self.state).on;
                self.set(on).await?;
            }
            Command::HoldReset => {
                self.say(what::DELETE_DEVICE, &json!({})).await?;
                lock(self.state).reset = true;
                return Ok(Some(End::Done));
            }
            Command::Publish(topic, payload) => self.link.publish(&topic, payload).await?,
        }
        Ok(None)
    }
}
