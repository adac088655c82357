//! Hostile clients beside honest ones, bounded: silent and half-open connections well past
//! the connection cap, made-up tokens, giant and many-key metadata, concatenation bombs,
//! while photographers upload. Every honest upload must arrive byte-identical, `/healthz`
//! must keep answering, and the process's peak memory stays under a stated bound. Its own
//! test binary, so the peak memory is this test's alone. Prints its figures.

#[allow(dead_code)]
#[path = "ingest/support.rs"]
mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{b64, bytes, sha256_hex, Server};
use wedsync_ingest::Limits;

/// Peak resident memory allowed for this whole process: the server, the honest clients'
/// buffers and the attackers' (measured 42-43 MB).
const PEAK_BOUND_MB: u64 = 150;

fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// One photographer's uploads, retried on 429/503/507 as a client would, at least
/// `count` and for as long as `attacks` is above zero; returns the uploads and the SHA-256
/// of their bytes (the bytes themselves would weigh on the memory measured).
fn honest(server: &Server, seed: u64, count: usize, attacks: &AtomicU64) -> Vec<(String, String)> {
    (0..)
        .take_while(|i| *i < count || attacks.load(Ordering::Acquire) > 0)
        .map(|i| {
            let data =
                bytes(1_000_000 + (seed as usize * 7919 + i * 104_729) % 2_000_000, seed * 100 + i as u64);
            let meta = format!("sha256 {}", b64(sha256_hex(&data).as_bytes()));
            let len = data.len().to_string();
            let path = loop {
                let r = server.tus(
                    &server.alice,
                    "POST",
                    "/files",
                    &[("Upload-Length", &len), ("Upload-Metadata", &meta)],
                    b"",
                );
                match r.status {
                    201 => break r.header("location").expect("location").to_string(),
                    429 | 503 | 507 => std::thread::sleep(Duration::from_millis(100)),
                    other => panic!("honest create got {other}: {r:?}"),
                }
            };
            let mut offset = 0;
            for chunk in data.chunks(256 * 1024) {
                loop {
                    let r = server.patch(&server.alice, &path, offset, chunk, &[]);
                    match r.status {
                        204 => break,
                        429 | 503 => std::thread::sleep(Duration::from_millis(100)),
                        other => panic!("honest PATCH got {other}: {r:?}"),
                    }
                }
                offset += chunk.len() as u64;
            }
            (path, sha256_hex(&data))
        })
        .collect()
}

#[test]
fn honest_uploads_complete_beside_hostile_clients() {
    let limits = Limits {
        max_size: 64 << 20,
        max_connections: Some(200),
        header_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
        failed_auth_per_second: 50.0,
        failed_auth_burst: 200.0,
        ..Limits::default()
    };
    let server = Server::with(limits);
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let (health_ok, health_bad, health_worst_ms) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let (refused, silent_open) = (AtomicU64::new(0), AtomicU64::new(0));
    // Attack threads still running.
    let attacks = AtomicU64::new(3);
    let server = &server;
    let arrived = std::thread::scope(|scope| {
        // /healthz, every 50 ms, all along.
        scope.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                let t = Instant::now();
                let r = server.send("GET", "/healthz", &[], b"");
                let ms = t.elapsed().as_millis() as u64;
                health_worst_ms.fetch_max(ms, Ordering::Relaxed);
                let counter = if r.status == 200 { &health_ok } else { &health_bad };
                counter.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // Silent connections and half HTTP/2 prefaces, in waves, well past the cap.
        scope.spawn(|| {
            for _ in 0..4 {
                let mut wave = Vec::new();
                for i in 0..300 {
                    let Ok(mut s) = std::net::TcpStream::connect(server.addr) else { continue };
                    if i % 3 == 0 {
                        let _ = s.write_all(b"PRI * HTTP/2.0\r\n");
                    }
                    wave.push(s);
                }
                silent_open.fetch_max(wave.len() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(500));
            }
            attacks.fetch_sub(1, Ordering::AcqRel);
        });
        // Made-up tokens, long and short.
        scope.spawn(|| {
            for i in 0..1500 {
                let fake = if i % 2 == 0 {
                    format!("Bearer wst_{i:064}")
                } else {
                    format!("Bearer {}", "y".repeat(20_000))
                };
                let r = server.send(
                    "HEAD",
                    "/files/00",
                    &[("Tus-Resumable", "1.0.0"), ("Authorization", &fake)],
                    b"",
                );
                if r.status == 401 || r.status == 429 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            attacks.fetch_sub(1, Ordering::AcqRel);
        });
        // Giant and many-key metadata, and concatenation bombs, from a valid token.
        scope.spawn(|| {
            let many: Vec<String> = (0..4000).map(|i| format!("k{i}")).collect();
            let many = many.join(",");
            let giant = format!("name {}", b64(&vec![b'a'; 40_000]));
            for _ in 0..50 {
                for meta in [&many, &giant] {
                    let r = server.tus(
                        &server.bob,
                        "POST",
                        "/files",
                        &[("Upload-Length", "10"), ("Upload-Metadata", meta)],
                        b"",
                    );
                    assert!(matches!(r.status, 201 | 400 | 431), "metadata: {r:?}");
                }
            }
            let part = {
                let r = server.tus(
                    &server.bob,
                    "POST",
                    "/files",
                    &[("Upload-Length", "200000"), ("Upload-Concat", "partial")],
                    b"",
                );
                r.header("location").expect("location").to_string()
            };
            assert_eq!(server.patch(&server.bob, &part, 0, &bytes(200_000, 9), &[]).status, 204);
            let bomb = format!("final;{}", vec![part.as_str(); 1500].join(" "));
            for _ in 0..20 {
                let r = server.tus(&server.bob, "POST", "/files", &[("Upload-Concat", &bomb)], b"");
                assert_eq!(r.status, 400, "a part listed 1,500 times: {r:?}");
            }
            attacks.fetch_sub(1, Ordering::AcqRel);
        });
        // Four photographers.
        let attacks = &attacks;
        let photographers: Vec<_> =
            (1..=4).map(|seed| scope.spawn(move || honest(server, seed, 5, attacks))).collect();
        let arrived: Vec<_> =
            photographers.into_iter().flat_map(|p| p.join().expect("photographer")).collect();
        stop.store(true, Ordering::Release);
        arrived
    });
    for (path, sha) in &arrived {
        let r = server.download(&server.alice, path);
        assert!(
            r.status == 200 && sha256_hex(&r.body) == *sha,
            "{path} arrived different ({} bytes)",
            r.body.len()
        );
    }
    let peak = peak_mb();
    eprintln!(
        "hostile clients: {} honest uploads byte-identical in {:.1} s; /healthz {} ok, {} not, slowest {} ms; \
         up to {} silent connections open at once against a cap of 200; {} made-up tokens refused; peak memory {} MB (bound {} MB)",
        arrived.len(),
        start.elapsed().as_secs_f64(),
        health_ok.load(Ordering::Relaxed),
        health_bad.load(Ordering::Relaxed),
        health_worst_ms.load(Ordering::Relaxed),
        silent_open.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        peak,
        PEAK_BOUND_MB
    );
    assert!(arrived.len() >= 20, "{}", arrived.len());
    assert_eq!(health_bad.load(Ordering::Relaxed), 0, "/healthz failed while under attack");
    assert!(health_ok.load(Ordering::Relaxed) > 0);
    assert_eq!(refused.load(Ordering::Relaxed), 1500);
    assert!(peak < PEAK_BOUND_MB, "peak memory {peak} MB");
}
