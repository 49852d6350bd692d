//! Wire formats of the external data spaces: their official schemas, embedded in the binary and
//! compiled once into validators. Each data space has one submodule; the published files live in
//! `schemas/wire/<dataspace>/` next to their licence notice.

mod openapi;
pub mod ouranos;

/// Violations are reported in the same shape as the canonical schema registry's.
pub use crate::registry::Violation;
