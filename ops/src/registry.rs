//! A registry of named breakers, one per dependency.
//!
//! Lookups are lock-free: the map sits behind an [`ArcSwap`], so finding a breaker by
//! name is one atomic load of the current map, a hash lookup and an `Arc` clone, and
//! never waits for a writer. Writers (creating, removing, reconfiguring) are rare; they
//! serialize on a mutex, copy the map, change the copy and publish it. Callers on a hot
//! path should look their breaker up once and keep the `Arc<Breaker>`.
//!
//! # Examples
//!
//! ```
//! use tripgate::{ManualClock, State};
//! use tripgate_ops::Registry;
//!
//! let registry = Registry::with_clock(ManualClock::new());
//! let db = registry.breaker("database")?;              // created from the defaults
//! assert!(std::sync::Arc::ptr_eq(&db, &registry.get("database").unwrap()));
//! assert_eq!(registry.names(), ["database"]);
//! db.force_open();
//! assert_eq!(registry.get("database").unwrap().state(), State::ForcedOpen);
//! registry.remove("database");
//! assert!(registry.get("database").is_none());
//! # Ok::<(), tripgate::ConfigError>(())
//! ```

use crate::file::Settings;
use crate::fleet;
use crate::upkeep;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tripgate::{Breaker, Clock, Config, ConfigError, ListenerId, Snapshot, State, SystemClock};

/// Transitions of one breaker counted by the state they left and the state they
/// entered, for the `from`/`to` exposition. Filled by a listener the registry
/// registers on each breaker it holds.
#[derive(Debug, Default)]
pub struct TransitionCounts([[AtomicU64; State::ALL.len()]; State::ALL.len()]);

impl TransitionCounts {
    fn count(&self, from: State, to: State) {
        // ordering: Relaxed, a statistic.
        self.0[from as usize][to as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Every `(from, to, count)` seen at least once, in state order.
    pub fn seen(&self) -> impl Iterator<Item = (State, State, u64)> + '_ {
        State::ALL.into_iter().flat_map(move |from| {
            State::ALL.into_iter().filter_map(move |to| {
                let n = self.0[from as usize][to as usize].load(Ordering::Relaxed);
                (n > 0).then_some((from, to, n))
            })
        })
    }

    /// Counts for `breaker`, kept up to date by a listener on it from now on (the
    /// registry attaches one to each breaker it holds, for the breaker's life).
    pub fn attach<C: Clock>(breaker: &Breaker<C>) -> Arc<TransitionCounts> {
        TransitionCounts::attach_removable(breaker).0
    }

    /// [`attach`](TransitionCounts::attach), with the listener's id, for a holder that
    /// outlives its interest before the breaker does (a binding that renders breakers
    /// outside a registry) to remove the listener with `Breaker::remove_listener`.
    pub fn attach_removable<C: Clock>(breaker: &Breaker<C>) -> (Arc<TransitionCounts>, ListenerId) {
        let counts = Arc::new(TransitionCounts::default());
        let sink = Arc::clone(&counts);
        let id = breaker.add_listener(move |t| sink.count(t.from, t.to));
        (counts, id)
    }
}

/// One registered breaker.
pub struct Entry<C: Clock = SystemClock> {
    /// The breaker.
    pub breaker: Arc<Breaker<C>>,
    /// Whether its opening alone makes the process unready.
    pub critical: bool,
    /// Whether its config follows the registry's [`Settings`] (and so is changed by a
    /// reload). False for breakers created with an explicit config.
    pub managed: bool,
    /// The config the breaker was built with: what it can be reconfigured to is bounded
    /// by it (window buckets, latency tracking).
    pub built_with: Arc<Config>,
    /// Its transitions by from and to, since it was registered.
    pub transitions: Arc<TransitionCounts>,
}

impl<C: Clock> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Entry {
            breaker: Arc::clone(&self.breaker),
            critical: self.critical,
            managed: self.managed,
            built_with: Arc::clone(&self.built_with),
            transitions: Arc::clone(&self.transitions),
        }
    }
}

/// A point-in-time reading of one registered breaker.
#[derive(Debug, Clone)]
pub struct NamedSnapshot {
    /// The breaker's name.
    pub name: String,
    /// Whether it is marked critical.
    pub critical: bool,
    /// The reading.
    pub snapshot: Snapshot,
    /// The config in force (its `minimum_calls` says whether the rates mean anything).
    pub config: Arc<Config>,
    /// Transitions since it was registered, by from and to (read when rendered).
    pub transitions: Arc<TransitionCounts>,
}

