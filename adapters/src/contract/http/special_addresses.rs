//! Which IP addresses a partner's client may reach without an allow-list entry: the IANA
//! special-purpose address registries as data, and the one rule the SSRF guard applies to them.
//!
//! **The rule.** An address is public when no range that covers it is *not globally reachable*.
//! The ranges are the two IANA registries, row for row with IANA's "Globally Reachable" flag
//! ([`IPV4_REGISTRY`], [`IPV6_REGISTRY`]; "N/A" and the blank flag of a terminated allocation
//! count as not global), plus the few ranges outside them that are never a unicast destination
//! ([`IPV4_OUTSIDE_REGISTRY`], [`IPV6_OUTSIDE_REGISTRY`]: multicast, the deprecated site-local and
//! IPv4-compatible blocks, SIIT). A row IANA marks globally reachable *inside* a non-global one
//! (PCP anycast 192.0.0.9 inside 192.0.0.0/24, AMT 2001:3::/32 inside 2001::/23, …) is still
//! refused: no partner endpoint lives at an anycast service address, and the guard errs on the
//! side of refusing.
//!
//! **IPv4 inside IPv6.** Several IPv6 forms carry an IPv4 address that the packet ends up at; each
//! such row names where the IPv4 sits ([`Embedding`]):
//!
//! | form | range | IPv4 | verdict |
//! |---|---|---|---|
//! | IPv4-mapped | `::ffff:0:0/96` | last 32 bits | refused (not global) |
//! | IPv4-compatible | `::/96` | last 32 bits | refused (deprecated) |
//! | IPv4-translated (SIIT) | `::ffff:0:0:0/96` | last 32 bits | refused (obsolete) |
//! | NAT64, well-known prefix | `64:ff9b::/96` | last 32 bits | **the IPv4's verdict** |
//! | NAT64, local-use prefix | `64:ff9b:1::/48` | set by the operator | refused (not global) |
//! | 6to4 | `2002::/16` | bits 16–47 | refused (N/A) |
//! | Teredo | `2001::/32` | last 32 bits, inverted | refused (N/A) |
//!
//! Only the well-known NAT64 prefix is judged by the address it carries: on an IPv6-only host a
//! DNS64 resolver answers `64:ff9b::a.b.c.d` for every IPv4-only name, so refusing the prefix would
//! cut the gateway off from IPv4-only partners, and RFC 6052 fixes where the IPv4 sits, so the
//! translator reaches exactly the address judged. The other forms are refused whatever they carry
//! (their IPv4 is still decoded, to name it in the refusal): a tunnel or translator we do not know
//! would deliver to an address we cannot vet.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IANA's "Globally Reachable" column for a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// "True": datagrams to it are forwarded beyond an administrative domain.
    Global,
    /// "False".
    NotGlobal,
    /// "N/A" (reach depends on relays: 6to4, Teredo) or left blank (a terminated allocation).
    /// Counted as not global.
    Undefined,
}

/// Where an IPv6 form carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Embedding {
    /// The last 32 bits (IPv4-mapped, IPv4-compatible, SIIT, NAT64 with a /96 prefix).
    Low32,
    /// Bits 16–47, right after `2002::/16` (6to4: `2002:AABB:CCDD::` carries `AA.BB.CC.DD`).
    SixToFour,
    /// The last 32 bits inverted: a Teredo client's public address (RFC 4380 §4).
    TeredoClient,
}

impl Embedding {
    /// The IPv4 address `ip` carries in this form.
    pub(crate) fn decode(self, ip: Ipv6Addr) -> Ipv4Addr {
        let bits = ip.to_bits();
        Ipv4Addr::from_bits(match self {
            Self::Low32 => bits as u32,
            Self::SixToFour => (bits >> 80) as u32,
            Self::TeredoClient => !(bits as u32),
        })
    }
}

