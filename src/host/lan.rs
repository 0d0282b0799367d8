//! Which of this host's addresses a plug is told to dial when `pair` is not given one:
//! the address merossd's TLS listener is bound to when that is one address; otherwise
//! one on the home network. Not the plug's own access-point network (`10.10.10.x`, or the
//! network of the address pairing talks to), which the machine joined to pair the plug
//! and which will not exist once the plug is on the home Wi-Fi; not a link-local address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The network a Meross plug's access point gives its clients.
const MEROSS_AP: Ipv4Addr = Ipv4Addr::new(10, 10, 10, 0);

/// The `/24` of an address.
fn net24(ip: Ipv4Addr) -> [u8; 3] {
    let [a, b, c, _] = ip.octets();
    [a, b, c]
}

/// The IPv4 address in a pairing address such as `http://10.10.10.1` or `10.10.10.1:80`.
fn device_ip(device: &str) -> Option<Ipv4Addr> {
    let rest = device.split("://").last()?;
    let host = rest.split(['/', ':']).next()?;
    host.parse().ok()
}

/// The address to give the plug, or why none fits.
pub fn choose(
    addresses: &[IpAddr],
    device: &str,
    tls_listen: &[SocketAddr],
) -> Result<Ipv4Addr, String> {
    // Bound to one address: that is where merossd can be reached.
    if let Some(IpAddr::V4(bound)) = tls_listen.first().map(SocketAddr::ip) {
        if !bound.is_unspecified() && !bound.is_loopback() {
            return Ok(bound);
        }
    }
    let ap = device_ip(device).map(net24);
    let fits = |ip: &Ipv4Addr| {
        !ip.is_loopback()
            && !ip.is_link_local()
            && net24(*ip) != net24(MEROSS_AP)
            && Some(net24(*ip)) != ap
    };
    let candidates: Vec<Ipv4Addr> = addresses
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
        .filter(fits)
        .collect();
    // A home network's address first (192.168/16, 172.16/12, 10/8).
    candidates
        .iter()
        .find(|ip| ip.is_private())
        .or(candidates.first())
        .copied()
        .ok_or_else(|| {
            let seen: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            format!(
                "this host has no address on your home network (it has: {}): the plug's own network and link-local addresses will not reach merossd once the plug is on your Wi-Fi. Pass --server HOST:PORT with this host's address on your home network",
                if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    const DEVICE: &str = "http://10.10.10.1";

    #[test]
    fn the_home_network_wins_over_the_plugs_access_point() {
        // Joined to the plug's Wi-Fi (listed first), and on the home Ethernet.
        let host = ips(&["10.10.10.23", "192.168.1.20", "fe80::1"]);
        assert_eq!(
            choose(&host, DEVICE, &[]),
            Ok(Ipv4Addr::new(192, 168, 1, 20))
        );
    }

    #[test]
    fn only_the_access_point_or_link_local_is_refused_with_the_way_out() {
        let host = ips(&["10.10.10.23", "169.254.3.4"]);
        let err = choose(&host, DEVICE, &[]).unwrap_err();
        assert!(
            err.contains("--server") && err.contains("10.10.10.23"),
            "{err}"
        );
    }

    #[test]
    fn a_listener_bound_to_one_address_is_that_address() {
        let host = ips(&["10.10.10.23", "192.168.1.20"]);
        let bound = ["192.168.7.7:8883".parse().unwrap()];
        assert_eq!(
            choose(&host, DEVICE, &bound),
            Ok(Ipv4Addr::new(192, 168, 7, 7))
        );
    }

    #[test]
    fn the_network_of_another_pairing_address_is_left_out_too() {
        let host = ips(&["192.168.4.2", "10.0.0.5"]);
        assert_eq!(
            choose(&host, "192.168.4.1:8080", &[]),
            Ok(Ipv4Addr::new(10, 0, 0, 5))
        );
    }
}
