//! Graduated fallback for cached data: live, then recent cache, then stale cache, then
//! a default, then fail.
//!
//! [`Graduated`] is a small keyed cache with two ages. A [`call`](Graduated::call) tries
//! the live operation through its breaker; a success is stored and served as
//! [`Tier::Live`]. When the breaker rejects or the operation fails, the cache answers
//! in tiers, and [`Served::tier`] says which:
//!
//! | tier | when |
//! |---|---|
//! | [`Tier::Recent`] | the cached value's age is at most `recent` |
//! | [`Tier::Stale`] | its age is at most `stale` |
//! | [`Tier::Default`] | no usable cached value, and a default is set |
//! | error | none of the above: [`GraduatedError`] carries the live error |
//!
//! Ages are read from a [`tripgate::Clock`] (monotonic nanoseconds), so tests drive them
//! with a [`ManualClock`](tripgate::ManualClock). Both limits are inclusive: a value
//! exactly `recent` old is still recent.
//!
//! The map sits behind a read-write lock: lookups share it, stores take it briefly.
//! It holds at most `capacity` keys (10 000 unless set); a store into a full cache first
//! drops entries older than `stale`, then, if still full, the oldest entry (a scan:
//! size the capacity to the keys you expect).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tripgate::{Breaker, Config, ManualClock};
//! use tripgate_patterns::graduated::{Graduated, Tier};
//!
//! let clock = ManualClock::new();
//! let breaker = Breaker::with_clock(Config::default(), clock.clone())?;
//! let prices = Graduated::new(Duration::from_secs(300), Duration::from_secs(3600), clock.clone())
//!     .with_default(0u32);
//!
//! let served = prices.call("apple", &breaker, || Ok::<_, &str>(42)).unwrap();
//! assert_eq!((served.value, served.tier), (42, Tier::Live));
//!
//! clock.advance(Duration::from_secs(600)); // ten minutes later the service is down
//! let served = prices.call("apple", &breaker, || Err("down")).unwrap();
//! assert_eq!((served.value, served.tier), (42, Tier::Stale));
//!
//! let served = prices.call("pear", &breaker, || Err("down")).unwrap();
//! assert_eq!((served.value, served.tier), (0, Tier::Default));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::classify::{default_classify, record};
use parking_lot::RwLock;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;
use tripgate::{Breaker, CallError, Clock, Outcome, SystemClock};

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The live operation.
    Live,
    /// A cached value no older than `recent`.
    Recent,
    /// A cached value older than `recent` and no older than `stale`.
    Stale,
    /// The default value.
    Default,
}

impl Tier {
    /// The tier's name: `live`, `recent`, `stale` or `default`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Live => "live",
            Tier::Recent => "recent",
            Tier::Stale => "stale",
            Tier::Default => "default",
        }
    }
}

/// A value and the tier that served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served<V> {
    /// The value.
    pub value: V,
    /// The tier that answered.
    pub tier: Tier,
    /// Age of the cached value (zero for `Live`, `None` for `Default`).
    pub age: Option<Duration>,
}

/// The live call failed (or was rejected) and no tier could answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraduatedError<E> {
    /// Why the live call did not answer.
    pub live: CallError<E>,
}

impl<E: fmt::Display> fmt::Display for GraduatedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no cached value or default, and the live call failed: {}",
            self.live
        )
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GraduatedError<E> {}

struct Entry<V> {
    value: V,
    stored_at: u64,
}

