//! The HTTP server: an accept loop that admits a connection only within the connection caps, and
//! serves each admitted one with hyper's HTTP/1.1 server under a header read timeout, so a client
//! that sends a request slowly, or never, cannot hold the process's open files (slowloris).
//!
//! ```text
//! accept ─▶ per-IP cap ─▶ global cap ─▶ HTTP/1.1 (header read timeout) ─▶ router
//!   │ error: pause, log     │ over: close at once, count the refusal
//!   ▼
//! shutdown: stop accepting (listener closed) ─▶ drain: finish in-flight requests, close idle
//!           connections ─▶ (second signal) cut what is still open
//! ```
//!
//! Why not `axum::serve`: it has no header read timeout (it sets no timer, which hyper needs) and
//! no connection cap. Why not hyper-util's `auto` builder: before handing a connection to HTTP/1
//! it reads up to 24 bytes to tell an HTTP/2 preface apart, and that read has no timeout at all, so
//! a client that connects and sends nothing would still hold its connection forever. The gateway
//! speaks HTTP/1.1 only (as it did with `axum::serve`, whose `http2` feature was off).

mod events;
mod limits;
mod open_files;

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use limits::{ConnectionLimits, ConnectionSlot, PeerKey, Refusal};
pub use open_files::{fit_connection_cap, raise_open_file_limit};

use events::{AcceptFailed, ConnectionEnded, LogThrottle};

/// How long the accept loop pauses after an accept error that is not about one connection
/// (`EMFILE`, `ENFILE`, `ENOBUFS`): the error repeats until something frees a file, and retrying
/// at once would spin a core.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The limits the server applies to its connections (from the config's `[server]` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Longest a client may take to send a request's line and headers; the wait for the next
    /// request on an idle keep-alive connection counts the same way.
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one peer ([`PeerKey`]).
    pub max_connections_per_ip: usize,
}

/// Serves `app` on `listener` within `settings` until `shutdown` resolves; then closes the
/// listener (new connections are refused), lets open connections finish their requests and
/// returns when the last one closed. When `cut` turns `true` (a second signal), every connection
/// still open is dropped and this returns at once.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &ServerSettings,
    shutdown: impl Future<Output = ()>,
    cut: watch::Receiver<bool>,
) {
    let open_file_limit = raise_open_file_limit();
    let max_connections = match open_file_limit {
        Some(limit) => fit_connection_cap(settings.max_connections, limit),
        None => settings.max_connections,
    };
    if max_connections < settings.max_connections {
        tracing::warn!(
            configured = settings.max_connections,
            applied = max_connections,
            open_file_limit = open_file_limit.unwrap_or_default(),
            "server.max_connections lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE) to allow more"
        );
    }
    let max_per_ip = settings.max_connections_per_ip.min(max_connections);
    tracing::info!(
        header_read_timeout_secs = settings.header_read_timeout.as_secs_f64(),
        max_connections,
        max_connections_per_ip = max_per_ip,
        open_file_limit = open_file_limit.unwrap_or_default(),
        "HTTP connection limits"
    );
    let limits = ConnectionLimits::new(max_connections, max_per_ip);

    let mut http = http1::Builder::new();
    // hyper's header timeout does nothing without a timer; it starts when a connection opens and
    // again after each response, so it also closes an idle keep-alive connection.
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(app);
    let graceful = GracefulShutdown::new();
    let accept_errors = LogThrottle::default();

    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                pause_after_accept_error(&error, &accept_errors).await;
                continue;
            }
        };
        // A refused connection is dropped here, before a byte is read: its file is freed at once
        // and the loop goes on accepting, so one peer's flood cannot queue in front of others.
        let Ok(slot) = limits.admit(peer.ip()) else {
            continue;
        };
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        let cut = cut.clone();
        tokio::spawn(async move {
            tokio::select! {
                served = connection => ConnectionEnded { peer, outcome: served.err() }.emit(),
                () = cut_signal(cut) => {}
            }
            drop(slot);
        });
    }
    // Closing the listener now makes new connections fail at once instead of queueing unserved.
    drop(listener);
    tracing::info!(
        open = graceful.count(),
        "HTTP listener closed; finishing open requests"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = cut_signal(cut) => {}
    }
}

/// Resolves when `cut` turns `true`; never, if its sender is gone without cutting.
async fn cut_signal(mut cut: watch::Receiver<bool>) {
    if cut.wait_for(|cut| *cut).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Whether an accept error concerns one connection only (the peer gave up before it was
/// accepted), so the next accept may follow at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Logs and counts an accept error, and for one that will repeat (out of files or buffers) waits
/// [`ACCEPT_ERROR_PAUSE`] before the next accept.
async fn pause_after_accept_error(error: &io::Error, throttle: &LogThrottle) {
    if is_connection_error(error) {
        tracing::debug!(%error, "a connection failed before it was accepted");
        return;
    }
    AcceptFailed { error }.emit(throttle);
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn running_out_of_files_pauses_the_accept_loop_instead_of_spinning() {
        let throttle = LogThrottle::default();
        let emfile = io::Error::from_raw_os_error(24);
        let started = tokio::time::Instant::now();
        pause_after_accept_error(&emfile, &throttle).await;
        assert!(
            started.elapsed() >= ACCEPT_ERROR_PAUSE,
            "{:?}",
            started.elapsed()
        );

        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        let started = tokio::time::Instant::now();
        pause_after_accept_error(&aborted, &throttle).await;
        assert!(
            started.elapsed() < ACCEPT_ERROR_PAUSE,
            "{:?}",
            started.elapsed()
        );
    }
}
