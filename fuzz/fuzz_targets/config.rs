//! Arbitrary text into `Config::from_toml_str`, `from_json_str` and `from_str_auto`, and
//! arbitrary numbers (NaN and infinities included, huge durations included) through
//! every `ConfigBuilder` setter, then `build()`, `Breaker::new` and a short drive of
//! the breaker on success, and a live `reconfigure` to a second arbitrary config.
//!
//! A third mode feeds a config document in TOML, YAML or JSON, an environment overlay
//! and environment variables (raw bytes, so not always UTF-8) through the layering
//! (`tripgate::config::Layers`).
//!
//! Promises checked: never a panic, only typed errors; every `ConfigError::Invalid`
//! names a non-empty field and a non-empty allowed range; a config that parsed or built
//! validates, makes a breaker, prints to TOML and parses back to itself; every layering
//! problem names its source and says what is wrong, at a place inside the document.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;
use tripgate::config::{Format, Layers};
use tripgate::{
    Breaker, Config, ConfigBuilder, ConfigError, FailureKind, ManualClock, Outcome, Tier,
};

fn check_error(e: &ConfigError) {
    match e {
        ConfigError::Invalid { field, allowed, .. } => {
            assert!(!field.is_empty(), "an Invalid error without a field: {e:?}");
            assert!(
                !allowed.is_empty(),
                "an Invalid error without a range: {e:?}"
            );
            assert_eq!(e.field(), field);
        }
        ConfigError::Parse { format, .. } => {
            assert!(*format == "TOML" || *format == "JSON", "{e:?}");
        }
    }
    // Display never panics and always says something.
    assert!(!e.to_string().is_empty());
}

/// A config that was accepted: it validates, makes a breaker, survives a few calls and
/// round-trips through TOML.
fn check_accepted(config: &Config, drive: &[u8]) {
    assert!(config.validate().is_ok());
    assert!(config.validate_all().is_empty());
    let breaker = Breaker::new(config.clone()).expect("a validated config makes a breaker");
    let _ = breaker.snapshot();
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock(config.clone(), clock.clone())
        .expect("a validated config makes a breaker");
    for &b in drive.iter().take(64) {
        match b % 6 {
            0 => clock.advance(Duration::from_millis(u64::from(b) * 997)),
            1 => clock.advance(Duration::from_secs(3600 * u64::from(b))),
            2 => breaker.reset(),
            _ => {
                if let Ok(p) = breaker.try_acquire() {
                    let o = match b % 4 {
                        0 => Outcome::Success,
                        1 => Outcome::Ignored,
                        _ => Outcome::Failure(FailureKind::from_u8(b % 5).unwrap()),
                    };
                    p.record(o, Duration::from_nanos(u64::from(b) << (b % 48)));
                }
            }
        }
    }
    let _ = breaker.snapshot();
    let text = config.to_toml_string();
    match Config::from_toml_str(&text) {
        Ok(back) => assert_eq!(&back, config, "TOML round trip changed the config:\n{text}"),
        Err(e) => panic!("the printed config does not parse back: {e}\n{text}"),
    }
}

