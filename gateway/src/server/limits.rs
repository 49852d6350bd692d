//! Connection caps: how many connections are open at once, in all and from one peer. A connection
//! holds a [`ConnectionSlot`] from its admission until it closes; the slot frees both counts.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::events::{ConnectionOpened, ConnectionRefused, LogThrottle};

/// Whom the per-IP cap counts together: one IPv4 address, or one IPv6 /64 (a single host is
/// usually handed a whole /64, so counting its addresses one by one would cap nothing).
/// IPv4-mapped IPv6 addresses (a dual-stack listener) count as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    /// An IPv4 peer.
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 peer's address.
    V6Prefix(u64),
}

impl From<IpAddr> for PeerKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => PeerKey::V4(v4),
            IpAddr::V6(v6) => PeerKey::V6Prefix((u128::from(v6) >> 64) as u64),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its peer already holds `max_connections_per_ip` connections.
    PerIp,
    /// `max_connections` connections are open.
    Global,
}

impl Refusal {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PerIp => "per_ip",
            Refusal::Global => "global",
        }
    }
}

/// The global and per-peer connection caps of one server.
#[derive(Debug)]
pub struct ConnectionLimits {
    open: Arc<Semaphore>,
    per_peer: Arc<Mutex<HashMap<PeerKey, usize>>>,
    max_per_peer: usize,
    refusal_log: [LogThrottle; 2],
}

impl ConnectionLimits {
    /// Caps of `max` connections in all and `max_per_peer` from one [`PeerKey`].
    pub fn new(max: usize, max_per_peer: usize) -> ConnectionLimits {
        metrics::gauge!("dpp_http_connections_max").set(max as f64);
        metrics::gauge!("dpp_http_connections_per_ip_max").set(max_per_peer as f64);
        ConnectionLimits {
            open: Arc::new(Semaphore::new(max)),
            per_peer: Arc::default(),
            max_per_peer,
            refusal_log: Default::default(),
        }
    }

    /// A slot for a new connection from `ip`, or why there is none (logged and counted). The
    /// per-peer cap is checked first, so a flooding peer is told apart from a full server.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let admitted = self.try_admit(ip);
        match &admitted {
            Ok(_) => ConnectionOpened.emit(),
            Err(reason) => ConnectionRefused {
                ip,
                reason: *reason,
            }
            .emit(match reason {
                Refusal::PerIp => &self.refusal_log[0],
                Refusal::Global => &self.refusal_log[1],
            }),
        }
        admitted
    }

    fn try_admit(&self, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let peer = PeerKey::from(ip);
        let mut per_peer = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        let held = per_peer.get(&peer).copied().unwrap_or(0);
        if held >= self.max_per_peer {
            return Err(Refusal::PerIp);
        }
        let permit = self
            .open
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Global)?;
        per_peer.insert(peer, held + 1);
        Ok(ConnectionSlot {
            peer,
            per_peer: self.per_peer.clone(),
            _permit: permit,
        })
    }

    /// Connections open from `ip`'s [`PeerKey`].
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let per_peer = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        per_peer.get(&PeerKey::from(ip)).copied().unwrap_or(0)
    }

    /// Connections open in all.
    pub fn open(&self) -> usize {
        let per_peer = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        per_peer.values().sum()
    }
}

/// One admitted connection's place under both caps; dropping it frees the place.
#[derive(Debug)]
pub struct ConnectionSlot {
    peer: PeerKey,
    per_peer: Arc<Mutex<HashMap<PeerKey, usize>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut per_peer = self.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        // Peers holding nothing are removed, so the map is bounded by the open connections.
        if let Entry::Occupied(mut held) = per_peer.entry(self.peer) {
            if *held.get() <= 1 {
                held.remove();
            } else {
                *held.get_mut() -= 1;
            }
        }
        metrics::gauge!("dpp_http_connections_open").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_peer_over_its_cap_is_refused_and_a_freed_slot_admits_it_again() {
        let limits = ConnectionLimits::new(10, 2);
        let first = limits.admit(ip("192.0.2.1")).unwrap();
        let _second = limits.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(limits.admit(ip("192.0.2.1")).unwrap_err(), Refusal::PerIp);
        // Another peer is not affected.
        let _other = limits.admit(ip("192.0.2.2")).unwrap();
        drop(first);
        assert_eq!(limits.open_from(ip("192.0.2.1")), 1);
        let _again = limits.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn the_global_cap_holds_across_peers_and_frees_with_its_slots() {
        let limits = ConnectionLimits::new(3, 2);
        let slots: Vec<_> = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .into_iter()
            .map(|peer| limits.admit(ip(peer)).unwrap())
            .collect();
        assert_eq!(limits.admit(ip("192.0.2.4")).unwrap_err(), Refusal::Global);
        // A peer at its own cap is refused as such even when the server is full.
        let limits_full_peer = ConnectionLimits::new(2, 2);
        let _a = limits_full_peer.admit(ip("192.0.2.9")).unwrap();
        let _b = limits_full_peer.admit(ip("192.0.2.9")).unwrap();
        assert_eq!(
            limits_full_peer.admit(ip("192.0.2.9")).unwrap_err(),
            Refusal::PerIp
        );
        drop(slots);
        assert_eq!(limits.open(), 0);
        assert!(limits.admit(ip("192.0.2.4")).is_ok());
    }

    #[test]
    fn ipv6_peers_count_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let limits = ConnectionLimits::new(10, 2);
        let _a = limits.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b = limits.admit(ip("2001:db8:1:2:ffff::7")).unwrap();
        assert_eq!(
            limits.admit(ip("2001:db8:1:2:abcd::9")).unwrap_err(),
            Refusal::PerIp
        );
        assert!(limits.admit(ip("2001:db8:1:3::1")).is_ok());

        let _c = limits.admit(ip("198.51.100.7")).unwrap();
        let _d = limits.admit(ip("::ffff:198.51.100.7")).unwrap();
        assert_eq!(
            limits.admit(ip("198.51.100.7")).unwrap_err(),
            Refusal::PerIp
        );
    }
}
