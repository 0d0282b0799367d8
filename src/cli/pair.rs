//! `merossd pair`: a reset plug to bound, with no other tool. Talks to the plug's pairing
//! API (see `crate::pair`), then follows the daemon until the plug has connected and bound,
//! and says what it saw last if it did not.

use super::call::say;
use super::pair_wait::{off, Counts, Follow, Kind};
use super::CliError;
use crate::client::Client;
use crate::config::{Account, Config};
use crate::pair::{self, Plug, Server};
use crate::protocol::Method;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PairArgs {
    /// The plug is a MOKO MK102/MK112 (paired over its AP-mode TCP provisioning).
    #[arg(long)]
    pub(super) moko: bool,
    /// The Wi-Fi the plug is to join (its name as the plug lists it).
    #[arg(long, required_unless_present_any = ["scan", "current_key"])]
    pub(super) wifi_ssid: Option<String>,
    /// That Wi-Fi's password (`--wifi-pass ''` for an open one).
    #[arg(long, required_unless_present_any = ["scan", "current_key"])]
    pub(super) wifi_pass: Option<String>,
    /// Take over a plug already paired (to the Meross app or another server) and on your
    /// Wi-Fi: its current account key. `--device` is then its address on your network
    /// (`http://192.168.1.50`); its Wi-Fi is left as it is.
    #[arg(long, requires = "device", conflicts_with = "moko")]
    pub(super) current_key: Option<String>,
    /// The plug is on hardware 8.x and pairs over Bluetooth LE (needs a merossd built
    /// with `--features ble` and a Bluetooth adapter); `--device` is then its Bluetooth
    /// address (default: the first plug in pairing mode found).
    #[arg(long, conflicts_with_all = ["moko", "current_key"])]
    pub(super) ble: bool,
    /// The plug's pairing address, on its own access point. Default: http://10.10.10.1,
    /// or 192.168.4.1:8266 with --moko.
    #[arg(long)]
    pub(super) device: Option<String>,
    /// What the plug dials, HOST:PORT. Default: the address `[mqtt] tls_listen` is bound
    /// to, else this host's address on the home network (not the plug's own network), and
    /// the first `tls_listen` port.
    #[arg(long)]
    pub(super) server: Option<String>,
    /// Which `[[accounts]]` entry (its user id). Default: the first.
    #[arg(long)]
    pub(super) account: Option<String>,
    /// Do not wait for the plug to connect (and, for a Meross plug, bind).
    #[arg(long)]
    pub(super) no_wait: bool,
    /// Only print who the plug is (and, for a Meross plug, the networks it sees, strongest
    /// first).
    #[arg(long)]
    pub(super) scan: bool,
    /// Print every message that would be sent (secrets masked); send nothing that changes
    /// the plug.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// With --moko: have it dial without TLS (`connect_mode` 0), to a listener in
    /// `[mqtt] plain_device_listen`. Its login and messages then cross the network in clear.
    #[arg(long, requires = "moko")]
    pub(super) plain: bool,
    /// How long to wait for the plug to connect.
    #[arg(long, default_value_t = 180)]
    pub(super) timeout_s: u64,
}

/// A Meross plug's pairing address in AP mode.
const MEROSS_AP: &str = "http://10.10.10.1";

pub(super) async fn run(
    args: &PairArgs,
    config: &Config,
    api: Option<Client>,
) -> Result<(), CliError> {
    let account = account(args, config)?;
    let device = args.device.as_deref().unwrap_or(MEROSS_AP);
    let tls_port = tls_port(config);
    let server = server(args.server.as_deref(), device, config, tls_port)?;
    let plug = std::sync::Arc::new(Plug::new(device, &account.key));
    let failed = |e: pair::PairError| CliError::Other(e.to_string());

    let p = plug.clone();
    let info = off(move || pair::identify(&p)).await?.map_err(failed)?;
    eprintln!(
        "plug: {} {} ({}), firmware {}, hardware {}",
        info.kind, info.uuid, info.mac, info.firmware, info.hardware
    );
    let p = plug.clone();
    let networks = off(move || pair::networks(&p)).await?.map_err(failed)?;
    if args.scan {
        for n in &networks {
            say(format!("{:>4}  {}", n.signal, n.ssid));
        }
        return Ok(());
    }
    let ssid = args.wifi_ssid.clone().unwrap_or_default();
    let network = pair::find(&networks, &ssid).map_err(failed)?.clone();
    let zone =
        crate::timezone::zone(&config.time.timezone).map(|tz| (config.time.timezone.clone(), tz));
    let steps = pair::plan(
        &info,
        &network,
        args.wifi_pass.as_deref().unwrap_or_default(),
        &account,
        &server,
        zone,
    )
    .map_err(failed)?;
    let after = format!(
        "the plug is rebooting onto {:?}; it will dial {}:{}",
        network.ssid, server.host, server.port
    );
    deliver(args, &plug, &info.uuid, steps, api, after).await
}