fn parse_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for result in [
        Config::from_toml_str(&text),
        Config::from_json_str(&text),
        Config::from_str_auto(&text),
    ] {
        match result {
            Ok(config) => check_accepted(&config, data),
            Err(e) => check_error(&e),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum RawDuration {
    Millis(u16),
    Nanos(u64),
    Secs(u64, u32),
}

impl RawDuration {
    fn get(&self) -> Duration {
        match *self {
            RawDuration::Millis(ms) => Duration::from_millis(u64::from(ms)),
            RawDuration::Nanos(n) => Duration::from_nanos(n),
            // Duration::new panics on overflow of the seconds; keep nanos in range.
            RawDuration::Secs(s, n) => Duration::new(s, n % 1_000_000_000),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum RawFloat {
    Unit(u8),
    Any(f64),
    Special(u8),
}

impl RawFloat {
    fn get(&self) -> f64 {
        match *self {
            RawFloat::Unit(v) => f64::from(v) / 200.0,
            RawFloat::Any(v) => v,
            RawFloat::Special(v) => [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                0.0,
                1.0,
                f64::MIN_POSITIVE,
                f64::EPSILON,
                1.0 + f64::EPSILON,
                100.0,
                100.000_000_1,
                f64::MAX,
            ][usize::from(v) % 12],
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Setter {
    CountWindow(u32),
    CountWindowBuckets(u32, u32),
    TimeWindow(RawDuration, u32),
    MinimumCalls(u32),
    FailureRate(RawFloat),
    NoFailureRate,
    SlowCallRate(RawFloat, RawDuration),
    ConsecutiveFailures(u32),
    LatencyPercentile(RawFloat, RawDuration),
    FailureWeight(u8, RawFloat),
    OpenDuration(RawDuration),
    Backoff(RawFloat, RawDuration),
    Jitter(RawFloat),
    BackoffDecay(RawDuration),
    HalfOpenPermits(u32),
    HalfOpenSuccesses(u32),
    HalfOpenMaxWait(RawDuration),
    SlowStart(RawFloat, RawDuration),
    TrackLatency(bool),
    HistogramPrecision(u8),
    TrackInFlight(bool),
    Seed(u64),
}

fn apply(b: ConfigBuilder, s: &Setter) -> ConfigBuilder {
    match s {
        Setter::CountWindow(n) => b.count_window(*n),
        Setter::CountWindowBuckets(n, k) => b.count_window_buckets(*n, *k),
        Setter::TimeWindow(d, k) => b.time_window(d.get(), *k),
        Setter::MinimumCalls(n) => b.minimum_calls(*n),
        Setter::FailureRate(r) => b.failure_rate_threshold(r.get()),
        Setter::NoFailureRate => b.no_failure_rate(),
        Setter::SlowCallRate(r, d) => b.slow_call_rate_threshold(r.get(), d.get()),
        Setter::ConsecutiveFailures(n) => b.consecutive_failures(*n),
        Setter::LatencyPercentile(q, d) => b.latency_percentile(q.get(), d.get()),
        Setter::FailureWeight(k, w) => {
            b.failure_weight(FailureKind::from_u8(k % 5).unwrap(), w.get())
        }
        Setter::OpenDuration(d) => b.open_duration(d.get()),
        Setter::Backoff(m, d) => b.backoff(m.get(), d.get()),
        Setter::Jitter(j) => b.jitter(j.get()),
        Setter::BackoffDecay(d) => b.backoff_decay(d.get()),
        Setter::HalfOpenPermits(n) => b.half_open_permits(*n),
        Setter::HalfOpenSuccesses(n) => b.half_open_success_threshold(*n),
        Setter::HalfOpenMaxWait(d) => b.half_open_max_wait(d.get()),
        Setter::SlowStart(f, d) => b.slow_start(f.get(), d.get()),
        Setter::TrackLatency(on) => b.track_latency(*on),
        Setter::HistogramPrecision(bits) => b.histogram_precision(*bits),
        Setter::TrackInFlight(on) => b.track_in_flight(*on),
        Setter::Seed(s) => b.seed(*s),
    }
}

fn built(u: &mut Unstructured<'_>) -> arbitrary::Result<(Config, Result<Config, ConfigError>)> {
    let tier =
        [Tier::Critical, Tier::Standard, Tier::NonCritical][usize::from(u8::arbitrary(u)? % 3)];
    let setters: Vec<Setter> = u.arbitrary_iter()?.take(24).collect::<Result<_, _>>()?;
    let b = setters.iter().fold(ConfigBuilder::from_tier(tier), apply);
    let unchecked = b.clone().build_unchecked();
    Ok((unchecked, b.build()))
}

fn build_numbers(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let (unchecked, first) = built(&mut u)?;
    let all = unchecked.validate_all();
    for e in &all {
        check_error(e);
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e:?}");
    }
    let breaker = match first {
        Ok(config) => {
            assert!(all.is_empty());
            assert_eq!(config, unchecked);
            check_accepted(&config, u.peek_bytes(16).unwrap_or(&[]));
            Some(Breaker::with_clock(config, ManualClock::new()).unwrap())
        }
        Err(e) => {
            assert_eq!(
                Some(&e),
                all.first(),
                "validate() is validate_all()'s first error"
            );
            check_error(&e);
            assert!(Breaker::new(unchecked).is_err());
            None
        }
    };
    // Live reconfiguration to a second config: accepted, or a typed refusal.
    if let Some(breaker) = breaker {
        let (unchecked, _) = built(&mut u)?;
        let before = breaker.config();
        match breaker.reconfigure(unchecked.clone()) {
            Ok(()) => assert_eq!(*breaker.config(), unchecked),
            Err(e) => {
                check_error(&e);
                assert!(matches!(e, ConfigError::Invalid { .. }), "{e:?}");
                assert_eq!(breaker.config(), before, "a refused config must not apply");
            }
        }
        if let Ok(p) = breaker.try_acquire() {
            p.failure(FailureKind::Timeout);
        }
        let _ = breaker.snapshot();
    }
    Ok(())
}

/// Layout: a format byte, an environment byte, a flags byte (bit 0: strict), then
/// `NAME=VALUE` lines of variables (raw bytes: names starting with an upper-case
/// letter), then the document.
fn layering(data: &[u8]) {
    let [format, environment, flags, rest @ ..] = data else {
        return;
    };
    let format = [Format::Toml, Format::Yaml, Format::Json][usize::from(*format % 3)];
    let environment = [
        None,
        Some("development"),
        Some("staging"),
        Some("production"),
    ][usize::from(*environment % 4)];
    let mut vars = Vec::new();
    let mut document = rest;
    while let Some(end) = document.iter().position(|&b| b == b'\n') {
        let line = &document[..end];
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            break;
        };
        if !line.first().is_some_and(u8::is_ascii_uppercase) {
            break;
        }
        vars.push((
            OsString::from_vec(line[..eq].to_vec()),
            OsString::from_vec(line[eq + 1..].to_vec()),
        ));
        document = &document[end + 1..];
    }
    let text = String::from_utf8_lossy(document);
    let layers = Layers::new()
        .document(&text, format, "doc")
        .environment(environment)
        .env_vars(vars)
        .strict(flags & 1 == 1);
    match layers.resolve() {
        Ok(resolved) => {
            check_accepted(&resolved.defaults.config, document);
            for s in resolved.services.values() {
                assert!(s.config.validate_all().is_empty());
            }
        }
        Err(problems) => {
            assert!(!problems.problems.is_empty(), "an error with no problem");
            // YAML also breaks lines at a lone `\r`.
            let lines = text.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count() + 1;
            for p in &problems.problems {
                assert!(!p.source.is_empty() && !p.message.is_empty(), "{p}");
                if let Some(at) = p.location {
                    assert!(p.source == "doc", "only the document has places: {p}");
                    assert!(at.line >= 1 && at.line <= lines && at.column >= 1, "{p}");
                }
            }
            assert!(!problems.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode, so one corpus serves all three.
    match data.split_first() {
        Some((m, rest)) if m % 3 == 0 => parse_text(rest),
        Some((m, rest)) if m % 3 == 1 => {
            let _ = build_numbers(rest);
        }
        Some((_, rest)) => layering(rest),
        None => {}
    }
});
