//! The fleet's threads: the worker (every key read and write, every decision) and the
//! subscriber (wakes the worker when a peer announces a change). Neither is ever on a
//! caller's path: the breakers' listeners only `try_send` a wake-up.

use crate::config::FleetConfig;
use crate::decide::{Action, FleetView, Phase, Rules};
use crate::local::SharedBreaker;
use crate::metrics::Counters;
use crate::opinion::{read_peer, Keys, Opinion};
use crate::replica::{Exchange, Member, Replica};
use crate::store::Store;
use redis::{Connection, RedisResult, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tripgate::ListenerId;

/// What the handle and the listeners tell the worker.
pub(crate) enum Msg {
    /// Start following a breaker.
    Attach(String, SharedBreaker, ListenerId),
    /// Stop following a breaker (its hold, if any, is released).
    Detach(String),
    /// Something changed: a transition here or an announcement from a peer.
    Changed,
    /// Run a full round now (publishing every opinion) and answer when done.
    Sync(SyncSender<()>),
    /// Withdraw every opinion, release every hold and end.
    Stop,
}

struct Tracked {
    name: String,
    breaker: SharedBreaker,
    listener: ListenerId,
    member: Member,
}

pub(crate) struct Worker {
    pub(crate) config: FleetConfig,
    redis: Redis,
    pub(crate) rx: Receiver<Msg>,
    tracked: Vec<Tracked>,
    replica: Replica,
}

/// The store as a round sees it: Redis, through this replica's connection.
struct Redis {
    replica: String,
    max_replicas: usize,
    keys: Keys,
    store: Store,
    counters: Arc<Counters>,
}

/// Scans stop after this many keys or pages, whatever the namespace holds.
const MAX_SCAN_PAGES: usize = 64;

impl Worker {
    pub(crate) fn new(
        config: FleetConfig,
        store: Store,
        counters: Arc<Counters>,
        rx: Receiver<Msg>,
    ) -> Worker {
        let rules = Rules {
            quorum: config.quorum,
            veto: config.veto,
            probe_lease: config.probe_lease,
            fleet_rate: config.fleet_rate,
        };
        let nonce = std::process::id() as u64 ^ (&counters as *const _ as u64).rotate_left(17);
        Worker {
            replica: Replica::new(config.replica.clone(), rules, config.heartbeat, nonce),
            redis: Redis {
                replica: config.replica.clone(),
                max_replicas: config.max_replicas as usize,
                keys: Keys::new(&config.service, &config.environment),
                store,
                counters,
            },
            config,
            rx,
            tracked: Vec::new(),
        }
    }

    pub(crate) fn run(mut self) {
        let heartbeat = self.config.heartbeat;
        let mut next_beat = Instant::now();
        let mut replies = Vec::new();
        'run: loop {
            let wait = next_beat.saturating_duration_since(Instant::now());
            let first = match self.rx.recv_timeout(wait) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Everything queued meanwhile is served by the same round: a burst of
            // transitions or announcements costs one round of store I/O, not one each.
            let queued = std::iter::from_fn(|| self.rx.try_recv().ok());
            for msg in first.into_iter().chain(queued.collect::<Vec<_>>()) {
                match msg {
                    Msg::Attach(name, breaker, listener) => self.tracked.push(Tracked {
                        name,
                        breaker,
                        listener,
                        member: Member::default(),
                    }),
                    Msg::Detach(name) => {
                        if let Some(i) = self.tracked.iter().position(|t| t.name == name) {
                            let t = self.tracked.swap_remove(i);
                            self.withdraw(&t);
                        }
                    }
                    Msg::Changed => {}
                    Msg::Sync(ack) => replies.push(ack),
                    Msg::Stop => break 'run,
                }
            }
            let beat = Instant::now() >= next_beat || !replies.is_empty();
            if beat {
                next_beat = Instant::now() + heartbeat;
            }
            self.round(beat);
            for ack in replies.drain(..) {
                let _ = ack.try_send(());
            }
        }
        for t in std::mem::take(&mut self.tracked) {
            self.withdraw(&t);
        }
    }

    /// Releases a hold of ours, deletes this replica's opinion and stops watching.
    fn withdraw(&mut self, t: &Tracked) {
        if matches!(t.member.phase, Phase::Holding { .. }) {
            t.breaker.release();
        }
        t.breaker.unwatch(t.listener);
        let key = self.redis.keys.opinion(&t.name, &self.config.replica);
        self.redis
            .store
            .run(|c| redis::cmd("DEL").arg(&key).query::<()>(c));
    }

    /// One round per breaker (see [`Replica::round`]); opinions written when they
    /// changed or on a heartbeat.
    fn round(&mut self, beat: bool) {
        for t in &mut self.tracked {
            let step = self.replica.round(
                &t.name,
                &mut t.member,
                t.breaker.as_ref(),
                &mut self.redis,
                beat,
            );
            let name = &t.name;
            let counters = &self.redis.counters;
            if step.action == (Action::Hold { adopted: true }) {
                Counters::bump(&counters.adoptions, 1);
                log::info!("tripgate fleet: {name} held open on the fleet's word");
            }
            if step.leased {
                Counters::bump(&counters.leases, 1);
                log::info!("tripgate fleet: {name}: this replica probes for the fleet");
            }
            if step.announced {
                log::info!("tripgate fleet: {name}: the fleet's probe succeeded");
            }
            if step.published {
                Counters::bump(&counters.publishes, 1);
            }
        }
        self.redis
            .counters
            .store_up
            .store(self.redis.store.is_up(), Ordering::Relaxed);
    }
}

