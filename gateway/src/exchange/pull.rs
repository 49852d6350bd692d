//! Pull cache: remote passports fetched through adapters, cached with moka (one upstream call per key).