/// One row: a prefix, what IANA (or the RFC) calls it, and whether it is globally reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpecialRange {
    /// First address of the range.
    pub(crate) network: IpAddr,
    /// Prefix length in bits.
    pub(crate) prefix_len: u8,
    /// The registry's name for the range.
    pub(crate) name: &'static str,
    /// The RFC that defines it.
    pub(crate) rfc: &'static str,
    /// IANA's flag (for the rows outside the registries: ours, always not global).
    pub(crate) reach: Reach,
    /// Where an IPv4 address sits in the range's addresses, for IPv4-in-IPv6 forms.
    pub(crate) embeds: Option<Embedding>,
}

impl SpecialRange {
    /// Whether `ip` lies in this range (never across address families).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix_len));
                (ip.to_bits() ^ net.to_bits()) & mask.unwrap_or(0) == 0
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix_len));
                (ip.to_bits() ^ net.to_bits()) & mask.unwrap_or(0) == 0
            }
            _ => false,
        }
    }

    const fn carrying(mut self, embedding: Embedding) -> Self {
        self.embeds = Some(embedding);
        self
    }
}

impl fmt::Display for SpecialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} {} ({})",
            self.network, self.prefix_len, self.name, self.rfc
        )
    }
}

const fn v4(
    network: Ipv4Addr,
    prefix_len: u8,
    name: &'static str,
    rfc: &'static str,
    reach: Reach,
) -> SpecialRange {
    SpecialRange {
        network: IpAddr::V4(network),
        prefix_len,
        name,
        rfc,
        reach,
        embeds: None,
    }
}

const fn v6(
    network: Ipv6Addr,
    prefix_len: u8,
    name: &'static str,
    rfc: &'static str,
    reach: Reach,
) -> SpecialRange {
    SpecialRange {
        network: IpAddr::V6(network),
        prefix_len,
        name,
        rfc,
        reach,
        embeds: None,
    }
}

use Reach::{Global, NotGlobal, Undefined};

/// The IANA IPv4 Special-Purpose Address Registry, every row as IANA lists it in 2025.
#[rustfmt::skip]
pub(crate) const IPV4_REGISTRY: &[SpecialRange] = &[
    v4(Ipv4Addr::new(0, 0, 0, 0), 8, "\"This network\"", "RFC 791 §3.2", NotGlobal),
    v4(Ipv4Addr::new(0, 0, 0, 0), 32, "\"This host on this network\"", "RFC 1122 §3.2.1.3", NotGlobal),
    v4(Ipv4Addr::new(10, 0, 0, 0), 8, "Private-Use", "RFC 1918", NotGlobal),
    v4(Ipv4Addr::new(100, 64, 0, 0), 10, "Shared Address Space", "RFC 6598", NotGlobal),
    v4(Ipv4Addr::new(127, 0, 0, 0), 8, "Loopback", "RFC 1122 §3.2.1.3", NotGlobal),
    v4(Ipv4Addr::new(169, 254, 0, 0), 16, "Link Local", "RFC 3927", NotGlobal),
    v4(Ipv4Addr::new(172, 16, 0, 0), 12, "Private-Use", "RFC 1918", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 0, 0), 24, "IETF Protocol Assignments", "RFC 6890 §2.1", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 0, 0), 29, "IPv4 Service Continuity Prefix", "RFC 7335", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 0, 8), 32, "IPv4 dummy address", "RFC 7600", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 0, 9), 32, "Port Control Protocol Anycast", "RFC 7723", Global),
    v4(Ipv4Addr::new(192, 0, 0, 10), 32, "Traversal Using Relays around NAT Anycast", "RFC 8155", Global),
    v4(Ipv4Addr::new(192, 0, 0, 170), 32, "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 0, 171), 32, "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 §2.2", NotGlobal),
    v4(Ipv4Addr::new(192, 0, 2, 0), 24, "Documentation (TEST-NET-1)", "RFC 5737", NotGlobal),
    v4(Ipv4Addr::new(192, 31, 196, 0), 24, "AS112-v4", "RFC 7535", Global),
    v4(Ipv4Addr::new(192, 52, 193, 0), 24, "AMT", "RFC 7450", Global),
    v4(Ipv4Addr::new(192, 88, 99, 0), 24, "Deprecated (6to4 Relay Anycast)", "RFC 7526", Undefined),
    v4(Ipv4Addr::new(192, 88, 99, 2), 32, "6a44-relay anycast address", "RFC 6751", NotGlobal),
    v4(Ipv4Addr::new(192, 168, 0, 0), 16, "Private-Use", "RFC 1918", NotGlobal),
    v4(Ipv4Addr::new(192, 175, 48, 0), 24, "Direct Delegation AS112 Service", "RFC 7534", Global),
    v4(Ipv4Addr::new(198, 18, 0, 0), 15, "Benchmarking", "RFC 2544", NotGlobal),
    v4(Ipv4Addr::new(198, 51, 100, 0), 24, "Documentation (TEST-NET-2)", "RFC 5737", NotGlobal),
    v4(Ipv4Addr::new(203, 0, 113, 0), 24, "Documentation (TEST-NET-3)", "RFC 5737", NotGlobal),
    v4(Ipv4Addr::new(240, 0, 0, 0), 4, "Reserved", "RFC 1112 §4", NotGlobal),
    v4(Ipv4Addr::new(255, 255, 255, 255), 32, "Limited Broadcast", "RFC 8190, RFC 919 §7", NotGlobal),
];

