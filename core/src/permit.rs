//! Permits: proof of admission, to be answered with an outcome exactly once.
//!
//! [`Permit`] is the guard Rust callers hold: `#[must_use]`, answered by value (so it
//! cannot be answered twice), released when dropped unanswered (metric `abandoned`) and
//! recorded as a failure when dropped during a panic. It carries the engine's own
//! record of the admission, a `Grant`, and nothing else: the type system already
//! proves it genuine and unanswered, so its path pays for no check.
//!
//! [`RawPermit`] is a permit without a lifetime, for bindings and for callers that
//! must store a permit apart from the breaker (a future, a simulator's queue). It lives
//! in memory the engine does not own: C copies it around as bytes, a binding may keep
//! it in a foreign object. So the engine checks it when it comes back instead of
//! trusting it:
//!
//! - **Sealed.** Each breaker draws a random 64-bit key when it is built. A raw permit
//!   carries a tag: a keyed mix of its generation, flags and admission time. A permit
//!   whose tag does not verify was issued by another breaker, or its bytes were made
//!   up or altered: [`PermitError::Foreign`], and nothing happens. The tag (a keyed
//!   multiply, see `PermitKey::tag`) guards against accidents, not against an
//!   adversary: it is not a MAC, and the key is not secret from code in the same
//!   process.
//! - **Spent.** A raw permit is answered by value and is not `Clone`, so Rust code
//!   cannot answer one twice. A binding that keeps the permit in foreign memory
//!   replaces it there with the spent permit ([`RawPermit::default`], tag 0; no issued
//!   permit has tag 0) as it hands it to the engine: answering that slot again is
//!   [`PermitError::Spent`].
//! - **Counted.** Bytes can still be duplicated behind the engine's back (a C struct
//!   copied, then the copy answered too). Nothing in a permit's bytes can tell a copy
//!   from its original, so the engine guards the counts a copy could corrupt: a probe
//!   answer in a half-open generation whose probe slots are all answered already is
//!   refused (at the entry, before anything is counted, and again inside the
//!   compare-and-swap that settles it, so that of two racing copies one decides
//!   nothing), and an answer of a permit counted in flight when the in-flight count is
//!   zero is refused (a best effort: two copies answered at the same instant may both
//!   pass). So answers never outnumber the probes admitted, and no count goes below
//!   zero. But a copy answered while other probes of its generation are out stands in
//!   for one of them: it frees that probe's slot early, or counts its success. Only
//!   the spent slot rules that out, which is why bindings answer through one slot.
//!
//! Why this shape:
//!
//! - A tag rather than a record of the permits out: a record would cost a
//!   read-modify-write on every admission, and Closed admission is one load. The tag
//!   is arithmetic on values already in registers, on the raw path only (a multiply,
//!   three one-cycle operations and a compare to answer); admission stays wait-free.
//! - By value rather than through `&mut RawPermit`: Rust code then cannot answer a
//!   permit twice at all (the compiler refuses, as for [`Permit`]), instead of being
//!   told so at run time; a binding's slot gets the same effect from
//!   `std::mem::take`.
//! - [`Permit`] holds the unsealed `Grant` and answers through unchecked paths: it
//!   cannot be forged or answered twice, so its Closed fast path stays as it was.
//!   [`Permit::into_raw`] seals.

use crate::breaker::Breaker;
use crate::clock::Clock;
use crate::outcome::{FailureKind, Outcome};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Permit flag: calls are timed; `start_nanos` is the admission time.
pub(crate) const P_TIMED: u32 = 1;
/// Permit flag: a half-open probe holding a slot.
pub(crate) const P_PROBE: u32 = 2;
/// Permit flag: counted in flight.
pub(crate) const P_IN_FLIGHT: u32 = 4;
/// Permit flag: issued while disabled; its outcome is not counted.
pub(crate) const P_UNCOUNTED: u32 = 8;
/// Permit flag: issued with a `call_timeout` set; `start_nanos` is the admission time
/// (the deadline is that plus the timeout).
pub(crate) const P_DEADLINE: u32 = 16;

