//! merossd on the LAN by mDNS/DNS-SD (RFC 6762, 6763), as the local-broker add-on does, so
//! that pairing apps that browse for it find it: `_meross-mqtt._tcp` (the TLS port) and,
//! when the cloud API is on, `_meross-api._tcp`. A small responder written here rather
//! than a crate's: it must touch only the interfaces it is given (a crate that joins
//! every interface as it starts would multicast on networks the owner did not choose).
//! It announces at start, answers queries for its types, `_services._dns-sd._udp`, its
//! instances and its host, and says goodbye (TTL 0) at shutdown.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Where mDNS speaks.
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const PORT: u16 = 5353;
/// How long answers may be cached.
const TTL: u32 = 120;
/// The largest packet read.
const MAX_PACKET: usize = 9000;

/// One service to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `_meross-mqtt._tcp`.
    pub kind: &'static str,
    /// Its port.
    pub port: u16,
}

/// What the responder announces, and where.
#[derive(Debug, Clone)]
pub struct Announce {
    /// The instance name (`merossd on pi`).
    pub instance: String,
    /// The host's name in `.local` (`pi`).
    pub host: String,
    /// The IPv4 addresses it answers on and gives as the host's.
    pub addresses: Vec<Ipv4Addr>,
    /// The services.
    pub services: Vec<Service>,
}

/// A DNS name from dot-separated labels, encoded (no compression).
fn name(out: &mut Vec<u8>, dotted: &str) {
    for label in dotted.trim_end_matches('.').split('.') {
        let bytes = label.as_bytes();
        let len = bytes.len().min(63);
        out.push(len as u8);
        out.extend_from_slice(&bytes[..len]);
    }
    out.push(0);
}

/// One resource record: `owner`, type, class IN (with cache-flush when `unique`), TTL, data.
fn record(out: &mut Vec<u8>, owner: &str, kind: u16, unique: bool, ttl: u32, data: &[u8]) {
    name(out, owner);
    out.extend_from_slice(&kind.to_be_bytes());
    let class: u16 = if unique { 0x8001 } else { 0x0001 };
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(data);
}

const PTR: u16 = 12;
const TXT: u16 = 16;
const SRV: u16 = 33;
const A: u16 = 1;
const ANY: u16 = 255;

impl Announce {
    fn service_name(&self, s: &Service) -> String {
        format!("{}.local", s.kind)
    }

    fn instance_name(&self, s: &Service) -> String {
        format!("{}.{}.local", self.instance, s.kind)
    }

    fn host_name(&self) -> String {
        format!("{}.local", self.host)
    }

    /// A whole response: every record, with `ttl` (0: goodbye).
    pub fn response(&self, ttl: u32) -> Vec<u8> {
        let mut body = Vec::new();
        let mut count: u16 = 0;
        for s in &self.services {
            let mut ptr = Vec::new();
            name(&mut ptr, &self.instance_name(s));
            record(&mut body, &self.service_name(s), PTR, false, ttl, &ptr);
            let mut srv = vec![0, 0, 0, 0];
            srv.extend_from_slice(&s.port.to_be_bytes());
            name(&mut srv, &self.host_name());
            record(&mut body, &self.instance_name(s), SRV, true, ttl, &srv);
            record(&mut body, &self.instance_name(s), TXT, true, ttl, &[0]);
            let mut meta = Vec::new();
            name(&mut meta, &self.service_name(s));
            record(
                &mut body,
                "_services._dns-sd._udp.local",
                PTR,
                false,
                ttl,
                &meta,
            );
            count += 4;
        }
        for ip in &self.addresses {
            record(&mut body, &self.host_name(), A, true, ttl, &ip.octets());
            count += 1;
        }
        // Header: id 0, flags "response, authoritative", no questions, `count` answers.
        let mut out = vec![0, 0, 0x84, 0, 0, 0];
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&body);
        out
    }

    /// Whether a query asks about anything announced here.
    pub fn asked(&self, packet: &[u8]) -> bool {
        let Some(questions) = questions(packet) else {
            return false;
        };
        let mut ours: Vec<String> =
            vec!["_services._dns-sd._udp.local".to_owned(), self.host_name()];
        for s in &self.services {
            ours.push(self.service_name(s));
            ours.push(self.instance_name(s));
        }
        questions.iter().any(|(q, kind)| {
            [PTR, SRV, TXT, A, ANY].contains(kind) && ours.iter().any(|o| o.eq_ignore_ascii_case(q))
        })
    }
}

