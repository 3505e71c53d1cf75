//! IP allow-lists: which client addresses a tenant admits. Parsing and matching only.

use std::net::IpAddr;

use ipnet::IpNet;

use super::field::Invalid;

/// The most networks one tenant's allow-list may hold (enough for every office and VPN exit
/// of a large customer; the list is checked on every signed-in request).
pub const MAX_NETWORKS: usize = 200;

/// One allow-list entry as an owner writes it: a CIDR network, or a single address (taken
/// as /32 or /128). Host bits are cleared, so `203.0.113.7/24` is stored and shown as
/// `203.0.113.0/24` — what it actually admits.
pub fn parse_network(raw: &str) -> Result<IpNet, Invalid> {
    let raw = raw.trim();
    if let Ok(network) = raw.parse::<IpNet>() {
        return Ok(network.trunc());
    }
    raw.parse::<IpAddr>()
        .map(|ip| IpNet::from(ip.to_canonical()))
        .map_err(|_| Invalid::NotNetwork)
}

/// Whether `url` keeps what it carries off the network in clear: `https://`, or plain
/// `http://` only to a loopback host (127.0.0.0/8, ::1, localhost), where tests run their
/// local fakes. The one rule for every URL Frontdesk sends credentials to or gets called at.
pub fn is_secure_or_loopback(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// Whether `networks` admit `ip`: an empty list admits everyone. An IPv4 client seen on a
/// dual-stack socket as `::ffff:a.b.c.d` is matched as the IPv4 address it is.
pub fn admits(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    networks.is_empty() || networks.iter().any(|network| network.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_and_single_addresses_are_read_with_host_bits_cleared() {
        assert_eq!(
            parse_network(" 203.0.113.7/24 ").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert_eq!(
            parse_network("198.51.100.7").unwrap().to_string(),
            "198.51.100.7/32"
        );
        assert_eq!(
            parse_network("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        for bad in [
            "",
            "203.0.113.0/33",
            "example.com",
            "203.0.113",
            "10.0.0.0/8,",
        ] {
            assert_eq!(parse_network(bad), Err(Invalid::NotNetwork), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_list_admits_everyone_and_a_list_only_its_networks() {
        assert!(admits(&[], ip("192.0.2.1")));
        let office = [parse_network("203.0.113.0/24").unwrap()];
        assert!(admits(&office, ip("203.0.113.200")));
        assert!(!admits(&office, ip("203.0.114.1")));
        assert!(
            admits(&office, ip("::ffff:203.0.113.9")),
            "an IPv4-mapped IPv6 client is its IPv4 address"
        );
    }
}
