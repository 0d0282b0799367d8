//! `merossd pair --moko`: takes a MOKO MK102/MK112 plug in AP mode (its own Wi-Fi access
//! point, the plug at `192.168.4.1:8266`) to this merossd over the plug's raw TCP
//! provisioning: who it is (4001), then the MQTT server (4002), then the Wi-Fi (4003).
//! Each message is one JSON object written as it is, with no framing; each answer is one
//! JSON object, padded with NUL bytes by real plugs.

use super::PairError;
use crate::protocol::moko::{self, setup};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long the plug has for each step: the connect, a write, an answer.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What stands in for a password when a message is shown.
const MASK: &str = "********";

/// One TCP connection to a plug in AP mode.
pub struct Provisioner {
    stream: TcpStream,
    /// `tcp://ADDR`, for errors.
    url: String,
}

impl Provisioner {
    /// Connects to the plug at `addr` (`host:port`, such as [`setup::AP_ADDRESS`]), trying
    /// each address the name resolves to within [`STEP_TIMEOUT`].
    pub fn connect(addr: &str) -> Result<Provisioner, PairError> {
        let url = format!("tcp://{addr}");
        let unreached = |detail: String| PairError::MokoUnreachable {
            addr: addr.to_owned(),
            detail,
        };
        let addresses: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| unreached(e.to_string()))?
            .collect();
        let mut last = "the address resolves to nothing".to_owned();
        // One try per resolved address: a bounded loop.
        for a in addresses {
            match TcpStream::connect_timeout(&a, STEP_TIMEOUT) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    stream
                        .set_write_timeout(Some(STEP_TIMEOUT))
                        .map_err(|e| unreached(e.to_string()))?;
                    return Ok(Provisioner {
                        stream,
                        url: url.clone(),
                    });
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        Err(unreached(last))
    }

    /// Sends `message` (one JSON object, one write, no framing) and reads the plug's
    /// answer; returns its `result` when its `code` is 0.
    pub fn ask(&mut self, step: &'static str, message: &Value) -> Result<Value, PairError> {
        let failed = |detail: String| PairError::Step { step, detail };
        let bytes = serde_json::to_vec(message).map_err(|e| failed(e.to_string()))?;
        self.stream
            .write_all(&bytes)
            .and_then(|_| self.stream.flush())
            .map_err(|e| failed(format!("sending to {}: {e}", self.url)))?;
        let answer = self.read_answer(step)?;
        if answer.code != 0 {
            return Err(PairError::MokoRefused {
                step,
                code: answer.code,
                meaning: setup::code_meaning(answer.code),
            });
        }
        Ok(answer.result)
    }

    /// Reads until the bytes so far make one JSON object, within [`STEP_TIMEOUT`] and
    /// [`setup::MAX_ANSWER`] bytes.
    fn read_answer(&mut self, step: &'static str) -> Result<setup::Answer, PairError> {
        let failed = |detail: String| PairError::Step { step, detail };
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut got: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 512];
        // Each turn reads at least one byte or ends, and the bytes are capped: bounded.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(failed(format!("no whole answer within {STEP_TIMEOUT:?}")));
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(|e| failed(e.to_string()))?;
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // How std reports a read timeout, depending on the platform.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(failed(format!("no whole answer within {STEP_TIMEOUT:?}")));
                }
                Err(e) => return Err(failed(format!("reading the answer: {e}"))),
            };
            if n == 0 {
                return Err(failed(if got.is_empty() {
                    "the plug closed the connection without answering".to_owned()
                } else {
                    format!(
                        "the plug closed the connection after {} bytes that are not a whole answer",
                        got.len()
                    )
                }));
            }
            got.extend_from_slice(&chunk[..n]);
            let (text, ended) = answer_text(&got);
            if text.len() > setup::MAX_ANSWER {
                return Err(failed(format!(
                    "the answer is longer than {} bytes",
                    setup::MAX_ANSWER
                )));
            }
            match serde_json::from_slice::<Value>(text) {
                Ok(value) => return parse_answer(value).map_err(failed),
                // Part of an object, and no NUL yet that says it ended: read on, within
                // the most an answer may be (padding included).
                Err(e) if e.is_eof() && !ended && got.len() <= setup::MAX_ANSWER => {}
                Err(e) if e.is_eof() => {
                    return Err(failed(format!(
                        "the answer ends before its JSON object does ({} bytes read)",
                        got.len()
                    )));
                }
                Err(e) => return Err(failed(format!("the answer is not JSON: {e}"))),
            }
        }
    }
}

/// The answer in `got`: without the NULs left over from the last answer's padding, and cut
/// at the first NUL after it (real plugs pad answers with NULs). `true` when a NUL ended it.
fn answer_text(got: &[u8]) -> (&[u8], bool) {
    let start = got.iter().position(|b| *b != 0).unwrap_or(got.len());
    let rest = &got[start..];
    match rest.iter().position(|b| *b == 0) {
        Some(end) => (&rest[..end], true),
        None => (rest, false),
    }
}

fn parse_answer(value: Value) -> Result<setup::Answer, String> {
    if !value.is_object() {
        return Err(format!("the answer is not a JSON object: {value}"));
    }
    serde_json::from_value(value).map_err(|e| format!("the answer has no code: {e}"))
}

