//! `wedsync upload` through proxies that misbehave, for the first requests only so the tests
//! are bounded. One works on TCP connections: it resets them mid-body, stalls them mid-chunk
//! (takes no more bytes and never answers), and answers 503. The other reads HTTP: it loses
//! the replies to creations, PATCHes and final concatenations after the server acted on
//! them, holds replies past the client's stall timeout, turns replies into 502s, and refuses
//! requests with 401, 403, 412 and 413. Every file must end on the server exactly once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{
    assert_journal_settled, free_port, hashes_in, holdings, originals_upload, random_bytes, sha256_hex,
    start_server, token, wedsync_at,
};
use crate::upload::our_server;

/// A listener on 127.0.0.1 that hands each connection, numbered from 0 in the order they
/// arrive, to a thread of its own, until it is dropped.
struct Listening {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `handle(connection, its number, the stop flag)` runs for every connection.
fn listen(handle: impl Fn(TcpStream, usize, &AtomicBool) + Send + Sync + 'static) -> Listening {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (connections, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let (c, s, handle) = (connections.clone(), stop.clone(), Arc::new(handle));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            if s.load(Ordering::Acquire) {
                return;
            }
            let Ok(client) = client else { continue };
            let n = c.fetch_add(1, Ordering::Relaxed);
            let (s, handle) = (s.clone(), handle.clone());
            std::thread::spawn(move || handle(client, n, &s));
        }
    });
    Listening { port, connections, stop }
}

/// What the TCP proxy does to one connection.
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
    resets: AtomicUsize,
    stalls: AtomicUsize,
    unavailable: AtomicUsize,
}

/// The TCP proxy's plan: connection n (from 0) gets `plan(n)`; after `faulty` connections,
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

struct TcpProxy {
    listening: Listening,
    counts: Arc<Counts>,
}

fn start_tcp_proxy(upstream: u16, faulty: usize) -> TcpProxy {
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let listening = listen(move |client, n, stop| serve(client, upstream, plan(n, faulty), &c, stop));
    TcpProxy { listening, counts }
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
                if peer_closed(&client) {
                    break;
                }
            }
            reset(&server);
        }
        _ => {}
    }
}

/// Whether the client has closed its side (it cut the request), even with request bytes
/// still unread in our buffer, which a `peek` would return first: Linux says so with
/// POLLRDHUP.
#[cfg(target_os = "linux")]
fn peer_closed(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd { fd: stream.as_raw_fd(), events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: poll reads and writes one pollfd we own, for a socket we hold open.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(not(target_os = "linux"))]
fn peer_closed(stream: &TcpStream) -> bool {
    stream.peek(&mut [0u8; 1]).is_ok_and(|k| k == 0)
}

/// Closes with a TCP reset: linger on, zero seconds.
fn reset(stream: &TcpStream) {
    wedsync_ingest::testing::faults::linger_zero(stream);
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
    let proxy = start_tcp_proxy(server_port, 24);
    let url = format!("http://127.0.0.1:{}/files", proxy.listening.port);
    let (code, text) = wedsync_at(
        &home,
        &originals_upload(
            &card,
            &url,
            &alice,
            // The proxy's fault schedule is counted in connections of one stream per file.
            &["--parts", "1", "--streams", "3", "--stall", "2", "--attempts", "30"],
        ),
    );
    let c = &proxy.counts;
    println!(
        "proxy: {} connections, {} resets, {} stalls, {} 503s",
        proxy.listening.connections.load(Ordering::Relaxed),
        c.resets.load(Ordering::Relaxed),
        c.stalls.load(Ordering::Relaxed),
        c.unavailable.load(Ordering::Relaxed)
    );
    assert_eq!(code, 0, "{text}");
    for (what, n) in [("reset", &c.resets), ("stall", &c.stalls), ("503", &c.unavailable)] {
        assert!(n.load(Ordering::Relaxed) > 0, "no {what} was injected");
    }
    assert!(text.contains("no progress for 2s"), "a stall was cut: {text}");
    assert!(text.contains("503"), "a 503 was retried: {text}");
    let stored = hashes_in(&data.join("uploads"), |_| true);
    let complete: Vec<&String> = stored.iter().filter(|h| want.contains(h)).collect();
    assert_eq!(complete.len(), want.len(), "every file once on the server");
    assert_journal_settled(&home);
}

/// A request, as the HTTP proxy's plan counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Options,
    Head,
    Patch,
    /// POST of a whole or a partial upload (no `Upload-Concat`, or `partial`).
    Create,
    /// POST of a final upload (`Upload-Concat: final;…`): the server joins the parts.
    Final,
    Other,
}

