//! `wedsync upload` through a proxy that misbehaves: it resets connections mid-body, stalls
//! mid-chunk (takes no more bytes and never answers), and answers 503 — for the first
//! connections only, so the test is bounded. Every file must end verified exactly once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{free_port, hashes_in, originals_upload, random_bytes, sha256_hex, start_server, token};

/// What the proxy does to one connection.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Pass,
    /// Forward this many request bytes, then reset both sides (RST, not FIN).
    Reset(usize),
    /// Forward this many request bytes, then hold the connection without reading or
    /// answering until it is closed by the client.
    Stall(usize),
    /// Answer the first request with 503 without forwarding it.
    Unavailable,
}

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    resets: AtomicUsize,
    stalls: AtomicUsize,
    unavailable: AtomicUsize,
}

/// The proxy's plan: connection n (from 0) gets `plan(n)`; after `faulty` connections,
/// everything passes.
fn plan(n: usize, faulty: usize) -> Fault {
    if n >= faulty {
        return Fault::Pass;
    }
    match n % 4 {
        1 => Fault::Reset(40_000 + n * 1_000),
        2 => Fault::Stall(30_000),
        3 => Fault::Unavailable,
        _ => Fault::Pass,
    }
}

struct Proxy {
    port: u16,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn start_proxy(upstream: u16, faulty: usize) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (counts.clone(), stop.clone());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            if s.load(Ordering::Acquire) {
                return;
            }
            let Ok(client) = client else { continue };
            let n = c.connections.fetch_add(1, Ordering::Relaxed);
            let (c, s) = (c.clone(), s.clone());
            std::thread::spawn(move || serve(client, upstream, plan(n, faulty), &c, &s));
        }
    });
    Proxy { port, counts, stop }
}

fn serve(mut client: TcpStream, upstream: u16, fault: Fault, counts: &Counts, stop: &AtomicBool) {
    if let Fault::Unavailable = fault {
        // Read the request's head, answer 503, close.
        let mut buf = [0u8; 8192];
        let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = client.read(&mut buf);
        let _ = client
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        counts.unavailable.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
    let (Ok(mut client_back), Ok(mut server_back)) = (client.try_clone(), server.try_clone()) else { return };
    // Replies flow back untouched.
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_back, &mut client_back);
        let _ = client_back.shutdown(Shutdown::Write);
    });
    let limit = match fault {
        Fault::Reset(n) | Fault::Stall(n) => n,
        _ => usize::MAX,
    };
    let mut forwarded = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let want = buf.len().min(limit - forwarded);
        if want == 0 {
            break;
        }
        match client.read(&mut buf[..want]) {
            Ok(0) | Err(_) => {
                let _ = server.shutdown(Shutdown::Write);
                let _ = back.join();
                return;
            }
            Ok(k) => {
                if server.write_all(&buf[..k]).is_err() {
                    return;
                }
                forwarded += k;
            }
        }
    }
    match fault {
        Fault::Reset(_) => {
            counts.resets.fetch_add(1, Ordering::Relaxed);
            reset(&client);
            reset(&server);
        }
        Fault::Stall(_) => {
            counts.stalls.fetch_add(1, Ordering::Relaxed);
            // Hold both sockets open, reading nothing, until the client gives up (bounded:
            // at most 60 s, or until the proxy stops).
            for _ in 0..600 {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                if client.peek(&mut [0u8; 1]).is_ok_and(|k| k == 0) {
                    break;
                }
            }
            reset(&server);
        }
        _ => {}
    }
}

/// Closes with a TCP reset: linger on, zero seconds.
fn reset(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: setsockopt reads one linger struct we own, on a socket we own.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

#[test]
fn resets_stalls_and_503s_on_the_way_end_with_every_file_verified_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, home, card) = (dir.path().join("data"), dir.path().join("home"), dir.path().join("card"));
    std::fs::create_dir_all(&card).expect("mkdir");
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut want: Vec<String> = (0..30)
        .map(|i| {
            let bytes = random_bytes(150_000 + i * 9_001, &mut seed);
            std::fs::write(card.join(format!("IMG_{i:04}.JPG")), &bytes).expect("write");
            sha256_hex(&bytes)
        })
        .collect();
    want.sort();
    let alice = token(&data, "alice", false);
    let server_port = free_port();
    let _server = start_server(&data, server_port);
    let proxy = start_proxy(server_port, 24);
    let url = format!("http://127.0.0.1:{}/files", proxy.port);
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(originals_upload(
            &card,
            &url,
            &alice,
            // The proxy's fault schedule is counted in connections of one stream per file.
            &["--parts", "1", "--streams", "3", "--stall", "2", "--attempts", "30"],
        ))
        .env("WEDSYNC_HOME", &home)
        .output()
        .expect("run wedsync upload");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    let c = &proxy.counts;
    println!(
        "proxy: {} connections, {} resets, {} stalls, {} 503s",
        c.connections.load(Ordering::Relaxed),
        c.resets.load(Ordering::Relaxed),
        c.stalls.load(Ordering::Relaxed),
        c.unavailable.load(Ordering::Relaxed)
    );
    assert!(out.status.success(), "{text}");
    for (what, n) in [("reset", &c.resets), ("stall", &c.stalls), ("503", &c.unavailable)] {
        assert!(n.load(Ordering::Relaxed) > 0, "no {what} was injected");
    }
    assert!(text.contains("no progress for 2s"), "a stall was cut: {text}");
    assert!(text.contains("503"), "a 503 was retried: {text}");
    let stored = hashes_in(&data.join("uploads"), |_| true);
    let complete: Vec<&String> = stored.iter().filter(|h| want.contains(h)).collect();
    assert_eq!(complete.len(), want.len(), "every file once on the server");
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    let remaining = journal.remaining().expect("remaining");
    assert_eq!(remaining.uploads_queued + remaining.uploads_sending + remaining.failed, 0, "{remaining:?}");
}
