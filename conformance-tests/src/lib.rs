//! Mock data spaces and the conformance suite.
#![warn(missing_docs)]
