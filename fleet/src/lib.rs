//! Replicas of a service share what their tripgate breakers learn, through Redis (or
//! Valkey), without touching the call path.
//!
//! Each replica runs one [`Fleet`]: a background thread that reads its breakers, writes
//! each breaker's opinion (vote, generation, remaining open time, window counts) under
//! a namespaced key with a lifetime, reads its peers' opinions, and acts on its own
//! breakers only through their public API:
//!
//! - **adoption by quorum**: when at least `quorum` replicas report a breaker open, the
//!   others hold theirs open for as long as a quorum of reporters stays open, unless
//!   their own busy, healthy window vetoes it;
//! - **one probe per recovery**: when the holds end, one replica takes a lease key and
//!   probes; the others keep rejecting until its success is announced or the lease
//!   expires;
//! - **closing is never propagated**, and a store that is down, slow or cut off leaves
//!   every replica on its own breakers (holds end on time).
//!
//! Admission and recording never read the store, never take a lock of the fleet's and
//! never wait on it: the fleet's only hook into a breaker is a transition listener that
//! posts a wake-up to a bounded channel without blocking.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tripgate::{Breaker, Config};
//! use tripgate_fleet::{Fleet, FleetConfig};
//!
//! let db = Arc::new(Breaker::new(Config::default())?);
//! let config = FleetConfig::new("checkout", "prod", "checkout-7f9c", "redis://127.0.0.1:6379/0");
//! let fleet = Fleet::start(config)?;
//! fleet.attach("database", Arc::clone(&db))?;
//! // ... calls go through `db` as before ...
//! println!("{}", fleet.metrics().prometheus("checkout-7f9c"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod decide;
mod local;
mod metrics;
mod opinion;
mod replica;
mod store;
mod worker;

pub use config::{
    check_name, replica_id, FleetConfig, FleetConfigError, FleetRate, Quorum, Secret, StoreConfig,
    Veto,
};
pub use decide::{
    decide, fleet_rate_trips, own_vote, quorum_open, vetoes, Action, FleetView, Peer, Phase, Rules,
};
pub use local::{LocalBreaker, LocalView, SharedBreaker};
pub use metrics::FleetMetrics;
pub use opinion::{lease_token, read_peer, Keys, Opinion, Vote, MAX_MILLIS, MAX_VALUE_LEN};
pub use replica::{Exchange, Member, Replica, Step};

use metrics::Counters;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use store::{Role, Store};
use worker::{Msg, Worker};

/// Wake-ups queued beyond this are dropped: the next heartbeat catches up.
const QUEUE: usize = 1024;

/// One replica's membership of its fleet. Dropping it (or [`stop`](Fleet::stop))
/// releases the holds it placed, withdraws its opinions and ends its threads.
pub struct Fleet {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
    names: Mutex<HashSet<String>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    replica: String,
}

impl Fleet {
    /// Checks `config` and starts the fleet's threads. Returns at once: the store is
    /// first reached from the background (until then, and whenever it is unreachable,
    /// the breakers run on their own).
    pub fn start(config: FleetConfig) -> Result<Fleet, FleetConfigError> {
        config.validate()?;
        let store = Store::new(&config.store, Role::Store)?;
        let subscriber_store = Store::new(&config.store, Role::Subscriber)?;
        let (tx, rx) = sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let channel = Keys::new(&config.service, &config.environment).channel();
        let replica = config.replica.clone();
        let worker = Worker::new(config, store, Arc::clone(&counters), rx);
        let spawn = |name: &str| std::thread::Builder::new().name(name.into());
        let mut threads = vec![spawn("tripgate-fleet")
            .spawn(move || worker.run())
            .map_err(|e| FleetConfigError::new("fleet", format!("cannot start a thread: {e}")))?];
        let (wake, flag, figures) = (tx.clone(), Arc::clone(&stop), Arc::clone(&counters));
        if let Ok(t) = spawn("tripgate-fleet-sub")
            .spawn(move || worker::subscribe(subscriber_store, channel, wake, flag, figures))
        {
            threads.push(t);
        }
        Ok(Fleet {
            tx,
            counters,
            names: Mutex::new(HashSet::new()),
            stop,
            threads,
            replica,
        })
    }

    /// [`start`](Fleet::start), then [`attach`](Fleet::attach) each named breaker.
    pub fn start_with<B: LocalBreaker>(
        config: FleetConfig,
        breakers: impl IntoIterator<Item = (String, Arc<B>)>,
    ) -> Result<Fleet, FleetConfigError> {
        let fleet = Fleet::start(config)?;
        for (name, b) in breakers {
            fleet.attach(&name, b)?;
        }
        Ok(fleet)
    }

    /// Shares `breaker` with the fleet under `name` (1 to 64 of `A-Z a-z 0-9 _ . -`,
    /// the same name on every replica). Registers one transition listener that only
    /// posts a wake-up.
    pub fn attach<B: LocalBreaker>(
        &self,
        name: &str,
        breaker: Arc<B>,
    ) -> Result<(), FleetConfigError> {
        check_name("breaker name", name)?;
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if !names.insert(name.to_string()) {
            return Err(FleetConfigError::new(
                "breaker name",
                format!("{name:?} is already attached"),
            ));
        }
        let wake = self.tx.clone();
        let listener = breaker.watch(Box::new(move |_| {
            let _ = wake.try_send(Msg::Changed);
        }));
        let shared: SharedBreaker = breaker;
        let _ = self
            .tx
            .send(Msg::Attach(name.to_string(), shared, listener));
        Ok(())
    }

    /// Stops sharing the breaker `name`: a hold of the fleet's is released, this
    /// replica's opinion withdrawn. Returns whether it was attached.
    pub fn detach(&self, name: &str) -> bool {
        let removed = self
            .names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if removed {
            let _ = self.tx.send(Msg::Detach(name.to_string()));
        }
        removed
    }

    /// Runs one full round now (read, decide, publish every opinion) and waits for it,
    /// at most `timeout`. Returns whether the round finished in time. For tests and
    /// for a service that wants its opinions out before it takes traffic.
    pub fn sync(&self, timeout: Duration) -> bool {
        let (ack, done) = sync_channel(1);
        if self.tx.send(Msg::Sync(ack)).is_err() {
            return false;
        }
        done.recv_timeout(timeout).is_ok()
    }

    /// The fleet's figures.
    pub fn metrics(&self) -> FleetMetrics {
        self.counters.read()
    }

    /// The fleet's figures as Prometheus lines, labelled with this replica's id.
    pub fn prometheus(&self) -> String {
        self.metrics().prometheus(&self.replica)
    }

    /// Releases the fleet's holds, withdraws this replica's opinions and ends the
    /// threads (waiting at most for the operations in flight to time out).
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // ordering: Relaxed, the subscriber only has to see the flag soon.
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Stop);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
