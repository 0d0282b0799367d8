//! `merossd sim`: simulated plugs against a merossd (or any broker), for trying it without
//! hardware and for benchmarks.

use super::CliError;
use crate::config::Config;
use crate::protocol::moko;
use crate::sim::{self, tls::TlsOffer, Profile, SimConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// How many simulated plugs to connect.
    #[arg(long, default_value_t = 1)]
    devices: u32,
    /// The merossd they dial (its TLS listener's host).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The TLS port they dial. Default: the first `[mqtt] tls_listen` port of the config.
    #[arg(long)]
    port: Option<u16>,
    /// The account's user id they log in with. Default: the account in the data directory.
    #[arg(long)]
    user_id: Option<String>,
    /// The account's key they log in with. Default: the account in the data directory.
    #[arg(long)]
    key: Option<String>,
    /// Build the devices from a recorded trace (tests/fixtures/device-traces/...).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Number of the first device (uuids and MACs follow from it).
    #[arg(long, default_value_t = 1)]
    first: u32,
    /// Connect with MQTT 3.1.1 instead of 3.1.
    #[arg(long)]
    mqtt311: bool,
    /// What the plugs' TLS offers: `modern` (TLS 1.3/1.2, ECDHE, AEAD), `legacy` (as the
    /// chip vendors' mbedTLS defaults: TLS 1.2, RSA key exchange, CBC, 4 KiB records), or
    /// one OpenSSL cipher list such as `AES128-SHA`.
    #[arg(long, default_value = "modern")]
    tls: TlsOffer,
    /// Stop after all devices bound (prints the time it took); exit 1 if they have not
    /// within `--timeout-s`.
    #[arg(long)]
    exit_when_bound: bool,
    /// With `--exit-when-bound`: how long to wait.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// One plug in pairing mode serving its pairing API on this address (e.g.
    /// 127.0.0.1:8090), for `merossd pair --device http://127.0.0.1:8090`.
    #[arg(long)]
    pairing: Option<std::net::SocketAddr>,
    /// With `--pairing`: a plug without `Config.WifiX` (plain base64 Wi-Fi password).
    #[arg(long)]
    pairing_plain: bool,
    /// With `--pairing`: a plug that encrypts its API (`Appliance.Encrypt.ECDHE`), as
    /// plugs sold today do.
    #[arg(long, requires = "pairing")]
    ecdhe: bool,
    /// With `--pairing`: a plug already paired with `--key` and on your Wi-Fi, for
    /// `merossd pair --current-key KEY --device http://ADDR`.
    #[arg(long, requires = "pairing")]
    already_paired: bool,
    /// One simulated MOKO MK102/MK112 plug dialling `--host`/`--port` over TLS with
    /// `--moko-username` and `--moko-password`, until Ctrl-C.
    #[arg(long)]
    moko: bool,
    /// With `--moko`: its MQTT user name (what `merossd pair --moko` or
    /// `POST /api/v1/moko/plugs` gave it).
    #[arg(long)]
    moko_username: Option<String>,
    /// With `--moko`: its MQTT password.
    #[arg(long)]
    moko_password: Option<String>,
    /// With `--moko` or `--moko-pairing`: its MAC. Default: aa:bb:cc:00:00:NN from `--first`.
    #[arg(long)]
    moko_mac: Option<String>,
    /// One MOKO plug in AP mode answering its provisioning on this address (e.g.
    /// 127.0.0.1:8266), for `merossd pair --moko --device 127.0.0.1:8266`; once provisioned
    /// it dials what it was told, until Ctrl-C.
    #[arg(long)]
    moko_pairing: Option<std::net::SocketAddr>,
    /// Run the plugs' clocks this many times as fast for their timers and auto-off
    /// rules (60: a minute a second), to try schedules without waiting.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3600))]
    clock_speed: u32,
}

