//! A simulated plug in pairing mode: it serves the local HTTP API a reset plug serves on
//! its own access point (`POST /config`), sees a fixed list of networks, takes the server
//! and key (`Config.Key`) and the Wi-Fi (`Config.Wifi`, or `Config.WifiX` whose password
//! it decrypts as a plug does), then "reboots": stops serving and dials the server it was
//! given with the key it was given, as a simulated plug.

use super::{SimConfig, SimDevice};
use crate::pair::{encrypt, wifi};
use crate::protocol::{Message, Method};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long the plug takes to "reboot" onto the network after its Wi-Fi is set.
const REBOOT: Duration = Duration::from_millis(300);

/// The networks a simulated plug in pairing mode sees.
pub const NETWORKS: [(&str, i64); 2] = [("HomeNet", 90), ("Neighbour 5G", 40)];

/// How the simulated plug in pairing mode behaves.
#[derive(Debug, Clone)]
pub struct PairingOptions {
    /// It lists `Appliance.Config.WifiX` (password encrypted) instead of `Config.Wifi`.
    pub wifix: bool,
    /// It answers ERROR to this namespace (tests of refusals).
    pub refuse: Option<String>,
    /// After the Wi-Fi is set it never comes back (a wrong Wi-Fi password, say).
    pub stays_away: bool,
    /// It encrypts its API (`Appliance.Encrypt.ECDHE`): after the key exchange it takes
    /// only encrypted requests (but the Ability), and answers them encrypted.
    pub ecdhe: bool,
    /// It is already paired, with its config's user id and key, and on the owner's Wi-Fi:
    /// it checks every request's sign with that key, encrypts (with `ecdhe`) with the key
    /// made of its uuid, that key and its MAC from the start, and once given a new server
    /// and key (`Config.Key`) it leaves for them.
    pub paired: bool,
}

/// What the plug was told while pairing.
#[derive(Debug, Clone, Default)]
pub struct Told {
    /// The account's user id (`Config.Key` key.userId).
    pub user_id: Option<String>,
    /// The account's key (`Config.Key` key.key).
    pub key: Option<String>,
    /// The server it dials after pairing (`Config.Key` gateway host and port).
    pub server: Option<(String, u16)>,
    /// The fallback server (gateway secondHost and secondPort).
    pub second_server: Option<(String, u16)>,
    /// The Wi-Fi to join, decoded from base64 (`Config.Wifi` or `Config.WifiX`).
    pub ssid: Option<String>,
    /// The Wi-Fi password, decoded or decrypted; `None` also if that failed (it then stays away).
    pub password: Option<String>,
    /// The time zone `System.Time` gave it; `None` if it was not sent.
    pub zone: Option<String>,
    /// Requests that came encrypted.
    pub encrypted: u32,
    /// Plain requests it dropped after the key exchange (a real plug resets the connection).
    pub plain_dropped: u32,
}

struct Inner {
    config: SimConfig,
    options: PairingOptions,
    told: Told,
    device: Option<SimDevice>,
    stop: Option<oneshot::Sender<()>>,
    /// The AES key agreed in the exchange.
    cipher: Option<String>,
}

/// A plug in pairing mode; after pairing, the plug it became.
#[derive(Clone)]
pub struct PairingPlug {
    inner: Arc<Mutex<Inner>>,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
}

impl PairingPlug {
    /// Serves the pairing API on `listen` (port 0 for any). `config` is the plug's
    /// identity and profile; its server and account are what pairing gives it.
    pub async fn start(
        listen: SocketAddr,
        mut config: SimConfig,
        options: PairingOptions,
    ) -> std::io::Result<PairingPlug> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let abilities = config.profile.ability.as_object_mut();
        if let Some(map) = abilities {
            map.remove("Appliance.Config.WifiX");
            map.remove("Appliance.Config.Wifi");
            let which = if options.wifix {
                "Appliance.Config.WifiX"
            } else {
                "Appliance.Config.Wifi"
            };
            map.insert(which.to_owned(), json!({}));
            if options.ecdhe {
                map.insert("Appliance.Encrypt.ECDHE".to_owned(), json!({}));
            }
        }
        let (stop, stopped) = oneshot::channel();
        let plug = PairingPlug::new(config, options, Some(stop), addr);
        let app = Router::new()
            .route("/config", post(config_request))
            .with_state(plug.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(plug)
    }

