//! Partner credential references (`{"file": …}` / `{"env": …}`, as a registration carries them)
//! resolved through the operator's [`SecretSources`]: never panics, and nothing but the one
//! secret planted inside the secrets directory, or the one allow-listed variable, is ever
//! returned — not a canary file beside the directory, not the key store, not `/proc`, not the
//! gateway's own `DPP_GATEWAY_*` variables.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use dpp_adapters::contract::{SecretRef, SecretSources};
use libfuzzer_sys::fuzz_target;

const INSIDE: &str = "inside-secret";
const ALLOWED_ENV: &str = "allowed-env-secret";

struct Setup {
    sources: SecretSources,
    runtime: tokio::runtime::Runtime,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let root: PathBuf = std::env::temp_dir().join(format!("dpp-fuzz-secrets-{}", std::process::id()));
    let secrets = root.join("secrets");
    let keys = root.join("keys");
    std::fs::create_dir_all(&secrets).expect("secrets dir");
    std::fs::create_dir_all(&keys).expect("keys dir");
    std::fs::write(secrets.join("ouranos"), INSIDE).expect("inside");
    std::fs::write(root.join("canary"), "CANARY-FILE").expect("canary");
    std::fs::write(keys.join("k.pem"), "CANARY-KEY").expect("key");
    // Links planted in the directory, pointing out of it.
    let _ = std::os::unix::fs::symlink(root.join("canary"), secrets.join("link-out"));
    let _ = std::os::unix::fs::symlink(keys.join("k.pem"), secrets.join("link-key"));
    let _ = std::os::unix::fs::symlink("/proc/self/environ", secrets.join("link-proc"));
    // SAFETY: set once, before any resolution runs, in this single-purpose process.
    unsafe {
        std::env::set_var("OURANOS_FUZZ_SECRET", ALLOWED_ENV);
        std::env::set_var("DPP_GATEWAY_FUZZ_CANARY", "CANARY-ENV");
    }
    Setup {
        sources: SecretSources::new(Some(&secrets), &["OURANOS_*".to_owned()], &[keys])
            .expect("sources"),
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(reference) = serde_json::from_slice::<SecretRef>(data) else {
        return;
    };
    let setup = &*SETUP;
    let admitted = setup.sources.admits(&reference).is_ok();
    let resolved = setup
        .runtime
        .block_on(setup.sources.resolve(&reference, "fuzz"));
    if let Ok(secret) = resolved {
        assert!(admitted, "{reference:?} resolved although refused at registration");
        let value = secret.expose();
        let inline = matches!(reference, SecretRef::Value(_));
        assert!(
            inline || value == INSIDE || value == ALLOWED_ENV,
            "{reference:?} resolved to something outside the sources"
        );
        assert!(!value.contains("CANARY") || inline, "{reference:?} leaked a canary");
    }
});