/// A cheap reading of one registered breaker: its state word and little else, O(1)
/// a breaker (a [`NamedSnapshot`] reads the whole window). What readiness needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedState {
    /// The breaker's name.
    pub name: String,
    /// Whether it is marked critical.
    pub critical: bool,
    /// Its state.
    pub state: State,
    /// How long until it admits a call ([`Breaker::retry_after`]).
    pub retry_after: Option<Duration>,
}

type Map<C> = HashMap<String, Entry<C>>;

/// Named breakers sharing one clock and one set of [`Settings`].
pub struct Registry<C: Clock + Clone = SystemClock> {
    map: ArcSwap<Map<C>>,
    settings: ArcSwap<Settings>,
    clock: C,
    writer: Mutex<()>,
    fleet: fleet::Membership,
    /// On the system clock, a share in the process's upkeep thread (see `upkeep`).
    _upkeep: Option<upkeep::Lease>,
}

impl Registry<SystemClock> {
    /// An empty registry on the system clock, with built-in default settings.
    ///
    /// While it lives, a thread refreshes the process's cached time every millisecond
    /// (one thread for every registry, or none if the process already runs one through
    /// [`SystemClock::start_upkeep`]): its breakers' time windows then pick their bucket
    /// by one load instead of a clock read (BENCHMARKS.md: 7.5 ns against 23.8 ns for an
    /// acquire and a success on the machine measured).
    pub fn new() -> Self {
        Registry {
            _upkeep: Some(upkeep::Lease::take()),
            ..Registry::with_clock(SystemClock::new())
        }
    }

    /// An empty registry on the system clock, creating breakers from `settings`.
    /// With a `fleet` table in `settings` (feature `fleet`), the registry joins the
    /// fleet (see [`fleet`](crate::fleet)).
    pub fn with_settings(settings: Settings) -> Self {
        let r = Registry::new();
        r.set_settings(settings);
        r
    }
}

impl Default for Registry<SystemClock> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<C: Clock + Clone> Registry<C> {
    /// An empty registry whose breakers read `clock` (a clone each; a
    /// [`ManualClock`](tripgate::ManualClock)'s clones share one time).
    pub fn with_clock(clock: C) -> Self {
        Registry {
            map: ArcSwap::from_pointee(HashMap::new()),
            settings: ArcSwap::from_pointee(Settings::default()),
            clock,
            writer: Mutex::new(()),
            fleet: fleet::Membership::default(),
            _upkeep: None,
        }
    }

