//! The embedded admin endpoint (feature `admin`): `/metrics`, `/health/live`,
//! `/health/ready` over HTTP/1.1, on a thread of its own.
//!
//! Built on `tiny_http` (no async runtime). The server thread only takes snapshots
//! ([`Breaker::snapshot`](tripgate::Breaker::snapshot) reads atomics), so scrapes never
//! block or slow the breakers' callers. Bind it to the pod's address for Kubernetes
//! probes and Prometheus; tests bind `127.0.0.1:0`.
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

use crate::exposition;
use crate::health::{self, HealthPolicy, HealthReport};
use crate::registry::Registry;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use tiny_http::{Header, Method, Response, Server};
use tripgate::Clock;

/// A running admin endpoint. Dropping it stops the server.
pub struct AdminServer {
    server: Arc<Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

fn json_response(report: &HealthReport) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(report.body_text())
        .with_status_code(report.status)
        .with_header(header("Content-Type", "application/json"))
}

impl AdminServer {
    /// Binds `addr` and serves `registry` on a new thread.
    pub fn start<C: Clock + Clone>(
        addr: impl ToSocketAddrs,
        registry: Arc<Registry<C>>,
        policy: HealthPolicy,
    ) -> io::Result<AdminServer> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let server = Server::http(addr).map_err(io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("not an IP listener"))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("tripgate-admin".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let path = request.url().split('?').next().unwrap_or("").to_string();
                    let response = match (request.method(), path.as_str()) {
                        (Method::Get | Method::Head, "/metrics") => {
                            Response::from_string(exposition::render(&registry))
                                .with_header(header("Content-Type", exposition::CONTENT_TYPE))
                        }
                        (Method::Get | Method::Head, "/health/live" | "/healthz") => {
                            json_response(&health::liveness())
                        }
                        (Method::Get | Method::Head, "/health/ready" | "/readyz") => {
                            json_response(&health::readiness(&registry, &policy))
                        }
                        (Method::Get | Method::Head, _) => Response::from_string(
                            "not found: try /metrics, /health/live, /health/ready\n",
                        )
                        .with_status_code(404),
                        _ => Response::from_string("method not allowed\n")
                            .with_status_code(405)
                            .with_header(header("Allow", "GET, HEAD")),
                    };
                    let _ = request.respond(response);
                }
            })?;
        Ok(AdminServer {
            server,
            addr,
            thread: Some(thread),
        })
    }

    /// The address bound (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.server.unblock();
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