impl Exchange for Redis {
    /// Every peer's fresh opinion of `name` and the recovery marker; `None` when the
    /// store cannot be read.
    fn read(&mut self, name: &str) -> Option<FleetView> {
        let pattern = self.keys.opinion_pattern(name);
        let recovered_key = self.keys.recovered(name);
        let lease_key = self.keys.lease(name);
        let max = self.max_replicas;
        let (raw, recovered, lease) = self.store.run(|c| {
            let keys = scan(c, &pattern, max)?;
            let mut pipe = redis::pipe();
            for k in &keys {
                pipe.cmd("GET").arg(k.as_slice());
                pipe.cmd("PTTL").arg(k.as_slice());
            }
            pipe.cmd("EXISTS").arg(&recovered_key);
            pipe.cmd("GET").arg(&lease_key);
            let mut values: Vec<Value> = pipe.query(c)?;
            // A lease that is not a string is no lease of ours: `None`.
            let lease =
                redis::from_redis_value::<Option<String>>(&values.pop().unwrap_or(Value::Nil))
                    .unwrap_or(None);
            let recovered = redis::from_redis_value::<bool>(&values.pop().unwrap_or(Value::Nil))
                .unwrap_or(false);
            Ok((
                keys.into_iter().zip(pairs(values)).collect::<Vec<_>>(),
                recovered,
                lease,
            ))
        })?;
        let mut peers = Vec::with_capacity(raw.len());
        let mut malformed = 0;
        for (key, (value, pttl)) in raw {
            let value = match value {
                Value::Nil => None,
                Value::BulkString(bytes) => Some(bytes),
                _ => Some(Vec::new()),
            };
            let pttl = match pttl {
                Value::Int(ms) => ms,
                _ => i64::MIN,
            };
            match read_peer(
                &self.keys,
                name,
                &self.replica,
                &key,
                value.as_deref(),
                pttl,
            ) {
                Ok(Some(p)) => peers.push(p),
                Ok(None) => {}
                Err(()) => malformed += 1,
            }
        }
        Counters::bump(&self.counters.malformed, malformed);
        Some(FleetView {
            peers,
            recovered,
            lease,
        })
    }

