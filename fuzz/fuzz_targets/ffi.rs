//! Arbitrary call sequences through the C ABI of `tripgate-ffi`: configs built from
//! presets, text and every setter (NaN, infinities, out-of-range enum values), breakers
//! on the manual and the system clock, acquire / record / release with real and forged
//! permits, permit misuse (answered twice, on another breaker, byte copies answered
//! too, made-up or altered bytes), operator calls, reconfiguration, snapshots, listeners that call back into
//! the breaker, `tg_call` (a guarded C function that may take time on the manual clock
//! and return any value), the string and buffer functions, and NULL for every pointer
//! argument.
//!
//! Double free and use after free are out of scope: a handle is freed only at the end,
//! or taken out of the table when freed. Promises checked: no call panics (the
//! libFuzzer panic hook aborts even on a panic the boundary catches, and
//! `TG_ERR_PANIC` is asserted never to come back), every status is a declared one,
//! an out-parameter is written only on `TG_OK` (for `tg_try_acquire`, only when
//! admitted), every error leaves a message, and static strings are never NULL. A
//! misused permit gets `TG_ERR_INVALID_PERMIT` and leaves the breaker's state and
//! counters as they were; a genuine permit answered once is never refused (unless a
//! byte copy of some permit was answered first, which may take its place); the
//! in-flight count never goes below zero.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use tg_ffi::tg_status::{TG_ERR_INVALID_PERMIT, TG_ERR_NULL, TG_ERR_PANIC, TG_OK};
use tg_ffi::*;

const MAX_OPS: usize = 256;

#[derive(Debug, Arbitrary)]
enum Setter {
    CountWindow(u32, u32),
    TimeWindow(u64, u32),
    MinimumCalls(u32),
    FailureRate(f64),
    ClearFailureRate,
    SlowCallRate(f64),
    ClearSlowCallRate,
    SlowCallDuration(u64),
    Consecutive(u32),
    ClearConsecutive,
    Percentile(f64, u64),
    ClearPercentile,
    Weight(i32, f64),
    OpenDuration(u64),
    Backoff(f64, u64),
    Jitter(f64),
    Decay(u64),
    Permits(u32),
    Successes(u32),
    MaxWait(u64),
    SlowStart(f64, u64),
    ClearSlowStart,
    TrackLatency(bool),
    Precision(u8),
    InFlight(bool),
    Seed(u64),
    ClearSeed,
}

#[derive(Debug, Arbitrary)]
enum Op {
    ConfigNew,
    ConfigPreset(i32),
    ConfigFromStr(Vec<u8>),
    ConfigSet(Option<u8>, Setter),
    ConfigToToml(Option<u8>, u16, bool),
    ConfigFree(Option<u8>),
    BreakerNew(Option<u8>),
    BreakerManual(Option<u8>, u64),
    BreakerFree(Option<u8>),
    Acquire(Option<u8>, bool),
    Record(Option<u8>, u8, i32, u64),
    RecordForged(Option<u8>, [u64; 3], i32, u64),
    Release(Option<u8>, u8),
    ReleaseForged(Option<u8>, [u64; 3]),
    /// `tg_call` of a function that advances the breaker's clock by the `u64` (a
    /// manual clock's; 0: not at all) and returns the `i32`; `true`: a NULL function.
    Call(Option<u8>, i32, u64, bool),
    /// Answer a permit, then answer the same slot again.
    AnswerTwice(u8, i32, bool),
    /// Answer a permit on another breaker.
    AnswerElsewhere(u8, u8, i32),
    /// Answer a permit and a byte copy of it.
    AnswerWithCopy(u8, i32, bool),
    /// Answer a permit with one bit of its bytes flipped.
    AnswerAltered(u8, u8, i32),
    State(Option<u8>),
    RetryAfter(Option<u8>),
    Snapshot(Option<u8>),
    Operator(Option<u8>, u8),
    Reconfigure(Option<u8>, Option<u8>),
    GetConfig(Option<u8>),
    Advance(Option<u8>, u64, bool),
    Now(Option<u8>),
    Listener(Option<u8>, u8),
    Strings(i32),
    LastError(u16, bool),
}

/// A status came back (a declared one by its type): never a panic, and an error
/// leaves a message for `tg_last_error_message`.
fn check(status: tg_status, what: &str) -> tg_status {
    assert_ne!(status, TG_ERR_PANIC, "{what}: panicked behind the boundary");
    if (status as i32) < 0 {
        let length = tg_last_error_message(ptr::null_mut(), 0);
        assert!(length > 0, "{what}: error {status:?} without a message");
    }
    status
}