/// IPv4 ranges outside the special-purpose registry that are never a unicast destination.
#[rustfmt::skip]
pub(crate) const IPV4_OUTSIDE_REGISTRY: &[SpecialRange] = &[
    v4(Ipv4Addr::new(224, 0, 0, 0), 4, "Multicast", "RFC 5771", NotGlobal),
];

/// The IANA IPv6 Special-Purpose Address Registry, every row as IANA lists it in 2025.
#[rustfmt::skip]
pub(crate) const IPV6_REGISTRY: &[SpecialRange] = &[
    v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "Loopback Address", "RFC 4291", NotGlobal),
    v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, "Unspecified Address", "RFC 4291", NotGlobal),
    v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, "IPv4-mapped Address", "RFC 4291", NotGlobal)
        .carrying(Embedding::Low32),
    v6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "IPv4-IPv6 Translat.", "RFC 6052", Global)
        .carrying(Embedding::Low32),
    // Local-use NAT64: the operator picks the prefix length (/48 to /96), so where the IPv4 sits
    // is unknown here; the row is not global and is refused without decoding.
    v6(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "IPv4-IPv6 Translat.", "RFC 8215", NotGlobal),
    v6(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "Discard-Only Address Block", "RFC 6666", NotGlobal),
    v6(Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64, "Dummy IPv6 Prefix", "RFC 9780", NotGlobal),
    v6(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF Protocol Assignments", "RFC 2928", NotGlobal),
    v6(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "TEREDO", "RFC 4380, RFC 8190", Undefined)
        .carrying(Embedding::TeredoClient),
    v6(Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, "Port Control Protocol Anycast", "RFC 7723", Global),
    v6(Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, "Traversal Using Relays around NAT Anycast", "RFC 8155", Global),
    v6(Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 3), 128, "DNS-SD Service Registration Protocol Anycast", "RFC 9665", Global),
    v6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48, "Benchmarking", "RFC 5180", NotGlobal),
    v6(Ipv6Addr::new(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, "AMT", "RFC 7450", Global),
    v6(Ipv6Addr::new(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, "AS112-v6", "RFC 7535", Global),
    v6(Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28, "Deprecated (previously ORCHID)", "RFC 4843", Undefined),
    v6(Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, "ORCHIDv2", "RFC 7343", Global),
    v6(Ipv6Addr::new(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", Global),
    v6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "Documentation", "RFC 3849", NotGlobal),
    v6(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4", "RFC 3056", Undefined)
        .carrying(Embedding::SixToFour),
    v6(Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, "Direct Delegation AS112 Service", "RFC 7534", Global),
    v6(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "Documentation", "RFC 9637", NotGlobal),
    v6(Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "Segment Routing (SRv6) SIDs", "RFC 9602", NotGlobal),
    v6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "Unique-Local", "RFC 4193, RFC 8190", NotGlobal),
    v6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "Link-Local Unicast", "RFC 4291", NotGlobal),
];

/// IPv6 ranges outside the special-purpose registry that are never a unicast destination on the
/// Internet: multicast, and deprecated or obsolete forms a host stack may still act on.
#[rustfmt::skip]
pub(crate) const IPV6_OUTSIDE_REGISTRY: &[SpecialRange] = &[
    // Covers :: and ::1 too; a stack with a configured `sit` tunnel sends the rest to the IPv4.
    v6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-Compatible Address (deprecated)", "RFC 4291 §2.5.5.1", NotGlobal)
        .carrying(Embedding::Low32),
    v6(Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, "IPv4-translated Address (SIIT, obsolete)", "RFC 2765", NotGlobal)
        .carrying(Embedding::Low32),
    v6(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "Site-Local (deprecated)", "RFC 3879", NotGlobal),
    v6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "Multicast", "RFC 4291", NotGlobal),
];

