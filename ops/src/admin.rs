//! The embedded admin endpoint (feature `admin`): `/metrics`, `/health/live`,
//! `/health/ready` and, when given a token, control actions
//! (`POST /breakers/{name}/{action}`) over HTTP/1.1.
//!
//! The endpoint is hyper's HTTP/1 server on a single-threaded tokio runtime, on four
//! threads of its own owned by the [`AdminServer`] handle: `tg-admin` serves every
//! connection and only moves bytes; `tg-admin-ready` computes readiness and
//! `tg-admin-scrape` reads the registry for `/metrics`, each once for all the requests
//! waiting on it; `tg-admin-render` renders `/metrics` pieces, in turn for every scrape
//! being sent. This O(breakers) work never holds up the connections' thread and never
//! piles up. The endpoint is built to stay up for the Kubernetes probes whatever a
//! client does (see [`Limits`]):
//!
//! - a connection answers one request per turn of the connections' thread, so the
//!   requests pipelined on other connections never hold a probe up for long;
//! - at most [`Limits::max_connections`] connections; when full, one is closed to make
//!   room: the oldest idle between requests, else the one that has received the most
//!   requests (at least two: a pipelining client), else the oldest that has sent
//!   nothing yet. So neither idle connections nor connections kept mid-request can
//!   lock the probes out; the newcomer is refused only when every connection is on its
//!   first request;
//! - a request head must arrive whole within [`Limits::header_read_timeout`] (also
//!   the time an idle keep-alive connection is kept) and fit in
//!   [`Limits::max_header_bytes`]; bodies are never read, and one over
//!   [`Limits::max_body_bytes`] is refused;
//! - a connection whose client reads nothing for [`Limits::write_timeout`] is cut, and
//!   so is a `/metrics` response not sent within [`Limits::response_timeout`];
//! - `/metrics` is streamed in 32 KiB pieces rendered as the client reads, at most
//!   [`Limits::max_concurrent_scrapes`] at once (503 with `Retry-After` beyond), so a
//!   registry of thousands of breakers is never held rendered whole.
//!
//! A connection answers its pipelined requests one at a time (hyper reads the next
//! only once the previous response is sent), and the probes come on connections of
//! their own, so a client that never reads holds up only itself.
//!
//! The endpoint only reads snapshots and states ([`Breaker::snapshot`](tripgate::Breaker::snapshot)
//! reads atomics), so scrapes never block or slow the breakers' callers.
//!
//! # Control
//!
//! Off by default. With [`AdminOptions::control`] set to a [`ControlToken`] (from a
//! file or an environment variable), `POST /breakers/{name}/{action}` with
//! `Authorization: Bearer <token>` applies one of `force-open`, `force-closed`,
//! `disable`, `metrics-only`, `reset` to the breaker `name`. Only clients on loopback
//! may use it unless [`AdminOptions::remote_control`] is set. Every action is logged
//! (`log`, target `tripgate_ops::admin`) with the breaker, the action and the client's
//! address. Without control: 403. A missing or wrong token: 401, nothing changes. An
//! unknown breaker or action: 404. Another method than POST: 405.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use tripgate_ops::{AdminServer, HealthPolicy, Registry};
//!
//! let registry = Arc::new(Registry::new());
//! let server = AdminServer::start("127.0.0.1:0", Arc::clone(&registry), HealthPolicy::default())?;
//! println!("metrics at http://{}/metrics", server.local_addr());
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

mod control;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod routes;
mod stall;
mod worker;

pub use control::{ControlToken, MIN_TOKEN_BYTES, TOKEN_FILE_VAR, TOKEN_VAR};

use crate::health::HealthPolicy;
use crate::registry::Registry;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use routes::Routes;
use stall::WriteStallGuard;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, Notify};
use tripgate::Clock;

/// The limits that keep the endpoint answering whatever its clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once (1..=65536). Default 256. When full, a new connection
    /// closes the oldest one that is not in the middle of a request; when every one is,
    /// the new connection is closed.
    pub max_connections: usize,
    /// `/metrics` responses being sent at once (1..=1024); beyond, 503 with
    /// `Retry-After: 1`. Default 4.
    pub max_concurrent_scrapes: usize,
    /// Time for a request head to arrive whole, counted from when the server starts
    /// waiting for it: on a new connection, or on a keep-alive one after its last
    /// response (so it is the idle keep-alive timeout too). Default 5 s.
    pub header_read_timeout: Duration,
    /// Time a response write may stay blocked (the client reading nothing) before the
    /// connection is cut. Default 10 s.
    pub write_timeout: Duration,
    /// Time to send a whole `/metrics` response; a client reading it a trickle at a
    /// time is cut at this deadline. Default 30 s.
    pub response_timeout: Duration,
    /// Size of a request head, request line and headers together (8192..=1 MiB);
    /// beyond, 431 and the connection closed. Default 16 KiB.
    pub max_header_bytes: usize,
    /// Largest request body accepted, with a `Content-Length` (none is read: no route
    /// takes one); beyond, or chunked, 413 and the connection closed. Default 1 KiB.
    pub max_body_bytes: u64,
    /// Whether connections are kept open between requests. Default true.
    pub keep_alive: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_concurrent_scrapes: 4,
            header_read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024,
            keep_alive: true,
        }
    }
}