/// Sends `steps` to `plug` (or, with `--dry-run`, prints them masked), says `after`, then
/// follows the daemon until the plug `uuid` has bound (unless `--no-wait`).
pub(super) async fn deliver(
    args: &PairArgs,
    plug: &std::sync::Arc<Plug>,
    uuid: &str,
    steps: Vec<pair::Step>,
    api: Option<Client>,
    after: String,
) -> Result<(), CliError> {
    let failed = |e: pair::PairError| CliError::Other(e.to_string());
    if args.dry_run {
        for (step, namespace, payload) in &steps {
            say(format!(
                "# {step}\nSET {namespace} {}",
                pair::masked(payload)
            ));
        }
        return Ok(());
    }
    // Following the plug needs the daemon's API; find that out before the plug changes.
    let api = match (api, args.no_wait) {
        (Some(api), _) => Some(api),
        (None, true) => None,
        (None, false) => {
            return Err(CliError::Other(
                "cannot follow the plug: no API token yet (start `merossd serve` first), or pass --no-wait".into(),
            ))
        }
    };
    let before = match &api {
        Some(api) => Counts::read(api).await,
        None => Counts::default(),
    };
    let started = crate::protocol::now_secs();
    for (step, namespace, payload) in steps {
        eprintln!("{step}");
        let p = plug.clone();
        off(move || p.call(step, Method::Set, namespace, payload))
            .await?
            .map_err(failed)?;
    }
    eprintln!("{after}");
    match api {
        Some(api) if !args.no_wait => {
            let follow = Follow {
                id: uuid.to_owned(),
                kind: Kind::Meross,
                started,
                timeout: Duration::from_secs(args.timeout_s),
                before,
            };
            follow.run(&api).await
        }
        _ => {
            say(format!("{uuid} paired (not waiting for it to connect)"));
            Ok(())
        }
    }
}

/// The `[[accounts]]` entry `--account` names, else the first.
pub(super) fn account(args: &PairArgs, config: &Config) -> Result<Account, CliError> {
    let accounts =
        crate::datadir::existing_accounts(config).map_err(|e| CliError::Other(e.to_string()))?;
    match &args.account {
        Some(id) => accounts
            .iter()
            .find(|a| &a.user_id == id)
            .cloned()
            .ok_or_else(|| CliError::Other(format!("--account {id}: no such [[accounts]] entry"))),
        None => accounts
            .first()
            .cloned()
            .ok_or_else(|| CliError::Other("no [[accounts]] entry".into())),
    }
}

/// The port plugs are told to dial over TLS: the first `[mqtt] tls_listen`.
pub(super) fn tls_port(config: &Config) -> u16 {
    config.mqtt.tls_listen.first().map_or(8883, |a| a.port())
}

/// What the plug is told to dial: `given`, else a LAN address of this host and `port`.
pub(super) fn server(
    given: Option<&str>,
    device: &str,
    config: &Config,
    port: u16,
) -> Result<Server, CliError> {
    if let Some(text) = given {
        let (host, port) = text
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| CliError::Other(format!("--server {text}: say HOST:PORT")))?;
        return Ok(Server { host, port });
    }
    let host = crate::host::lan::choose(&crate::host::addresses(), device, &config.mqtt.tls_listen)
        .map_err(CliError::Other)?
        .to_string();
    eprintln!("the plug will be told to dial {host}:{port} (--server to choose another)");
    Ok(Server { host, port })
}