    /// The clock the breakers read.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The settings new breakers are created from.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.load_full()
    }

    /// Replaces the settings for breakers created from now on, without touching running
    /// breakers (see [`reload`](crate::reload) for that).
    /// The settings' `fleet` table, when it changed, makes the registry join, rejoin
    /// or leave its fleet (feature `fleet`).
    pub fn set_settings(&self, settings: Settings) {
        let _w = self.lock_writer();
        self.store_settings(Arc::new(settings));
    }

    /// The caller holds the writer lock: no breaker is taken in or let go of while the
    /// fleet is joined or left.
    pub(crate) fn store_settings(&self, settings: Arc<Settings>) {
        self.fleet.apply(&settings, self.list());
        self.settings.store(settings);
    }

    /// The fleet's figures and this replica's id, while the registry is in a fleet.
    #[cfg(feature = "fleet")]
    pub fn fleet_metrics(&self) -> Option<(String, tripgate_fleet::FleetMetrics)> {
        self.fleet.metrics()
    }

    /// Runs one full fleet round now (read, decide, publish) and waits at most
    /// `timeout` for it; false when the registry is in no fleet or the round did not
    /// finish in time. For tests and for a replica that wants its opinions out before
    /// it takes traffic.
    #[cfg(feature = "fleet")]
    pub fn fleet_sync(&self, timeout: Duration) -> bool {
        self.fleet.sync(timeout)
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The breaker named `name`, if registered. Lock-free.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Arc<Breaker<C>>> {
        self.map.load().get(name).map(|e| Arc::clone(&e.breaker))
    }

    /// The entry named `name`, if registered. Lock-free.
    pub fn entry(&self, name: &str) -> Option<Entry<C>> {
        self.map.load().get(name).cloned()
    }

    /// The breaker named `name`, created from the registry's settings for that name
    /// (its service entry, else the defaults) if it does not exist yet.
    pub fn breaker(&self, name: &str) -> Result<Arc<Breaker<C>>, ConfigError> {
        if let Some(b) = self.get(name) {
            return Ok(b);
        }
        let settings = self.settings.load_full();
        let spec = settings.spec(name);
        self.insert_if_absent(name, spec.config.clone(), spec.critical, true)
    }

    /// The breaker named `name`, created from `config` if it does not exist yet (an
    /// existing breaker keeps its config). A breaker created this way is not changed by
    /// reloads.
    pub fn get_or_create(
        &self,
        name: &str,
        config: &Config,
    ) -> Result<Arc<Breaker<C>>, ConfigError> {
        if let Some(b) = self.get(name) {
            return Ok(b);
        }
        self.insert_if_absent(name, config.clone(), false, false)
    }

    fn insert_if_absent(
        &self,
        name: &str,
        config: Config,
        critical: bool,
        managed: bool,
    ) -> Result<Arc<Breaker<C>>, ConfigError> {
        let _w = self.lock_writer();
        if let Some(b) = self.get(name) {
            return Ok(b);
        }
        let built_with = Arc::new(config.clone());
        let breaker = Arc::new(Breaker::with_clock(config, self.clock.clone())?);
        let mut map = Map::clone(&self.map.load());
        map.insert(
            name.to_string(),
            Entry {
                transitions: TransitionCounts::attach(&breaker),
                breaker: Arc::clone(&breaker),
                critical,
                managed,
                built_with,
            },
        );
        self.map.store(Arc::new(map));
        self.fleet.attach(name, &breaker);
        Ok(breaker)
    }

    /// Registers an existing breaker under `name`, replacing any breaker of that name
    /// (returned). Not changed by reloads.
    pub fn insert(
        &self,
        name: &str,
        breaker: Arc<Breaker<C>>,
        critical: bool,
    ) -> Option<Arc<Breaker<C>>> {
        let _w = self.lock_writer();
        let mut map = Map::clone(&self.map.load());
        let built_with = breaker.config();
        let old = map.insert(
            name.to_string(),
            Entry {
                transitions: TransitionCounts::attach(&breaker),
                breaker: Arc::clone(&breaker),
                critical,
                managed: false,
                built_with,
            },
        );
        self.map.store(Arc::new(map));
        if old.is_some() {
            self.fleet.detach(name);
        }
        self.fleet.attach(name, &breaker);
        old.map(|e| e.breaker)
    }

    /// Removes the breaker named `name`; returns it if it was registered. Holders of
    /// its `Arc` keep a working breaker.
    pub fn remove(&self, name: &str) -> Option<Arc<Breaker<C>>> {
        let _w = self.lock_writer();
        let mut map = Map::clone(&self.map.load());
        let old = map.remove(name)?;
        self.map.store(Arc::new(map));
        self.fleet.detach(name);
        Some(old.breaker)
    }

    /// Marks `name` critical (its opening alone makes the process unready) or not;
    /// returns whether it is registered.
    pub fn set_critical(&self, name: &str, critical: bool) -> bool {
        let _w = self.lock_writer();
        let mut map = Map::clone(&self.map.load());
        let Some(e) = map.get_mut(name) else {
            return false;
        };
        e.critical = critical;
        self.map.store(Arc::new(map));
        true
    }

    pub(crate) fn set_critical_locked(&self, flags: &[(String, bool)]) {
        let mut map = Map::clone(&self.map.load());
        for (name, critical) in flags {
            if let Some(e) = map.get_mut(name) {
                e.critical = *critical;
            }
        }
        self.map.store(Arc::new(map));
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.map.load().keys().cloned().collect();
        names.sort();
        names
    }

    /// Every entry, sorted by name.
    pub fn entries(&self) -> Vec<(String, Entry<C>)> {
        let mut v: Vec<(String, Entry<C>)> = self
            .map
            .load()
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every breaker, sorted by name.
    pub fn list(&self) -> Vec<(String, Arc<Breaker<C>>)> {
        self.entries()
            .into_iter()
            .map(|(k, e)| (k, e.breaker))
            .collect()
    }

    /// How many breakers are registered.
    pub fn len(&self) -> usize {
        self.map.load().len()
    }

    /// Whether no breaker is registered.
    pub fn is_empty(&self) -> bool {
        self.map.load().is_empty()
    }

    /// A snapshot of every breaker, sorted by name. Reads only; never blocks a caller
    /// of the breakers.
    pub fn snapshots(&self) -> Vec<NamedSnapshot> {
        self.entries()
            .into_iter()
            .map(|(name, e)| NamedSnapshot {
                name,
                critical: e.critical,
                snapshot: e.breaker.snapshot(),
                config: e.breaker.config(),
                transitions: Arc::clone(&e.transitions),
            })
            .collect()
    }

    /// The state of every breaker, sorted by name: one atomic load a breaker (and one
    /// more for `retry_after`), no window read, no event delivered. Reads only.
    pub fn states(&self) -> Vec<NamedState> {
        let map = self.map.load();
        let mut v: Vec<NamedState> = map
            .iter()
            .map(|(name, e)| NamedState {
                name: name.clone(),
                critical: e.critical,
                state: e.breaker.state(),
                retry_after: e.breaker.retry_after(),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}