/// Listener userdata: counts transitions and checks each one.
struct Seen {
    transitions: u64,
}

extern "C" fn on_transition(userdata: *mut c_void, t: *const tg_transition) {
    assert!(!t.is_null());
    // SAFETY: the breaker passes a pointer to a transition that lives for the call.
    let t = unsafe { &*t };
    assert!(!tg_state_str(t.from as i32).is_null() && !tg_state_str(t.to as i32).is_null());
    assert!(!tg_reason_str(t.reason as i32).is_null());
    if !userdata.is_null() {
        // SAFETY: userdata is the `Seen` owned by `run`, alive while any breaker is.
        let seen = unsafe { &mut *(userdata as *mut Seen) };
        seen.transitions += 1;
    }
}

/// The userdata of a call made through `tg_call`: what it does, and how often it ran.
struct Guarded {
    breaker: *const tg_breaker,
    advance_ns: u64,
    returns: i32,
    ran: u32,
}

extern "C" fn guarded(userdata: *mut c_void) -> tg_outcome {
    // SAFETY: userdata is the `Guarded` that `run` passes to `tg_call`, alive for the
    // call and not otherwise borrowed during it.
    let g = unsafe { &mut *(userdata as *mut Guarded) };
    g.ran += 1;
    if g.advance_ns != 0 {
        // TG_ERR_UNSUPPORTED on the system clock: the call then takes no time.
        check(tg_clock_advance_ns(g.breaker, g.advance_ns), "advance in call");
    }
    g.returns
}

fn pick<T: Copy>(v: &[T], i: Option<u8>, null: T) -> T {
    match i {
        Some(i) if !v.is_empty() => v[usize::from(i) % v.len()],
        _ => null,
    }
}

fn set(c: *mut tg_config, s: &Setter) -> tg_status {
    match *s {
        Setter::CountWindow(n, b) => tg_config_set_count_window_buckets(c, n, b),
        Setter::TimeWindow(d, b) => tg_config_set_time_window(c, d, b),
        Setter::MinimumCalls(n) => tg_config_set_minimum_calls(c, n),
        Setter::FailureRate(r) => tg_config_set_failure_rate_threshold(c, r),
        Setter::ClearFailureRate => tg_config_clear_failure_rate_threshold(c),
        Setter::SlowCallRate(r) => tg_config_set_slow_call_rate_threshold(c, r),
        Setter::ClearSlowCallRate => tg_config_clear_slow_call_rate_threshold(c),
        Setter::SlowCallDuration(d) => tg_config_set_slow_call_duration_ns(c, d),
        Setter::Consecutive(n) => tg_config_set_consecutive_failures(c, n),
        Setter::ClearConsecutive => tg_config_clear_consecutive_failures(c),
        Setter::Percentile(q, d) => tg_config_set_latency_percentile(c, q, d),
        Setter::ClearPercentile => tg_config_clear_latency_percentile(c),
        Setter::Weight(k, w) => tg_config_set_failure_weight(c, k, w),
        Setter::OpenDuration(d) => tg_config_set_open_duration_ns(c, d),
        Setter::Backoff(m, d) => tg_config_set_backoff(c, m, d),
        Setter::Jitter(j) => tg_config_set_jitter(c, j),
        Setter::Decay(d) => tg_config_set_backoff_decay_ns(c, d),
        Setter::Permits(n) => tg_config_set_half_open_permits(c, n),
        Setter::Successes(n) => tg_config_set_half_open_success_threshold(c, n),
        Setter::MaxWait(d) => tg_config_set_half_open_max_wait_ns(c, d),
        Setter::SlowStart(f, d) => tg_config_set_slow_start(c, f, d),
        Setter::ClearSlowStart => tg_config_clear_slow_start(c),
        Setter::TrackLatency(on) => tg_config_set_track_latency(c, on),
        Setter::Precision(b) => tg_config_set_histogram_precision(c, b),
        Setter::InFlight(on) => tg_config_set_track_in_flight(c, on),
        Setter::Seed(s) => tg_config_set_seed(c, s),
        Setter::ClearSeed => tg_config_clear_seed(c),
    }
}

const POISON: usize = 0xDEAD_BEEF;

