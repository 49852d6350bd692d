//! `POST /verify`'s verifier over arbitrary compact strings: never panics, and nothing but a
//! signature by our key verifies (the fuzzer cannot forge one, so every success is a bug).
#![no_main]

use std::sync::LazyLock;

use dpp_gateway::trust::{JwsVerifier, PassportSigner};
use libfuzzer_sys::fuzz_target;

static VERIFIER: LazyLock<(JwsVerifier, String)> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("dpp-fuzz-keys-{}", std::process::id()));
    let keys = dpp_gateway::trust::KeyStore::open_or_generate(&dir).expect("keys");
    let signer: PassportSigner = keys.signer();
    let genuine = signer.sign_compact(b"{\"fuzz\":true}", "dpp+jws").expect("sign");
    (keys.verifier(), genuine)
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (verifier, genuine) = &*VERIFIER;
    if let Ok(verified) = verifier.verify(text) {
        assert_eq!(text, genuine.as_str(), "a token we did not sign verified");
        assert_eq!(verified.payload, b"{\"fuzz\":true}");
    }
});
