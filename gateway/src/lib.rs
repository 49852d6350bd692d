//! dpp-gateway: keeps a company's digital product passports, signs them and exchanges them with data spaces.
#![warn(missing_docs)]