/// What a refused permit must leave alone.
fn counts(b: *mut tg_breaker) -> [u64; 8] {
    // SAFETY: tg_metrics is plain old data; all-zero is a valid value.
    let mut m: tg_metrics = unsafe { std::mem::zeroed() };
    assert_eq!(tg_snapshot(b, &mut m), TG_OK);
    if m.has_in_flight {
        assert!(
            m.in_flight < 1 << 63,
            "in flight below zero: {}",
            m.in_flight
        );
    }
    [
        m.state as u64,
        u64::from(m.generation),
        m.calls,
        m.failures,
        m.ignored,
        m.abandoned,
        m.in_flight,
        u64::from(m.half_open_probes),
    ]
}

/// Answers `*permit` on `b`: recorded with `outcome` when it is valid, else released.
fn answer(b: *mut tg_breaker, permit: &mut tg_permit, outcome: i32, latency: u64) -> tg_status {
    if (TG_SUCCESS..=TG_IGNORED).contains(&outcome) {
        check(tg_record(b, permit, outcome, latency), "answer")
    } else {
        check(tg_release(b, permit), "answer")
    }
}

/// A misused permit on `b`: refused, the slot left spent, nothing changed.
fn assert_refused(b: *mut tg_breaker, permit: &mut tg_permit, outcome: i32, what: &str) {
    let before = counts(b);
    assert_eq!(
        answer(b, permit, outcome, 0),
        TG_ERR_INVALID_PERMIT,
        "{what}"
    );
    assert_eq!(*permit, tg_permit::default(), "{what}: slot not spent");
    assert_eq!(counts(b), before, "{what}: changed the breaker");
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut configs: Vec<*mut tg_config> = Vec::new();
    let mut breakers: Vec<*mut tg_breaker> = Vec::new();
    let mut permits: Vec<(*mut tg_breaker, tg_permit)> = Vec::new();
    // Once a byte copy is answered, it may have taken a genuine permit's place.
    let mut copy_answered = false;
    let mut seen = Box::new(Seen { transitions: 0 });
    let seen_ptr = &mut *seen as *mut Seen as *mut c_void;
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        match Op::arbitrary(u)? {
            Op::ConfigNew => {
                let mut out = POISON as *mut tg_config;
                if check(tg_config_new(&mut out), "config_new") == TG_OK {
                    configs.push(out);
                }
                check(tg_config_new(ptr::null_mut()), "config_new(NULL)");
            }
            Op::ConfigPreset(tier) => {
                let mut out = POISON as *mut tg_config;
                match check(tg_config_new_preset(tier, &mut out), "preset") {
                    TG_OK => configs.push(out),
                    _ => assert_eq!(out as usize, POISON, "out written on error"),
                }
            }
            Op::ConfigFromStr(bytes) => {
                let text: Vec<u8> = bytes.into_iter().filter(|&b| b != 0).collect();
                let text = CString::new(text).unwrap();
                let mut out = POISON as *mut tg_config;
                match check(tg_config_from_str(text.as_ptr(), &mut out), "from_str") {
                    TG_OK => configs.push(out),
                    _ => assert_eq!(out as usize, POISON, "out written on error"),
                }
                check(tg_config_from_str(ptr::null(), &mut out), "from_str(NULL)");
            }
            Op::ConfigSet(i, s) => {
                check(set(pick(&configs, i, ptr::null_mut()), &s), "setter");
            }
            Op::ConfigToToml(i, len, null_buf) => {
                let c = pick(&configs, i, ptr::null_mut());
                let len = usize::from(len);
                let mut buf = vec![0x55 as c_char; len.max(1)];
                let bufp = if null_buf {
                    ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let mut needed = 0usize;
                let status = check(tg_config_to_toml(c, bufp, len, &mut needed), "to_toml");
                if status == TG_OK && !null_buf {
                    // SAFETY: on TG_OK the buffer holds a NUL-terminated string.
                    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
                    assert_eq!(s.to_bytes().len() + 1, needed);
                    // The printed config parses back.
                    let mut back = ptr::null_mut();
                    assert_eq!(tg_config_from_str(s.as_ptr(), &mut back), TG_OK);
                    configs.push(back);
                }
            }
            Op::ConfigFree(i) => {
                if let (Some(i), false) = (i, configs.is_empty()) {
                    tg_config_free(configs.swap_remove(usize::from(i) % configs.len()));
                } else {
                    tg_config_free(ptr::null_mut());
                }
            }
            Op::BreakerNew(i) => {
                let mut out = POISON as *mut tg_breaker;
                let c = pick(&configs, i, ptr::null_mut());
                match check(tg_breaker_new(c, &mut out), "new") {
                    TG_OK => breakers.push(out),
                    _ => assert_eq!(out as usize, POISON, "out written on error"),
                }
            }
            Op::BreakerManual(i, start) => {
                let mut out = POISON as *mut tg_breaker;
                let c = pick(&configs, i, ptr::null_mut());
                match check(
                    tg_breaker_new_with_manual_clock(c, start, &mut out),
                    "manual",
                ) {
                    TG_OK => breakers.push(out),
                    _ => assert_eq!(out as usize, POISON, "out written on error"),
                }
                check(
                    tg_breaker_new_with_manual_clock(c, start, ptr::null_mut()),
                    "manual(NULL)",
                );
            }
            Op::BreakerFree(i) => {
                if let (Some(i), false) = (i, breakers.is_empty()) {
                    let b = breakers.swap_remove(usize::from(i) % breakers.len());
                    permits.retain(|(p, _)| *p != b);
                    tg_breaker_free(b);
                } else {
                    tg_breaker_free(ptr::null_mut());
                }
            }
            Op::Acquire(i, null_out) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let poison = tg_permit {
                    _opaque: [0xAAAA_AAAA_AAAA_AAAA; 3],
                };
                let mut out = poison;
                let outp = if null_out {
                    ptr::null_mut()
                } else {
                    &mut out as *mut _
                };
                match check(tg_try_acquire(b, outp), "acquire") {
                    TG_OK => permits.push((b, out)),
                    _ => assert_eq!(out, poison, "permit written without admission"),
                }
            }
            Op::Record(i, p, outcome, latency) => {
                if permits.is_empty() {
                    let mut spent = tg_permit::default();
                    check(tg_record(ptr::null(), &mut spent, outcome, latency), "rec");
                    check(
                        tg_record(ptr::null(), ptr::null_mut(), outcome, latency),
                        "rec",
                    );
                    continue;
                }
                let k = usize::from(p) % permits.len();
                let (b, mut permit) = permits[k];
                let b = if i.is_none() {
                    ptr::null()
                } else {
                    b.cast_const()
                };
                let status = check(tg_record(b, &mut permit, outcome, latency), "record");
                let valid = (TG_SUCCESS..=TG_IGNORED).contains(&outcome);
                if !valid || b.is_null() {
                    assert_ne!(status, TG_OK, "record {outcome}");
                    assert_eq!(permit, permits[k].1, "permit consumed by a refused call");
                } else {
                    assert!(status == TG_OK || (copy_answered && status == TG_ERR_INVALID_PERMIT));
                    assert_eq!(permit, tg_permit::default(), "answered permit not spent");
                    permits.swap_remove(k);
                }
            }
            Op::RecordForged(i, words, outcome, latency) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut permit = tg_permit { _opaque: words };
                let status = check(tg_record(b, &mut permit, outcome, latency), "record forged");
                assert_ne!(status, TG_OK, "made-up permit accepted");
            }
            Op::Release(i, p) => {
                if permits.is_empty() {
                    continue;
                }
                let k = usize::from(p) % permits.len();
                let (b, mut permit) = permits[k];
                if i.is_none() {
                    assert_eq!(
                        check(tg_release(ptr::null(), &mut permit), "release"),
                        TG_ERR_NULL
                    );
                } else {
                    let status = check(tg_release(b, &mut permit), "release");
                    assert!(status == TG_OK || (copy_answered && status == TG_ERR_INVALID_PERMIT));
                    permits.swap_remove(k);
                }
            }
            Op::ReleaseForged(i, words) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut permit = tg_permit { _opaque: words };
                if b.is_null() {
                    check(tg_release(b, &mut permit), "release forged");
                } else {
                    assert_refused(b, &mut permit, -1, "release forged");
                }
            }
            Op::Call(i, returns, advance_ns, null_call) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut g = Guarded {
                    breaker: b,
                    advance_ns: advance_ns % (1 << 40),
                    returns,
                    ran: 0,
                };
                let before = (!b.is_null()).then(|| counts(b));
                let call: tg_guarded_call = if null_call { None } else { Some(guarded) };
                let status = check(
                    tg_call(b, call, (&mut g as *mut Guarded).cast()),
                    "call",
                );
                let valid = (TG_SUCCESS..=TG_IGNORED).contains(&returns);
                match status {
                    TG_OK => assert!(g.ran == 1 && valid, "call made {} times", g.ran),
                    tg_status::TG_ERR_INVALID_ARG => assert!(g.ran == 1 && !valid),
                    tg_status::TG_REJECTED | TG_ERR_NULL => assert_eq!(g.ran, 0),
                    other => panic!("tg_call answered {other:?}"),
                }
                if status == TG_ERR_NULL {
                    assert!(b.is_null() || null_call);
                }
                if let (Some(before), 1) = (before, g.ran) {
                    // Answered once, never abandoned; the permit is out of flight again.
                    let after = counts(b);
                    let answered = (after[2] + after[4]) - (before[2] + before[4]);
                    assert!(answered <= 1, "one call counted {answered} times");
                    // Counted unless the breaker was disabled (nothing is counted then) or
                    // the call took time (its answer may come after a transition).
                    let disabled = before[0] == tg_breaker_state::TG_STATE_DISABLED as u64;
                    if g.advance_ns == 0 && !disabled {
                        assert_eq!(answered, 1, "a call made and answered went uncounted");
                    }
                    assert_eq!(after[5], before[5], "a made call counted as abandoned");
                    assert_eq!(after[6], before[6], "in flight after the call");
                }
            }
            Op::AnswerTwice(p, outcome, release_second) if !permits.is_empty() => {
                let (b, mut permit) = permits.swap_remove(usize::from(p) % permits.len());
                let status = answer(b, &mut permit, outcome, 0);
                assert!(status == TG_OK || (copy_answered && status == TG_ERR_INVALID_PERMIT));
                let again = if release_second { -1 } else { outcome };
                assert_refused(b, &mut permit, again, "answered twice");
            }
            Op::AnswerElsewhere(p, other, outcome) if !permits.is_empty() => {
                let (b, mut permit) = permits.swap_remove(usize::from(p) % permits.len());
                let elsewhere = breakers[usize::from(other) % breakers.len()];
                if elsewhere == b {
                    answer(b, &mut permit, outcome, 0);
                } else {
                    // Refused, and consumed: its own breaker never sees it again.
                    assert_refused(elsewhere, &mut permit, outcome, "another breaker's");
                }
            }
            Op::AnswerWithCopy(p, outcome, copy_first) if !permits.is_empty() => {
                let (b, original) = permits.swap_remove(usize::from(p) % permits.len());
                let (mut first, mut second) = (original, original);
                if copy_first {
                    std::mem::swap(&mut first, &mut second);
                }
                let status = answer(b, &mut first, outcome, 0);
                assert!(status == TG_OK || (copy_answered && status == TG_ERR_INVALID_PERMIT));
                copy_answered = true;
                // May be counted (nothing tells a copy from its original while other
                // probes or calls are out), never below zero: `counts` checks that.
                let status = answer(b, &mut second, outcome, 0);
                assert!(status == TG_OK || status == TG_ERR_INVALID_PERMIT);
                counts(b);
            }
            Op::AnswerAltered(p, bit, outcome) if !permits.is_empty() => {
                let k = usize::from(p) % permits.len();
                let (b, permit) = permits[k];
                let mut altered = permit;
                altered._opaque[usize::from(bit / 64) % 3] ^= 1 << (bit % 64);
                assert_refused(b, &mut altered, outcome, "altered");
            }
            Op::AnswerTwice(..)
            | Op::AnswerElsewhere(..)
            | Op::AnswerWithCopy(..)
            | Op::AnswerAltered(..) => {}
            Op::State(i) => {
                let b = pick(&breakers, i, ptr::null_mut());
                // Raw storage, so that an unwritten out-parameter can be told apart.
                let mut out: i32 = -77;
                match check(tg_state(b, (&mut out as *mut i32).cast()), "state") {
                    TG_OK => assert!((0..=6).contains(&out), "state {out}"),
                    _ => assert_eq!(out, -77, "out written on error"),
                }
                check(tg_state(b, ptr::null_mut()), "state(NULL)");
            }
            Op::RetryAfter(i) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut out = 0x5A5A_u64;
                let status = check(tg_retry_after_ns(b, &mut out), "retry_after");
                if status != TG_OK {
                    assert_eq!(out, 0x5A5A);
                }
                check(tg_retry_after_ns(b, ptr::null_mut()), "retry_after(NULL)");
            }
            Op::Snapshot(i) => {
                let b = pick(&breakers, i, ptr::null_mut());
                // SAFETY: tg_metrics is plain old data; all-zero is a valid value.
                let mut m: tg_metrics = unsafe { std::mem::zeroed() };
                m.generation = 0xFEED;
                match check(tg_snapshot(b, &mut m), "snapshot") {
                    TG_OK => {
                        assert_eq!(m.successes + m.failures, m.calls);
                        assert_eq!(
                            m.failures,
                            m.failures_timeout
                                + m.failures_connection
                                + m.failures_server_error
                                + m.failures_rejected
                                + m.failures_other
                        );
                        assert!(m.window_calls <= m.calls);
                        assert!(m.failure_rate.is_finite() && m.failure_rate >= 0.0);
                        assert!((0.0..=1.0).contains(&m.slow_call_rate));
                    }
                    _ => assert_eq!(m.generation, 0xFEED),
                }
                check(tg_snapshot(b, ptr::null_mut()), "snapshot(NULL)");
            }
            Op::Operator(i, which) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let status = match which % 5 {
                    0 => tg_force_open(b),
                    1 => tg_force_closed(b),
                    2 => tg_disable(b),
                    3 => tg_metrics_only(b),
                    _ => tg_reset(b),
                };
                assert_eq!(check(status, "operator") == TG_OK, !b.is_null());
            }
            Op::Reconfigure(i, c) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let c = pick(&configs, c, ptr::null_mut());
                check(tg_reconfigure(b, c), "reconfigure");
            }
            Op::GetConfig(i) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut out = POISON as *mut tg_config;
                match check(tg_breaker_get_config(b, &mut out), "get_config") {
                    TG_OK => configs.push(out),
                    _ => assert_eq!(out as usize, POISON),
                }
            }
            Op::Advance(i, ns, small) => {
                let b = pick(&breakers, i, ptr::null_mut());
                // Mostly plausible steps; sometimes anything at all.
                let ns = if small { ns % (1 << 40) } else { ns };
                check(tg_clock_advance_ns(b, ns), "advance");
            }
            Op::Now(i) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let mut out = 0u64;
                check(tg_clock_now_ns(b, &mut out), "now");
                check(tg_clock_now_ns(b, ptr::null_mut()), "now(NULL)");
            }
            Op::Listener(i, how) => {
                let b = pick(&breakers, i, ptr::null_mut());
                let (cb, ud): (tg_listener, *mut c_void) = match how % 3 {
                    0 => (None, ptr::null_mut()),
                    1 => (Some(on_transition), ptr::null_mut()),
                    _ => (Some(on_transition), seen_ptr),
                };
                assert_eq!(
                    check(tg_breaker_set_listener(b, cb, ud), "listener") == TG_OK,
                    !b.is_null()
                );
            }
            Op::Strings(v) => {
                for s in [tg_state_str(v), tg_reason_str(v), tg_status_str(v)] {
                    assert!(!s.is_null());
                    // SAFETY: static NUL-terminated strings.
                    assert!(!unsafe { CStr::from_ptr(s) }.to_bytes().is_empty());
                }
                assert!(!tg_version_string().is_null());
                let _ = tg_version_number();
            }
            Op::LastError(len, null_buf) => {
                let len = usize::from(len % 512);
                let mut buf = vec![0 as c_char; len.max(1)];
                let bufp = if null_buf {
                    ptr::null_mut()
                } else {
                    buf.as_mut_ptr()
                };
                let length = tg_last_error_message(bufp, len);
                assert_eq!(length, tg_last_error_message(ptr::null_mut(), 0));
                if !null_buf && len > 0 {
                    // Truncated like snprintf: what fits, then a NUL.
                    let copied = length.min(len - 1);
                    assert_eq!(buf[copied], 0);
                    assert!(buf[..copied].iter().all(|&b| b != 0));
                }
            }
        }
    }
    // Hand back what is still out, then free everything.
    for (b, mut p) in permits.drain(..) {
        let status = tg_release(b, &mut p);
        assert!(status == TG_OK || (copy_answered && status == TG_ERR_INVALID_PERMIT));
    }
    for b in breakers {
        tg_breaker_free(b);
    }
    for c in configs {
        tg_config_free(c);
    }
    drop(seen);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