    /// Writes this replica's opinion of `name`; announces it when it changed.
    fn publish(&mut self, name: &str, opinion: &Opinion, announce: bool) -> bool {
        let key = self.keys.opinion(name, &self.replica);
        let channel = self.keys.channel();
        let value = opinion.encode();
        let ttl_ms = opinion.ttl.as_millis() as u64;
        self.store
            .run(|c| {
                let mut pipe = redis::pipe();
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore();
                if announce {
                    pipe.cmd("PUBLISH").arg(&channel).arg(name).ignore();
                }
                pipe.query::<()>(c)
            })
            .is_some()
    }

    /// `SET lease token NX PX lifetime`, and the stale marker deleted when won.
    fn take_lease(&mut self, name: &str, token: &str, lifetime: Duration) -> bool {
        let key = self.keys.lease(name);
        let recovered = self.keys.recovered(name);
        let ms = lifetime.as_millis() as u64;
        self.store
            .run(|c| {
                let won: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query(c)?;
                if won.is_some() {
                    // A marker from an earlier recovery must not release this one's holds.
                    redis::cmd("DEL").arg(&recovered).query::<()>(c)?;
                }
                Ok(won.is_some())
            })
            .unwrap_or(false)
    }

    /// Leaves the recovery marker if the lease is still `token` (a result reported after
    /// the lease expired, or after another replica took it, is ignored), and frees the
    /// lease.
    fn announce_recovery(&mut self, name: &str, token: &str, lifetime: Duration) -> bool {
        let lease = self.keys.lease(name);
        let recovered = self.keys.recovered(name);
        let channel = self.keys.channel();
        let ttl_ms = lifetime.as_millis() as u64;
        self.store
            .run(|c| {
                let current: Option<String> = redis::cmd("GET").arg(&lease).query(c)?;
                if current.as_deref() != Some(token) {
                    return Ok(false);
                }
                redis::pipe()
                    .cmd("SET")
                    .arg(&recovered)
                    .arg(token)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("DEL")
                    .arg(&lease)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(&channel)
                    .arg(name)
                    .ignore()
                    .query::<()>(c)?;
                Ok(true)
            })
            .unwrap_or(false)
    }
}

/// The keys matching `pattern`, at most `max` of them.
fn scan(c: &mut Connection, pattern: &str, max: usize) -> RedisResult<Vec<Vec<u8>>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    for _ in 0..MAX_SCAN_PAGES {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(100)
            // Keys of another type under the namespace are never read (GET would fail).
            .arg("TYPE")
            .arg("string")
            .query(c)?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 || keys.len() >= max {
            break;
        }
    }
    keys.truncate(max);
    Ok(keys)
}

/// The pipeline's replies paired up (GET, PTTL) per key.
fn pairs(values: Vec<Value>) -> impl Iterator<Item = (Value, Value)> {
    let mut it = values.into_iter();
    std::iter::from_fn(move || Some((it.next()?, it.next()?)))
}

/// The subscriber: one connection subscribed to the fleet's channel; every valid
/// announcement wakes the worker (dropped when the worker already has a wake-up queued).
pub(crate) fn subscribe(
    mut store: Store,
    channel: String,
    wake: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) {
    const POLL: Duration = Duration::from_millis(100);
    // ordering: Relaxed, the flag carries no data; the thread only has to see it soon.
    while !stop.load(Ordering::Relaxed) {
        let Some(mut conn) = store.take() else {
            std::thread::sleep(POLL);
            continue;
        };
        let mut pubsub = conn.as_pubsub();
        counters.subscribed.store(false, Ordering::Relaxed);
        if let Err(e) = pubsub
            .subscribe(&channel)
            .and_then(|_| pubsub.set_read_timeout(Some(POLL)))
        {
            store.failed(&e);
            continue;
        }
        store.healthy();
        counters.subscribed.store(true, Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) {
            match pubsub.get_message() {
                Ok(msg) => {
                    if Keys::announced(msg.get_payload_bytes()).is_some() {
                        let _ = wake.try_send(Msg::Changed);
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(e) => {
                    store.failed(&e);
                    counters.subscribed.store(false, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}
