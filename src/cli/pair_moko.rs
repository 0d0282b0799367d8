//! `merossd pair --moko`: a MOKO MK102/MK112 plug in AP mode to this merossd. Asks who it
//! is (4001), gets a login for it from the daemon (`POST /moko/plugs`), gives it this
//! merossd's TLS server and that login (4002), then the Wi-Fi (4003), and follows the
//! daemon until the plug has connected with it.

use super::call::say;
use super::pair::{account, server, tls_port, PairArgs};
use super::pair_wait::{off, Counts, Follow, Kind};
use super::CliError;
use crate::client::Client;
use crate::config::Config;
use crate::pair::moko::{self, Provisioner};
use crate::pair::PairError;
use crate::protocol::moko::setup;
use serde_json::json;
use std::time::Duration;

/// What stands in for the login in `--dry-run`: the daemon makes it only when pairing.
const NOT_YET: &str = "(made by merossd when pairing)";

pub(super) async fn run(
    args: &PairArgs,
    config: &Config,
    api: Option<Client>,
) -> Result<(), CliError> {
    let account = account(args, config)?;
    let device = args
        .device
        .clone()
        .unwrap_or_else(|| setup::AP_ADDRESS.to_owned());
    let failed = |e: PairError| CliError::Other(e.to_string());
    let at = device.clone();
    let (mut link, info) = off(move || {
        let mut link = Provisioner::connect(&at)?;
        let info = moko::device_info(&mut link)?;
        Ok::<_, PairError>((link, info))
    })
    .await?
    .map_err(failed)?;
    eprintln!(
        "plug: MOKO {} {} ({}), topics {}",
        info.device_function,
        info.device_name,
        info.device_mac,
        info.prefix()
    );
    if args.scan {
        say(format!("{}\t{}", info.device_mac, info.prefix()));
        return Ok(());
    }
    // What the plug dials: not an address on the plug's own network.
    let host = device.rsplit_once(':').map_or(device.as_str(), |(h, _)| h);
    let port = if args.plain {
        match (config.mqtt.plain_device_listen.first(), &args.server) {
            (Some(a), _) => a.port(),
            // The port comes with --server.
            (None, Some(_)) => 0,
            (None, None) => {
                return Err(CliError::Other(
                    "--plain: no [mqtt] plain_device_listen in the config; add one (and restart merossd), or pair with TLS".into(),
                ))
            }
        }
    } else {
        tls_port(config)
    };
    let tls = !args.plain;
    let server = server(
        args.server.as_deref(),
        &format!("http://{host}"),
        config,
        port,
    )?;
    let ssid = args.wifi_ssid.clone().unwrap_or_default();
    let wifi_pass = args.wifi_pass.clone().unwrap_or_default();
    if args.dry_run {
        let user = crate::protocol::moko::id_of(&info.device_mac)
            .map(|id| crate::protocol::moko::username_of(&id))
            .unwrap_or_default();
        let steps = moko::plan(
            &server.host,
            server.port,
            tls,
            &user,
            NOT_YET,
            &ssid,
            &wifi_pass,
        );
        for (step, message) in &steps {
            say(format!("# {step}\n{}", moko::masked(message)));
        }
        return Ok(());
    }
    let api = api.ok_or_else(|| {
        CliError::Other(
            "a MOKO plug needs a login from the daemon: no API token yet (start `merossd serve` first)"
                .into(),
        )
    })?;
    let before = Counts::read(&api).await;
    let started = crate::protocol::now_secs();
    let asked = json!({
        "mac": info.device_mac,
        "topic_prefix": info.prefix(),
        "account": account.user_id,
        "metering": info.device_type == "1",
    });
    let a = api.clone();
    let login = off(move || a.call("POST", "/moko/plugs", Some(asked))).await??;
    let (Some(id), Some(user), Some(password)) = (
        login["id"].as_str().map(str::to_owned),
        login["username"].as_str(),
        login["password"].as_str(),
    ) else {
        return Err(CliError::Other(format!(
            "the daemon's answer to POST /moko/plugs has no id, username and password: {login}"
        )));
    };
    let steps = moko::plan(
        &server.host,
        server.port,
        tls,
        user,
        password,
        &ssid,
        &wifi_pass,
    );
    off(move || {
        for (step, message) in steps {
            eprintln!("{step}");
            link.ask(step, &message)?;
        }
        Ok::<_, PairError>(())
    })
    .await?
    .map_err(failed)?;
    eprintln!(
        "the plug is joining {ssid:?}; it will dial {}:{} {}",
        server.host,
        server.port,
        if tls { "over TLS" } else { "in plain MQTT" }
    );
    if args.no_wait {
        say(format!("{id} paired (not waiting for it to connect)"));
        return Ok(());
    }
    let follow = Follow {
        id,
        kind: Kind::Moko,
        started,
        timeout: Duration::from_secs(args.timeout_s),
        before,
    };
    follow.run(&api).await
}
