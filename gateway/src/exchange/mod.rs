//! The exchange engine: partners and their access policies, the durable outbox that pushes passports
//! to partners, and the pull cache in front of partners' passports.

pub mod pull;
