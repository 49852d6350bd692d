//! Passports per second through the write pipeline (validate → JCS → ES256 compact JWS) on one
//! thread, for `scripts/bench-pipeline.sh`, which sets it against `openssl speed ecdsap256`.
//!
//! `cargo run --release -p dpp-gateway --example pipeline_rate -- [--seconds 3]`
//!
//! Prints one `name=value` per line: each stage alone, then `pipeline_per_s`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dpp_gateway::trust::{AwsLcEs256Signer, PassportSigner};
use dpp_schemas::{SchemaKind, SchemaRegistry, fixtures, jcs};
use josekit::jws::JwsSigner as _;

const TYP: &str = "dpp+jws";

/// Runs `step` for about `duration` and returns how many times per second it ran.
fn rate(duration: Duration, mut step: impl FnMut()) -> f64 {
    // Warm caches and the branch predictor first.
    let warm_until = Instant::now() + duration / 10;
    while Instant::now() < warm_until {
        step();
    }
    let start = Instant::now();
    let mut count: u64 = 0;
    loop {
        // Check the clock every 64 steps; a step is tens of microseconds.
        for _ in 0..64 {
            step();
        }
        count += 64;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return count as f64 / elapsed.as_secs_f64();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seconds = 3.0_f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let total = Duration::from_secs_f64(seconds);
    let stage = total / 3;

    let passport = fixtures::pp_new_bumper();
    let value = serde_json::to_value(&passport)?;
    let registry = SchemaRegistry::new()?;
    let canonical = jcs::to_vec(&passport)?;
    let (key, der) = AwsLcEs256Signer::generate()?;
    let signer = PassportSigner::from(key.clone());
    let mut openssl_signer = josekit::jws::ES256.signer_from_der(&der)?;
    openssl_signer.set_key_id(signer.kid());
    registry
        .validate(SchemaKind::Passport, &value)
        .map_err(|v| format!("fixture invalid: {v:?}"))?;
    println!("passport_bytes={}", canonical.len());

    let validate = rate(stage, || {
        black_box(registry.validate(SchemaKind::Passport, black_box(&value))).ok();
    });
    println!("validate_per_s={validate:.0}");
    let jcs_rate = rate(stage, || {
        black_box(jcs::to_vec(black_box(&passport))).ok();
    });
    println!("jcs_per_s={jcs_rate:.0}");
    let sign = rate(stage, || {
        black_box(signer.sign_compact(black_box(&canonical), TYP)).ok();
    });
    println!("sign_per_s={sign:.0}");
    // The bare ES256 primitives over a 32-byte message, as `openssl speed` measures them.
    let digest_sized = [0x5a_u8; 32];
    let raw_aws_lc = rate(stage, || {
        black_box(key.sign(black_box(&digest_sized))).ok();
    });
    println!("raw_sign_aws_lc_rs_per_s={raw_aws_lc:.0}");
    let raw_openssl = rate(stage, || {
        black_box(openssl_signer.sign(black_box(&digest_sized))).ok();
    });
    println!("raw_sign_josekit_openssl_per_s={raw_openssl:.0}");

    let mut failures = 0_u64;
    let pipeline = rate(total, || {
        let ok = registry
            .validate(SchemaKind::Passport, black_box(&value))
            .is_ok()
            && jcs::to_vec(black_box(&passport))
                .ok()
                .and_then(|bytes| signer.sign_compact(&bytes, TYP).ok())
                .map(black_box)
                .is_some();
        failures += u64::from(!ok);
    });
    if failures > 0 {
        return Err(format!("{failures} pipeline runs failed").into());
    }
    println!("pipeline_per_s={pipeline:.0}");
    Ok(())
}
