//! The write pipeline on the realistic new-bumper passport (~2.6 KB): canonicalise (typed JCS),
//! validate (compiled schema), sign (ES256 compact JWS), each alone and together, with josekit's
//! own OpenSSL ES256 beside our aws-lc-rs signer for comparison (ADR 0003).
//!
//! `cargo bench -p dpp-gateway --bench pipeline`; for the ratio against `openssl speed` in the
//! same run use `scripts/bench-pipeline.sh`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dpp_gateway::trust::{AwsLcEs256Signer, PassportSigner};
use dpp_schemas::{SchemaKind, SchemaRegistry, fixtures, jcs};
use josekit::jws::{JwsHeader, JwsSigner as _};

const TYP: &str = "dpp+jws";

fn pipeline(c: &mut Criterion) {
    let passport = fixtures::pp_new_bumper();
    let value = serde_json::to_value(&passport).expect("fixture serialises");
    let registry = SchemaRegistry::new().expect("bundled schemas compile");
    registry
        .validate(SchemaKind::Passport, &value)
        .expect("fixture is valid");
    let canonical = jcs::to_vec(&passport).expect("fixture canonicalises");
    let (key, der) = AwsLcEs256Signer::generate().expect("key generation");
    let signer = PassportSigner::from(key.clone());
    let mut openssl_signer = josekit::jws::ES256
        .signer_from_der(&der)
        .expect("josekit reads the pkcs#8 key");
    openssl_signer.set_key_id(signer.kid());
    let signing_input = {
        let jws = signer.sign_compact(&canonical, TYP).expect("signs");
        jws[..jws.rfind('.').expect("compact jws")].to_owned()
    };
    eprintln!(
        "new-bumper passport: {} bytes canonical, signing input {} bytes",
        canonical.len(),
        signing_input.len()
    );

    let mut group = c.benchmark_group("jcs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("to_vec", |b| {
        b.iter(|| jcs::to_vec(black_box(&passport)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("passport", |b| {
        b.iter(|| registry.validate(SchemaKind::Passport, black_box(&value)))
    });
    group.finish();

    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    group.bench_function("aws-lc-rs", |b| {
        b.iter(|| signer.sign_compact(black_box(&canonical), TYP).unwrap())
    });
    group.bench_function("josekit-openssl", |b| {
        b.iter(|| {
            let mut header = JwsHeader::new();
            header.set_token_type(TYP);
            header
                .set_claim("iat", Some(chrono::Utc::now().timestamp().into()))
                .unwrap();
            josekit::jws::serialize_compact(black_box(&canonical), &header, &openssl_signer)
                .unwrap()
        })
    });
    // The bare primitive over the same signing input: what the JOSE framing costs on top.
    group.bench_function("aws-lc-rs-raw", |b| {
        b.iter(|| key.sign(black_box(signing_input.as_bytes())).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    group.bench_function("new-bumper", |b| {
        b.iter(|| {
            registry
                .validate(SchemaKind::Passport, black_box(&value))
                .unwrap();
            let bytes = jcs::to_vec(black_box(&passport)).unwrap();
            signer.sign_compact(&bytes, TYP).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
