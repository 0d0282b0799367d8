//! A simulated MOKO plug in AP mode (seeds/004, section 2): a TCP server that reads one
//! JSON object at a time and answers `{"code":N,"message":...,"result":{"header":H,...}}`
//! padded with two NULs, as real plugs pad theirs. 4001 says who it is, 4002 takes the
//! MQTT server (checked as the firmware checks it), 4003 the Wi-Fi; then it "joins the
//! Wi-Fi": it leaves AP mode and dials what it was told, as a [`MokoPlug`].

use super::moko::{MokoConfig, MokoPlug, MokoState};
use crate::protocol::moko::setup::{self, DeviceInfo, MqttServer, Wifi};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;

/// How long the plug takes to join the Wi-Fi and start dialling after a good 4003.
const JOIN: Duration = Duration::from_millis(200);
/// The most a message may be; longer is answered with code 1.
const MAX_MESSAGE: usize = 1024;
/// A provisioning connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(60);
/// Reads one provisioning connection gets, at most.
const MAX_READS: usize = 256;

struct Inner {
    info: DeviceInfo,
    template: MokoConfig,
    server: Option<MqttServer>,
    wifi: Option<Wifi>,
    plug: Option<Arc<MokoPlug>>,
    forced: Option<i64>,
}

/// A MOKO plug in AP mode; after provisioning, the plug it became.
#[derive(Clone)]
pub struct MokoPairingPlug {
    inner: Arc<Mutex<Inner>>,
    /// True once it left AP mode: its server and connections end.
    stop: Arc<watch::Sender<bool>>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl MokoPairingPlug {
    /// Listens on `listen` (port 0 for any) as the plug `info`; after provisioning it
    /// dials as `template` with the server, login and keepalive it was told.
    pub async fn start(
        listen: SocketAddr,
        info: DeviceInfo,
        template: MokoConfig,
    ) -> std::io::Result<MokoPairingPlug> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let plug = MokoPairingPlug {
            inner: Arc::new(Mutex::new(Inner {
                info,
                template,
                server: None,
                wifi: None,
                plug: None,
                forced: None,
            })),
            stop: Arc::new(stop),
            addr,
        };
        tokio::spawn(accept(listener, plug.clone(), stopped));
        Ok(plug)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The MQTT server a good 4002 gave it.
    pub fn told_server(&self) -> Option<MqttServer> {
        self.lock().server.clone()
    }

    /// The Wi-Fi a good 4003 gave it.
    pub fn told_wifi(&self) -> Option<Wifi> {
        self.lock().wifi.clone()
    }

    /// The state of the plug it became (once it joined the Wi-Fi).
    pub fn plug_state(&self) -> Option<MokoState> {
        self.lock().plug.as_ref().map(|p| p.state())
    }

    /// The plug it became (once it joined the Wi-Fi), to press its button and so on.
    pub fn plug(&self) -> Option<Arc<MokoPlug>> {
        self.lock().plug.clone()
    }

    /// Every answer from now carries `code` (and a refused message changes nothing);
    /// `None` or `Some(0)` for answers as the firmware gives them.
    pub fn force_code(&self, code: Option<i64>) {
        self.lock().forced = code;
    }

    /// Leaves AP mode (no more connections) and stops the plug it became, if any.
    pub fn stop(&self) {
        self.stop.send_replace(true);
        if let Some(plug) = self.lock().plug.as_ref() {
            plug.stop();
        }
    }

    /// The answer to the bytes read so far, once they make a message (they are then
    /// taken); `None` while they are part of one.
    fn take(&self, got: &mut Vec<u8>) -> Option<Value> {
        if got.len() > MAX_MESSAGE {
            got.clear();
            return Some(self.refused(1));
        }
        // NULs after a message are padding, not part of it.
        let end = got.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        let answer = match serde_json::from_slice::<Value>(&got[..end]) {
            Ok(request) => self.answer(&request),
            Err(e) if e.is_eof() => return None,
            Err(_) => self.refused(4),
        };
        got.clear();
        Some(answer)
    }

    /// The answer to bytes that are no message: `code`, or the forced one.
    fn refused(&self, code: i64) -> Value {
        let forced = self.lock().forced.filter(|c| *c != 0);
        reply(None, forced.unwrap_or(code), Map::new())
    }

    /// The answer to one JSON message.
    fn answer(&self, request: &Value) -> Value {
        let header = request.get("header").and_then(Value::as_u64);
        let mut inner = self.lock();
        if let Some(code) = inner.forced.filter(|c| *c != 0) {
            return reply(header, code, Map::new());
        }
        let code = match header.and_then(|h| u32::try_from(h).ok()) {
            Some(setup::DEVICE_INFO) => {
                let info = match serde_json::to_value(&inner.info) {
                    Ok(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                return reply(header, 0, info);
            }
            Some(setup::MQTT_SERVER) => read_server(request).map(|server| {
                inner.server = Some(server);
            }),
            Some(setup::WIFI) => read_wifi(request, inner.server.is_some()).map(|wifi| {
                inner.wifi = Some(wifi);
                self.join();
            }),
            _ => Err(5),
        };
        reply(header, code.err().unwrap_or(0), Map::new())
    }

    /// Joins the Wi-Fi after [`JOIN`]: leaves AP mode and dials the server it was told.
    fn join(&self) {
        let plug = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(JOIN).await;
            plug.stop.send_replace(true);
            let mut inner = plug.lock();
            let Some(server) = inner.server.clone() else {
                return;
            };
            let config = MokoConfig {
                host: server.host,
                port: server.port,
                tls: server.connect_mode == 1,
                username: server.username,
                password: server.password,
                keepalive: Duration::from_secs(u64::from(server.keepalive)),
                info: inner.info.clone(),
                ..inner.template.clone()
            };
            inner.plug = Some(Arc::new(MokoPlug::start(config)));
        });
    }
}

/// An answer: the code, its meaning, and the result (with the request's header, if any).
fn reply(header: Option<u64>, code: i64, mut result: Map<String, Value>) -> Value {
    if let Some(h) = header {
        result.insert("header".to_owned(), json!(h));
    }
    json!({"code": code, "message": setup::code_meaning(code), "result": result})
}

/// A string field of 1 to `max` bytes: code 2 when it is no string, 1 when its length is
/// out of bounds.
fn text(r: &Value, key: &str, max: usize) -> Result<String, i64> {
    let s = r.get(key).and_then(Value::as_str).ok_or(2i64)?;
    if s.is_empty() || s.len() > max {
        return Err(1);
    }
    Ok(s.to_owned())
}

/// A whole number from `lo` to `hi`: code 2 when it is not one, 6 when out of range.
fn int(r: &Value, key: &str, lo: i64, hi: i64) -> Result<i64, i64> {
    let v = r.get(key).ok_or(2i64)?;
    match v.as_i64() {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        Some(_) => Err(6),
        // Beyond i64: a number, but out of range.
        None if v.is_u64() => Err(6),
        // Not a number, or a fraction.
        None => Err(2),
    }
}

/// 4002, checked field by field as the firmware checks it (the ranges are checked, so the
/// narrowing casts keep every value).
fn read_server(r: &Value) -> Result<MqttServer, i64> {
    Ok(MqttServer {
        header: setup::MQTT_SERVER,
        host: text(r, "host", 64)?,
        port: int(r, "port", 1, 65535)? as u16,
        connect_mode: int(r, "connect_mode", 0, 1)? as u8,
        username: text(r, "username", 32)?,
        password: text(r, "password", 32)?,
        keepalive: int(r, "keepalive", 60, 120)? as u16,
        qos: int(r, "qos", 0, 2)? as u8,
        clean_session: int(r, "clean_session", 0, 1)? as u8,
    })
}

/// 4003: only after a good 4002 (else code 3); a network name of 1 to 32 bytes, a
/// password of at most 64 (none for an open network), a security from 0 to 4.
fn read_wifi(r: &Value, after_server: bool) -> Result<Wifi, i64> {
    if !after_server {
        return Err(3);
    }
    let wifi_ssid = text(r, "wifi_ssid", 32)?;
    let wifi_pwd = match r.get("wifi_pwd") {
        None => String::new(),
        Some(v) => {
            let pwd = v.as_str().ok_or(2i64)?;
            if pwd.len() > 64 {
                return Err(1);
            }
            pwd.to_owned()
        }
    };
    Ok(Wifi {
        header: setup::WIFI,
        wifi_ssid,
        wifi_pwd,
        wifi_security: int(r, "wifi_security", 0, 4)? as u8,
    })
}

/// Returns once `stopped` holds true (or its sender is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // Each turn waits for a change of the flag; it changes once.
    loop {
        // Copied out, so that no borrow of the flag is held while waiting.
        let stop = *stopped.borrow_and_update();
        if stop || stopped.changed().await.is_err() {
            return;
        }
    }
}