fn check_range<T: PartialOrd + std::fmt::Debug>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> io::Result<()> {
    if value < min || value > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("admin limits: {field} = {value:?} is outside {min:?}..={max:?}"),
        ));
    }
    Ok(())
}

impl Limits {
    /// Checks every field against its allowed range; the error names the field.
    pub fn validate(&self) -> io::Result<()> {
        let ms = Duration::from_millis;
        let hour = Duration::from_secs(3600);
        check_range("max_connections", self.max_connections, 1, 65536)?;
        check_range(
            "max_concurrent_scrapes",
            self.max_concurrent_scrapes,
            1,
            1024,
        )?;
        check_range(
            "header_read_timeout",
            self.header_read_timeout,
            ms(10),
            hour,
        )?;
        check_range("write_timeout", self.write_timeout, ms(10), hour)?;
        check_range("response_timeout", self.response_timeout, ms(10), hour)?;
        check_range("max_header_bytes", self.max_header_bytes, 8192, 1 << 20)?;
        check_range("max_body_bytes", self.max_body_bytes, 0, 1 << 20)
    }
}

/// How an [`AdminServer`] runs: its limits and whether control is on.
#[derive(Debug, Clone, Default)]
pub struct AdminOptions {
    /// Connection, time and size limits.
    pub limits: Limits,
    /// The token enabling `POST /breakers/{name}/{action}`; `None` (the default)
    /// leaves control off.
    pub control: Option<ControlToken>,
    /// Whether control requests are accepted from clients not on loopback. Default
    /// false: even on an endpoint bound to all interfaces, only local clients may act.
    pub remote_control: bool,
}

/// A running admin endpoint. Dropping it stops the server.
pub struct AdminServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// The pending connections the kernel holds for the endpoint before it accepts them.
const LISTEN_BACKLOG: u32 = 1024;

impl AdminServer {
    /// Binds `addr` and serves `registry` on a new thread, with the default
    /// [`Limits`] and control off.
    pub fn start<C: Clock + Clone>(
        addr: impl ToSocketAddrs,
        registry: Arc<Registry<C>>,
        policy: HealthPolicy,
    ) -> io::Result<AdminServer> {
        AdminServer::start_with(addr, registry, policy, AdminOptions::default())
    }