/// Every row the guard consults for `ip`'s family.
fn ranges_for(ip: IpAddr) -> impl Iterator<Item = &'static SpecialRange> {
    let tables: [&'static [SpecialRange]; 2] = match ip {
        IpAddr::V4(_) => [IPV4_REGISTRY, IPV4_OUTSIDE_REGISTRY],
        IpAddr::V6(_) => [IPV6_REGISTRY, IPV6_OUTSIDE_REGISTRY],
    };
    tables.into_iter().flatten()
}

/// Why an address is not public (shown in the refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotPublic {
    /// The address lies in `range`, which is not globally reachable (the most specific such row);
    /// `carries` is the IPv4 address it embeds, when `range` is an IPv4-in-IPv6 form.
    InRange {
        range: &'static SpecialRange,
        carries: Option<Ipv4Addr>,
    },
    /// A NAT64 address (`via`) whose IPv4 lies in `range`.
    Translates {
        via: &'static SpecialRange,
        ipv4: Ipv4Addr,
        range: &'static SpecialRange,
    },
}

impl fmt::Display for NotPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InRange {
                range,
                carries: None,
            } => write!(f, "in {range}"),
            Self::InRange {
                range,
                carries: Some(ipv4),
            } => write!(f, "in {range}, carrying {ipv4}"),
            Self::Translates { via, ipv4, range } => {
                write!(f, "in {via}, translated to {ipv4}, which is in {range}")
            }
        }
    }
}

