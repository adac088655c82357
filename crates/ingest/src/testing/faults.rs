//! A TCP proxy in front of a server (an S3 server, for the deployment tests) whose answers a
//! test can spoil for a while: every request answered with `503 SlowDown`, as S3 answers
//! under strain, or every connection reset. Stopping the server shows only refused
//! connections; these are the failures of a server that is up but failing, or of the
//! network path to it. Connections open when a fault begins are reset too (within a
//! second), as a keep-alive pool would see them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the proxy does to requests now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes every byte both ways.
    None = 0,
    /// Answers every request `503 SlowDown` (its body read first, so the answer is seen).
    Errors = 1,
    /// Resets every connection once its first bytes arrive.
    Resets = 2,
}

/// How long a blocked read waits before it looks at the fault and the stop flag again.
const POLL: Duration = Duration::from_millis(500);
/// The largest request body drained before a 503: more than any part the tests send.
const MAX_DRAIN: usize = 64 << 20;

struct Shared {
    fault: AtomicU8,
    stop: AtomicBool,
    /// Requests answered 503 and connections reset, since the start.
    spoiled: AtomicU64,
}

impl Shared {
    fn fault(&self) -> Fault {
        match self.fault.load(Ordering::Relaxed) {
            1 => Fault::Errors,
            2 => Fault::Resets,
            _ => Fault::None,
        }
    }
}

/// The proxy on a free port of 127.0.0.1; stops accepting when dropped.
pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts passing connections to `upstream` (a port of 127.0.0.1).
    pub fn start(upstream: u16) -> Result<FaultProxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("proxy: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("proxy: {e}"))?.port();
        let shared = Arc::new(Shared {
            fault: AtomicU8::new(0),
            stop: AtomicBool::new(false),
            spoiled: AtomicU64::new(0),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || serve(client, upstream, &shared));
            }
        });
        Ok(FaultProxy { port, shared })
    }

    /// From now on, does `fault` to requests.
    pub fn set(&self, fault: Fault) {
        self.shared.fault.store(fault as u8, Ordering::Relaxed);
    }

    /// Requests answered 503 and connections reset so far.
    pub fn spoiled(&self) -> u64 {
        self.shared.spoiled.load(Ordering::Relaxed)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(client: TcpStream, upstream: u16, shared: &Arc<Shared>) {
    let _ = client.set_read_timeout(Some(POLL));
    match shared.fault() {
        Fault::Errors => answer_503(client, shared),
        Fault::Resets => reset(client, shared),
        Fault::None => {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                // The server is down: the client sees its connection reset.
                return reset(client, shared);
            };
            let _ = server.set_read_timeout(Some(POLL));
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else { return };
            let back = {
                let shared = shared.clone();
                std::thread::spawn(move || pipe(server2, client2, &shared))
            };
            pipe(client, server, shared);
            let _ = back.join();
        }
    }
}

/// Copies `from` to `to` until either closes, the proxy stops, or a fault begins (then
/// both are reset).
fn pipe(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if shared.fault() != Fault::None {
            // Both sockets close with a reset once the other direction's thread lets go.
            shared.spoiled.fetch_add(1, Ordering::Relaxed);
            linger_zero(&from);
            linger_zero(&to);
            return;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Reads one request (head and `Content-Length` body) and answers it as S3 does when it
/// asks clients to slow down.
fn answer_503(mut client: TcpStream, shared: &Shared) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut waited = 0;
    let head_end = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) && waited < 10 => {
                waited += 1
            }
            Err(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_DRAIN);
    let mut left = length.saturating_sub(seen.len() - head_end);
    while left > 0 {
        match client.read(&mut buf[..left.min(64 * 1024)]) {
            Ok(0) | Err(_) => return,
            Ok(n) => left -= n,
        }
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message></Error>";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    shared.spoiled.fetch_add(1, Ordering::Relaxed);
    let _ = client.write_all(answer.as_bytes());
}

/// Resets `client` once its first bytes arrive (or at once if none come).
fn reset(mut client: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 1024];
    let _ = client.read(&mut buf);
    shared.spoiled.fetch_add(1, Ordering::Relaxed);
    linger_zero(&client);
}

/// Makes closing `s` send a reset rather than a FIN (so it is never shut down first).
pub fn linger_zero(s: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: a valid descriptor and a `linger` of the size given.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
}
