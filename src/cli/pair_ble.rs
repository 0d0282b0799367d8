//! `merossd pair --ble [--device ADDRESS]`: a plug on hardware 8.x, in pairing mode, over
//! Bluetooth LE through BlueZ (`pair::ble` over `pair::bluez`): who it is, this
//! merossd's server and key, the Wi-Fi; then the daemon followed until the plug bound.
//! Only in a merossd built with the cargo feature `ble`.

use super::pair::PairArgs;
use super::CliError;
use crate::client::Client;
use crate::config::Config;

#[cfg(not(feature = "ble"))]
pub(super) async fn run(_: &PairArgs, _: &Config, _: Option<Client>) -> Result<(), CliError> {
    Err(CliError::Other(
        "this merossd was built without Bluetooth: build it with `cargo build --release --features ble` (it needs libdbus-1-dev and BlueZ)".into(),
    ))
}

#[cfg(feature = "ble")]
pub(super) async fn run(
    args: &PairArgs,
    config: &Config,
    api: Option<Client>,
) -> Result<(), CliError> {
    use super::call::say;
    use super::pair::{account, server, tls_port};
    use super::pair_wait::{off, Counts, Follow, Kind};
    use crate::pair::ble::{self, BlePlug};
    use crate::protocol::Method;
    use std::time::Duration;

    let account = account(args, config)?;
    let tls_port = tls_port(config);
    // The plug is on no network yet: any of this host's LAN addresses will do.
    let server = server(
        args.server.as_deref(),
        "http://10.10.10.1",
        config,
        tls_port,
    )?;
    let api = match (api, args.no_wait || args.dry_run) {
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
    let (address, dry_run) = (args.device.clone(), args.dry_run);
    let (ssid, password) = (
        args.wifi_ssid.clone().unwrap_or_default(),
        args.wifi_pass.clone().unwrap_or_default(),
    );
    let info = off(move || {
        let link = crate::pair::bluez::connect(address.as_deref(), Duration::from_secs(30))?;
        let mut plug = BlePlug::new(link);
        let info = ble::identify(&mut plug)?;
        eprintln!(
            "plug: {} {} ({}), hardware {}",
            info.kind, info.uuid, info.mac, info.hardware
        );
        let steps = ble::plan(&info, &account, &server, &ssid, &password)?;
        for (step, namespace, payload) in steps {
            if dry_run {
                say(format!(
                    "# {step}\nSET {namespace} {}",
                    crate::pair::masked(&payload)
                ));
                continue;
            }
            eprintln!("{step}");
            plug.call(step, Method::Set, namespace, payload)?;
        }
        Ok::<_, crate::pair::PairError>(info)
    })
    .await?
    .map_err(|e| CliError::Other(e.to_string()))?;
    match api {
        Some(api) if !args.no_wait && !args.dry_run => {
            let follow = Follow {
                id: info.uuid.clone(),
                kind: Kind::Meross,
                started,
                timeout: Duration::from_secs(args.timeout_s),
                before,
            };
            follow.run(&api).await
        }
        _ => Ok(()),
    }
}