    fn new(
        config: SimConfig,
        options: PairingOptions,
        stop: Option<oneshot::Sender<()>>,
        addr: SocketAddr,
    ) -> PairingPlug {
        let cipher = (options.ecdhe && options.paired)
            .then(|| encrypt::paired_key(&config.uuid, &config.key, &config.mac))
            .flatten();
        PairingPlug {
            inner: Arc::new(Mutex::new(Inner {
                config,
                options,
                told: Told::default(),
                device: None,
                stop,
                cipher,
            })),
            addr,
        }
    }

    /// A plug in pairing mode reached by radio only (`sim::ble`): no HTTP server; `addr`
    /// is unspecified.
    pub fn radio_only(config: SimConfig, options: PairingOptions) -> PairingPlug {
        let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
        PairingPlug::new(config, options, None, nowhere)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What pairing told it.
    pub fn told(&self) -> Told {
        self.lock().told.clone()
    }

    /// The state of the plug it became after pairing (once it "rebooted").
    pub fn device_state(&self) -> Option<super::SimState> {
        self.lock().device.as_ref().map(SimDevice::state)
    }

    /// Its answer to one request (the HTTP server's and the radio's).
    pub(crate) fn answer(&self, request: &Message) -> Message {
        let mut inner = self.lock();
        let config = inner.config.clone();
        let ns = request.header.namespace.as_str();
        let from = crate::protocol::device_publish_topic(&config.uuid);
        let reply =
            |method: Method, payload: Value| request.reply(method, payload, &from, &config.key);
        if inner.options.paired && !request.header.sign_ok(&config.key) {
            return reply(
                Method::Error,
                json!({"error": {"code": 5001, "detail": "sign error"}}),
            );
        }
        if inner.options.refuse.as_deref() == Some(ns) {
            return reply(
                Method::Error,
                json!({"error": {"code": 5000, "detail": "refused"}}),
            );
        }
        let p = &request.payload;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        match (request.header.method, ns) {
            (Method::Set, "Appliance.Encrypt.ECDHE") if inner.options.ecdhe => {
                let ours = encrypt::Exchange::new().and_then(|o| Ok((o.public()?, o)));
                let theirs = p["ecdhe"]["pubkey"].as_str().unwrap_or_default();
                match ours.and_then(|(public, o)| Ok((public, o.key_with(theirs)?))) {
                    Ok((public, key)) => {
                        inner.cipher = Some(key);
                        reply(Method::SetAck, json!({"ecdhe": {"pubkey": public}}))
                    }
                    Err(e) => reply(
                        Method::Error,
                        json!({"error": {"code": 5000, "detail": e.to_string()}}),
                    ),
                }
            }
            (Method::Get, "Appliance.System.All") => {
                let mut all = config.profile.all.clone();
                all["system"]["hardware"]["uuid"] = json!(config.uuid);
                all["system"]["hardware"]["macAddress"] = json!(config.mac);
                reply(Method::GetAck, json!({ "all": all }))
            }
            (Method::Get, "Appliance.System.Hardware") => {
                let system = &config.profile.all["system"];
                let mut hardware = system["hardware"].clone();
                hardware["uuid"] = json!(config.uuid);
                hardware["macAddress"] = json!(config.mac);
                let firmware = system["firmware"].clone();
                reply(
                    Method::GetAck,
                    json!({"hardware": hardware, "firmware": firmware}),
                )
            }
            (Method::Get, "Appliance.System.Ability") => {
                reply(Method::GetAck, json!({"ability": config.profile.ability}))
            }
            (Method::Get, "Appliance.Config.WifiList") => {
                let list: Vec<Value> = NETWORKS
                    .iter()
                    .enumerate()
                    .map(|(i, (ssid, signal))| {
                        json!({"ssid": wifi::encode(ssid), "bssid": format!("02:00:00:00:00:0{i}"),
                               "channel": 6 + i, "encryption": 6, "cipher": 3, "signal": signal})
                    })
                    .collect();
                reply(Method::GetAck, json!({ "wifiList": list }))
            }
            (Method::Set, "Appliance.System.Time") => {
                inner.told.zone = text(&p["time"]["timezone"]);
                reply(Method::SetAck, json!({}))
            }
            (Method::Set, "Appliance.Config.Key") => {
                let key = &p["key"];
                let gateway = &key["gateway"];
                let server = |h: &str, port: &str| {
                    Some((
                        text(&gateway[h])?,
                        u16::try_from(gateway[port].as_u64()?).ok()?,
                    ))
                };
                inner.told.user_id = text(&key["userId"]);
                inner.told.key = text(&key["key"]);
                inner.told.server = server("host", "port");
                inner.told.second_server = server("secondHost", "secondPort");
                let answer = reply(Method::SetAck, json!({}));
                if inner.options.paired {
                    drop(inner);
                    self.reboot();
                }
                answer
            }
            (Method::Set, "Appliance.Config.Wifi" | "Appliance.Config.WifiX") => {
                let wifi_p = &p["wifi"];
                let field = wifi_p["password"].as_str().unwrap_or_default();
                let password = if ns.ends_with("WifiX") {
                    let kind = config
                        .profile
                        .hardware_type()
                        .unwrap_or_default()
                        .to_owned();
                    wifi::decrypt_password(field, &kind, &config.uuid, &config.mac)
                } else {
                    wifi::decode_ssid(field)
                };
                inner.told.ssid = wifi_p["ssid"].as_str().and_then(wifi::decode_ssid);
                inner.told.password = password;
                let answer = reply(Method::SetAck, json!({}));
                drop(inner);
                self.reboot();
                answer
            }
            _ => reply(
                Method::Error,
                json!({"error": {"code": 5000, "detail": "unknown namespace"}}),
            ),
        }
    }

    /// Leaves pairing mode and, unless told to stay away, dials the server it was given.
    fn reboot(&self) {
        let plug = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REBOOT).await;
            let mut inner = plug.lock();
            if let Some(stop) = inner.stop.take() {
                let _ = stop.send(());
            }
            let told = inner.told.clone();
            let (Some((host, port)), Some(user_id), Some(key)) =
                (told.server, told.user_id, told.key)
            else {
                return;
            };
            let joined = told.password.is_some() || inner.options.paired;
            if inner.options.stays_away || !joined {
                return;
            }
            let mut config = inner.config.clone();
            config.host = host;
            config.port = port;
            config.user_id = user_id;
            config.key = key;
            inner.device = Some(SimDevice::start(config));
        });
    }
}

