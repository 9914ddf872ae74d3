//! What each request gets: routing, the responses, and the control actions.

use super::control::{self, ControlToken, RefusalLog};
use super::stall::{self, Job, RenderedBody};
use super::worker::Worker;
use super::Limits;
use crate::exposition::{self, Chunks};
use crate::health::{self, HealthPolicy, HealthReport};
use crate::registry::{NamedSnapshot, Registry};
use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode, Version};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tripgate::Clock;

/// A response body: whole or streamed.
pub(super) type Body = UnsyncBoxBody<Bytes, io::Error>;

/// The size of each piece of a streamed `/metrics` body.
const METRICS_CHUNK_BYTES: usize = 32 * 1024;

/// A readiness answer: status and JSON body.
type Readiness = (StatusCode, Bytes);

/// Everything a request may read, shared by every connection.
pub(super) struct Routes<C: Clock + Clone> {
    registry: Arc<Registry<C>>,
    pub(super) limits: Limits,
    /// One permit per `/metrics` response being sent.
    scrapes: Arc<Semaphore>,
    control: Option<ControlToken>,
    remote_control: bool,
    /// The warnings of refused control requests, rate-limited.
    refusals: RefusalLog,
    /// Readiness, computed off the connections' thread (O(breakers)).
    readiness: Worker<Readiness>,
    /// The registry's readings for `/metrics`, likewise.
    /// Every breaker's reading and the fleet's families.
    snapshots: Worker<(Arc<Vec<NamedSnapshot>>, String)>,
    /// Renders `/metrics` pieces, in turn for every scrape being sent.
    render: std::sync::mpsc::Sender<Job>,
}

fn whole(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    whole(status, "text/plain; charset=utf-8", body)
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    whole(status, "application/json", body.to_string())
}

