//! What one replica says about one breaker, the keys it is stored under, and the
//! strict text form it travels in.
//!
//! A value is one line of at most [`MAX_VALUE_LEN`] bytes, fields in a fixed order:
//!
//! ```text
//! tg1 replica=checkout-7f9c gen=12 state=open open_ms=29500 ttl_ms=32500 calls=40 failures=22
//! ```
//!
//! Times are remaining durations, never instants: `open_ms` is how long the breaker
//! stays open from the moment of writing, `ttl_ms` the key's lifetime set in the same
//! write. A reader learns how old the value is from the key's remaining lifetime
//! (`PTTL`, counted by the store's own clock), so no two replicas' clocks are ever
//! compared. Anything else under the namespace (a foreign writer, a truncated value, a
//! replica id that does not match its key) is refused.

use crate::config::{is_name_byte, MAX_NAME_LEN};
use crate::decide::Peer;
use std::fmt::Write;
use std::time::Duration;

/// Longest value accepted under the namespace.
pub const MAX_VALUE_LEN: usize = 256;

/// Longest open time or key lifetime a value may carry (one day).
pub const MAX_MILLIS: u64 = 86_400_000;

/// A replica's view of one breaker, as the fleet counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// Its own breaker is closed (or in a manual state that admits calls).
    Closed,
    /// Its own breaker tripped: open, or held open by the fleet after its own trip.
    Open,
    /// Its own breaker is probing after its own trip.
    HalfOpen,
    /// Held open by the fleet on others' word: not a vote of its own.
    Adopted,
    /// Held by an operator (forced open): not a vote about the dependency.
    Other,
}

impl Vote {
    fn name(self) -> &'static str {
        match self {
            Vote::Closed => "closed",
            Vote::Open => "open",
            Vote::HalfOpen => "half_open",
            Vote::Adopted => "adopted",
            Vote::Other => "other",
        }
    }

    fn parse(s: &str) -> Option<Vote> {
        Some(match s {
            "closed" => Vote::Closed,
            "open" => Vote::Open,
            "half_open" => Vote::HalfOpen,
            "adopted" => Vote::Adopted,
            "other" => Vote::Other,
            _ => return None,
        })
    }

    /// Whether this counts toward an open quorum.
    pub fn is_down(self) -> bool {
        matches!(self, Vote::Open | Vote::HalfOpen)
    }
}

/// One replica's opinion of one breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opinion {
    /// The replica that wrote it.
    pub replica: String,
    /// Its breaker's generation (one per transition).
    pub generation: u32,
    /// Its vote.
    pub vote: Vote,
    /// How long its breaker stays open, from the moment of writing.
    pub open_for: Duration,
    /// The lifetime its key was given in the same write.
    pub ttl: Duration,
    /// Calls in its window.
    pub calls: u64,
    /// Failures in its window (at most `calls`).
    pub failures: u64,
}

