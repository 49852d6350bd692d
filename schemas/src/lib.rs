//! The canonical digital-product-passport model, its JSON Schemas (2020-12, bundled in the binary)
//! and a registry of validators compiled once. No I/O.
#![warn(missing_docs)]

pub mod model;
pub use model::*;