/// Step 1 (4001): who the plug is.
pub fn device_info(p: &mut Provisioner) -> Result<setup::DeviceInfo, PairError> {
    const STEP: &str = "asking who the plug is (4001)";
    let result = p.ask(STEP, &json!({ "header": setup::DEVICE_INFO }))?;
    let info: setup::DeviceInfo = serde_json::from_value(result).map_err(|e| PairError::Step {
        step: STEP,
        detail: format!("its answer is not a device's information: {e}"),
    })?;
    if moko::mac_hex(&info.device_mac).is_none() {
        return Err(PairError::Step {
            step: STEP,
            detail: format!("its answer names no MAC (device_mac {:?})", info.device_mac),
        });
    }
    Ok(info)
}

/// Steps 2 and 3, in order: the MQTT server (4002: keepalive 60 s, QoS 1, clean session,
/// TLS when `tls`) and the Wi-Fi (4003: WPA2 when a password is given, else open).
pub fn plan(
    server_host: &str,
    server_port: u16,
    tls: bool,
    username: &str,
    password: &str,
    ssid: &str,
    wifi_pass: &str,
) -> Vec<(&'static str, Value)> {
    let server = setup::MqttServer {
        header: setup::MQTT_SERVER,
        host: server_host.to_owned(),
        port: server_port,
        connect_mode: u8::from(tls),
        username: username.to_owned(),
        password: password.to_owned(),
        keepalive: 60,
        qos: 1,
        clean_session: 1,
    };
    let wifi = setup::Wifi {
        header: setup::WIFI,
        wifi_ssid: ssid.to_owned(),
        wifi_pwd: wifi_pass.to_owned(),
        wifi_security: if wifi_pass.is_empty() { 0 } else { 3 },
    };
    // Structs of strings and numbers always serialize; Null would only show a bug.
    vec![
        (
            "giving it this merossd's MQTT server (4002)",
            serde_json::to_value(&server).unwrap_or_default(),
        ),
        (
            "giving it the Wi-Fi (4003)",
            serde_json::to_value(&wifi).unwrap_or_default(),
        ),
    ]
}

/// A message as `--dry-run` prints it: `password` and `wifi_pwd` masked.
pub fn masked(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        for field in ["password", "wifi_pwd"] {
            if let Some(value) = map.get_mut(field) {
                *value = json!(MASK);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A plug that reads one message and answers `answer` in two writes, then closes.
    fn plug(answer: &'static [u8]) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = listener.local_addr().expect("its address").to_string();
        let thread = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("a connection");
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).expect("a message");
            let (first, second) = answer.split_at(answer.len() / 2);
            s.write_all(first).expect("written");
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(second).expect("written");
            buf[..n].to_vec()
        });
        (addr, thread)
    }

    #[test]
    fn an_answer_padded_with_nuls_is_read() {
        let (addr, thread) = plug(
            b"{\"code\":0,\"message\":\"success\",\"result\":{\"header\":4001,\
              \"device_function\":\"iot_plug\",\"device_name\":\"plug_one\",\
              \"device_specifications\":\"us\",\"device_mac\":\"11:22:33:44:55:66\",\
              \"device_type\":\"1\"}}\0\0\0\0",
        );
        let mut p = Provisioner::connect(&addr).expect("connected");
        let info = device_info(&mut p).expect("an answer");
        assert_eq!(info.device_mac, "11:22:33:44:55:66");
        assert_eq!(info.prefix(), "iot_plug/plug_one/us/11:22:33:44:55:66");
        let sent: Value = serde_json::from_slice(&thread.join().expect("the plug")).expect("JSON");
        assert_eq!(sent, json!({"header": 4001}));
    }

    #[test]
    fn a_refusal_names_the_code_and_its_meaning() {
        let (addr, _thread) =
            plug(b"{\"code\":3,\"message\":\"order\",\"result\":{\"header\":4003}}\0\0");
        let mut p = Provisioner::connect(&addr).expect("connected");
        let steps = plan("10.0.0.2", 8883, true, "moko_1", "pw", "HomeNet", "secret");
        let (step, wifi) = &steps[1];
        match p.ask(step, wifi) {
            Err(PairError::MokoRefused {
                code: 3, meaning, ..
            }) => assert_eq!(meaning, setup::code_meaning(3)),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_connection_closed_before_an_answer_is_a_step_error() {
        let (addr, _thread) = plug(b"");
        let mut p = Provisioner::connect(&addr).expect("connected");
        match p.ask("asking", &json!({"header": 4001})) {
            Err(PairError::Step { step: "asking", .. }) => {}
            other => panic!("expected a step error, got {other:?}"),
        }
    }

    #[test]
    fn the_plan_is_4002_then_4003_and_masks_its_passwords() {
        let steps = plan("10.0.0.2", 8883, true, "moko_1", "pw", "HomeNet", "");
        assert_eq!(steps[0].1["header"], 4002);
        assert_eq!(steps[0].1["connect_mode"], 1);
        assert_eq!(steps[0].1["keepalive"], 60);
        assert_eq!(steps[1].1["wifi_security"], 0);
        assert_eq!(masked(&steps[0].1)["password"], MASK);
        assert_eq!(masked(&steps[1].1)["wifi_pwd"], MASK);
        assert_eq!(masked(&steps[1].1)["wifi_ssid"], "HomeNet");
    }
}