impl Opinion {
    /// The value's text form.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(128);
        let _ = write!(
            s,
            "tg1 replica={} gen={} state={} open_ms={} ttl_ms={} calls={} failures={}",
            self.replica,
            self.generation,
            self.vote.name(),
            millis(self.open_for),
            millis(self.ttl),
            self.calls,
            self.failures
        );
        s
    }

    /// Parses a value strictly: the exact fields in order, bounded numbers, a replica id
    /// equal to `key_replica` (the key's last part). `None` for anything else.
    pub fn parse(value: &[u8], key_replica: &str) -> Option<Opinion> {
        if value.len() > MAX_VALUE_LEN {
            return None;
        }
        let text = std::str::from_utf8(value).ok()?;
        let mut parts = text.split(' ');
        if parts.next()? != "tg1" {
            return None;
        }
        let mut field = |name: &str| -> Option<&str> {
            let p = parts.next()?;
            p.strip_prefix(name)?.strip_prefix('=')
        };
        let replica = field("replica")?;
        if replica != key_replica || !valid_name(replica) {
            return None;
        }
        let generation = number(field("gen")?, u32::MAX as u64)? as u32;
        let vote = Vote::parse(field("state")?)?;
        let open_ms = number(field("open_ms")?, MAX_MILLIS)?;
        let ttl_ms = number(field("ttl_ms")?, MAX_MILLIS)?;
        let calls = number(field("calls")?, u64::MAX / 2)?;
        let failures = number(field("failures")?, calls)?;
        if parts.next().is_some() || ttl_ms == 0 || ttl_ms < open_ms {
            return None;
        }
        Some(Opinion {
            replica: replica.to_string(),
            generation,
            vote,
            open_for: Duration::from_millis(open_ms),
            ttl: Duration::from_millis(ttl_ms),
            calls,
            failures,
        })
    }

    /// How long the breaker stays open from now, given the key's remaining lifetime
    /// (`PTTL`). `None` when the lifetime is not one this value could have been written
    /// with (no expiry, or more than it was given): a value that is not ours.
    pub fn open_remaining(&self, key_ttl_left: Duration) -> Option<Duration> {
        if key_ttl_left > self.ttl || key_ttl_left.is_zero() {
            return None;
        }
        let age = self.ttl - key_ttl_left;
        Some(self.open_for.saturating_sub(age))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(MAX_MILLIS)
}

/// A decimal number of at most 20 digits, no sign, no leading zero, at most `max`.
fn number(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&n| n <= max)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME_LEN && s.bytes().all(is_name_byte)
}

/// The keys and channel of one fleet: everything lives under
/// `tripgate:{service}:{environment}:`.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The namespace of `service` in `environment` (both checked names).
    pub fn new(service: &str, environment: &str) -> Keys {
        Keys {
            prefix: format!("tripgate:{service}:{environment}:"),
        }
    }

    /// One replica's opinion of one breaker.
    pub fn opinion(&self, breaker: &str, replica: &str) -> String {
        format!("{}opinion:{breaker}:{replica}", self.prefix)
    }

    /// The `SCAN MATCH` pattern of every opinion of `breaker`.
    pub fn opinion_pattern(&self, breaker: &str) -> String {
        format!("{}opinion:{breaker}:*", self.prefix)
    }

    /// The replica part of an opinion key of `breaker`, if `key` is one.
    pub fn replica_of<'k>(&self, breaker: &str, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix("opinion:")?;
        let replica = rest.strip_prefix(breaker)?.strip_prefix(':')?;
        valid_name(replica).then_some(replica)
    }

    /// The fleet's recovery-probe lease of `breaker`.
    pub fn lease(&self, breaker: &str) -> String {
        format!("{}lease:{breaker}", self.prefix)
    }

    /// The marker a successful fleet probe of `breaker` leaves.
    pub fn recovered(&self, breaker: &str) -> String {
        format!("{}recovered:{breaker}", self.prefix)
    }

    /// The pub/sub channel announcing changes.
    pub fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// The breaker an announcement names, if it is a valid name.
    pub fn announced(message: &[u8]) -> Option<String> {
        let s = std::str::from_utf8(message).ok()?;
        valid_name(s).then(|| s.to_string())
    }
}

/// One entry read under the namespace for `breaker`: its key, its value (`None` when
/// the key vanished between the scan and the read) and its `PTTL` reply in
/// milliseconds. `Ok(None)` for this replica's own opinion or a vanished key; `Err(())`
/// for anything malformed or foreign, which the caller counts and ignores.
#[allow(clippy::result_unit_err)]
pub fn read_peer(
    keys: &Keys,
    breaker: &str,
    own_replica: &str,
    key: &[u8],
    value: Option<&[u8]>,
    pttl_ms: i64,
) -> Result<Option<Peer>, ()> {
    let key = std::str::from_utf8(key).map_err(|_| ())?;
    let replica = keys.replica_of(breaker, key).ok_or(())?;
    // -2: the key expired after the scan.
    if replica == own_replica || value.is_none() || pttl_ms == -2 {
        return Ok(None);
    }
    let ttl_left = u64::try_from(pttl_ms).map_err(|_| ())?;
    let opinion = Opinion::parse(value.unwrap_or_default(), replica).ok_or(())?;
    let open_remaining = opinion
        .open_remaining(Duration::from_millis(ttl_left))
        .ok_or(())?;
    Ok(Some(Peer {
        vote: opinion.vote,
        open_remaining,
        calls: opinion.calls,
        failures: opinion.failures,
    }))
}