/// The guard's verdict on `ip`: `Ok` when it is public, otherwise the row that refuses it.
pub(crate) fn check(ip: IpAddr) -> Result<(), NotPublic> {
    let covering = || ranges_for(ip).filter(move |r| r.contains(ip));
    let refusing = covering()
        .filter(|r| r.reach != Reach::Global)
        .max_by_key(|r| r.prefix_len);
    if let Some(range) = refusing {
        let carries = match (range.embeds, ip) {
            (Some(embedding), IpAddr::V6(v6)) => Some(embedding.decode(v6)),
            _ => None,
        };
        return Err(NotPublic::InRange { range, carries });
    }
    // A globally reachable IPv4-in-IPv6 form (the NAT64 well-known prefix) reaches its IPv4.
    for via in covering() {
        if let (Some(embedding), IpAddr::V6(v6)) = (via.embeds, ip) {
            let ipv4 = embedding.decode(v6);
            if let Err(NotPublic::InRange { range, .. }) = check(IpAddr::V4(ipv4)) {
                return Err(NotPublic::Translates { via, ipv4, range });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The rows IANA marks globally reachable that no non-global row covers: the only rows whose
    /// addresses are public. (Global rows inside 192.0.0.0/24 and 2001::/23 are refused on
    /// purpose, and 64:ff9b::/96 is judged by the IPv4 it carries — 0.0.0.0 and 255.255.255.255
    /// at its ends, both refused.)
    const PUBLIC_ROWS: [&str; 4] = [
        "192.31.196.0/24",
        "192.52.193.0/24",
        "192.175.48.0/24",
        "2620:4f:8000::/48",
    ];

    fn all_rows() -> impl Iterator<Item = &'static SpecialRange> {
        [
            IPV4_REGISTRY,
            IPV4_OUTSIDE_REGISTRY,
            IPV6_REGISTRY,
            IPV6_OUTSIDE_REGISTRY,
        ]
        .into_iter()
        .flatten()
    }

    /// The last address of a row.
    fn last(row: &SpecialRange) -> IpAddr {
        match row.network {
            IpAddr::V4(net) => {
                let host = u32::MAX.checked_shr(u32::from(row.prefix_len));
                IpAddr::V4(Ipv4Addr::from_bits(net.to_bits() | host.unwrap_or(0)))
            }
            IpAddr::V6(net) => {
                let host = u128::MAX.checked_shr(u32::from(row.prefix_len));
                IpAddr::V6(Ipv6Addr::from_bits(net.to_bits() | host.unwrap_or(0)))
            }
        }
    }

    fn prefix(row: &SpecialRange) -> String {
        format!("{}/{}", row.network, row.prefix_len)
    }

    fn number(addr: IpAddr) -> u128 {
        match addr {
            IpAddr::V4(a) => u128::from(a.to_bits()),
            IpAddr::V6(a) => a.to_bits(),
        }
    }

    /// Numeric bounds of a row, computed apart from `contains` (to check it).
    fn bounds(row: &SpecialRange) -> (u128, u128) {
        (number(row.network), number(last(row)))
    }

    /// Whether some non-global row holds `addr`, by comparing numeric bounds.
    fn in_some_non_global_row(addr: IpAddr) -> bool {
        all_rows()
            .filter(|r| r.reach != Reach::Global && r.network.is_ipv4() == addr.is_ipv4())
            .any(|r| {
                let (first, last) = bounds(r);
                (first..=last).contains(&number(addr))
            })
    }

    fn neighbours(row: &SpecialRange) -> Vec<IpAddr> {
        let (first, last) = bounds(row);
        let max = if row.network.is_ipv4() {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        let to_ip = |v: u128| match row.network {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from_bits(v as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from_bits(v)),
        };
        let mut out = Vec::new();
        if first > 0 {
            out.push(to_ip(first - 1));
        }
        if last < max {
            out.push(to_ip(last + 1));
        }
        out
    }

    #[test]
    fn every_row_is_a_well_formed_prefix() {
        for row in all_rows() {
            let bits: u8 = if row.network.is_ipv4() { 32 } else { 128 };
            assert!(row.prefix_len <= bits, "{row}");
            let host_bits = u32::from(bits - row.prefix_len);
            let host_mask = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
            let (first, last) = bounds(row);
            assert_eq!(
                first & host_mask,
                0,
                "{row}: host bits set in the network address"
            );
            assert_eq!(last - first, host_mask, "{row}");
        }
    }

    /// Walks every row of both registries (and the ranges outside them): the first and the last
    /// address get the row's verdict, and the address just outside each end is public unless
    /// another non-global row holds it.
    #[test]
    fn every_registry_row_gets_its_verdict_at_both_ends_and_not_beyond() {
        let mut walked = 0;
        for row in all_rows() {
            let public = PUBLIC_ROWS.contains(&prefix(row).as_str());
            for end in [row.network, last(row)] {
                assert_eq!(
                    check(end).is_ok(),
                    public,
                    "{end} ({row}): {:?}",
                    check(end)
                );
                walked += 1;
            }
            for outside in neighbours(row) {
                if !in_some_non_global_row(outside) {
                    assert!(
                        check(outside).is_ok(),
                        "{outside}, just outside {row}, must be public: {:?}",
                        check(outside)
                    );
                    walked += 1;
                }
            }
        }
        assert!(walked > 100, "walked only {walked} addresses");
        assert_eq!(IPV4_REGISTRY.len(), 26);
        assert_eq!(IPV6_REGISTRY.len(), 25);
    }

    /// The ranges issue 9 found unrefused, and their edges, written out rather than taken from
    /// the tables (so a typo in a table cannot make this pass).
    #[test]
    fn the_ranges_issue_9_found_open_are_refused_to_their_edges() {
        for s in [
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a00:1",
            "64:ff9b:1::",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
            "64:ff9b:1::808:808",
            "2002::",
            "2002:7f00:1::",
            "2002:808:808::",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::7f00:1",
            "::808:808",
            "::ffff:ffff",
            "fec0::",
            "fec0::1",
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "198.18.0.0",
            "198.19.255.255",
            "192.0.0.0",
            "192.0.0.255",
            "240.0.0.0",
            "254.255.255.255",
            "255.255.255.254",
        ] {
            assert!(check(ip(s)).is_err(), "{s} must be refused");
        }
        for s in [
            "198.17.255.255",
            "198.20.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "223.255.255.255",
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2003::1",
            "2001:200::1",
        ] {
            assert!(check(ip(s)).is_ok(), "{s} is public: {:?}", check(ip(s)));
        }
    }

    #[test]
    fn familiar_addresses_keep_their_verdicts() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "239.255.255.250",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "100::1",
        ] {
            assert!(check(ip(s)).is_err(), "{s} must be refused");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:80b::200e",
        ] {
            assert!(check(ip(s)).is_ok(), "{s} is public: {:?}", check(ip(s)));
        }
    }

    #[test]
    fn every_ipv4_in_ipv6_form_is_decoded() {
        let decode = |range: &str, s: &str| {
            let row = all_rows().find(|r| prefix(r) == range).unwrap();
            let IpAddr::V6(v6) = ip(s) else { panic!() };
            row.embeds.unwrap().decode(v6).to_string()
        };
        assert_eq!(decode("::ffff:0.0.0.0/96", "::ffff:7f00:1"), "127.0.0.1");
        assert_eq!(decode("::/96", "::a9fe:a9fe"), "169.254.169.254");
        assert_eq!(decode("::ffff:0:0:0/96", "::ffff:0:a00:1"), "10.0.0.1");
        assert_eq!(decode("64:ff9b::/96", "64:ff9b::c0a8:101"), "192.168.1.1");
        assert_eq!(decode("2002::/16", "2002:c0a8:101:5::1"), "192.168.1.1");
        // RFC 4380 §4's example: server 65.54.227.120, client 192.0.2.45 (obfuscated 3fff:fdd2).
        assert_eq!(
            decode("2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            "192.0.2.45"
        );
        assert_eq!(
            check(ip("2002:a9fe:a9fe::")).unwrap_err().to_string(),
            "in 2002::/16 6to4 (RFC 3056), carrying 169.254.169.254"
        );
        assert_eq!(
            check(ip("::ffff:10.0.0.1")).unwrap_err().to_string(),
            "in ::ffff:0.0.0.0/96 IPv4-mapped Address (RFC 4291), carrying 10.0.0.1"
        );
    }

    /// The well-known NAT64 prefix is judged by the IPv4 it carries; the other forms are refused
    /// even when what they carry is public.
    #[test]
    fn only_the_well_known_nat64_prefix_passes_a_public_ipv4() {
        assert_eq!(check(ip("64:ff9b::808:808")), Ok(()));
        assert_eq!(
            check(ip("64:ff9b::7f00:1")).unwrap_err().to_string(),
            "in 64:ff9b::/96 IPv4-IPv6 Translat. (RFC 6052), translated to 127.0.0.1, \
             which is in 127.0.0.0/8 Loopback (RFC 1122 §3.2.1.3)"
        );
        for carrying_8_8_8_8 in [
            "::ffff:808:808",
            "::808:808",
            "::ffff:0:808:808",
            "64:ff9b:1::808:808",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert!(
                check(ip(carrying_8_8_8_8)).is_err(),
                "{carrying_8_8_8_8} must be refused"
            );
        }
    }

    /// IANA marks these globally reachable, but they sit inside a non-global row: refused.
    #[test]
    fn global_rows_inside_non_global_ones_are_refused() {
        for s in [
            "192.0.0.9",
            "192.0.0.10",
            "2001:1::1",
            "2001:1::3",
            "2001:3::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert!(check(ip(s)).is_err(), "{s} must be refused");
        }
    }
}