/// One `POST /config`: plain JSON, or (after the exchange) base64 of AES, answered in
/// kind. After the exchange a plain request other than the Ability is dropped, as a real
/// plug resets the connection.
async fn config_request(State(plug): State<PairingPlug>, body: Bytes) -> Response {
    let cipher = plug.lock().cipher.clone();
    let plain = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let bytes = match (&cipher, plain) {
        (Some(key), false) => match encrypt::open(key, &body) {
            Some(bytes) => {
                plug.lock().told.encrypted += 1;
                bytes
            }
            None => return StatusCode::BAD_REQUEST.into_response(),
        },
        _ => body.to_vec(),
    };
    let answer = match Message::parse(&bytes) {
        Ok(request) if cipher.is_some() && plain && !plain_allowed(&request) => {
            plug.lock().told.plain_dropped += 1;
            return StatusCode::BAD_REQUEST.into_response();
        }
        Ok(request) => plug.answer(&request),
        Err(e) => Message::new(
            Method::Error,
            "",
            json!({"error": {"code": 5000, "detail": e.to_string()}}),
            "",
            "",
        ),
    };
    match (&cipher, plain) {
        (Some(key), false) => match encrypt::seal(key, &answer.to_bytes()) {
            Ok(sealed) => sealed.into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        _ => Json(serde_json::to_value(&answer).unwrap_or_default()).into_response(),
    }
}

/// What an encrypting plug still takes in plain.
fn plain_allowed(request: &Message) -> bool {
    request.header.namespace == "Appliance.System.Ability"
}
