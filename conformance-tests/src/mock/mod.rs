//! Mock data spaces, usable in-process from tests or standalone through the `dpp-mock` binary.
//!
//! The pieces every mock shares: a server whose connections a handler can cut
//! ([`server`]), seeded fault injection ([`faults`]) and a small deterministic RNG.

pub mod faults;
pub mod ouranos;
pub mod server;

mod rng;
