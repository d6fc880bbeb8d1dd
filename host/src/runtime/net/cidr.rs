//! Address ranges in CIDR notation (`127.42.0.0/16`, `10.0.0.0/8`, `fd00::/8`), or a single
//! address, as the `[network]` config writes them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A range of addresses of one family. Host bits of the base are cleared when parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address range: {why} (expected e.g. \"127.42.0.0/16\")")]
pub struct CidrError {
    text: String,
    why: &'static str,
}

impl Cidr {
    pub fn new(base: IpAddr, prefix: u8) -> Option<Self> {
        let max = match base {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        (prefix <= max).then(|| Self {
            base: mask(base, prefix),
            prefix,
        })
    }

    pub fn base(&self) -> IpAddr {
        self.base
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the range; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        matches!(
            (self.base, ip),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        ) && mask(ip, self.prefix) == self.base
    }

    /// The IPv4 range as `(first, last)` host-order integers, inclusive.
    pub fn v4_bounds(&self) -> Option<(u32, u32)> {
        let IpAddr::V4(base) = self.base else {
            return None;
        };
        let first = u32::from(base);
        let size = 1u64 << (32 - u32::from(self.prefix));
        Some((first, (u64::from(first) + size - 1) as u32))
    }

    /// Whether every address of `self` is inside `outer`.
    pub fn is_within(&self, outer: &Cidr) -> bool {
        outer.prefix <= self.prefix && outer.contains(self.base)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| CidrError {
            text: text.to_owned(),
            why,
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let base: IpAddr = addr.parse().map_err(|_| err("bad address"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| err("bad prefix length"))?,
            None => max,
        };
        Cidr::new(base, prefix).ok_or_else(|| err("prefix length too long"))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}