    /// Binds `addr` and serves `registry` on a new thread, as `options` say.
    pub fn start_with<C: Clock + Clone>(
        addr: impl ToSocketAddrs,
        registry: Arc<Registry<C>>,
        policy: HealthPolicy,
        options: AdminOptions,
    ) -> io::Result<AdminServer> {
        options.limits.validate()?;
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let routes = Arc::new(Routes::new(
            registry,
            policy,
            options.limits,
            options.control,
            options.remote_control,
        )?);
        let (stop, stopped) = oneshot::channel();
        // The runtime is built, and the socket bound, on the endpoint's own thread: the
        // caller's thread (a C program's, say) is never made a tokio thread. The bound
        // address, or why binding failed, comes back before `start_with` returns.
        let (bound, bound_rx) = std::sync::mpsc::channel::<io::Result<SocketAddr>>();
        let thread = std::thread::Builder::new()
            .name("tg-admin".into())
            .spawn(move || {
                let started = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                    .and_then(|runtime| {
                        let listener = {
                            let _entered = runtime.enter();
                            let socket = if addr.is_ipv4() {
                                TcpSocket::new_v4()?
                            } else {
                                TcpSocket::new_v6()?
                            };
                            socket.set_reuseaddr(true)?;
                            socket.bind(addr)?;
                            socket.listen(LISTEN_BACKLOG)?
                        };
                        Ok((runtime, listener))
                    });
                let (runtime, listener) = match started {
                    Ok(pair) => pair,
                    Err(e) => {
                        let _ = bound.send(Err(e));
                        return;
                    }
                };
                if bound.send(listener.local_addr()).is_err() {
                    return;
                }
                runtime.block_on(serve(listener, routes, stopped));
                // Dropping the runtime drops every connection still open.
            })?;
        let addr = match bound_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(io::Error::other("the admin thread ended before binding"));
            }
        };
        Ok(AdminServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address bound (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving, closes every connection and waits for the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One open connection, as the accept loop sees it.
struct Slot {
    /// A request is being answered (its response body not yet all handed to hyper).
    busy: AtomicBool,
    /// Requests the connection has received.
    requests: AtomicU64,
    /// The connection's task has ended.
    closed: AtomicBool,
    /// Tells the connection's task to drop the connection.
    evict: Notify,
}

impl Slot {
    /// A connection just accepted: idle, no request yet.
    fn new() -> Slot {
        Slot {
            busy: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }
}

/// Accepts connections until `stopped`, each served by a task of its own.
async fn serve<C: Clock + Clone>(
    listener: TcpListener,
    routes: Arc<Routes<C>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let max = routes.limits.max_connections;
    // Oldest first.
    let mut open: VecDeque<Arc<Slot>> = VecDeque::with_capacity(max);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stopped => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors or the like: let connections close first.
                log::warn!(target: "tripgate_ops::admin", "admin endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // ordering: Acquire pairs with the task's Release store as it ends.
        open.retain(|s| !s.closed.load(Ordering::Acquire));
        if open.len() >= max {
            match to_close(&open) {
                Some(i) => {
                    if let Some(evicted) = open.remove(i) {
                        evicted.evict.notify_one();
                    }
                }
                // Every connection is on its first request: refuse this one.
                None => continue,
            }
        }
        let slot = Arc::new(Slot::new());
        open.push_back(Arc::clone(&slot));
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, peer, slot, Arc::clone(&routes)));
    }
}

/// The connection to close for a newcomer when every slot is taken (`open` oldest
/// first), in this order: the oldest idle between requests; else the one mid-request
/// that has received the most requests, if at least two (a client pipelining requests,
/// which would otherwise keep every slot busy and the probes out); else the oldest that
/// has sent no request yet (an idle attacker's before a probe's, which is newer). A
/// connection on its first request (a probe, a scrape) is never closed for a newcomer.
fn to_close(open: &VecDeque<Arc<Slot>>) -> Option<usize> {
    // ordering: Relaxed: hints. A connection that just became busy and is cut is no
    // worse than one that just became idle and is not.
    let idle = |s: &Arc<Slot>| !s.busy.load(Ordering::Relaxed);
    let requests = |s: &Arc<Slot>| s.requests.load(Ordering::Relaxed);
    open.iter()
        .position(|s| idle(s) && requests(s) > 0)
        .or_else(|| {
            let (i, most) = open
                .iter()
                .map(requests)
                .enumerate()
                .max_by_key(|&(_, n)| n)?;
            (most >= 2).then_some(i)
        })
        .or_else(|| open.iter().position(idle))
}

/// Serves one connection until it closes, fails a limit, or is evicted. Generic over
/// the byte stream so that the fuzz harness ([`fuzzing`]) drives this very function.
async fn connection<C, S>(stream: S, peer: SocketAddr, slot: Arc<Slot>, routes: Arc<Routes<C>>)
where
    C: Clock + Clone,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = routes.limits;
    let io = TokioIo::new(WriteStallGuard::new(stream, limits.write_timeout));
    let this = Arc::clone(&slot);
    let service = service_fn(move |req| {
        // ordering: Relaxed: read by the accept loop as hints only.
        this.busy.store(true, Ordering::Relaxed);
        this.requests.fetch_add(1, Ordering::Relaxed);
        let (routes, slot) = (Arc::clone(&routes), Arc::clone(&this));
        async move {
            next_turn().await;
            let response = routes.answer(&req, peer).await;
            Ok::<_, Infallible>(response.map(|body| Tracked { body, slot }))
        }
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(limits.keep_alive)
        // A client that shuts its sending side once its requests are out still gets
        // the answers (then the connection closes), as HTTP/1.1 allows.
        .half_close(true);
    let served = http.serve_connection(io, service);
    tokio::select! {
        _ = served => {}
        _ = slot.evict.notified() => {}
    }
    // ordering: Release pairs with the accept loop's Acquire load.
    slot.closed.store(true, Ordering::Release);
}

/// Lets every other connection with work go first: one request per turn of the
/// connections' thread. Without it, hyper answers a connection's pipelined requests
/// back to back for as long as tokio's budget lasts, and a probe's connection waits
/// behind each such run of every busy connection (119-160 ms with 256 connections
/// pipelining `/health/live`, 20-42 ms with this). The task wakes itself at once, to
/// the back of the run queue; `tokio::task::yield_now` defers that wake past the I/O
/// driver's turn instead, and with it a stalled `/metrics` response's connection was
/// ended early (`tests/admin_limits.rs`).
async fn next_turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// A response body that marks its connection idle once dropped (sent or abandoned).
struct Tracked {
    body: routes::Body,
    slot: Arc<Slot>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // ordering: Relaxed: a hint for the accept loop (see `serve`).
        self.slot.busy.store(false, Ordering::Relaxed);
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