/// What the HTTP proxy does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Pass,
    /// Forward it, take the server's whole reply (so the server did act), then reset the
    /// client's connection without a reply.
    LoseReply,
    /// Forward it, take the reply, and hold it for [`DELAY`] before sending it on: the
    /// client has cut the request by then.
    Delay,
    /// Answer this status without forwarding.
    Answer(u16),
    /// Forward it, take the reply, and answer 502 instead: a gateway that lost the reply.
    ForwardThen502,
    /// Forward it with one byte of its body flipped and its `Upload-Checksum` dropped:
    /// bytes damaged on the way where no chunk checksum can catch them.
    Corrupt,
}

/// Longer than the `--stall 2` the test gives the client.
const DELAY: Duration = Duration::from_secs(4);

/// The HTTP proxy's faults: the n-th request (from 0) of a kind, and what it gets. Every
/// other request passes, and every request once the proxy is healed. The numbers fit the
/// test's card, whose first run makes some 50 creations, 60 PATCHes, 12 finals and a HEAD
/// after each final and each retry; every fault must fire. Once all have, the token is
/// "revoked": the next request gets 401, which stops the client's run (every request
/// would be refused alike), so it comes last.
const PLAN: &[(Kind, usize, Act)] = &[
    (Kind::Create, 1, Act::LoseReply),
    (Kind::Create, 4, Act::Delay),
    (Kind::Create, 7, Act::ForwardThen502),
    (Kind::Create, 13, Act::LoseReply),
    (Kind::Create, 16, Act::Answer(413)),
    (Kind::Create, 19, Act::Answer(502)),
    (Kind::Patch, 2, Act::LoseReply),
    (Kind::Patch, 5, Act::Delay),
    (Kind::Patch, 8, Act::Answer(403)),
    (Kind::Patch, 11, Act::ForwardThen502),
    (Kind::Patch, 14, Act::Answer(502)),
    (Kind::Patch, 17, Act::Answer(412)),
    (Kind::Patch, 20, Act::LoseReply),
    (Kind::Final, 0, Act::LoseReply),
    (Kind::Final, 2, Act::ForwardThen502),
    (Kind::Final, 4, Act::Delay),
    (Kind::Final, 6, Act::LoseReply),
    (Kind::Head, 1, Act::Answer(502)),
    (Kind::Head, 3, Act::LoseReply),
];

/// What the HTTP proxy saw and did.
#[derive(Default)]
struct Log {
    /// Requests of each kind so far: the next one's number in [`PLAN`].
    seen: HashMap<Kind, usize>,
    injected: Vec<(Kind, usize, Act)>,
    /// Requests the client gave up before their end (a part cancelled when another part of
    /// its file failed): never forwarded, as a proxy that buffers requests does.
    cut: usize,
    /// What the proxy could not handle: a bug of the test, unless the server failed.
    problems: Vec<String>,
    /// The 401 that follows the plan was given.
    revoked: bool,
}

struct HttpProxy {
    listening: Listening,
    log: Arc<Mutex<Log>>,
    healed: Arc<AtomicBool>,
}

impl HttpProxy {
    /// From now on every request passes.
    fn heal(&self) {
        self.healed.store(true, Ordering::Release);
    }

    /// Faults `act` injected into requests of `kind` (any kind: `None`).
    fn injected(&self, kind: Option<Kind>, act: Act) -> usize {
        let log = self.log.lock().expect("log");
        log.injected.iter().filter(|&&(k, _, a)| a == act && kind.is_none_or(|kind| kind == k)).count()
    }

