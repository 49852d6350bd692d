//! The adapter contract and one adapter per data space.
//!
//! An adapter turns canonical passports ([`dpp_schemas::Passport`]) into the wire format of one
//! external data space and exchanges them through the HTTP client the gateway hands it. The
//! contract ([`contract`]) fixes what every adapter looks like: a pure `validate` of its config, an
//! async `build` returning a [`contract::Connection`] and its [`contract::HealthCheck`], declared
//! [`contract::Capabilities`], one error type ([`AdapterError`]) and a shared compliance harness
//! ([`contract::compliance`]). [`registry`] is the one place that lists the adapters.
#![warn(missing_docs)]

pub mod contract;
#[cfg(feature = "ouranos")]
pub mod ouranos;
pub mod registry;

pub use contract::AdapterError;
pub use registry::AdapterRegistry;
