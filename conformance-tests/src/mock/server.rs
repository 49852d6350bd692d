//! An HTTP/1.1 server for mocks whose handlers can cut their own TCP connection.
//!
//! `axum::serve` gives a handler no way to hang up without answering, but that is exactly the
//! failure a delivery engine must survive (a reset, or a commit whose response never arrives). So
//! each connection is served by hand and every request carries a [`ConnectionControl`] in its
//! extensions: [`ConnectionControl::drop_connection`] closes the socket with no response written.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Lets a handler close the connection its request arrived on. Present in every request's
/// extensions when the router is run by [`serve`].
#[derive(Clone, Debug)]
pub struct ConnectionControl {
    kill: Arc<Notify>,
}

impl ConnectionControl {
    /// Closes the TCP connection without writing a response, then never completes: the handler's
    /// future is dropped with the connection.
    pub async fn drop_connection(&self) -> ! {
        self.kill.notify_one();
        std::future::pending().await
    }
}

/// Serves `router` on `listener` until `shutdown` turns `true`.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            shutdown.clone(),
        ));
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let control = ConnectionControl {
        kill: Arc::new(Notify::new()),
    };
    let kill = control.kill.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(control.clone());
        request.extensions_mut().insert(peer);
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        }
        // Dropping the connection future closes the socket, with nothing written.
        _ = kill.notified() => tracing::debug!(%peer, "connection dropped on purpose"),
        _ = shutdown.changed() => {}
    }
}
