//! Address ranges in CIDR notation (`127.42.0.0/16`, `10.0.0.0/8`, `fd00::/8`), or a single
//! address, as the `[network]` config writes them. Parsing and matching are `ipnet`'s; this
//! adds what the config needs on top: a bare address as a one-address range, host bits
//! cleared, IPv4-mapped IPv6 addresses matched as IPv4, and an error naming the text.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// A range of addresses of one family. Host bits of the base are cleared when parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an address range: {why} (expected e.g. \"127.42.0.0/16\")")]
pub struct CidrError {
    text: String,
    why: String,
}

impl Cidr {
    pub fn new(base: IpAddr, prefix: u8) -> Option<Self> {
        IpNet::new(base, prefix).ok().map(|n| Self(n.trunc()))
    }

    pub fn base(&self) -> IpAddr {
        self.0.network()
    }

    pub fn prefix(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether `ip` is in the range; IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }

    /// The IPv4 range as `(first, last)` host-order integers, inclusive.
    pub fn v4_bounds(&self) -> Option<(u32, u32)> {
        match self.0 {
            IpNet::V4(v4) => Some((u32::from(v4.network()), u32::from(v4.broadcast()))),
            IpNet::V6(_) => None,
        }
    }

    /// Whether every address of `self` is inside `outer`.
    pub fn is_within(&self, outer: &Cidr) -> bool {
        outer.0.contains(&self.0)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let net = if trimmed.contains('/') {
            trimmed.parse::<IpNet>().map_err(|e| e.to_string())
        } else {
            // A bare address is the range of that one address (/32 or /128).
            trimmed
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|e| e.to_string())
        };
        net.map(|n| Self(n.trunc())).map_err(|why| CidrError {
            text: text.to_owned(),
            why,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