/// What admission granted, as the engine keeps it: unsealed, trusted. Held by
/// [`Permit`]; sealed into a [`RawPermit`] when it leaves the type system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Grant {
    /// Generation of the state the permit was issued in.
    pub(crate) generation: u32,
    /// `P_*` flags.
    pub(crate) flags: u32,
    /// Admission time in the breaker clock's nanoseconds (0 when calls are neither
    /// timed nor under a `call_timeout`).
    pub(crate) start_nanos: u64,
}

impl Grant {
    /// Whether this grant holds a half-open probe slot.
    #[inline]
    pub(crate) fn is_probe(&self) -> bool {
        self.flags & P_PROBE != 0
    }

    /// The admission time, when the grant carries one.
    #[inline]
    pub(crate) fn start(&self) -> Option<u64> {
        (self.flags & (P_TIMED | P_DEADLINE) != 0).then_some(self.start_nanos)
    }
}

/// A breaker's key for sealing its raw permits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PermitKey(u64);

impl PermitKey {
    /// A fresh random key. The randomness is std's per-process hasher keys, which it
    /// also steps for every new `RandomState`: two breakers never share a key by
    /// accident, and no global state of ours is involved. `salt` (a time, an address)
    /// is mixed in for good measure.
    pub(crate) fn random(salt: u64) -> PermitKey {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        PermitKey(h.finish())
    }

    /// The tag of `grant` under this key: never 0 (0 marks a spent permit).
    ///
    /// The head (generation, flags) is mixed with the key by one multiply by an odd
    /// constant, a bijection: another key or a changed head always gives another
    /// product. The start time, times 3 (another bijection), is xored in last: a
    /// changed start always changes the tag, and a pair of changes that cancel needs
    /// the key. The bit that `| 1` takes (to keep the tag from 0) hides only a change
    /// of the start by plus or minus 3's inverse modulo 2^64 (about 1.2e19 ns), never
    /// a small one.
    ///
    /// The start is the last input to arrive (a clock read just before), and it meets
    /// two one-cycle operations on its way to the tag. With a multiply on that way, and
    /// a multiply-xorshift round on the head, the C ABI's permit path cost about 1.5 ns
    /// a call more (BENCHMARKS.md, "The permit's seal and the raw success path").
    #[inline]
    pub(crate) fn tag(self, grant: Grant) -> u64 {
        let head = (u64::from(grant.generation) << 32) | u64::from(grant.flags);
        ((self.0 ^ head).wrapping_mul(HEAD_FACTOR) ^ grant.start_nanos.wrapping_mul(3)) | 1
    }

    /// `grant` sealed under this key.
    #[inline]
    pub(crate) fn seal(self, grant: Grant) -> RawPermit {
        RawPermit {
            grant,
            tag: self.tag(grant),
        }
    }

    /// The grant inside `permit`, if this key sealed it.
    #[inline]
    pub(crate) fn open(self, permit: RawPermit) -> Result<Grant, PermitError> {
        self.check(&permit)
    }

    /// The grant inside `permit`, if this key sealed it, leaving the permit in place.
    #[inline]
    pub(crate) fn check(self, permit: &RawPermit) -> Result<Grant, PermitError> {
        match permit.tag {
            0 => Err(PermitError::Spent),
            t if t == self.tag(permit.grant) => Ok(permit.grant),
            _ => Err(PermitError::Foreign),
        }
    }
}

/// An odd constant (so that multiplying by it is a bijection): the multiplier of a
/// well-known 64-bit mixer's finaliser.
const HEAD_FACTOR: u64 = 0xD6E8_FEB8_6659_FD93;

/// A permit as a plain value, for bindings and for callers that must store it apart
/// from the breaker: from [`Breaker::acquire_raw`] or [`Permit::into_raw`], answered
/// by value with [`Breaker::record_raw`] or [`Breaker::release_raw`].
///
/// Opaque: it is sealed with a key of the breaker that issued it, which checks the
/// seal when the permit comes back (see [`PermitError`]). Not `Clone`: a permit is
/// answered exactly once. The default value is the *spent* permit: what a binding
/// leaves in foreign memory in place of a permit it has answered; answering it is
/// refused.
#[derive(Debug, PartialEq, Eq, Default)]
pub struct RawPermit {
    grant: Grant,
    tag: u64,
}

