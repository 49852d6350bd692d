//! Time and connection limits: a request that outlives `request_timeout_secs` is answered 503
//! problem+json, and the gateway keeps serving; a client that sends its request head slowly or
//! never is disconnected after `server.header_read_timeout_secs`, and connections beyond
//! `server.max_connections_per_ip` / `server.max_connections` are refused while other clients are
//! served (slowloris).

mod exchange_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dpp_conformance::mock::ouranos::Faults;
use exchange_support::{TestGateway, fast_delivery, mock_partner, start_mock};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_cannot_hold_a_request_past_the_deadline() {
    let mock = start_mock().await;
    let gw = TestGateway::start_with(fast_delivery(), |c| c.request_timeout_secs = 1).await;
    gw.register(&mock_partner(&gw, &mock, "slow")).await;
    // Every call to the partner now takes 5 s; the pull's own timeout (10 s) is longer than the
    // request deadline, so the deadline is what answers.
    mock.set_faults(Faults {
        latency_ms: 5_000,
        ..Faults::default()
    })
    .unwrap();

    let response = gw
        .reader(
            Method::GET,
            "/api/v1/remote/slow/passports/0a5e0a5e-0000-4000-8000-000000000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "1");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("longer than 1 s"),
        "{problem}"
    );
    let health = gw
        .http
        .get(format!("{}/healthz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

// Slowloris: connections that send their request slowly or never, from one peer or many. The
// attackers connect from other loopback addresses (Linux routes all of 127.0.0.0/8 to `lo`), so
// a well-behaved client can be told apart by its address.

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// A connection from `from` that sends half a request line and stalls.
async fn stalled_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, to).await;
    stream.write_all(b"GET /heal").await.unwrap();
    stream
}

/// How long until the server closed `stream` (end of stream or reset), reading and dropping
/// whatever it sends; `None` if it was still open after `patience`.
async fn closed_after(stream: &mut TcpStream, patience: Duration) -> Option<Duration> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + patience;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// `GET /healthz` on a new connection from `from`: the status, or `None` when the connection was
/// closed (or stayed silent for 5 s) without an answer.
async fn healthz_from(from: Ipv4Addr, to: SocketAddr) -> Option<u16> {
    let mut stream = connect_from(from, to).await;
    let request = "GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    if !matches!(read, Ok(Ok(_))) && answer.is_empty() {
        return None;
    }
    let head = String::from_utf8_lossy(&answer);
    head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// [`healthz_from`] until it answers, for up to 3 s (a freed slot is freed when the server sees
/// the close).
async fn healthz_answers_from(from: Ipv4Addr, to: SocketAddr) -> Option<u16> {
    let started = Instant::now();
    loop {
        let status = healthz_from(from, to).await;
        if status.is_some() || started.elapsed() > Duration::from_secs(3) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the Prometheus sample `series` (name and labels), 0 when absent.
fn metric(gw: &TestGateway, series: &str) -> f64 {
    gw.state
        .metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits up to 2 s for `series` to reach `at_least` (the server counts a connection's end just
/// after the client sees it); returns the last value.
async fn metric_reaches(gw: &TestGateway, series: &str, at_least: f64) -> f64 {
    let started = Instant::now();
    loop {
        let value = metric(gw, series);
        if value >= at_least || started.elapsed() > Duration::from_secs(2) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn gateway_addr(gw: &TestGateway) -> SocketAddr {
    gw.base.strip_prefix("http://").unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_its_request_head_slowly_or_never_is_disconnected() {
    let gw = TestGateway::start_with(fast_delivery(), |c| {
        c.server.header_read_timeout_secs = 1;
    })
    .await;
    let addr = gateway_addr(&gw);
    let timeouts_before = metric(&gw, "dpp_http_header_timeouts_total");
    let patience = Duration::from_secs(5);

    let half_line = async {
        let mut stream = stalled_from(Ipv4Addr::new(127, 0, 0, 21), addr).await;
        closed_after(&mut stream, patience).await
    };
    let nothing = async {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 22), addr).await;
        closed_after(&mut stream, patience).await
    };
    // The start of an HTTP/2 preface: a server sniffing for HTTP/2 would wait for the rest; an
    // HTTP/1.1 server refuses the version at once.
    let preface = async {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 23), addr).await;
        stream.write_all(b"PRI * HTTP/2").await.unwrap();
        closed_after(&mut stream, patience).await
    };
    // One byte every 100 ms: never idle for long, but the head takes 4 s in all.
    let trickle = async {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 24), addr).await;
        let (mut reader, mut writer) = stream.split();
        let head = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: 0123\r\n\r\n";
        let started = Instant::now();
        let send = async {
            for byte in head {
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            std::future::pending::<()>().await;
        };
        let mut buf = [0u8; 1024];
        tokio::select! {
            () = send => unreachable!(),
            read = tokio::time::timeout(patience, reader.read(&mut buf)) => {
                matches!(read, Ok(Ok(0) | Err(_))).then(|| started.elapsed())
            }
        }
    };
    // After one answer, an idle keep-alive connection waits for the next head just as long.
    let idle_keep_alive = async {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, 25), addr).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        closed_after(&mut stream, patience).await
    };
    let (half_line, nothing, preface, trickle, idle_keep_alive) =
        tokio::join!(half_line, nothing, preface, trickle, idle_keep_alive);
    let timed_out = Duration::from_millis(900)..Duration::from_secs(4);
    for (case, closed, within) in [
        ("half a request line", half_line, &timed_out),
        ("nothing sent", nothing, &timed_out),
        (
            "a partial HTTP/2 preface",
            preface,
            &(Duration::ZERO..timed_out.end),
        ),
        ("a head trickled byte by byte", trickle, &timed_out),
        ("an idle keep-alive connection", idle_keep_alive, &timed_out),
    ] {
        let closed = closed.unwrap_or_else(|| panic!("{case}: still open after {patience:?}"));
        assert!(
            within.contains(&closed),
            "{case}: closed after {closed:?}, wanted {within:?} (a 1 s header timeout)"
        );
    }
    let timeouts = "dpp_http_header_timeouts_total";
    let counted = metric_reaches(&gw, timeouts, timeouts_before + 4.0).await;
    assert!(
        counted >= timeouts_before + 4.0,
        "header timeouts counted: {timeouts_before} before, {counted} after"
    );
    assert_eq!(healthz_from(Ipv4Addr::LOCALHOST, addr).await, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_beyond_its_connection_cap_is_refused_while_others_are_served() {
    const PER_IP: usize = 4;
    let gw = TestGateway::start_with(fast_delivery(), |c| {
        c.server.header_read_timeout_secs = 30;
        c.server.max_connections = 64;
        c.server.max_connections_per_ip = PER_IP;
    })
    .await;
    let addr = gateway_addr(&gw);
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let refused_before = metric(&gw, "dpp_http_connections_refused_total{reason=\"per_ip\"}");

    let mut admitted = Vec::new();
    for _ in 0..PER_IP {
        admitted.push(stalled_from(attacker, addr).await);
    }
    for i in 0..16 {
        let mut extra = stalled_from(attacker, addr).await;
        let closed = closed_after(&mut extra, Duration::from_secs(2)).await;
        assert!(
            closed.is_some(),
            "connection {} from one peer was not refused with a cap of {PER_IP}",
            PER_IP + i + 1
        );
    }
    // The peer's first connections are still held open (within the header timeout).
    for stream in &mut admitted {
        assert_eq!(closed_after(stream, Duration::from_millis(100)).await, None);
    }
    // Other peers are served meanwhile, over a new connection and the pooled client alike.
    assert_eq!(
        healthz_from(Ipv4Addr::new(127, 0, 0, 3), addr).await,
        Some(200)
    );
    let health = gw
        .http
        .get(format!("{}/healthz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let refused = "dpp_http_connections_refused_total{reason=\"per_ip\"}";
    assert!(metric_reaches(&gw, refused, refused_before + 16.0).await >= refused_before + 16.0);

    // A closed connection frees its place under the peer's cap.
    drop(admitted.pop());
    assert_eq!(healthz_answers_from(attacker, addr).await, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_connection_cap_holds_across_peers() {
    const MAX: u8 = 4;
    let gw = TestGateway::start_with(fast_delivery(), |c| {
        c.server.header_read_timeout_secs = 30;
        c.server.max_connections = usize::from(MAX);
        c.server.max_connections_per_ip = usize::from(MAX);
    })
    .await;
    let addr = gateway_addr(&gw);
    let refused_before = metric(&gw, "dpp_http_connections_refused_total{reason=\"global\"}");
    // One stalled connection from each of MAX peers, none of them over its own cap.
    let mut held = Vec::new();
    for peer in 0..MAX {
        held.push(stalled_from(Ipv4Addr::new(127, 0, 0, 40 + peer), addr).await);
    }
    let mut over = stalled_from(Ipv4Addr::new(127, 0, 0, 50), addr).await;
    assert!(
        closed_after(&mut over, Duration::from_secs(2))
            .await
            .is_some(),
        "a connection beyond max_connections was not refused"
    );
    assert_eq!(
        healthz_from(Ipv4Addr::new(127, 0, 0, 51), addr).await,
        None,
        "a request was answered beyond max_connections"
    );
    let refused = "dpp_http_connections_refused_total{reason=\"global\"}";
    assert!(metric_reaches(&gw, refused, refused_before + 2.0).await >= refused_before + 2.0);
    for stream in &mut held {
        assert_eq!(closed_after(stream, Duration::from_millis(100)).await, None);
    }
    // One place freed: the next well-behaved request is answered.
    drop(held.pop());
    assert_eq!(
        healthz_answers_from(Ipv4Addr::new(127, 0, 0, 51), addr).await,
        Some(200)
    );
}