fn status_of(report: &HealthReport) -> StatusCode {
    StatusCode::from_u16(report.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn unavailable(what: &str) -> Response<Body> {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{what} could not be computed (the admin endpoint is stopping)\n"),
    )
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed: use {allow}\n"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// `%XX` escapes decoded; `None` when malformed or not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let mut out = Vec::with_capacity(segment.len());
    let mut bytes = segment.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            // Two hex digits, nothing else (`from_str_radix` alone would take `%+A`).
            let (high, low) = (hex_digit(bytes.next()?)?, hex_digit(bytes.next()?)?);
            out.push(high << 4 | low);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// The value of an ASCII hex digit.
fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// A `/metrics` body in the making: the readings, and the permit it holds until dropped.
struct Scrape {
    chunks: Chunks,
    _permit: OwnedSemaphorePermit,
}

impl Iterator for Scrape {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        self.chunks.next()
    }
}

impl<C: Clock + Clone> Routes<C> {
    /// The routes of `registry`, starting their worker threads (named `tg-admin-ready`,
    /// `tg-admin-scrape` and `tg-admin-render`).
    pub(super) fn new(
        registry: Arc<Registry<C>>,
        policy: HealthPolicy,
        limits: Limits,
        control: Option<ControlToken>,
        remote_control: bool,
    ) -> io::Result<Self> {
        let r = Arc::clone(&registry);
        let readiness = Worker::spawn("tg-admin-ready", move || {
            let (status, body) = health::readiness_text(&r, &policy);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Bytes::from(body))
        })?;
        let r = Arc::clone(&registry);
        let snapshots = Worker::spawn("tg-admin-scrape", move || {
            (Arc::new(r.snapshots()), exposition::fleet_lines(&r))
        })?;
        let render = stall::render_thread("tg-admin-render")?;
        Ok(Routes {
            registry,
            limits,
            scrapes: Arc::new(Semaphore::new(limits.max_concurrent_scrapes)),
            control,
            remote_control,
            refusals: RefusalLog::new(),
            readiness,
            snapshots,
            render,
        })
    }

    /// The answer to `req` from `peer`.
    pub(super) async fn answer<B: http_body::Body>(
        &self,
        req: &Request<B>,
        peer: SocketAddr,
    ) -> Response<Body> {
        // Bodies are never read; one larger than allowed (or of unknown length) is refused
        // and the connection closed rather than drained.
        let declared = req.body().size_hint().upper();
        if declared.map_or(true, |n| n > self.limits.max_body_bytes) {
            let mut r = text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body too large: at most {} bytes, with a Content-Length\n",
                    self.limits.max_body_bytes
                ),
            );
            r.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        // RFC 9112, 3.2: exactly one Host in HTTP/1.1, at most one before.
        let hosts = req.headers().get_all(HOST).iter().count();
        if hosts > 1 || (hosts == 0 && req.version() >= Version::HTTP_11) {
            return text(
                StatusCode::BAD_REQUEST,
                "bad request: send exactly one Host header\n",
            );
        }
        let path = req.uri().path();
        let read = matches!(*req.method(), Method::GET | Method::HEAD);
        match path {
            "/metrics" | "/health/live" | "/healthz" | "/health/ready" | "/readyz" if !read => {
                method_not_allowed("GET, HEAD")
            }
            "/metrics" => self.metrics().await,
            "/health/live" | "/healthz" => {
                let report = health::liveness();
                json(status_of(&report), &report.body)
            }
            "/health/ready" | "/readyz" => match self.readiness.get().await {
                Some(answer) => {
                    let (status, body) = &*answer;
                    whole(*status, "application/json", body.clone())
                }
                None => unavailable("readiness"),
            },
            _ => match path
                .strip_prefix("/breakers/")
                .and_then(|p| p.split_once('/'))
            {
                Some((name, action)) => self.control(req, name, action, peer),
                None => text(
                    StatusCode::NOT_FOUND,
                    "not found: try /metrics, /health/live, /health/ready\n",
                ),
            },
        }
    }

    /// The exposition, streamed piece by piece, or 503 while `max_concurrent_scrapes`
    /// others are being sent.
    async fn metrics(&self) -> Response<Body> {
        let Ok(permit) = Arc::clone(&self.scrapes).try_acquire_owned() else {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "too many scrapes at once (max_concurrent_scrapes = {}): retry\n",
                    self.limits.max_concurrent_scrapes
                ),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        };
        let Some(reading) = self.snapshots.get().await else {
            return unavailable("the exposition");
        };
        let (snaps, fleet) = &*reading;
        let scrape = Scrape {
            chunks: Chunks::shared(Arc::clone(snaps), METRICS_CHUNK_BYTES).with_tail(fleet.clone()),
            _permit: permit,
        };
        let body = RenderedBody::new(scrape, self.render.clone(), self.limits.response_timeout)
            .boxed_unsync();
        let mut r = Response::new(body);
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(exposition::CONTENT_TYPE),
        );
        r
    }

    /// `POST /breakers/{name}/{action}`.
    fn control<B>(
        &self,
        req: &Request<B>,
        name: &str,
        action: &str,
        peer: SocketAddr,
    ) -> Response<Body> {
        if req.method() != Method::POST {
            return method_not_allowed("POST");
        }
        let Some(token) = &self.control else {
            return text(
                StatusCode::FORBIDDEN,
                "control is off: start the endpoint with a control token to enable it\n",
            );
        };
        let refused = |why: &str| self.refusals.refused(name, action, peer, why);
        if !self.remote_control && !peer.ip().is_loopback() {
            refused("client not on loopback");
            return text(
                StatusCode::FORBIDDEN,
                "control is only accepted from loopback clients\n",
            );
        }
        let mut authorizations = req.headers().get_all(AUTHORIZATION).iter();
        let authorization = authorizations.next().map(HeaderValue::as_bytes);
        if authorizations.next().is_some() {
            refused("more than one Authorization header");
            return text(
                StatusCode::BAD_REQUEST,
                "bad request: send one Authorization header\n",
            );
        }
        if !token.admits(authorization) {
            refused("missing or wrong token");
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "unauthorized: send Authorization: Bearer <token>\n",
            );
            r.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
            return r;
        }
        let Some(apply) = control::action::<C>(action) else {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action {action:?}: one of {}\n",
                    control::action_names::<C>()
                ),
            );
        };
        let breaker = percent_decode(name).and_then(|n| Some((self.registry.get(&n)?, n)));
        let Some((breaker, name)) = breaker else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no breaker named {name:?}\n"),
            );
        };
        let from = breaker.state();
        apply(&breaker);
        let to = breaker.state();
        log::info!(
            target: "tripgate_ops::admin",
            "admin control: breaker {name:?} action {action} by {peer}: {} -> {}",
            from.name(),
            to.name()
        );
        json(
            StatusCode::OK,
            &serde_json::json!({
                "breaker": name,
                "action": action,
                "from": from.name(),
                "state": to.name(),
            }),
        )
    }
}