/// A keyed cache with recent and stale ages and an optional default. See the
/// [module documentation](self).
pub struct Graduated<K, V, C: Clock = SystemClock> {
    map: RwLock<HashMap<K, Entry<V>>>,
    recent: u64,
    stale: u64,
    default: Option<V>,
    capacity: usize,
    clock: C,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<K: Eq + Hash, V: Clone, C: Clock> Graduated<K, V, C> {
    /// A cache whose values are recent up to `recent` old and stale up to `stale` old
    /// (`stale` below `recent` is raised to `recent`), reading ages from `clock`.
    pub fn new(recent: Duration, stale: Duration, clock: C) -> Self {
        let recent = nanos(recent);
        Graduated {
            map: RwLock::new(HashMap::new()),
            recent,
            stale: nanos(stale).max(recent),
            default: None,
            capacity: 10_000,
            clock,
        }
    }

    /// Serves `value` when no cached value is usable.
    pub fn with_default(mut self, value: V) -> Self {
        self.default = Some(value);
        self
    }

    /// Holds at most `capacity` keys (at least 1).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The clock ages are read from.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Stores `value` for `key`, stamped now.
    pub fn insert(&self, key: K, value: V) {
        let now = self.clock.now_nanos();
        let mut map = self.map.write();
        if map.len() >= self.capacity && !map.contains_key(&key) {
            let stale = self.stale;
            map.retain(|_, e| now.saturating_sub(e.stored_at) <= stale);
            if map.len() >= self.capacity {
                if let Some(oldest) = map.values().map(|e| e.stored_at).min() {
                    let mut removed = false;
                    map.retain(|_, e| {
                        let victim = !removed && e.stored_at == oldest;
                        removed |= victim;
                        !victim
                    });
                }
            }
        }
        map.insert(
            key,
            Entry {
                value,
                stored_at: now,
            },
        );
    }

    /// Serves `key` from the cache tiers alone (recent, stale, default), without a
    /// live call; `None` when no tier can answer.
    pub fn serve<Q>(&self, key: &Q) -> Option<Served<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.clock.now_nanos();
        if let Some(e) = self.map.read().get(key) {
            let age = now.saturating_sub(e.stored_at);
            let tier = if age <= self.recent {
                Some(Tier::Recent)
            } else if age <= self.stale {
                Some(Tier::Stale)
            } else {
                None
            };
            if let Some(tier) = tier {
                return Some(Served {
                    value: e.value.clone(),
                    tier,
                    age: Some(Duration::from_nanos(age)),
                });
            }
        }
        self.default.as_ref().map(|v| Served {
            value: v.clone(),
            tier: Tier::Default,
            age: None,
        })
    }

    /// Drops entries older than `stale`; returns how many were dropped.
    pub fn purge(&self) -> usize {
        let now = self.clock.now_nanos();
        let stale = self.stale;
        let mut map = self.map.write();
        let before = map.len();
        map.retain(|_, e| now.saturating_sub(e.stored_at) <= stale);
        before - map.len()
    }

    /// Keys held (usable or not).
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `op` through `breaker`; `Ok` is stored and served live, otherwise the
    /// cache tiers answer. `Ok` is a success and `Err` a failure of kind `Other`.
    pub fn call<BC: Clock, E>(
        &self,
        key: K,
        breaker: &Breaker<BC>,
        op: impl FnOnce() -> Result<V, E>,
    ) -> Result<Served<V>, GraduatedError<E>> {
        self.call_classified(key, breaker, op, default_classify)
    }

    /// [`call`](Graduated::call) with a classifier for what the breaker records.
    pub fn call_classified<BC: Clock, E>(
        &self,
        key: K,
        breaker: &Breaker<BC>,
        op: impl FnOnce() -> Result<V, E>,
        classify: impl FnOnce(&Result<V, E>) -> Outcome,
    ) -> Result<Served<V>, GraduatedError<E>> {
        let live = match breaker.try_acquire() {
            Err(r) => Err(CallError::Rejected(r)),
            Ok(permit) => {
                let result = op();
                record(permit, classify(&result));
                result.map_err(CallError::Failed)
            }
        };
        self.settle(key, live)
    }

    /// Async [`call`](Graduated::call), runtime-agnostic. If the returned future is
    /// dropped while `op` runs, the call is recorded as ignored.
    pub async fn call_async<BC: Clock, E, F>(
        &self,
        key: K,
        breaker: &Breaker<BC>,
        op: impl FnOnce() -> F,
    ) -> Result<Served<V>, GraduatedError<E>>
    where
        F: Future<Output = Result<V, E>>,
    {
        let live = match breaker.try_acquire() {
            Err(r) => Err(CallError::Rejected(r)),
            Ok(permit) => {
                let guard = crate::classify::IgnoreOnDrop::new(permit);
                let result = op().await;
                guard.record(default_classify(&result));
                result.map_err(CallError::Failed)
            }
        };
        self.settle(key, live)
    }

    fn settle<E>(
        &self,
        key: K,
        live: Result<V, CallError<E>>,
    ) -> Result<Served<V>, GraduatedError<E>> {
        match live {
            Ok(value) => {
                self.insert(key, value.clone());
                Ok(Served {
                    value,
                    tier: Tier::Live,
                    age: Some(Duration::ZERO),
                })
            }
            Err(live) => self.serve(&key).ok_or(GraduatedError { live }),
        }
    }
}