/// The questions of a query (names lowercase-insensitive, dot-separated, and types);
/// `None` for a response or bytes that are not a query.
fn questions(p: &[u8]) -> Option<Vec<(String, u16)>> {
    if p.len() < 12 || p[2] & 0x80 != 0 {
        return None;
    }
    let count = usize::from(u16::from_be_bytes([p[4], p[5]])).min(64);
    let mut at = 12;
    let mut out = Vec::new();
    for _ in 0..count {
        let (q, next) = read_name(p, at)?;
        let kind = u16::from_be_bytes([*p.get(next)?, *p.get(next + 1)?]);
        at = next + 4;
        out.push((q, kind));
    }
    Some(out)
}

/// A name at `at` (following compression pointers, at most 16), and where it ends.
fn read_name(p: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *p.get(at)?;
        match len {
            0 => {
                return Some((labels.join("."), end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let to = usize::from(u16::from_be_bytes([l & 0x3f, *p.get(at + 1)?]));
                end.get_or_insert(at + 2);
                if to >= at {
                    return None;
                }
                at = to;
            }
            l => {
                let label = p.get(at + 1..at + 1 + usize::from(l))?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                at += 1 + usize::from(l);
            }
        }
    }
    None
}

/// Runs the responder until `shutdown`: joins the group on each address, announces twice,
/// answers queries, and says goodbye.
pub async fn run(
    announce: Announce,
    mut shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<()> {
    let socket = socket(&announce.addresses)?;
    let on: Vec<String> = announce.addresses.iter().map(ToString::to_string).collect();
    tracing::info!(name = %announce.instance, on = %on.join(","), "announcing merossd by mDNS");
    let group = SocketAddr::V4(SocketAddrV4::new(GROUP, PORT));
    for _ in 0..2 {
        send(&socket, &announce, TTL, group).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            got = socket.recv_from(&mut buf) => {
                let Ok((n, _)) = got else { continue };
                if announce.asked(&buf[..n]) {
                    send(&socket, &announce, TTL, group).await;
                }
            }
        }
    }
    send(&socket, &announce, 0, group).await;
    Ok(())
}

/// The response, sent out of each address's interface.
async fn send(socket: &UdpSocket, announce: &Announce, ttl: u32, group: SocketAddr) {
    let packet = announce.response(ttl);
    for ip in &announce.addresses {
        let sock = socket2::SockRef::from(socket);
        if sock.set_multicast_if_v4(ip).is_ok() {
            let _ = socket.send_to(&packet, group).await;
        }
    }
}

/// A socket on 5353, shared with other responders, in the group on each of `addresses`
/// only.
fn socket(addresses: &[Ipv4Addr]) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(255)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, PORT)).into())?;
    for ip in addresses {
        s.join_multicast_v4(&GROUP, ip)?;
    }
    UdpSocket::from_std(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce() -> Announce {
        Announce {
            instance: "merossd on pi".into(),
            host: "pi".into(),
            addresses: vec![Ipv4Addr::new(192, 0, 2, 7)],
            services: vec![Service {
                kind: "_meross-mqtt._tcp",
                port: 8883,
            }],
        }
    }

    /// A PTR query for `_meross-mqtt._tcp.local`, as a browser sends it.
    fn query(for_name: &str, kind: u16) -> Vec<u8> {
        let mut q = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        name(&mut q, for_name);
        q.extend_from_slice(&kind.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn it_answers_queries_for_its_types_and_nothing_else() {
        let a = announce();
        assert!(a.asked(&query("_meross-mqtt._tcp.local", PTR)));
        assert!(a.asked(&query("_services._dns-sd._udp.local", PTR)));
        assert!(a.asked(&query("PI.local", A)));
        assert!(!a.asked(&query("_http._tcp.local", PTR)));
        assert!(!a.asked(&a.response(TTL)), "a response is not a query");
        assert!(!a.asked(&[0xc0; 40]));
    }

    #[test]
    fn the_response_holds_ptr_srv_txt_and_the_address() {
        let r = announce().response(TTL);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 5);
        let text = String::from_utf8_lossy(&r);
        assert!(text.contains("merossd on pi") && text.contains("_meross-mqtt"));
        assert!(r.windows(4).any(|w| w == [192, 0, 2, 7]));
        assert!(r.windows(2).any(|w| w == 8883u16.to_be_bytes()));
    }

    #[test]
    fn compressed_names_are_read_and_loops_refused() {
        let mut q = query("_meross-mqtt._tcp.local", PTR);
        // A second question pointing at the first name.
        q[5] = 2;
        q.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1]);
        let qs = questions(&q).unwrap();
        assert_eq!(qs[1].0, "_meross-mqtt._tcp.local");
        let mut looped = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1]);
        assert!(questions(&looped).is_none());
    }
}
