//! The admin endpoint's request handling over an in-memory stream, for the fuzz target
//! (feature `fuzzing`; not a stable API).
//!
//! [`Harness::serve`] writes arbitrary bytes as one client connection's whole input and
//! reads everything the endpoint answers until it closes the connection. The bytes go
//! through the endpoint's own `connection` function: the same hyper HTTP/1 builder,
//! limits, routes, workers and control as a TCP connection, with only the socket
//! replaced by [`tokio::io::duplex`].

use super::routes::Routes;
use super::{connection, ControlToken, Limits, Slot};
use crate::health::HealthPolicy;
use crate::registry::Registry;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tripgate::{ManualClock, State};

/// The control token the harness's endpoint accepts.
pub const TOKEN: &str = "fuzz-control-token-0123456789";

/// The breakers the harness's registry holds (`db` is critical).
pub const BREAKERS: [&str; 3] = ["db", "cache", "a b"];

/// The longest one input may keep the endpoint busy before [`Harness::serve`] gives up
/// on it (a hang: the endpoint must close every connection whose input has ended).
pub const HANG: Duration = Duration::from_secs(10);

/// An endpoint (default [`Limits`], control on with [`TOKEN`]) and its registry, built
/// once and reused for every input.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    routes: Arc<Routes<ManualClock>>,
    registry: Arc<Registry<ManualClock>>,
}

impl Harness {
    /// A harness on a registry of [`BREAKERS`] on a manual clock.
    pub fn new() -> std::io::Result<Harness> {
        let registry = Arc::new(Registry::with_clock(ManualClock::new()));
        for name in BREAKERS {
            registry
                .breaker(name)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        registry.set_critical("db", true);
        let routes = Arc::new(Routes::new(
            Arc::clone(&registry),
            HealthPolicy::default(),
            Limits::default(),
            Some(ControlToken::new(TOKEN)?),
            false,
        )?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Harness {
            runtime,
            routes,
            registry,
        })
    }

    /// The registry the endpoint serves.
    pub fn registry(&self) -> &Registry<ManualClock> {
        &self.registry
    }

    /// Every breaker's state, in [`BREAKERS`] order.
    pub fn states(&self) -> Vec<State> {
        BREAKERS
            .iter()
            .filter_map(|n| self.registry.get(n).map(|b| b.state()))
            .collect()
    }

    /// Puts every breaker back to closed.
    pub fn reset(&self) {
        for name in BREAKERS {
            if let Some(b) = self.registry.get(name) {
                b.reset();
            }
        }
    }

    /// `input` as the whole of one connection from `peer` (its write side closed once
    /// sent); what the endpoint wrote back until it closed the connection. `None` if
    /// the connection was still open [`HANG`] after the input ended.
    pub fn serve_from(&self, input: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let slot = Arc::new(Slot::new());
        let routes = Arc::clone(&self.routes);
        self.runtime.block_on(async move {
            let served = tokio::spawn(connection(server, peer, slot, routes));
            let (mut rx, mut tx) = tokio::io::split(&mut client);
            let send = async {
                // The endpoint may close (or stop reading) before taking everything.
                let _ = tx.write_all(input).await;
                let _ = tx.shutdown().await;
            };
            let mut out = Vec::new();
            let receive = async {
                let _ = rx.read_to_end(&mut out).await;
            };
            let both = async {
                tokio::join!(send, receive);
                let _ = served.await;
            };
            tokio::time::timeout(HANG, both).await.ok()?;
            Some(out)
        })
    }

    /// [`serve_from`](Harness::serve_from) a loopback client.
    pub fn serve(&self, input: &[u8]) -> Option<Vec<u8>> {
        self.serve_from(input, SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)))
    }
}