    /// Each kind of fault, how often and where; the requests seen.
    fn summary(&self) -> String {
        let log = self.log.lock().expect("log");
        let mut acts: Vec<Act> = Vec::new();
        for &(_, _, act) in &log.injected {
            if !acts.contains(&act) {
                acts.push(act);
            }
        }
        let mut lines: Vec<String> = acts
            .iter()
            .map(|&act| {
                let at: Vec<String> = log
                    .injected
                    .iter()
                    .filter(|i| i.2 == act)
                    .map(|(kind, n, _)| format!("{kind:?} #{n}"))
                    .collect();
                format!("  {act:?}: {} ({})", at.len(), at.join(", "))
            })
            .collect();
        lines.push(format!("  requests: {:?}, {} cut by the client", log.seen, log.cut));
        format!("proxy faults:\n{}", lines.join("\n"))
    }
}

/// What the HTTP proxy does: its faults (see [`PLAN`]), and whether a 401 follows them.
#[derive(Clone, Copy)]
struct Plan {
    faults: &'static [(Kind, usize, Act)],
    revoke: bool,
}

fn start_http_proxy(upstream: u16, plan: Plan) -> HttpProxy {
    let (log, healed) = (Arc::new(Mutex::new(Log::default())), Arc::new(AtomicBool::new(false)));
    let (l, h) = (log.clone(), healed.clone());
    let listening = listen(move |client, _, _| exchange(client, upstream, plan, &l, &h));
    HttpProxy { listening, log, healed }
}

/// One request on its own connection, and its reply as the plan says.
fn exchange(mut client: TcpStream, upstream: u16, plan: Plan, log: &Mutex<Log>, healed: &AtomicBool) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let request = match receive(&mut client) {
        Received::Request(r) => r,
        Received::Nothing => return,
        Received::Cut => {
            log.lock().expect("log").cut += 1;
            return;
        }
        Received::Unreadable(why) => {
            log.lock().expect("log").problems.push(why);
            reset(&client);
            return;
        }
    };
    let kind = request.kind();
    let act = {
        let mut log = log.lock().expect("log");
        let seen = log.seen.entry(kind).or_default();
        let n = *seen;
        *seen += 1;
        let mut planned = plan.faults.iter().find(|&&(k, i, _)| k == kind && i == n).map(|&(_, _, act)| act);
        let all_fired = log.injected.len() >= plan.faults.len();
        if plan.revoke && planned.is_none() && !log.revoked && all_fired && kind != Kind::Options {
            log.revoked = true;
            planned = Some(Act::Answer(401));
        }
        match planned {
            Some(act) if !healed.load(Ordering::Acquire) => {
                log.injected.push((kind, n, act));
                act
            }
            _ => Act::Pass,
        }
    };
    if let Act::Answer(status) = act {
        return answer(&mut client, status);
    }
    let request = if act == Act::Corrupt { request.damaged() } else { request };
    let Some(reply) = forward(upstream, &request) else {
        log.lock().expect("log").problems.push(format!("no reply from the server to {}", request.line()));
        return reset(&client);
    };
    match act {
        Act::LoseReply => reset(&client),
        Act::ForwardThen502 => answer(&mut client, 502),
        Act::Delay => {
            std::thread::sleep(DELAY);
            relay(&mut client, &reply);
        }
        _ => relay(&mut client, &reply),
    }
}

/// A request as the client sent it: its head (without the blank line) and its body.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn line(&self) -> &str {
        self.head.split("\r\n").next().unwrap_or("")
    }

    /// The request with its body's middle byte flipped and no `Upload-Checksum`.
    fn damaged(self) -> Request {
        let head = self
            .head
            .split("\r\n")
            .filter(|line| !line.to_ascii_lowercase().starts_with("upload-checksum:"))
            .collect::<Vec<_>>()
            .join("\r\n");
        let mut body = self.body;
        let middle = body.len() / 2;
        if let Some(byte) = body.get_mut(middle) {
            *byte ^= 0x20;
        }
        Request { head, body }
    }

    fn kind(&self) -> Kind {
        let concat = header_of(&self.head, "Upload-Concat").unwrap_or("");
        match self.line().split(' ').next().unwrap_or("") {
            "OPTIONS" => Kind::Options,
            "HEAD" => Kind::Head,
            "PATCH" => Kind::Patch,
            "POST" if concat.starts_with("final") => Kind::Final,
            "POST" => Kind::Create,
            _ => Kind::Other,
        }
    }
}

