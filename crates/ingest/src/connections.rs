//! The connections: the accept loop on hyper (HTTP/1.1 and HTTP/2) with a deadline for
//! each connection's first bytes, an idle timeout, HTTP/2 pings, bounded buffers, a cap
//! from the descriptor limit (the quietest connection makes way), and shutdown within a
//! grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::limits::Limits;

/// hyper grows a connection's read buffer to about 400 KB while a body streams in; with a
/// thousand uploads at once that alone was 400 MB. Bodies are written to disk in pieces of
/// this size anyway.
const CONNECTION_BUFFER: usize = 64 * 1024;
/// Request headers an HTTP/2 client may send (hyper's HTTP/1 buffer bounds them there).
const HEADER_LIST: u32 = 64 * 1024;
/// Over the connection cap, a connection's first bytes must come this soon.
const OVER_CAP_FIRST_BYTES: Duration = Duration::from_secs(1);
/// Over the cap, only a connection quiet this long may be closed to make way.
const EVICTABLE_AFTER: Duration = Duration::from_millis(500);

/// The accept loop: one task per connection, HTTP/1.1 or HTTP/2, each with a deadline for
/// its first bytes and its header, an idle timeout, HTTP/2 keep-alive pings, bounded
/// buffers, and a cap on connections (past it, `/healthz` still answers). On shutdown,
/// stops accepting and lets requests in progress finish, within the grace period.
pub(crate) async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let cap = limits
        .max_connections
        .unwrap_or_else(|| crate::limits::connection_cap(crate::limits::descriptor_limit()));
    let hard_cap = cap + cap / 8 + 1;
    tracing::info!(connections = cap, "connection cap");
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(CONNECTION_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(HEADER_LIST)
        .keep_alive_interval(Some(limits.idle_timeout / 2))
        .keep_alive_timeout(limits.header_timeout);
    // Over the cap: one request per connection, then closed.
    let mut over_cap = builder.clone();
    over_cap.http1().keep_alive(false);
    let open = Arc::new(AtomicUsize::new(0));
    let registry = Registry::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for connections to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = Slot::take(&open);
        // Over the cap, the quietest connection with nothing in flight (a silent one, an
        // idle keep-alive) makes way for the new one; if every one is busy, the new one
        // gets `/healthz` and a 503 for anything else, once; past the hard cap, nothing.
        let evicted = slot.count > cap && registry.evict_quietest();
        if slot.count > hard_cap && !evicted {
            continue; // dropped: closed at once
        }
        let (builder, first_bytes, only_health) = if slot.count > cap && !evicted {
            (over_cap.clone(), OVER_CAP_FIRST_BYTES, true)
        } else {
            (builder.clone(), limits.header_timeout, false)
        };
        let _ = stream.set_nodelay(true);
        let (app, watcher, idle) = (app.clone(), graceful.watcher(), limits.idle_timeout);
        let header_timeout = limits.header_timeout;
        // Registered here, not in its task: the next accept must see it to evict it.
        let activity = Activity::default();
        let (cancel, registered) = registry.add(&activity);
        tokio::spawn(async move {
            let (_slot, _registered) = (slot, registered);
            // A connection that never speaks never reaches hyper's header timeout.
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(first_bytes, stream.peek(&mut first)) => match peeked {
                    Ok(Ok(n)) if n > 0 => activity.0.spoken.store(true, Ordering::Release),
                    _ => return,
                },
                () = cancel.cancelled() => return,
            }
            let service = Connection { app, peer: peer.ip(), activity: activity.clone(), only_health };
            let io = hyper_util::rt::TokioIo::new(Watched { inner: stream, activity: activity.clone() });
            let connection = builder.serve_connection_with_upgrades(io, service).into_owned();
            let watched = watcher.watch(connection);
            tokio::select! {
                ended = watched => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = activity.idle(header_timeout, idle) => {
                    tracing::debug!(%peer, "idle connection closed");
                }
                () = cancel.cancelled() => {
                    tracing::debug!(%peer, "quiet connection closed to make way for a new one");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            connections = open.load(Ordering::Acquire),
            "connections still open after the shutdown grace period are cut"
        );
    }
}

/// The connections being served, each with what it is doing and a way to close it.
#[derive(Clone, Default)]
struct Registry(Arc<std::sync::Mutex<RegistryInner>>);

#[derive(Default)]
struct RegistryInner {
    next: u64,
    connections: std::collections::HashMap<u64, (Activity, tokio_util::sync::CancellationToken)>,
}

/// A connection's entry in the registry, removed when dropped.
struct Registered {
    registry: Registry,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.registry.0.lock() {
            inner.connections.remove(&self.id);
        }
    }
}

