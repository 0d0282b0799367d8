//! `merossd pair`: a reset plug to bound, with no other tool. Talks to the plug's pairing
//! API (see `crate::pair`), then follows the daemon until the plug has connected and bound,
//! and says what it saw last if it did not.

use super::call::say;
use super::CliError;
use crate::client::Client;
use crate::config::Config;
use crate::pair::{self, Plug, Server};
use crate::protocol::Method;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct PairArgs {
    /// The Wi-Fi the plug is to join (its name as the plug lists it).
    #[arg(long, required_unless_present = "scan")]
    wifi_ssid: Option<String>,
    /// That Wi-Fi's password.
    #[arg(long, required_unless_present = "scan")]
    wifi_pass: Option<String>,
    /// The plug's pairing address: its own access point.
    #[arg(long, default_value = "http://10.10.10.1")]
    device: String,
    /// What the plug dials, HOST:PORT. Default: the address `[mqtt] tls_listen` is bound
    /// to, else this host's address on the home network (not the plug's own network), and
    /// the first `tls_listen` port.
    #[arg(long)]
    server: Option<String>,
    /// Which `[[accounts]]` entry (its user id). Default: the first.
    #[arg(long)]
    account: Option<String>,
    /// Do not wait for the plug to connect and bind.
    #[arg(long)]
    no_wait: bool,
    /// Only print who the plug is and the networks it sees, strongest first.
    #[arg(long)]
    scan: bool,
    /// Print every message that would be sent (secrets masked); send nothing that changes
    /// the plug.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for the plug to connect and bind.
    #[arg(long, default_value_t = 180)]
    timeout_s: u64,
}

/// Runs a blocking call off the runtime.
async fn off<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, CliError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CliError::Other(e.to_string()))
}

pub(super) async fn run(
    args: &PairArgs,
    config: &Config,
    api: Option<Client>,
) -> Result<(), CliError> {
    let accounts =
        crate::datadir::existing_accounts(config).map_err(|e| CliError::Other(e.to_string()))?;
    let account = match &args.account {
        Some(id) => accounts
            .iter()
            .find(|a| &a.user_id == id)
            .cloned()
            .ok_or_else(|| {
                CliError::Other(format!("--account {id}: no such [[accounts]] entry"))
            })?,
        None => accounts[0].clone(),
    };
    let server = server(args.server.as_deref(), &args.device, config)?;
    let plug = std::sync::Arc::new(Plug::new(&args.device, &account.key));
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
    eprintln!(
        "the plug is rebooting onto {:?}; it will dial {}:{}",
        network.ssid, server.host, server.port
    );
    match api {
        Some(api) if !args.no_wait => {
            wait_bound(
                &api,
                &info.uuid,
                started,
                Duration::from_secs(args.timeout_s),
                before,
            )
            .await
        }
        _ => {
            say(format!(
                "{} paired (not waiting for it to connect)",
                info.uuid
            ));
            Ok(())
        }
    }
}

fn server(given: Option<&str>, device: &str, config: &Config) -> Result<Server, CliError> {
    if let Some(text) = given {
        let (host, port) = text
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| CliError::Other(format!("--server {text}: say HOST:PORT")))?;
        return Ok(Server { host, port });
    }
    let host = super::lan::choose(&crate::host::addresses(), device, &config.mqtt.tls_listen)
        .map_err(CliError::Other)?
        .to_string();
    let port = config.mqtt.tls_listen.first().map_or(8883, |a| a.port());
    eprintln!("the plug will be told to dial {host}:{port} (--server to choose another)");
    Ok(Server { host, port })
}

/// Counters that tell why a plug did not get in.
#[derive(Default)]
struct Counts {
    refused: u64,
    tls_failed: u64,
}

impl Counts {
    async fn read(api: &Client) -> Counts {
        let api = api.clone();
        off(move || Counts {
            refused: api.counter("merossd_refused_logins").unwrap_or(0),
            tls_failed: api.counter("merossd_handshake_failures").unwrap_or(0),
        })
        .await
        .unwrap_or_default()
    }
}

/// Follows the daemon until the plug is bound, printing each change of what it sees.
async fn wait_bound(
    api: &Client,
    uuid: &str,
    started: u64,
    timeout: Duration,
    before: Counts,
) -> Result<(), CliError> {
    let deadline = Instant::now() + timeout;
    let mut said = String::new();
    let mut connected = false;
    loop {
        let (a, path) = (api.clone(), format!("/devices/{uuid}"));
        let detail = off(move || a.get_if_found(&path)).await??;
        let now = match &detail {
            None => "waiting for the plug to join the Wi-Fi and connect".to_owned(),
            Some(d) if d["online"] != true => "known to merossd, not connected yet".to_owned(),
            Some(d) if d["bound_at"].as_u64().is_some_and(|t| t >= started) => {
                say(format!("{uuid} is connected and bound"));
                return Ok(());
            }
            Some(_) => "connected; waiting for its Bind".to_owned(),
        };
        connected |= detail.as_ref().is_some_and(|d| d["online"] == true);
        if now != said {
            eprintln!("{now}");
            said = now;
        }
        if Instant::now() >= deadline {
            let after = Counts::read(api).await;
            let why = if connected {
                "it connected but did not bind (see the daemon's log)".to_owned()
            } else if after.refused > before.refused {
                "a login was refused: the plug has another key than this merossd (re-pair it, or check --account)".to_owned()
            } else if after.tls_failed > before.tls_failed {
                "a TLS handshake failed: the daemon's warn line names what the plug offered"
                    .to_owned()
            } else {
                "it never connected: check the Wi-Fi name and password, and that the plug can reach this host".to_owned()
            };
            return Err(CliError::Other(format!(
                "{uuid} did not bind within {} s: {why}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