enum Received {
    Request(Request),
    /// The client closed before sending a byte.
    Nothing,
    /// The client went away mid-request.
    Cut,
    Unreadable(String),
}

/// One request off the client's connection: the head up to the blank line, then the body
/// by its Content-Length (the client always sends one).
fn receive(stream: &mut TcpStream) -> Received {
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let end = loop {
        if let Some(at) = find(&raw, b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if raw.is_empty() => return Received::Nothing,
            Ok(0) | Err(_) => return Received::Cut,
            Ok(k) => raw.extend_from_slice(&buf[..k]),
        }
    };
    let mut body = raw.split_off(end + 4);
    raw.truncate(end);
    let head = String::from_utf8_lossy(&raw).into_owned();
    if header_of(&head, "Transfer-Encoding").is_some() {
        return Received::Unreadable(format!("a body without a Content-Length: {head}"));
    }
    let length = match header_of(&head, "Content-Length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Received::Unreadable(format!("a bad Content-Length: {head}")),
    };
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Received::Cut,
            Ok(k) => body.extend_from_slice(&buf[..k]),
        }
    }
    if body.len() > length {
        return Received::Unreadable(format!("bytes after the body (pipelining?): {head}"));
    }
    Received::Request(Request { head, body })
}

fn find(bytes: &[u8], what: &[u8]) -> Option<usize> {
    bytes.windows(what.len()).position(|w| w == what)
}

/// The value of header `name` (any case) in a message head.
fn header_of<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// `head` with `Connection: close` in place of its own connection headers, and the blank
/// line that ends it: one message per connection, so keep-alive never mixes requests up.
fn closing(head: &str) -> Vec<u8> {
    let mut lines = head.split("\r\n");
    let mut out = format!("{}\r\n", lines.next().unwrap_or(""));
    for line in lines {
        let name = line.split_once(':').map_or("", |(k, _)| k.trim());
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// Sends `request` to the server on a connection of its own and returns its whole reply
/// (the server closes after it), or `None` when no reply came.
fn forward(upstream: u16, request: &Request) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    server.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    // A server that answers before reading the whole body may close without reading the
    // rest: the write fails, and the reply still counts.
    let _ = server.write_all(&[closing(&request.head), request.body.clone()].concat());
    let mut reply = Vec::new();
    let _ = server.read_to_end(&mut reply);
    find(&reply, b"\r\n\r\n").map(|_| reply)
}

/// Sends a reply on with `Connection: close`, then closes.
fn relay(client: &mut TcpStream, reply: &[u8]) {
    let end = find(reply, b"\r\n\r\n").unwrap_or(reply.len());
    let head = String::from_utf8_lossy(&reply[..end]);
    let body = reply.get(end + 4..).unwrap_or_default();
    let _ = client.write_all(&[closing(&head), body.to_vec()].concat());
    let _ = client.shutdown(Shutdown::Write);
}

/// The proxy's own answer, with a short body.
fn answer(client: &mut TcpStream, status: u16) {
    let reason = match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        _ => "Bad Gateway",
    };
    let body = format!("{reason} (the test proxy)");
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    relay(client, reply.as_bytes());
}