pub(super) async fn run(args: &SimArgs, config: &Config) -> Result<(), CliError> {
    // MOKO plugs need no Meross account: they come before it is looked up.
    if args.moko {
        return moko_plug(args, config).await;
    }
    if let Some(listen) = args.moko_pairing {
        return moko_pairing(listen, args).await;
    }
    let (user_id, key) = match (&args.user_id, &args.key) {
        (Some(u), Some(k)) => (u.clone(), k.clone()),
        _ => {
            let account = crate::datadir::existing_accounts(config)
                .map_err(|e| CliError::Other(e.to_string()))?
                .remove(0);
            (
                args.user_id.clone().unwrap_or(account.user_id),
                args.key.clone().unwrap_or(account.key),
            )
        }
    };
    let profile = match &args.trace {
        Some(path) => Profile::from_trace(path).map_err(|e| CliError::Other(e.to_string()))?,
        None => Profile::metering_plug(),
    };
    let port = tls_port(args, config);
    let host = &args.host;
    let mut base = SimConfig::new(host, port, &user_id, &key, profile);
    base.mqtt311 = args.mqtt311;
    base.tls = args.tls.clone();
    base.timings.clock_speed = args.clock_speed;
    if let Some(listen) = args.pairing {
        return pairing(listen, base, args).await;
    }
    let started = Instant::now();
    let fleet = sim::fleet(&base, "5e3f0000000000000000", args.first, args.devices);
    eprintln!(
        "started {} simulated plugs against {host}:{port}",
        fleet.len()
    );
    let deadline = started + Duration::from_secs(args.timeout_s);
    let mut reported = 0usize;
    loop {
        let bound = fleet.iter().filter(|d| d.state().bound).count();
        if bound != reported {
            reported = bound;
            eprintln!(
                "{bound}/{} bound after {:.3} s",
                fleet.len(),
                started.elapsed().as_secs_f64()
            );
        }
        if bound == fleet.len() && args.exit_when_bound {
            super::call::say(format!(
                "all {bound} plugs bound in {:.3} s",
                started.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        if args.exit_when_bound && Instant::now() >= deadline {
            let refused = fleet.iter().find_map(|d| d.state().refused);
            let why = match refused {
                Some(code) => format!("the server refused the login with CONNACK {code}"),
                None if fleet.iter().all(|d| d.state().connects == 0) => {
                    "no plug got a connection (is the server up, and is it TLS?)".to_owned()
                }
                None => "connected, but the server did not answer their Bind".to_owned(),
            };
            return Err(CliError::Other(format!(
                "only {bound} of {} plugs bound within {} s: {why}",
                fleet.len(),
                args.timeout_s
            )));
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// The uuid prefix of the plug `sim --pairing` offers, apart from the fleet's.
const PAIRING_PREFIX: &str = "5e3fa000000000000000";

/// One plug in pairing mode, until it is bound or Ctrl-C.
async fn pairing(
    listen: std::net::SocketAddr,
    base: SimConfig,
    args: &SimArgs,
) -> Result<(), CliError> {
    // A plug of its own, not the first of `sim --devices`: pairing it makes a new device
    // appear, and its session leaves the fleet's alone.
    let (uuid, mac) = sim::identity(PAIRING_PREFIX, args.first);
    let config = SimConfig { uuid, mac, ..base };
    let options = sim::pairing::PairingOptions {
        wifix: !args.pairing_plain,
        refuse: None,
        stays_away: false,
        ecdhe: args.ecdhe,
        paired: args.already_paired,
    };
    let plug = sim::pairing::PairingPlug::start(listen, config, options)
        .await
        .map_err(|e| CliError::Other(format!("--pairing {listen}: {e}")))?;
    eprintln!(
        "a plug in pairing mode answers at http://{}/config; it sees the networks {:?}",
        plug.addr,
        sim::pairing::NETWORKS
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>()
    );
    let mut bound = false;
    loop {
        let now = plug.device_state().is_some_and(|s| s.bound);
        if now && !bound {
            super::call::say("the paired plug is bound");
            if args.exit_when_bound {
                return Ok(());
            }
        }
        bound = now;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// The TLS port the plugs dial: `--port`, else the config's first `[mqtt] tls_listen`.
fn tls_port(args: &SimArgs, config: &Config) -> u16 {
    args.port.unwrap_or_else(|| super::pair::tls_port(config))
}

/// The simulated MOKO plug's identity: `--first`'s, with `--moko-mac` when given.
fn moko_info(args: &SimArgs) -> Result<moko::setup::DeviceInfo, CliError> {
    let mut info = sim::moko::sim_info(args.first, true);
    if let Some(mac) = &args.moko_mac {
        let hex = moko::mac_hex(mac)
            .ok_or_else(|| CliError::Other(format!("--moko-mac {mac:?} is not a MAC address")))?;
        info.device_mac = moko::mac_colons(&hex);
    }
    Ok(info)
}

/// One simulated MOKO plug, until Ctrl-C; says when it connects or is refused.
async fn moko_plug(args: &SimArgs, config: &Config) -> Result<(), CliError> {
    let (Some(username), Some(password)) = (&args.moko_username, &args.moko_password) else {
        return Err(CliError::Other(
            "--moko needs --moko-username and --moko-password (the login its pairing gave it)"
                .to_owned(),
        ));
    };
    let info = moko_info(args)?;
    let port = tls_port(args, config);
    let plug = sim::moko::MokoPlug::start(sim::moko::MokoConfig::new(
        &args.host, port, username, password, info,
    ));
    eprintln!(
        "a simulated MOKO plug ({}) dials {}:{port} over TLS as {username}",
        plug.prefix, args.host
    );
    watch_moko(|| Some(plug.state())).await;
    Ok(())
}

/// One MOKO plug in AP mode, then the plug it became, until Ctrl-C.
async fn moko_pairing(listen: std::net::SocketAddr, args: &SimArgs) -> Result<(), CliError> {
    let info = moko_info(args)?;
    // What provisioning does not tell it (its timings) comes from here.
    let template = sim::moko::MokoConfig::new("", 0, "", "", info.clone());
    let plug = sim::moko_pairing::MokoPairingPlug::start(listen, info.clone(), template)
        .await
        .map_err(|e| CliError::Other(format!("--moko-pairing {listen}: {e}")))?;
    eprintln!(
        "a MOKO plug in AP mode ({}) answers at {}: `merossd pair --moko --device {}`",
        info.device_mac, plug.addr, plug.addr
    );
    watch_moko(|| plug.plug_state()).await;
    Ok(())
}

/// Says when the plug connects, drops or is refused, until Ctrl-C.
async fn watch_moko(state: impl Fn() -> Option<sim::moko::MokoState>) {
    let mut said = (false, None, false);
    // Until Ctrl-C: each turn waits half a second at most.
    loop {
        if let Some(s) = state() {
            let now = (s.connected, s.refused, s.reset);
            if now != said {
                match now {
                    (_, _, true) => eprintln!("the plug was reset; it dials no more"),
                    (true, _, _) => eprintln!("the plug is connected (connection {})", s.connects),
                    (false, Some(code), _) => {
                        eprintln!("the server refused the plug's login with CONNACK {code}")
                    }
                    (false, None, _) if said.0 => eprintln!("the plug lost its connection"),
                    _ => {}
                }
                said = now;
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
