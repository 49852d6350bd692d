//! Assembles a running gateway from its configuration: store, keys, compiled schemas, the write
//! service, partner connections, the pull cache, and the HTTP server (`crate::server`, with its
//! connection limits) with the outbox delivery worker, both shut down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dpp_adapters::AdapterRegistry;
use dpp_schemas::SchemaRegistry;
use tokio::net::TcpListener;

use crate::api::{AppState, RemotePull, router};
use crate::config::{Config, redact_url};
use crate::exchange::pull::PullCache;
use crate::exchange::{DeliverySettings, DeliveryWorker, Exchange, PartnerConnections};
use crate::service::PassportService;
use crate::store::Store;
use crate::trust::KeyStore;

/// Most passports the pull cache holds (and as many last good copies for stale-if-error).
const PULL_CACHE_ENTRIES: u64 = 100_000;

/// A gateway's parts, built but not yet serving.
pub struct Gateway {
    /// Shared state (also what handlers see).
    pub state: AppState,
    /// The key store (for the CLI; the server publishes its JWKS).
    pub keys: KeyStore,
    /// How the outbox delivery worker started by [`serve`](Self::serve) paces itself (from the
    /// config's `[delivery]` table; tests may replace it before serving).
    pub delivery: DeliverySettings,
}

/// Opens the store named by the config: PostgreSQL when `database_url` says so, else SQLite in the
/// data dir.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    match &config.database_url {
        Some(url) => Store::connect(url)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(url))),
        None => {
            crate::private_files::create_private_dir(&config.data_dir).with_context(|| {
                format!("cannot create the data dir {}", config.data_dir.display())
            })?;
            Store::open_in_dir(&config.data_dir).await.with_context(|| {
                format!("cannot open the database in {}", config.data_dir.display())
            })
        }
    }
}

/// Opens the store named by the config only if it exists: what read-only and maintenance
/// commands use, so a mistyped `--data-dir` is an error instead of a new, empty store.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        let file = config.data_dir.join(crate::store::SQLITE_FILE_NAME);
        anyhow::ensure!(
            file.is_file(),
            "no gateway store in {} (no {}): check --data-dir or DPP_GATEWAY_DATA_DIR; `serve`, `passport import` and `partner add` create one",
            config.data_dir.display(),
            crate::store::SQLITE_FILE_NAME
        );
    }
    open_store(config).await
}

impl Gateway {
    /// Opens (or creates) keys and store, compiles every schema once.
    pub async fn build(config: Config) -> anyhow::Result<Gateway> {
        crate::private_files::create_private_dir(&config.data_dir)
            .with_context(|| format!("cannot create the data dir {}", config.data_dir.display()))?;
        let keys = KeyStore::open_or_generate(&config.data_dir)
            .with_context(|| format!("cannot open the keys in {}", config.data_dir.display()))?;
        let store = open_store(&config).await?;
        let schemas =
            Arc::new(SchemaRegistry::new().context("cannot compile the bundled schemas")?);
        let jwks = keys.jwks();
        // The key store's document lists only the active key under `authentication`.
        let did_document = keys
            .did_web_document(&config.public_base_url)
            .with_context(|| format!("cannot derive a did:web from {}", config.public_base_url))?;
        let delivery = DeliverySettings::from(&config.delivery);
        let service = PassportService::new(store.clone(), schemas.clone(), keys.signer());
        let metrics = crate::telemetry::install_metrics();
        let adapters = Arc::new(AdapterRegistry::with_builtin_adapters());
        let secrets = config
            .secret_sources()
            .context("the [secrets] configuration cannot be used")?;
        let partners = Arc::new(
            PartnerConnections::new(store, adapters, keys.signer())
                .with_http_settings(config.http.settings())
                .with_secrets(secrets),
        );
        let remote_pull = RemotePull {
            cache: Arc::new(PullCache::new(schemas, PULL_CACHE_ENTRIES)),
            targets: partners.clone(),
        };
        let exchange = Exchange::new(partners);
        let state = AppState::new(
            service,
            config,
            jwks,
            did_document,
            keys.verifier(),
            metrics,
            exchange,
            remote_pull,
        );
        Ok(Gateway {
            state,
            keys,
            delivery,
        })
    }

    /// Serves on `listener` (within the config's `[server]` limits) and runs the outbox delivery
    /// worker until `shutdown` resolves; then, at the same time, finishes in-flight requests (new
    /// connections are refused) and lets running deliveries finish for the grace period, returning
    /// unfinished items to the outbox.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.serve_until(listener, shutdown, std::future::pending)
            .await
    }

    /// [`serve`](Self::serve), and once shutdown has begun, `force()` is awaited: when it
    /// resolves (the binary passes a second Ctrl-C / SIGTERM), open connections are cut and
    /// running deliveries aborted at once, their items back in the outbox.
    pub async fn serve_until<F, Fut>(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        force: F,
    ) -> anyhow::Result<()>
    where
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let exchange = &self.state.exchange;
        let worker = DeliveryWorker::new(
            exchange.partners.clone(),
            self.delivery,
            exchange.wake.clone(),
        )
        .spawn();
        let pruner = tokio::spawn(prune_receipts(
            self.state.store().clone(),
            Duration::from_secs(self.state.config.idempotency_retention_hours * 3600),
        ));
        // One stop signal for both: the worker stops claiming the moment shutdown starts, and its
        // grace runs alongside the HTTP drain instead of after it.
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let stop = Arc::new(stop);
        let signalled = stop.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: refusing new connections, finishing what runs");
            let _ = signalled.send(true);
        };
        // Set on a second signal: cut what still runs.
        let (cut, cutting) = tokio::sync::watch::channel(false);
        let mut stopping_for_force = stopping.clone();
        let app = router(self.state.clone());
        let limits = self.state.config.server.settings();
        let http = async {
            crate::server::serve(listener, app, &limits, signal, cutting).await;
            // Also when the server ended without a signal.
            let _ = stop.send(true);
            anyhow::Ok(())
        };
        let force_stop = worker.force_stop();
        let deliveries = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            worker.shutdown().await;
        };
        let forced = async move {
            if stopping_for_force.wait_for(|stop| *stop).await.is_err() {
                return;
            }
            force().await;
            tracing::warn!("second signal: cutting open connections and running deliveries");
            force_stop.now();
            let _ = cut.send(true);
        };
        let main = async { tokio::join!(http, deliveries) };
        tokio::pin!(main);
        // A force that never comes must not hold the exit; one that comes lets the rest end now.
        let (served, ()) = tokio::select! {
            out = &mut main => out,
            () = forced => main.await,
        };
        pruner.abort();
        served
    }
}

/// How often expired idempotency receipts are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Deletes idempotency receipts older than `retention`, at start and every [`PRUNE_EVERY`].
async fn prune_receipts(store: crate::store::Store, retention: Duration) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match store.prune_receipts(retention).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("dpp_idempotency_receipts_pruned_total").increment(n);
                tracing::info!(pruned = n, "expired idempotency receipts deleted");
            }
            Err(e) => tracing::warn!(error = %e, "cannot delete expired idempotency receipts"),
        }
    }
}

/// Binds `addr`, with a readable error when it is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