#[test]
fn lost_replies_refusals_and_delays_end_with_every_file_on_the_server_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, home, card) = (dir.path().join("data"), dir.path().join("home"), dir.path().join("card"));
    std::fs::create_dir_all(&card).expect("mkdir");
    // At 64 KiB chunks: two files go whole, their bytes in the creation POST; one as three
    // parts of a chunk each; the others as 3 or 4 parts of several chunks, and a final.
    let sizes = [
        20_000, 60_000, 150_000, 310_000, 380_000, 450_000, 520_000, 600_000, 680_000, 750_000, 820_000,
        900_000, 960_000, 1_000_000,
    ];
    let mut seed = 0x0bad_cafe_f00d_d00du64;
    let want: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let bytes = random_bytes(len, &mut seed);
            std::fs::write(card.join(format!("IMG_{i:04}.JPG")), &bytes).expect("write");
            sha256_hex(&bytes)
        })
        .collect();
    let alice = token(&data, "alice", false);
    let admin = token(&data, "ops", true);
    let server_port = free_port();
    let _server = start_server(&data, server_port);
    let proxy = start_http_proxy(server_port, Plan { faults: PLAN, revoke: true });
    let url = format!("http://127.0.0.1:{}/files", proxy.listening.port);
    let args = originals_upload(
        &card,
        &url,
        &alice,
        &["--parts", "4", "--streams", "3", "--stall", "2", "--attempts", "30"],
    );

    // Run 1, through every fault.
    let (code, out) = wedsync_at(&home, &args);
    println!("{}", proxy.summary());
    let problems = std::mem::take(&mut proxy.log.lock().expect("log").problems);
    assert_eq!(problems, Vec::<String>::new(), "the proxy itself failed");
    let wanted = [
        (Some(Kind::Create), Act::LoseReply),
        (Some(Kind::Patch), Act::LoseReply),
        (Some(Kind::Final), Act::LoseReply),
        (None, Act::Delay),
        (None, Act::ForwardThen502),
        (None, Act::Answer(502)),
        (None, Act::Answer(401)),
        (None, Act::Answer(403)),
        (None, Act::Answer(412)),
        (None, Act::Answer(413)),
    ];
    for (kind, act) in wanted {
        assert!(
            proxy.injected(kind, act) > 0,
            "no {act:?} was injected into {kind:?}: the plan does not fit"
        );
    }
    // The refusals are causes to remove, not to retry: the run fails and says why.
    assert_ne!(code, 0, "run 1 reported success with refused uploads: {out}");
    // Not every refusal need be named: one that hits a part of a file while an error of
    // another part ends the attempt is never seen by the client.
    let named: Vec<&str> = ["401", "403", "412", "413"].into_iter().filter(|s| out.contains(s)).collect();
    println!("refusals named in the output: {named:?}");
    assert!(!named.is_empty(), "the output names no refusal: {out}");
    // The transient faults were survived in the run; the refusals are kept as such, and the
    // 401 stopped the run, leaving what it had not reached queued (nothing is lost).
    assert!(out.contains("stopped: the destination refused the token (401)"), "{out}");
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    let remaining = journal.remaining().expect("remaining");
    assert!(remaining.failed > 0, "no upload was marked refused: {remaining:?}");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    drop(journal);

    // Run 2, the cause removed: the same command through the same proxy, healed. (Straight to
    // the server would be another destination URL, which the journal keeps apart.)
    proxy.heal();
    let (code, out) = wedsync_at(&home, &args);
    assert_eq!(code, 0, "{out}");

    let held = holdings(server_port, &admin, &data);
    println!("{} orphaned uploads (still receiving)\n{}", held.receiving, proxy.summary());
    held.assert_each_file_once(&want);
    assert_journal_settled(&home);
}

/// Defect 7: an upload the server quarantined (its bytes did not match the declared
/// SHA-256) failed for good. The client must send the good bytes to a new upload.
#[test]
fn an_upload_the_server_quarantined_is_sent_again_with_good_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = our_server(dir.path());
    let card = dir.path().join("card");
    std::fs::create_dir_all(&card).expect("mkdir");
    let mut seed = 0x0dd_ba11u64;
    let bytes = random_bytes(250_000, &mut seed);
    std::fs::write(card.join("IMG_0001.JPG"), &bytes).expect("write");
    // The second chunk (the first PATCH; the first chunk goes with the creation) is damaged.
    const CORRUPT: &[(Kind, usize, Act)] = &[(Kind::Patch, 0, Act::Corrupt)];
    let proxy = start_http_proxy(server.port, Plan { faults: CORRUPT, revoke: false });
    let url = format!("http://127.0.0.1:{}/files", proxy.listening.port);
    let (code, out) =
        wedsync_at(&server.home, &originals_upload(&card, &url, &server.alice, &["--parts", "1"]));
    assert_eq!(proxy.injected(Some(Kind::Patch), Act::Corrupt), 1, "{}", proxy.summary());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("quarantined"), "the quarantine was seen and retried: {out}");
    let held = holdings(server.port, &server.admin, &server.data);
    assert_eq!(held.quarantined, 1, "{held:?}");
    assert_eq!(held.complete.get(&sha256_hex(&bytes)).map(Vec::len), Some(1), "{held:?}");
    assert_eq!(held.complete.len(), 1, "nothing else complete: {held:?}");
    assert_journal_settled(&server.home);
}