impl RawPermit {
    /// Whether this permit holds a half-open probe slot.
    pub fn is_probe(&self) -> bool {
        self.grant.is_probe()
    }

    /// Whether this is the spent permit (answered, or never issued).
    pub fn is_spent(&self) -> bool {
        self.tag == 0
    }

    /// The permit as three words, for a binding that keeps it in foreign memory (a C
    /// struct). Give the words back to [`from_words`](RawPermit::from_words) unchanged.
    pub fn into_words(self) -> [u64; 3] {
        let g = self.grant;
        [
            (u64::from(g.generation) << 32) | u64::from(g.flags),
            g.start_nanos,
            self.tag,
        ]
    }

    /// The permit whose words are `words`. Any words make a permit; only the words of a
    /// permit the breaker issued and has not seen answered are accepted when answered.
    pub fn from_words(words: [u64; 3]) -> RawPermit {
        RawPermit {
            grant: Grant {
                generation: (words[0] >> 32) as u32,
                flags: words[0] as u32,
                start_nanos: words[1],
            },
            tag: words[2],
        }
    }
}

/// Why a breaker refused to take back a [`RawPermit`]. A refused answer changes
/// nothing: no state, no counter, no probe slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PermitError {
    /// The permit was answered already: it is the spent permit, or a copy of a probe
    /// (or a permit counted in flight) whose answer has been counted.
    Spent,
    /// The breaker did not issue this permit: it belongs to another breaker, or its
    /// bytes were altered or made up.
    Foreign,
}

impl fmt::Display for PermitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PermitError::Spent => {
                "invalid permit: already answered (a permit is recorded or released exactly once)"
            }
            PermitError::Foreign => {
                "invalid permit: not issued by this breaker (a permit of another breaker, or altered bytes)"
            }
        })
    }
}

impl std::error::Error for PermitError {}

/// The ways to answer a permit, the same on [`Permit`] and [`OwnedPermit`], each
/// through the type's own `finish(outcome, latency_nanos)`.
macro_rules! answers {
    () => {
        /// The call succeeded; latency is measured from admission.
        pub fn success(self) {
            self.finish(Outcome::Success, None);
        }

        /// The call failed with `kind`; latency is measured from admission.
        pub fn failure(self, kind: FailureKind) {
            self.finish(Outcome::Failure(kind), None);
        }

        /// The call says nothing about the dependency's health: counted neither way.
        pub fn ignore(self) {
            self.finish(Outcome::Ignored, None);
        }

        /// Records `outcome`; latency is measured from admission.
        pub fn complete(self, outcome: Outcome) {
            self.finish(outcome, None);
        }

        /// Records `outcome` with a latency the caller measured.
        pub fn record(self, outcome: Outcome, latency: Duration) {
            let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
            self.finish(outcome, Some(ns));
        }
    };
}

/// Permission to make one call. Report how it went with [`success`](Permit::success),
/// [`failure`](Permit::failure), [`ignore`](Permit::ignore) or
/// [`record`](Permit::record).
#[must_use = "a permit must be answered with an outcome; dropping it releases it unrecorded"]
pub struct Permit<'a, C: Clock> {
    breaker: &'a Breaker<C>,
    grant: Grant,
}

