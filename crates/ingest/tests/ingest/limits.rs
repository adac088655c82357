//! Per-token rate and transfer limits, and 503 + Retry-After under overload.

use std::io::Write;
use std::time::Duration;

use wedsync_ingest::Limits;

use crate::support::{read_response, Server};

#[test]
fn a_token_over_its_request_rate_gets_429_and_others_do_not() {
    let server = Server::with(Limits { requests_per_second: 0.01, burst: 5.0, ..Limits::default() });
    let path = server.create(&server.alice, 10, None);
    let statuses: Vec<u16> =
        (0..6).map(|_| server.tus(&server.alice, "HEAD", &path, &[], b"").status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let r = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok()), "{r:?}");
    server.create(&server.bob, 10, None);
}

/// Opens a PATCH whose body is still coming (1 byte of 100 sent).
fn open_transfer(server: &Server, token: &str, path: &str) -> std::net::TcpStream {
    server.open_patch(token, path, 0, 100, b"x")
}

fn wait_for_transfers(server: &Server, n: u64) {
    let auth = format!("Bearer {}", server.admin);
    for _ in 0..200 {
        let r = server.send("GET", "/admin/stats", &[("Authorization", &auth)], b"");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        if v["transfers_in_flight"] == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("transfers never reached {n}");
}

#[test]
fn transfers_are_capped_per_token_then_overall_with_503() {
    let server = Server::with(Limits { transfers_per_token: 1, max_transfers: 2, ..Limits::default() });
    let a1 = server.create(&server.alice, 100, None);
    let a2 = server.create(&server.alice, 100, None);
    let b1 = server.create(&server.bob, 100, None);
    let b2 = server.create(&server.bob, 100, None);
    let mut first = open_transfer(&server, &server.alice, &a1);
    wait_for_transfers(&server, 1);
    let r = server.patch(&server.alice, &a2, 0, b"y", &[]);
    assert_eq!(r.status, 429, "{r:?}");
    let mut second = open_transfer(&server, &server.bob, &b1);
    wait_for_transfers(&server, 2);
    let r = server.patch(&server.bob, &b2, 0, b"y", &[]);
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.header("retry-after").is_some());
    // Finishing the open bodies frees the places.
    for s in [&mut first, &mut second] {
        s.write_all(&[b'x'; 99]).expect("write");
        assert_eq!(read_response(s).status, 204);
    }
    assert_eq!(server.patch(&server.bob, &b2, 0, &[b'y'; 100], &[]).status, 204);
    assert_eq!(server.offset(&server.alice, &a1), 100);
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off_and_others_are_served() {
    let server = Server::with(Limits { header_timeout: Duration::from_secs(1), ..Limits::default() });
    let mut slow = server.connect();
    slow.write_all(b"PATCH /files/x HTTP/1.1\r\nHost: ingest\r\nTus-Resumable: 1.0.0\r\n").expect("write");
    let began = std::time::Instant::now();
    // Meanwhile the server serves everyone else.
    let path = server.create(&server.alice, 10, None);
    assert_eq!(server.offset(&server.alice, &path), 0);
    // The server answers 408 or just closes; either way the connection ends, long before
    // the test's own 60 s read timeout.
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut slow, &mut rest);
    let waited = began.elapsed();
    assert!(waited < Duration::from_secs(20), "the slow connection stayed open {waited:?}");
    let reply = String::from_utf8_lossy(&rest);
    assert!(rest.is_empty() || reply.starts_with("HTTP/1.1 408"), "{reply}");
}
