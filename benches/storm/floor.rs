//! The handshake floor: what a restart storm cannot beat. Each plug of a storm costs the
//! server one full TLS handshake with an RSA-2048 signature; this measures that cost on
//! the machine the bench runs on, in memory (no sockets, no MQTT), with the gate's own
//! rustls configuration against the simulator's offer, the server's side only.

use merossd::gate::tls::{server_configs, TlsOptions};
use std::time::{Duration, Instant};
use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConnection, ServerConnection};

/// The CPU time of one handshake: the server's side, and the client's (the simulated
/// plugs share the server's cores in the bench); medians of `rounds`.
pub fn per_handshake(rounds: usize) -> Handshake {
    let dir = std::env::temp_dir().join(format!("merossd-floor-{}", std::process::id()));
    let data = merossd::datadir::DataDir::create(&dir).expect("a data dir for the floor");
    let options = TlsOptions {
        max_record: 4096,
        legacy: false,
    };
    let server = server_configs(None, &data, options)
        .expect("the gate's TLS configuration")
        .rustls;
    // A storm's handshakes are all full ones: the daemon that gave out the tickets is
    // gone. So no resumption here either.
    let mut client = (*merossd::sim::tls::client_config()).clone();
    client.resumption = rustls::client::Resumption::disabled();
    let client = std::sync::Arc::new(client);
    let (mut servers, mut clients): (Vec<Duration>, Vec<Duration>) = (0..rounds.max(1))
        .map(|_| one(server.clone(), client.clone()))
        .unzip();
    let _ = std::fs::remove_dir_all(&dir);
    Handshake {
        server: median(&mut servers),
        client: median(&mut clients),
    }
}

/// What one full handshake costs each side.
#[derive(Clone, Copy)]
pub struct Handshake {
    pub server: Duration,
    pub client: Duration,
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One handshake; the time spent in the server's calls and in the client's.
fn one(
    server: std::sync::Arc<rustls::ServerConfig>,
    client: std::sync::Arc<rustls::ClientConfig>,
) -> (Duration, Duration) {
    let name = ServerName::try_from("merossd").expect("a name");
    let mut c = ClientConnection::new(client, name).expect("a client");
    let mut s = ServerConnection::new(server).expect("a server");
    let (mut spent, mut client_spent) = (Duration::ZERO, Duration::ZERO);
    let mut wire = Vec::new();
    // A TLS 1.3 or 1.2 handshake is done in a handful of flights.
    for _ in 0..16 {
        if !c.is_handshaking() && !s.is_handshaking() {
            return (spent, client_spent);
        }
        wire.clear();
        let t = Instant::now();
        while c.wants_write() {
            c.write_tls(&mut wire).expect("client writes");
        }
        client_spent += t.elapsed();
        let t = Instant::now();
        let mut incoming = &wire[..];
        while !incoming.is_empty() {
            s.read_tls(&mut incoming).expect("server reads");
            s.process_new_packets().expect("server handshakes");
        }
        let mut reply = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut reply).expect("server writes");
        }
        spent += t.elapsed();
        let t = Instant::now();
        let mut incoming = &reply[..];
        while !incoming.is_empty() {
            c.read_tls(&mut incoming).expect("client reads");
            c.process_new_packets().expect("client handshakes");
        }
        client_spent += t.elapsed();
    }
    panic!("the handshake did not finish in 16 flights");
}

/// The least a storm of `plugs` can take on `cores` cores when each costs `per_plug`.
pub fn storm_floor(per_plug: Duration, plugs: u32, cores: usize) -> Duration {
    per_plug * plugs / cores.max(1) as u32
}
