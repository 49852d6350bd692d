//! Mock data spaces and the conformance suite.
//!
//! Each mock is an independent implementation of a data space's *published* interface: it shares
//! no code with the gateway's adapters and checks every body it receives against the official
//! schemas (`dpp_schemas::wire`), so an adapter bug fails a test instead of being mirrored.
//!
//! The [`suite`] checks any endpoint of a data space (a mock or a partner's live one) over HTTP
//! against the same official schemas, with numbered cases and JSON, JUnit and HTML reports.
#![warn(missing_docs)]

pub mod mock;
pub mod suite;
