//! `merossd pair --current-key KEY --device http://PLUG_LAN_IP`: a plug already paired
//! elsewhere and on the owner's Wi-Fi, taken over where it is (see `pair::takeover`): who
//! it is, asked with its current key; this merossd's server and key; then the daemon
//! followed until it has bound. Its Wi-Fi is not touched.

use super::call::say;
use super::pair::{account, deliver, server, tls_port, PairArgs};
use super::pair_wait::off;
use super::CliError;
use crate::client::Client;
use crate::config::Config;
use crate::pair::{takeover, Plug};
use std::sync::Arc;

/// Not the plug's network: the plug is on the home network, as this host is.
const NOT_THE_PLUGS_NETWORK: &str = "http://10.10.10.1";

pub(super) async fn run(
    args: &PairArgs,
    config: &Config,
    api: Option<Client>,
) -> Result<(), CliError> {
    let (Some(device), Some(current)) = (args.device.clone(), args.current_key.clone()) else {
        return Err(CliError::Other(
            "--current-key needs --device http://PLUG_LAN_IP: the plug's address on your network"
                .into(),
        ));
    };
    let account = account(args, config)?;
    let tls_port = tls_port(config);
    let server = server(
        args.server.as_deref(),
        NOT_THE_PLUGS_NETWORK,
        config,
        tls_port,
    )?;
    let plug = Arc::new(Plug::new(&device, &current));
    let p = plug.clone();
    let info = off(move || takeover::identify(&p, &current))
        .await?
        .map_err(|e| CliError::Other(e.to_string()))?;
    eprintln!(
        "plug: {} {} ({}), firmware {}, hardware {}",
        info.kind, info.uuid, info.mac, info.firmware, info.hardware
    );
    if args.scan {
        say(format!("{}\t{}\t{}", info.uuid, info.kind, info.mac));
        return Ok(());
    }
    let zone =
        crate::timezone::zone(&config.time.timezone).map(|tz| (config.time.timezone.clone(), tz));
    let steps = takeover::plan(&info, &account, &server, zone);
    let after = format!(
        "the plug will leave its old server and dial {}:{}",
        server.host, server.port
    );
    deliver(args, &plug, &info.uuid, steps, api, after).await
}