/// Takes connections until the plug leaves AP mode.
async fn accept(listener: TcpListener, plug: MokoPairingPlug, mut stopped: watch::Receiver<bool>) {
    // Until stopped (it joined the Wi-Fi, or stop()), or the runtime ends.
    loop {
        tokio::select! {
            _ = until_stopped(&mut stopped) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(conversation(stream, plug.clone(), stopped.clone()));
                }
                // Out of descriptors, say: try again shortly rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// One provisioning connection: a message per read (bytes accumulate until they make
/// one), each answered and padded with two NULs.
async fn conversation(
    mut stream: TcpStream,
    plug: MokoPairingPlug,
    mut stopped: watch::Receiver<bool>,
) {
    let mut got: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 1024];
    // At most MAX_READS reads, each within IDLE.
    for _ in 0..MAX_READS {
        let n = tokio::select! {
            _ = until_stopped(&mut stopped) => return,
            read = timeout(IDLE, stream.read(&mut chunk)) => match read {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            },
        };
        got.extend_from_slice(&chunk[..n]);
        let Some(answer) = plug.take(&mut got) else {
            continue;
        };
        let mut bytes = answer.to_string().into_bytes();
        bytes.extend_from_slice(&[0, 0]);
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pair::moko::{device_info, plan, Provisioner};
    use crate::pair::PairError;
    use crate::sim::moko::sim_info;

    #[tokio::test]
    async fn it_checks_what_it_is_told_and_then_dials_it() {
        let info = sim_info(7, true);
        let template = MokoConfig::new("", 0, "", "", info.clone());
        let listen: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let plug = MokoPairingPlug::start(listen, info.clone(), template)
            .await
            .expect("listening");
        let addr = plug.addr.to_string();
        let codes = tokio::task::spawn_blocking(move || {
            let code = |r: Result<Value, PairError>| match r {
                Ok(_) => 0,
                Err(PairError::MokoRefused { code, .. }) => code,
                Err(e) => panic!("{e}"),
            };
            let mut p = Provisioner::connect(&addr).expect("connected");
            let mac = device_info(&mut p).expect("who it is").device_mac;
            let steps = plan("127.0.0.1", 1, false, "moko_u", "pw", "HomeNet", "secret");
            let early = code(p.ask("wifi first", &steps[1].1));
            let mut bad_port = steps[0].1.clone();
            bad_port["port"] = json!("1883");
            let bad_port = code(p.ask("port as text", &bad_port));
            let mut bad_keepalive = steps[0].1.clone();
            bad_keepalive["keepalive"] = json!(30);
            let bad_keepalive = code(p.ask("keepalive", &bad_keepalive));
            let unknown = code(p.ask("unknown", &json!({"header": 4009})));
            let server = code(p.ask(steps[0].0, &steps[0].1));
            let wifi = code(p.ask(steps[1].0, &steps[1].1));
            (mac, [early, bad_port, bad_keepalive, unknown, server, wifi])
        })
        .await
        .expect("the provisioning thread");
        assert_eq!(codes.0, info.device_mac);
        assert_eq!(codes.1, [3, 2, 6, 5, 0, 0]);
        assert_eq!(plug.told_wifi().map(|w| w.wifi_security), Some(3));
        let mut joined = false;
        for _ in 0..50 {
            if plug.plug_state().is_some() {
                joined = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(joined, "it dials once it joined the Wi-Fi");
        plug.stop();
    }
}