impl<'a, C: Clock> Permit<'a, C> {
    #[inline]
    pub(crate) fn new(breaker: &'a Breaker<C>, grant: Grant) -> Self {
        Permit { breaker, grant }
    }

    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.grant.is_probe()
    }

    /// The generation of the breaker state the permit was issued in (as in
    /// [`Snapshot::generation`](crate::Snapshot::generation)).
    pub fn generation(&self) -> u32 {
        self.grant.generation
    }

    /// When the call must be over: its admission time plus the `call_timeout` in force,
    /// in nanoseconds on the breaker's clock ([`Clock::now_nanos`]); `None` without a
    /// `call_timeout`. A reconfigured timeout moves the deadline and a removed one
    /// removes it; a permit admitted while no timeout was set has none, whatever is set
    /// later. A call the breaker runs itself that ends at or after it is
    /// recorded as a timeout; a caller answering the permit itself can pass it on to
    /// its I/O.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripgate::{Breaker, Clock, Config, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// clock.advance(Duration::from_secs(5));
    /// let config = Config::builder().call_timeout(Duration::from_millis(250)).build()?;
    /// let breaker = Breaker::with_clock(config, clock.clone())?;
    /// let permit = breaker.try_acquire()?;
    /// assert_eq!(permit.deadline(), Some(5_250_000_000));
    /// permit.success();
    ///
    /// let untimed = Breaker::with_clock(Config::default(), clock)?;
    /// assert_eq!(untimed.try_acquire()?.deadline(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deadline(&self) -> Option<u64> {
        self.breaker.grant_deadline(self.grant)
    }

    /// The admission time, when the permit carries one.
    #[inline]
    pub(crate) fn grant_start(&self) -> Option<u64> {
        self.grant.start()
    }

    /// Hands the permit over as a raw value; the caller must record or release it.
    pub fn into_raw(self) -> RawPermit {
        let (breaker, grant) = (self.breaker, self.grant);
        // Answered elsewhere: skip the drop that would release it.
        std::mem::forget(self);
        breaker.seal(grant)
    }

    answers!();

    /// The caller gave up on the call (a cancellation, a timeout of its own): a
    /// [`FailureKind::Timeout`] if the call had run past its deadline or for at least
    /// `slow_call_duration` (when the permit carries its start), else the permit is
    /// released unrecorded. Returns what was recorded. The rule of
    /// [`Breaker::complete_raw`] with no outcome; an async call dropped by its caller
    /// is answered this way.
    pub fn cancelled(self) -> Option<Outcome> {
        self.settle(None)
    }

    /// Answers a call the breaker ran itself ([`Breaker::call`] and its forms) with
    /// `outcome`, or with a [`FailureKind::Timeout`] if it ended at or after its
    /// deadline: the deadline rule of [`Breaker::complete_raw`].
    #[inline]
    pub(crate) fn conclude(self, outcome: Outcome) {
        if self.grant.flags & P_DEADLINE == 0 {
            // No deadline, nothing to decide: recorded as answered, inline.
            self.finish(outcome, None);
        } else {
            self.settle(Some(outcome));
        }
    }

    /// Answers the permit by the deadline rule (`None`: given up on); returns what was
    /// recorded.
    #[inline]
    fn settle(self, outcome: Option<Outcome>) -> Option<Outcome> {
        let (breaker, grant) = (self.breaker, self.grant);
        // Answered: skip the drop that would release it.
        std::mem::forget(self);
        breaker.complete_grant(grant, outcome, None)
    }

    #[inline]
    fn finish(self, outcome: Outcome, latency: Option<u64>) {
        let (breaker, grant) = (self.breaker, self.grant);
        // Answered: skip the drop that would release it.
        std::mem::forget(self);
        breaker.record_grant(grant, outcome, latency);
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        // Only reached for a permit never answered: `finish` and `into_raw` forget it.
        if std::thread::panicking() {
            self.breaker
                .record_grant(self.grant, Outcome::Failure(FailureKind::Other), None);
        } else {
            self.breaker.release_grant(self.grant);
        }
    }
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("grant", &self.grant)
            .finish()
    }
}

/// A [`Permit`] that owns a handle on its breaker: `Send + 'static`, so it can move
/// into a spawned task or thread. From [`Breaker::try_acquire_owned`]. Answered and
/// dropped exactly as a [`Permit`]: by value, once; dropped unanswered it is released
/// unrecorded (metric `abandoned`), dropped during a panic it is recorded as a
/// failure.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tripgate::{Breaker, Config};
///
/// let breaker = Arc::new(Breaker::new(Config::default())?);
/// let permit = breaker.try_acquire_owned()?;
/// std::thread::spawn(move || {
///     // ... make the call ...
///     permit.success();
/// })
/// .join()
/// .unwrap();
/// assert_eq!(breaker.snapshot().successes, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a permit must be answered with an outcome; dropping it releases it unrecorded"]
pub struct OwnedPermit<C: Clock = crate::SystemClock> {
    /// `None` once answered (or handed over raw): the drop then does nothing.
    breaker: Option<Arc<Breaker<C>>>,
    grant: Grant,
}

