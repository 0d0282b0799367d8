//! `merossd pair --current-key KEY --device http://PLUG_LAN_IP`: a plug already paired
//! elsewhere and on the owner's Wi-Fi, taken over where it is, encrypted (its key made of
//! its uuid, its current key and its MAC) or in plain; a wrong current key fails cleanly
//! and changes nothing.

use crate::common::*;
use merossd::sim::pairing::{PairingOptions, PairingPlug};

/// The key the plug was paired with elsewhere (a Meross account key is 32 characters).
const OLD_KEY: &str = "0ld4cc0untk3y0123456789abcdefghi";

async fn paired_plug(d: &merossd::daemon::Daemon, prefix: &str, ecdhe: bool) -> PairingPlug {
    let mut config = unpaired_config(d, prefix);
    config.user_id = "777".into();
    config.key = OLD_KEY.into();
    let options = PairingOptions {
        wifix: true,
        refuse: None,
        stays_away: false,
        ecdhe,
        paired: true,
    };
    let listen = format!("127.0.0.1:{}", low_port()).parse().unwrap();
    PairingPlug::start(listen, config, options).await.unwrap()
}

async fn take_over(
    d: &merossd::daemon::Daemon,
    plug: &PairingPlug,
    key: &str,
) -> (i32, String, String) {
    let config = account_config("takeover");
    let device = format!("http://{}", plug.addr);
    let server = format!("127.0.0.1:{}", d.tls_addrs[0].port());
    let command = [
        "pair",
        "--device",
        &device,
        "--current-key",
        key,
        "--server",
        &server,
        "--timeout-s",
        "20",
    ];
    let args = cli_args(d, &config, &command);
    crate::process::merossd(args).await
}

#[tokio::test]
async fn a_plug_paired_elsewhere_is_taken_over_encrypted_and_in_plain() {
    let d = daemon().await;
    for (i, ecdhe) in [true, false].into_iter().enumerate() {
        let plug = paired_plug(&d, &format!("to{i}"), ecdhe).await;
        let (code, out, err) = take_over(&d, &plug, OLD_KEY).await;
        assert_eq!(code, 0, "ecdhe={ecdhe}: {err}");
        assert!(out.contains("is connected and bound"), "{out}");
        let told = plug.told();
        assert_eq!(told.key.as_deref(), Some(KEY));
        assert_eq!(told.user_id.as_deref(), Some(USER_ID));
        assert_eq!(told.ssid, None, "its Wi-Fi is left alone");
        if ecdhe {
            assert!(told.encrypted >= 2, "{told:?}");
        } else {
            assert_eq!(told.encrypted, 0, "{told:?}");
        }
        assert!(plug.device_state().is_some_and(|s| s.bound));
    }
    d.stop().await;
}

#[tokio::test]
async fn a_wrong_current_key_fails_cleanly_and_changes_nothing() {
    let d = daemon().await;
    for (i, ecdhe) in [true, false].into_iter().enumerate() {
        let plug = paired_plug(&d, &format!("tw{i}"), ecdhe).await;
        let wrong = "n0tth3k3y0123456789abcdefghijklm";
        let (code, _, err) = take_over(&d, &plug, wrong).await;
        assert_ne!(code, 0, "ecdhe={ecdhe}");
        assert!(
            err.contains("Is --current-key the key it is paired with?"),
            "ecdhe={ecdhe}: {err}"
        );
        assert!(err.contains("Nothing was changed"), "{err}");
        assert_eq!(plug.told().key, None, "ecdhe={ecdhe}");
    }
    d.stop().await;
}
