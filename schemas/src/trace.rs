//! Tamper evidence for trace events: each event names the SHA-256 of the canonical JSON
//! (RFC 8785) of every event it follows.

use sha2::{Digest, Sha256};

use crate::jcs::{self, JcsError};
use crate::model::TraceEvent;

/// Lowercase hex SHA-256 over the JCS bytes of `event` (its `previousEventHashes` included, so
/// the hash commits to the whole chain behind it).
///
/// # Panics
///
/// If the event holds a non-finite quantity, which no parsed JSON document can; use
/// [`try_event_hash`] for events built in code from untrusted numbers.
pub fn event_hash(event: &TraceEvent) -> String {
    try_event_hash(event).unwrap_or_else(|e| panic!("trace event cannot be canonicalised: {e}"))
}

/// [`event_hash`], reporting a non-finite number instead of panicking.
pub fn try_event_hash(event: &TraceEvent) -> Result<String, JcsError> {
    let bytes = jcs::to_vec(event)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Checks that every event's `previousEventHashes` name events earlier in `events`, by hash.
/// Returns the index and the unknown hash of the first broken link.
pub fn find_broken_link(events: &[TraceEvent]) -> Option<(usize, String)> {
    let mut known = std::collections::HashSet::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        if let Some(missing) = event
            .previous_event_hashes
            .iter()
            .find(|h| !known.contains(h.as_str()))
        {
            return Some((i, missing.clone()));
        }
        known.insert(event_hash(event));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn hash_is_sha256_of_reference_jcs() {
        for event in fixtures::trace_events() {
            let hash = event_hash(&event);
            assert_eq!(hash.len(), 64);
            assert!(hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            let reference = serde_jcs::to_vec(&event).expect("serde_jcs");
            assert_eq!(hash, hex::encode(Sha256::digest(&reference)));
        }
    }

    /// Pinned: a change here means every stored chain would stop verifying.
    #[test]
    fn hash_of_the_first_fixture_event_is_stable() {
        let events = fixtures::trace_events();
        assert_eq!(event_hash(&events[0]), PINNED_COLLECTION_HASH);
    }

    const PINNED_COLLECTION_HASH: &str =
        "8a1f4f3cd794395a7a35645d43ca0d4ad8a8def7bf026d7463872f73489f7de9";

    #[test]
    fn fixture_chain_is_linked() {
        let events = fixtures::trace_events();
        assert_eq!(find_broken_link(&events), None);
        assert!(events[0].previous_event_hashes.is_empty());
        for pair in events.windows(2) {
            assert_eq!(pair[1].previous_event_hashes, [event_hash(&pair[0])]);
        }
    }

    #[test]
    fn tampering_breaks_the_chain() {
        let mut events = fixtures::trace_events();
        let before = event_hash(&events[2]);
        events[2].output_quantity_list[0].quantity += 1.0;
        assert_ne!(event_hash(&events[2]), before);
        assert_eq!(find_broken_link(&events), Some((3, before)));
    }

    #[test]
    fn non_finite_quantities_are_reported() {
        let mut event = fixtures::trace_events().remove(0);
        event.quantity_list[0].quantity = f64::NAN;
        assert!(matches!(
            try_event_hash(&event),
            Err(JcsError::NonFiniteNumber(_))
        ));
    }
}