impl<C: Clock> OwnedPermit<C> {
    #[inline]
    pub(crate) fn new(breaker: Arc<Breaker<C>>, grant: Grant) -> Self {
        OwnedPermit {
            breaker: Some(breaker),
            grant,
        }
    }

    /// Whether this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.grant.is_probe()
    }

    /// The generation of the breaker state the permit was issued in.
    pub fn generation(&self) -> u32 {
        self.grant.generation
    }

    /// When the call must be over, as [`Permit::deadline`].
    pub fn deadline(&self) -> Option<u64> {
        self.breaker
            .as_ref()
            .and_then(|b| b.grant_deadline(self.grant))
    }

    /// Hands the permit over as a raw value; the caller must record or release it.
    pub fn into_raw(mut self) -> RawPermit {
        match self.breaker.take() {
            Some(b) => b.seal(self.grant),
            None => RawPermit::default(),
        }
    }

    answers!();

    fn finish(mut self, outcome: Outcome, latency: Option<u64>) {
        if let Some(b) = self.breaker.take() {
            b.record_grant(self.grant, outcome, latency);
        }
    }
}

impl<C: Clock> Drop for OwnedPermit<C> {
    fn drop(&mut self) {
        // Only a permit never answered still holds its breaker.
        if let Some(b) = self.breaker.take() {
            if std::thread::panicking() {
                b.record_grant(self.grant, Outcome::Failure(FailureKind::Other), None);
            } else {
                b.release_grant(self.grant);
            }
        }
    }
}

impl<C: Clock> fmt::Debug for OwnedPermit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("grant", &self.grant)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_only_under_its_key_and_only_for_its_fields() {
        let (a, b) = (PermitKey::random(1), PermitKey::random(1));
        let g = Grant {
            generation: 7,
            flags: P_PROBE | P_TIMED,
            start_nanos: 123,
        };
        assert_eq!(a.open(a.seal(g)), Ok(g));
        assert_eq!(b.open(a.seal(g)), Err(PermitError::Foreign));
        for altered in [
            Grant { generation: 8, ..g },
            Grant {
                flags: P_TIMED,
                ..g
            },
            Grant {
                start_nanos: 124,
                ..g
            },
        ] {
            let forged = RawPermit {
                grant: altered,
                tag: a.seal(g).tag,
            };
            assert_eq!(a.open(forged), Err(PermitError::Foreign));
        }
        assert_eq!(a.open(RawPermit::default()), Err(PermitError::Spent));
        let sealed = a.seal(g);
        let words = RawPermit::from_words(a.seal(g).into_words());
        assert_eq!(words, sealed);
        assert!(!sealed.is_spent() && sealed.is_probe());
    }

    #[test]
    fn every_one_bit_change_and_every_small_change_of_the_start_is_refused() {
        for salt in 0..8u64 {
            let key = PermitKey::random(salt);
            for start in [0, 1, 2, 3, 1_000_000_007, u64::MAX / 3, u64::MAX - 1] {
                let g = Grant {
                    generation: salt as u32 * 977,
                    flags: P_TIMED,
                    start_nanos: start,
                };
                let words = key.seal(g).into_words();
                for word in 0..2 {
                    for bit in 0..64 {
                        let mut changed = words;
                        changed[word] ^= 1 << bit;
                        let answer = key.open(RawPermit::from_words(changed));
                        assert_eq!(answer, Err(PermitError::Foreign), "word {word} bit {bit}");
                    }
                }
                for delta in 1..=64u64 {
                    for moved in [start.wrapping_add(delta), start.wrapping_sub(delta)] {
                        let mut changed = words;
                        changed[1] = moved;
                        let answer = key.open(RawPermit::from_words(changed));
                        assert_eq!(
                            answer,
                            Err(PermitError::Foreign),
                            "start {start} to {moved}"
                        );
                    }
                }
            }
        }
    }
}