impl Registry {
    fn add(&self, activity: &Activity) -> (tokio_util::sync::CancellationToken, Option<Registered>) {
        let cancel = tokio_util::sync::CancellationToken::new();
        // Quiet since it came, not since the epoch: the oldest silent one goes first.
        activity.touch();
        let Ok(mut inner) = self.0.lock() else { return (cancel, None) };
        let id = inner.next;
        inner.next += 1;
        inner.connections.insert(id, (activity.clone(), cancel.clone()));
        (cancel, Some(Registered { registry: self.clone(), id }))
    }

    /// Makes way for a new connection: closes the oldest connection that has not said a
    /// thing yet, else the one quiet the longest among those with nothing in flight and
    /// quiet for at least [`EVICTABLE_AFTER`] (an idle keep-alive, half a preface); false
    /// if there is none. A connection that has spoken but whose request the server has
    /// not read yet (a loaded machine) is thus never closed for a silent one.
    fn evict_quietest(&self) -> bool {
        let Ok(mut inner) = self.0.lock() else { return false };
        let rank = |activity: &Activity| {
            let quiet = activity.quiet_for();
            let spoken = activity.0.spoken.load(Ordering::Acquire);
            match (spoken, activity.0.in_flight.load(Ordering::Acquire)) {
                (false, _) => Some((1, quiet)),
                (true, 0) if quiet >= EVICTABLE_AFTER => Some((0, quiet)),
                _ => None,
            }
        };
        let quietest = inner
            .connections
            .iter()
            .filter_map(|(id, (activity, _))| rank(activity).map(|r| (*id, r)))
            .max_by_key(|(_, r)| *r)
            .map(|(id, _)| id);
        match quietest.and_then(|id| inner.connections.remove(&id)) {
            Some((_, cancel)) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }
}

/// One place among the connections being served; given back when dropped.
struct Slot {
    open: Arc<AtomicUsize>,
    /// Connections open with this one.
    count: usize,
}

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        let count = open.fetch_add(1, Ordering::AcqRel) + 1;
        Slot { open: open.clone(), count }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection is doing: requests in flight, whether one ever came, and when bytes
/// last moved either way.
#[derive(Clone, Default)]
struct Activity(Arc<ActivityInner>);

#[derive(Default)]
struct ActivityInner {
    /// Whether its first bytes have come.
    spoken: std::sync::atomic::AtomicBool,
    in_flight: AtomicUsize,
    requests: AtomicUsize,
    /// Milliseconds since `EPOCH` when bytes last moved.
    last: std::sync::atomic::AtomicU64,
}

static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

impl Activity {
    fn touch(&self) {
        self.0.last.store(EPOCH.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.0.last.load(Ordering::Relaxed));
        EPOCH.elapsed().saturating_sub(last)
    }

    /// Resolves once the connection has had no request in flight and no bytes moving for
    /// `idle` — or, before its first request, for `first` (half an HTTP/2 preface, a
    /// header that never ends).
    async fn idle(&self, first: Duration, idle: Duration) {
        self.touch();
        loop {
            let limit = if self.0.requests.load(Ordering::Acquire) == 0 { first } else { idle };
            let quiet = self.quiet_for();
            if self.0.in_flight.load(Ordering::Acquire) == 0 && quiet >= limit {
                return;
            }
            let wait = limit.saturating_sub(quiet).max(Duration::from_millis(200));
            tokio::time::sleep(wait.min(limit)).await;
        }
    }
}

/// One request in flight on a connection, until its response is made (or it is dropped).
struct InFlight(Activity);

impl InFlight {
    fn new(activity: &Activity) -> InFlight {
        activity.0.requests.fetch_add(1, Ordering::AcqRel);
        activity.0.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0 .0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// The socket, noting when bytes move.
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Activity,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The router for one connection: records the client's address in each request (for the
/// per-address limits), counts requests in flight, and — over the cap — answers only
/// `/healthz`.
#[derive(Clone)]
struct Connection {
    app: axum::Router,
    peer: std::net::IpAddr,
    activity: Activity,
    only_health: bool,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, mut request: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        use tower::ServiceExt as _;
        let in_flight = InFlight::new(&self.activity);
        request.extensions_mut().insert(crate::handlers::Peer(Some(self.peer)));
        let refuse = self.only_health && request.uri().path() != "/healthz";
        let app = self.app.clone();
        Box::pin(async move {
            let response = if refuse {
                axum::response::IntoResponse::into_response(crate::error::TusError::Overloaded {
                    retry_after: 2,
                })
            } else {
                let request = request.map(axum::body::Body::new);
                match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            };
            drop(in_flight);
            Ok(response)
        })
    }
}
