//! merossd: a small daemon that takes the Meross cloud's place for Meross plugs.
//!
//! Plugs dial the [`gate`] (TLS, MQTT 3.1 made 3.1.1, login checked against the
//! [`registry`] of who owns which device), which reads every packet ([`mqtt`]) and holds
//! it against the topic rules (`gate::acl`) and against what the router can take and
//! hold (`broker::budget`). What a device says goes straight to the [`engine`]
//! through the [`hub`], and what others may read also to an embedded rumqttd router
//! ([`broker`]) that serves app and local clients. The router runs supervised
//! (`broker::supervise`), and a copy of what merossd retains on it (`broker::retained`)
//! is handed out again on every subscribe. Switch commands are paced on their way to a
//! device (`hub::pace`). The engine answers each device's session so current firmware
//! stays bound, keeps what devices say, and hands device pushes on to app clients; the
//! [`store`] remembers it in SQLite (keeping what a full disk will not take yet,
//! `store::health`); the [`api`] serves it over HTTP, with a web page for people on the
//! same listener (`api::page`, signed in with a session, `api::session`, and live through
//! `api::live`), [`homeassistant`] over MQTT discovery, and [`cloud`] to MerossIot-based
//! apps as the Meross cloud would.
//! Timers and auto-off rules live on the devices themselves: merossd reads and writes them
//! (`model::family::timer`, `trigger`) and keeps a copy in step with what devices PUSH.
//! MOKO MK102/MK112 plugs speak their own topics (`protocol::moko`): the gate admits them
//! with the login their pairing gave them (`registry::moko`), and the engine serves them as
//! plugs (`engine::family` and `model::family`, `moko`). MOKO plugs set to plain MQTT
//! get a listener of their own only when the owner opens one (`mqtt.plain_device_listen`).
//! [`daemon`] wires these together, tells systemd about them ([`notify`]) and announces
//! merossd on the LAN ([`mdns`]). During a firmware upgrade, [`firmware`] serves the image
//! to the one device being upgraded (`engine::upgrade` follows it).
//!
//! Around the daemon: [`pair`] takes a reset plug to merossd (a Meross plug over its HTTP
//! pairing API, encrypted where it encrypts, `pair::encrypt`; one paired elsewhere where
//! it is, `pair::takeover`; one on hardware 8.x over Bluetooth, `pair::ble`, through BlueZ
//! with the cargo feature `ble`, `pair::bluez`; a MOKO plug over its AP-mode TCP provisioning, `pair::moko`), [`backup`]
//! copies its data while it runs, [`cli`] is the command line, and [`sim`] is a simulated
//! plug (Meross or MOKO, also in pairing mode) for tests and trials.
//!
//! # The floors
//!
//! A module may import its own floor or a lower one, never a higher one, and no modules
//! import each other in a circle (`tests/it/layers.rs` reads `src/` and says which line
//! breaks it).
//!
//! | floor | modules | what they are |
//! |---|---|---|
//! | 1 | [`protocol`], [`mqtt`], [`model`], [`config`], [`shutdown`], [`metrics`], [`timezone`], [`host`], [`process`], [`logging`] | vocabulary and leaves: the wire, the domain model, the configuration as data, this host's addresses (and which a plug dials, `host::lan`) |
//! | 2 | [`datadir`], [`registry`], [`store`], [`broker`] | infrastructure with state: files, who owns what, SQLite, the router |
//! | 3 | [`hub`] | what joins the two halves of the device road: device messages and events, each device's queue, the pace of switch commands |
//! | 4 | [`gate`], [`engine`] | the two halves, which never import each other: the front door and the brain |
//! | 5 | [`api`], [`homeassistant`], [`cloud`], [`notify`], [`mdns`], [`firmware`] | the faces: HTTP and the web page, MQTT discovery, the Meross cloud API, systemd, the LAN's service browsers, the image server for upgrades |
//! | 6 | [`daemon`], [`cli`], [`client`], [`backup`], [`pair`], [`sim`] | wiring and tools |
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod backup;
pub mod broker;
pub mod cli;
pub mod client;
pub mod cloud;
pub mod config;
pub mod daemon;
pub mod datadir;
pub mod engine;
pub mod firmware;
pub mod gate;
pub mod homeassistant;
pub mod host;
pub mod hub;
pub mod logging;
pub mod mdns;
pub mod metrics;
pub mod model;
pub mod mqtt;
pub mod notify;
pub mod pair;
pub mod process;
pub mod protocol;
pub mod registry;
pub mod shutdown;
pub mod sim;
pub mod store;
pub mod timezone;
