//! dpp-gateway: keeps a company's digital product passports, signs them and exchanges them with data
//! spaces. The library holds everything; the `dpp-gateway` binary is a thin CLI over it.
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod exchange;
pub mod log_output;
pub mod onboarding;
pub mod private_files;
pub mod problem;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod trust;