/// A lease's value: the holder and the generation it probes from, plus a nonce so two
/// leases of the same holder and generation differ.
pub fn lease_token(replica: &str, generation: u32, nonce: u64) -> String {
    format!("tg1 replica={replica} gen={generation} nonce={nonce:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Opinion {
        Opinion {
            replica: "r-1".into(),
            generation: 7,
            vote: Vote::Open,
            open_for: Duration::from_millis(29_500),
            ttl: Duration::from_millis(32_500),
            calls: 40,
            failures: 22,
        }
    }

    #[test]
    fn a_value_round_trips() {
        let o = sample();
        let text = o.encode();
        assert_eq!(
            text,
            "tg1 replica=r-1 gen=7 state=open open_ms=29500 ttl_ms=32500 calls=40 failures=22"
        );
        assert_eq!(Opinion::parse(text.as_bytes(), "r-1"), Some(o));
    }

    #[test]
    fn hostile_values_are_refused() {
        let good = sample().encode();
        let bad = [
            good.replace("tg1", "tg2"),
            good.replace("gen=7", "gen=-7"),
            good.replace("gen=7", "gen=07"),
            good.replace("gen=7", "gen=99999999999"),
            good.replace("state=open", "state=OPEN"),
            good.replace("failures=22", "failures=41"),
            good.replace("ttl_ms=32500", "ttl_ms=0"),
            good.replace("ttl_ms=32500", "ttl_ms=100"),
            good.replace("open_ms=29500", "open_ms=999999999999"),
            good.replace(" calls", "  calls"),
            format!("{good} extra=1"),
            good[..good.len() - 3].to_string(),
            format!("{good}{}", " ".repeat(MAX_VALUE_LEN)),
            String::new(),
        ];
        for b in bad {
            assert_eq!(Opinion::parse(b.as_bytes(), "r-1"), None, "{b:?}");
        }
        // Right shape, wrong key: a value copied under another replica's key.
        assert_eq!(Opinion::parse(good.as_bytes(), "r-2"), None);
        assert_eq!(Opinion::parse(&[0xff, 0xfe], "r-1"), None);
    }

    #[test]
    fn open_time_left_is_measured_by_the_keys_own_lifetime() {
        let o = sample();
        // Written 2 s ago (TTL 32.5 s, 30.5 s left): 27.5 s of the 29.5 s remain.
        assert_eq!(
            o.open_remaining(Duration::from_millis(30_500)),
            Some(Duration::from_millis(27_500))
        );
        // Older than its open time: nothing remains, but the vote stands.
        assert_eq!(
            o.open_remaining(Duration::from_millis(1)),
            Some(Duration::ZERO)
        );
        // A lifetime longer than it was given, or none: not a value we wrote.
        assert_eq!(o.open_remaining(Duration::from_millis(40_000)), None);
        assert_eq!(o.open_remaining(Duration::ZERO), None);
    }

    #[test]
    fn keys_stay_in_their_namespace() {
        let k = Keys::new("svc", "prod");
        let key = k.opinion("db", "r-1");
        assert_eq!(key, "tripgate:svc:prod:opinion:db:r-1");
        assert_eq!(k.replica_of("db", &key), Some("r-1"));
        assert_eq!(k.replica_of("d", &key), None);
        assert_eq!(k.replica_of("db", "tripgate:svc:dev:opinion:db:r-1"), None);
        assert_eq!(k.replica_of("db", "tripgate:svc:prod:opinion:db:a:b"), None);
        assert_eq!(k.lease("db"), "tripgate:svc:prod:lease:db");
        assert_eq!(Keys::announced(b"db"), Some("db".into()));
        assert_eq!(Keys::announced(b"d b"), None);
    }
}
