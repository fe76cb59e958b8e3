//! Which network addresses the crawler may reach. In server mode (`kb serve`, `kb worker`,
//! the functions) a URL that resolves to a loopback, private, link-local (the cloud metadata
//! service at 169.254.169.254 among them), unique-local, shared, multicast or unspecified
//! address is refused, after DNS resolution and again on every redirect hop, so that nobody
//! can make the service read its own network through a knowledge-base source.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the fetcher may connect to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Every address allowed (`KB_ALLOW_PRIVATE_NETWORKS=true`, and the local CLI).
    pub allow_private: bool,
    /// Addresses allowed even when private ones are refused (tests reach their fixture server).
    pub exempt: Vec<IpAddr>,
}

impl NetworkPolicy {
    /// The policy of a process: `allow_private` from the settings.
    #[must_use]
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private, exempt: Vec::new() }
    }

    /// Whether connecting to `ip` is allowed.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || self.exempt.contains(&ip) || is_public(ip)
    }
}

/// Whether `ip` is a globally routable unicast address.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0                               // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b))  // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b && is_nat64_private(ip) // NAT64 of a private v4
        || ip.segments()[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

/// 64:ff9b::/96 embeds an IPv4 address: refuse it when that address is not public.
fn is_nat64_private(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    !is_public_v4(v4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "0.0.0.0", "0.1.2.3", "100.64.0.1", "255.255.255.255", "224.0.0.1", "240.0.0.1", "192.0.0.8",
            "::1", "::", "fd00::1", "fc12::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
            "64:ff9b::a00:1", "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
            assert!(!NetworkPolicy::new(false).allows(ip));
            assert!(NetworkPolicy::new(true).allows(ip), "{ip} allowed when private networks are");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} is public");
            assert!(NetworkPolicy::new(false).allows(ip));
        }
    }

    #[test]
    fn exempt_addresses_pass_without_opening_the_rest() {
        let policy = NetworkPolicy { allow_private: false, exempt: vec!["127.0.0.1".parse().unwrap()] };
        assert!(policy.allows("127.0.0.1".parse().unwrap()));
        assert!(!policy.allows("127.0.0.2".parse().unwrap()));
    }
}
