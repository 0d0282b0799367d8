//! This host's names and addresses: for the generated certificate, the API's URL and
//! what `merossd account` tells a pairing tool; which of them a plug is told to dial
//! (`lan`).

pub mod lan;

/// The host name, `localhost`, `127.0.0.1` and the host's own addresses.
pub fn names() -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = gethostname::gethostname().to_str() {
        if !host.is_empty() {
            names.push(host.to_owned());
        }
    }
    names.push("localhost".to_owned());
    names.push("127.0.0.1".to_owned());
    for addr in addresses() {
        let text = addr.to_string();
        if !names.contains(&text) {
            names.push(text);
        }
    }
    names
}

/// This host's interface addresses, loopback and link-local IPv6 left out.
pub fn addresses() -> Vec<std::net::IpAddr> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| !ip.is_loopback())
        .filter(|ip| match ip {
            std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            _ => true,
        })
        .collect()
}
