//! The API server's connection limits, over real sockets on 127.0.0.1:
//! idle and half-sent connections beyond the cap do not lock out a normal
//! request; a head or a body that does not arrive in time ends its
//! connection; with every connection busy, a new one gets 503 at once.
//!
//! Every wait is bounded by a generous deadline that only guards against a
//! hang; no test asserts how long anything took.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use flowsim::api::ApiConfig;
use flowsim::api::server::{Running, start};
use flowsim::runtime::{self, Mode};
use flowsim::sim::{Sim, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GUARD: Duration = Duration::from_secs(20);

async fn server(config: ApiConfig) -> Running {
    let mut sim = Sim::new(SimConfig::default());
    sim.add_flow(flowsim::sim::testing::seed_flow()).unwrap();
    let handle = runtime::spawn(sim, Mode::Step, 1.0);
    start("127.0.0.1:0", config, handle).await.unwrap()
}

/// Sends `request` on a new connection and reads the whole answer (the
/// server closes or the answer is complete).
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    tokio::time::timeout(GUARD, async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&out);
                    if let Some((head, body)) = text.split_once("\r\n\r\n")
                        && let Some(len) = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                        && body.len() >= len
                    {
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .expect("the server answered before the guard deadline")
}

const LIST_FLOWS: &[u8] =
    b"GET /?Action=ListFlows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_beyond_the_cap_do_not_lock_anyone_out() {
    let cap = 32;
    let s = server(ApiConfig {
        max_connections: cap,
        ..ApiConfig::default()
    })
    .await;
    let addr = s.addr();
    // Four times the cap: half say nothing, half send half a request head.
    let mut held = Vec::new();
    for i in 0..cap * 4 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
                .await
                .unwrap();
        }
        held.push(c);
    }
    // A normal request is still answered.
    let answer = exchange(addr, LIST_FLOWS).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("mns-topic-callback"), "{answer}");
    // And again, with all of them still open on our side.
    let answer = exchange(addr, LIST_FLOWS).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    assert!(s.stop(GUARD).await);
}

#[tokio::test]
async fn a_head_that_does_not_arrive_in_time_ends_the_connection() {
    let s = server(ApiConfig {
        header_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    })
    .await;
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    let mut buf = [0u8; 1024];
    // The server closes it (EOF, or an error answer then EOF).
    let closed = tokio::time::timeout(GUARD, async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));
    // An idle keep-alive connection, after a whole exchange, too.
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(b"GET /?Action=ListFlows HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(GUARD, async {
        let mut seen = Vec::new();
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap();
    assert!(closed.starts_with("HTTP/1.1 200"), "{closed}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused() {
    let s = server(ApiConfig {
        body_timeout: Duration::from_millis(300),
        ..ApiConfig::default()
    })
    .await;
    // FnF: 408 RequestTimeout in the upstream JSON shape.
    let answer = exchange(
        s.addr(),
        b"POST /?Action=ListFlows HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nLimit=1",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"Code\":\"RequestTimeout\""), "{answer}");
    // MNS: the same, in XML.
    let answer = exchange(
        s.addr(),
        b"PUT /queues/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<Queue",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_connection_busy_a_new_one_gets_503_at_once() {
    let s = server(ApiConfig {
        max_connections: 2,
        ..ApiConfig::default()
    })
    .await;
    let addr = s.addr();
    // Two long polls keep both connections busy (an empty queue, 5 s).
    exchange(
        addr,
        b"PUT /queues/q HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let mut polls = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /queues/q/messages?waitseconds=5 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        polls.push(c);
    }
    // Let them reach the handler first: an idle connection (its head not
    // yet read) would be closed to make room instead.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let answer = exchange(addr, LIST_FLOWS).await;
        if answer.starts_with("HTTP/1.1 503") {
            assert!(answer.contains("too many open connections"), "{answer}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refused: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(polls);
}
