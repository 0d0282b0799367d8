//! Pairing a plug on hardware 8.x over Bluetooth LE, against a simulated plug behind the
//! transport (no radio here): who it is (`System.Hardware`), this merossd's server and key,
//! the Wi-Fi with its password encrypted, each framed and in pieces of the MTU less 3;
//! then the plug dials merossd and binds. A frame broken on the way is answered with an
//! ERROR and changes nothing.

use crate::common::*;
use merossd::pair::ble::{self, BlePlug, Transport};
use merossd::pair::Server;
use merossd::protocol::Method;
use merossd::sim::pairing::{PairingOptions, PairingPlug};
use std::time::Duration;

fn plug_in_pairing_mode(d: &merossd::daemon::Daemon) -> PairingPlug {
    let config = unpaired_config(d, "ble");
    let options = PairingOptions {
        wifix: true,
        refuse: None,
        stays_away: false,
        ecdhe: false,
        paired: false,
    };
    PairingPlug::radio_only(config, options)
}

#[tokio::test]
async fn a_plug_paired_over_bluetooth_dials_merossd_and_binds() {
    let d = daemon().await;
    let plug = plug_in_pairing_mode(&d);
    let link = merossd::sim::ble::connect(plug.clone(), 23);
    let account = d.accounts[0].clone();
    let server = Server {
        host: "127.0.0.1".into(),
        port: d.tls_addrs[0].port(),
    };
    let info = tokio::task::spawn_blocking(move || {
        let mut ble_plug = BlePlug::new(link);
        let info = ble::identify(&mut ble_plug)?;
        let steps = ble::plan(&info, &account, &server, "HomeNet", "hunter2 ünï")?;
        for (step, namespace, payload) in steps {
            ble_plug.call(step, Method::Set, namespace, payload)?;
        }
        Ok::<_, merossd::pair::PairError>(info)
    })
    .await
    .unwrap()
    .expect("paired over the simulated link");
    assert_eq!(info.uuid, merossd::sim::identity("ble", 1).0);
    let told = plug.told();
    assert_eq!(told.ssid.as_deref(), Some("HomeNet"));
    assert_eq!(told.password.as_deref(), Some("hunter2 ünï"));
    assert_eq!(told.key.as_deref(), Some(KEY));
    eventually("the plug bound", Duration::from_secs(10), || {
        plug.device_state().is_some_and(|s| s.bound)
    })
    .await;
    d.stop().await;
}

/// A link that flips a bit in the first piece it writes.
struct Noisy(merossd::sim::ble::SimLink, bool);

impl Transport for Noisy {
    fn mtu(&self) -> usize {
        self.0.mtu()
    }
    fn write(&mut self, piece: &[u8]) -> std::io::Result<()> {
        let mut piece = piece.to_vec();
        if !self.1 && piece.len() > 8 {
            piece[8] ^= 0x20;
            self.1 = true;
        }
        self.0.write(&piece)
    }
    fn read(&mut self, timeout: Duration) -> std::io::Result<Vec<u8>> {
        self.0.read(timeout)
    }
}

#[tokio::test]
async fn a_frame_broken_on_the_way_is_refused_and_changes_nothing() {
    let d = daemon().await;
    let plug = plug_in_pairing_mode(&d);
    let link = Noisy(merossd::sim::ble::connect(plug.clone(), 23), false);
    let result = tokio::task::spawn_blocking(move || {
        let mut ble_plug = BlePlug::new(link);
        ble_plug.call(
            "giving it the server and key (Config.Key)",
            Method::Set,
            "Appliance.Config.Key",
            serde_json::json!({"key": {"userId": "1", "key": "k", "gateway": {"host": "h", "port": 1}}}),
        )
    })
    .await
    .unwrap();
    match result {
        Err(merossd::pair::PairError::Refused { detail, .. }) => {
            assert!(detail.contains("crc32"), "{detail}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(plug.told().key, None);
    d.stop().await;
}

#[cfg(not(feature = "ble"))]
#[tokio::test]
async fn without_the_ble_feature_pair_ble_says_how_to_get_it() {
    let args = crate::process::strings(&[
        "pair",
        "--ble",
        "--wifi-ssid",
        "HomeNet",
        "--wifi-pass",
        "x",
    ]);
    let (code, _, err) = crate::process::merossd(args).await;
    assert_ne!(code, 0);
    assert!(err.contains("--features ble"), "{err}");
}
