//! Exchange load figures on loopback against a running mock Ouranos (`dpp-mock ouranos
//! --seed-data`), each beside a baseline measured in the same run: push → ack latency of
//! sequential publishes through the Ouranos adapter (baseline: a trivial GET round trip to the
//! mock), and pulls/s served from the warm pull cache (baseline: a raw moka `get`).
//!
//! Run by `scripts/bench-exchange.sh`; prints `key=value` lines.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use dpp_adapters::AdapterRegistry;
use dpp_adapters::contract::{
    AdapterContext, AdapterError, EgressPolicy, FetchedPassport, HttpClient, HttpRequest,
    HttpSettings, PublishRequest,
};
use dpp_conformance::mock::ouranos::seed;
use dpp_gateway::exchange::pull::{PullCache, PullPolicy};
use dpp_schemas::fixtures::pp_pellets;
use dpp_schemas::{PassportId, SchemaRegistry};
use reqwest::{Method, Url};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Base URL of the mock, e.g. http://127.0.0.1:8081.
    #[arg(long)]
    mock_url: String,
    /// The mock's `apiKey`.
    #[arg(long, default_value = "mock-api-key")]
    api_key: String,
    /// Passports published (and pulled).
    #[arg(long, default_value_t = 500)]
    n: usize,
    /// Longest time spent on each pull measurement, seconds.
    #[arg(long, default_value_t = 2.0)]
    pull_secs: f64,
    /// Most iterations of each pull measurement.
    #[arg(long, default_value_t = 5_000_000)]
    pull_max: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs `op` up to `max` times or for `secs`, whichever ends first; returns operations per second.
async fn rate<F, Fut>(secs: f64, max: u64, mut op: F) -> f64
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let deadline = Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut done = 0u64;
    while done < max {
        for _ in 0..1024 {
            op(done).await;
            done += 1;
        }
        if started.elapsed() >= deadline {
            break;
        }
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// The loader of a warm cache: never polled.
async fn never() -> Result<FetchedPassport, AdapterError> {
    panic!("the cache was warm; no upstream call may happen")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    dpp_gateway::telemetry::install_metrics();
    let http = HttpClient::new(
        EgressPolicy::allowing(["127.0.0.1"]),
        &HttpSettings::default(),
    )?;
    let registry = AdapterRegistry::with_builtin_adapters();
    let (account, password) = seed::RECYCLER_ACCOUNT;
    let checked = registry.validate(&json!({
        "type": "ouranos",
        "endpoint": args.mock_url,
        "api_key": { "value": args.api_key },
        "operator_id": seed::RECYCLER_OPERATOR_ID,
        "plant_id": seed::RECYCLER_PLANT_ID,
        "auth": { "mode": "login", "account_id": account, "password": { "value": password } },
    }))?;
    let (conn, health) = registry
        .build(checked, AdapterContext::new("bench", http.clone()))
        .await?;
    health.run().await.context("the mock is not reachable")?;

    // Baseline: a trivial GET round trip to the same server through the same client.
    let admin = Url::parse(&format!("{}/__admin/faults", args.mock_url))?;
    let mut rtt = Vec::with_capacity(args.n);
    for _ in 0..args.n {
        let started = Instant::now();
        let response = http
            .send(HttpRequest::new(Method::GET, admin.clone()))
            .await?;
        anyhow::ensure!(
            response.status == 200,
            "admin GET answered {}",
            response.status
        );
        rtt.push(started.elapsed());
    }
    rtt.sort();

    // Push → ack: each publish returns once the remote acknowledged every write.
    let mut push = Vec::with_capacity(args.n);
    let mut remote_ids = Vec::with_capacity(args.n);
    for i in 0..args.n {
        let mut passport = pp_pellets();
        passport.id = PassportId::new_random();
        passport.product.batch = Some(format!("bench-{i:05}"));
        let jws = format!("bench.{}.sig", passport.id);
        let started = Instant::now();
        let receipt = conn
            .publish(PublishRequest {
                passport: &passport,
                signed_jws: &jws,
                idempotency_key: &format!("bench-{i}"),
            })
            .await
            .with_context(|| format!("publish {i}"))?;
        push.push(started.elapsed());
        remote_ids.push(receipt.remote_id);
    }
    push.sort();

    // Warm the pull cache with every published passport (one upstream fetch each).
    let cache = PullCache::new(Arc::new(SchemaRegistry::new()?), 100_000);
    let policy = PullPolicy {
        ttl: Duration::from_secs(3600),
        ..PullPolicy::default()
    };
    let warm_started = Instant::now();
    for id in &remote_ids {
        cache.pull("bench", id, &policy, conn.as_ref()).await?;
    }
    let cold_pull_ms = warm_started.elapsed().as_secs_f64() * 1e3 / remote_ids.len() as f64;
    let misses = cache.stats().misses;

    let one = &remote_ids[0];
    let pulls_single = rate(args.pull_secs, args.pull_max, |_| async {
        cache.get("bench", one, &policy, never()).await.unwrap();
    })
    .await;
    let pulls_many = rate(args.pull_secs, args.pull_max, |i| {
        let id = &remote_ids[i as usize % remote_ids.len()];
        let cache = &cache;
        let policy = &policy;
        async move {
            cache.get("bench", id, policy, never()).await.unwrap();
        }
    })
    .await;
    anyhow::ensure!(cache.stats().misses == misses, "a warm pull went upstream");

    // Baseline: raw moka get of the same values under the same keys.
    let raw: moka::future::Cache<(Box<str>, Box<str>), Arc<dpp_schemas::Passport>> =
        moka::future::Cache::new(100_000);
    let passport = Arc::new(pp_pellets());
    for id in &remote_ids {
        raw.insert(("bench".into(), id.as_str().into()), passport.clone())
            .await;
    }
    let moka_get = rate(args.pull_secs, args.pull_max, |i| {
        let id = &remote_ids[i as usize % remote_ids.len()];
        let raw = &raw;
        async move {
            let key: (Box<str>, Box<str>) = ("bench".into(), id.as_str().into());
            assert!(raw.get(&key).await.is_some());
        }
    })
    .await;

    let rtt_p50 = percentile(&rtt, 0.5);
    println!("n={}", args.n);
    println!("baseline_rtt_p50_ms={rtt_p50:.3}");
    println!("baseline_rtt_p99_ms={:.3}", percentile(&rtt, 0.99));
    println!("push_ack_p50_ms={:.3}", percentile(&push, 0.5));
    println!("push_ack_p99_ms={:.3}", percentile(&push, 0.99));
    println!(
        "push_ack_p50_over_rtt_p50={:.1}",
        percentile(&push, 0.5) / rtt_p50
    );
    println!("cold_pull_mean_ms={cold_pull_ms:.3}");
    println!("pulls_per_s_single_key={pulls_single:.0}");
    println!("pulls_per_s_many_keys={pulls_many:.0}");
    println!("moka_get_per_s={moka_get:.0}");
    println!("pulls_over_moka_get={:.2}", pulls_many / moka_get);
    Ok(())
}
