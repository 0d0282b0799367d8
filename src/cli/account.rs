//! `merossd account`: what a pairing tool needs (host, TLS port, user id, key) and where
//! the API is.

use super::{call, CliError};
use crate::config::Config;
use crate::datadir::DataDir;
use serde_json::json;

/// `merossd account`: host, TLS port, user id, key (and where the API is).
pub(super) fn print(config: &Config, as_json: bool) -> Result<(), CliError> {
    let data = DataDir::existing(&config.data_dir);
    let accounts =
        crate::datadir::existing_accounts(config).map_err(|e| CliError::Other(e.to_string()))?;
    let account = &accounts[0];
    let port = config.mqtt.tls_listen[0].port();
    // The address a plug is given when paired: on the home network (see `lan`).
    let host = crate::host::lan::choose(
        &crate::host::addresses(),
        "http://10.10.10.1",
        &config.mqtt.tls_listen,
    )
    .map(|ip| ip.to_string())
    .unwrap_or_else(|_| "127.0.0.1".to_owned());
    let token = if config.api.token.is_empty() {
        data.read_api_token()
    } else {
        Some(config.api.token.clone())
    };
    if as_json {
        call::print_json(
            &json!({"host": host, "port": port, "user_id": account.user_id, "key": account.key}),
        );
    } else {
        let token = token.unwrap_or_else(|| "(generated when the daemon first starts)".into());
        call::say(format!(
            "host     {host}\nport     {port}\nuser_id  {}\nkey      {}\napi      http://{}\ntoken    {token}",
            account.user_id, account.key, config.api.listen
        ));
    }
    Ok(())
}
