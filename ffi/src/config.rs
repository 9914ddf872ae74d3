//! `tg_config`: a breaker configuration builder.
//!
//! A `tg_config` always holds a valid config: every setter applies its change to a
//! `ConfigBuilder` made from a copy, and keeps the result only if the core's
//! `ConfigBuilder::build` accepts it. So the derived rules (setting the open duration
//! raises its cap) and the error messages (naming the field as a dotted path and the
//! allowed range) are the core's own; this module only translates C arguments.

use crate::raw;
use crate::status::*;
use crate::types::*;
use std::ffi::c_char;
use std::time::Duration;
use tg_core::{Config, ConfigBuilder, WindowConfig};

/// A breaker configuration (a builder). Create it with `tg_config_new`,
/// `tg_config_new_preset` or `tg_config_from_str`, adjust it with the setters, pass it to
/// `tg_breaker_new` (which copies it) and free it with `tg_config_free`.
///
/// Not thread-safe: a `tg_config` may be used by one thread at a time (reading it from
/// several threads at once, as `tg_breaker_new` and `tg_config_to_toml` do, is fine
/// while no thread modifies it).
pub struct tg_config {
    pub(crate) inner: Config,
}

/// Hands out a new `tg_config` holding `config`.
fn hand_out(config: Config, out: raw::Out<*mut tg_config>) -> tg_status {
    out.set(raw::into_handle(tg_config { inner: config }));
    TG_OK
}

/// Creates a config holding the standard tier's defaults (trip at 50% failures over at
/// least 10 calls in a 30 s time window, open 30 s, latency tracked). Free it with
/// `tg_config_free`.
///
/// Returns `TG_OK` and writes `*out`, or `TG_ERR_NULL` if `out` is NULL.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_config_new(out: *mut *mut tg_config) -> tg_status {
    ffi_panic_boundary!("tg_config_new", {
        hand_out(Config::standard(), try_out!(out))
    })
}

/// Creates a config holding a tier's preset: `TG_TIER_CRITICAL`, `TG_TIER_STANDARD` or
/// `TG_TIER_NON_CRITICAL`. Free it with `tg_config_free`.
///
/// Returns `TG_OK` and writes `*out`; `TG_ERR_INVALID_ARG` for an unknown tier;
/// `TG_ERR_NULL` if `out` is NULL.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_config_new_preset(tier: tg_tier, out: *mut *mut tg_config) -> tg_status {
    ffi_panic_boundary!("tg_config_new_preset", {
        let out = try_out!(out);
        let Some(tier) = tier_from(tier) else {
            return fail(
                TG_ERR_INVALID_ARG,
                format!("{FUNC}: unknown tier {tier}: allowed TG_TIER_CRITICAL (0), TG_TIER_STANDARD (1), TG_TIER_NON_CRITICAL (2)"),
            );
        };
        hand_out(Config::preset(tier), out)
    })
}

/// Parses a config from a NUL-terminated TOML or JSON document (JSON when the text
/// starts with `{`), exactly as the Rust `Config::from_str_auto` does; unspecified
/// options keep the standard tier's defaults. Free the result with `tg_config_free`.
///
/// Returns `TG_OK` and writes `*out`; `TG_ERR_PARSE` if the text is not valid TOML/JSON
/// or names an unknown field (the message gives the line and column);
/// `TG_ERR_INVALID_ARG` if a value is out of range or the text is not UTF-8;
/// `TG_ERR_NULL` if `text` or `out` is NULL.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_config_from_str(text: *const c_char, out: *mut *mut tg_config) -> tg_status {
    ffi_panic_boundary!("tg_config_from_str", {
        let text = try_str!(text);
        let out = try_out!(out);
        match Config::from_str_auto(text) {
            Ok(config) => hand_out(config, out),
            Err(e @ tg_core::ConfigError::Parse { .. }) => {
                fail(TG_ERR_PARSE, format!("{FUNC}: {e}"))
            }
            Err(e) => invalid(FUNC, e),
        }
    })
}

/// Writes the config as a NUL-terminated TOML document (every option spelled out) into
/// `buf`; `tg_config_from_str` parses it back to the same config.
///
/// `*needed` (may be NULL) receives the size needed, NUL included; it is written on
/// `TG_OK` and on `TG_ERR_BUFFER_TOO_SMALL`. With `buf == NULL` and `len == 0` the call
/// only reports the size and returns `TG_OK`.
///
/// Thread safety: may be called concurrently with other readers of the same config, not
/// with its setters.
#[no_mangle]
pub extern "C" fn tg_config_to_toml(
    config: *const tg_config,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> tg_status {
    ffi_panic_boundary!("tg_config_to_toml", {
        let config = try_ref!(config);
        fill_text(FUNC, &config.inner.to_toml_string(), buf, len, needed)
    })
}

/// Frees a config. NULL is a no-op. The config must not be used afterwards; breakers
/// built from it are unaffected.
///
/// Thread safety: no other call may be using the config.
#[no_mangle]
pub extern "C" fn tg_config_free(config: *mut tg_config) {
    free_handle("tg_config_free", config);
}

/// Applies `change` to a builder holding a copy of the config and keeps the result
/// only if the core's `build` accepts it.
fn rebuild(
    func: &str,
    config: &mut tg_config,
    change: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> tg_status {
    match change(config.inner.to_builder()).build() {
        Ok(next) => {
            config.inner = next;
            TG_OK
        }
        Err(e) => invalid(func, e),
    }
}

/// For the few options `ConfigBuilder` has no method for (removing an optional rule,
/// the slow-call rate or duration alone, a window's default bucket count): a plain
/// field write, to which no derived rule applies.
fn edit(builder: ConfigBuilder, write: impl FnOnce(&mut Config)) -> ConfigBuilder {
    let mut config = builder.build_unchecked();
    write(&mut config);
    config.to_builder()
}

/// The body of a setter: `change` through [`rebuild`], behind the panic boundary.
macro_rules! set {
    ($func:literal, $config:ident, $change:expr) => {
        ffi_panic_boundary!($func, { rebuild(FUNC, try_mut!($config), $change) })
    };
}

fn ns(nanos: u64) -> Duration {
    Duration::from_nanos(nanos)
}

/// Uses a count-based window of exactly the last `size` calls (`window.size`,
/// 1..=1000000). While a rate or percentile rule is on, `minimum_calls` must not
/// exceed `size` (such a window never holds that many calls): a size below the
/// config's `minimum_calls` (10 in the standard tier) is then refused, so set
/// `minimum_calls` first when making the window smaller.
///
/// Every setter checks the whole config and returns `TG_OK`, or `TG_ERR_INVALID_ARG` leaving the config unchanged
/// (the message names the field and its allowed range), or `TG_ERR_NULL`.
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_count_window(config: *mut tg_config, size: u32) -> tg_status {
    set!("tg_config_set_count_window", config, |b| b
        .count_window(size))
}

/// Uses a count-based window of `size` calls kept in `buckets` buckets of
/// `size / buckets` calls (`buckets` must divide `size`; `window.buckets` 1..=4096):
/// less memory for a large window, which then holds between
/// `size - size / buckets + 1` and `size` calls. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_count_window_buckets(
    config: *mut tg_config,
    size: u32,
    buckets: u32,
) -> tg_status {
    set!("tg_config_set_count_window_buckets", config, |b| {
        b.count_window_buckets(size, buckets)
    })
}

/// Uses a time-based window of the last `duration_ns` nanoseconds in `buckets` buckets
/// (0 means 10). Each bucket must be at least 1 ms and the buckets must divide the
/// duration into whole nanoseconds; `window.duration` 1ms..=30days.
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_time_window(
    config: *mut tg_config,
    duration_ns: u64,
    buckets: u32,
) -> tg_status {
    set!("tg_config_set_time_window", config, |b| match buckets {
        0 => edit(b, |c| {
            c.window = WindowConfig::Time {
                duration: ns(duration_ns),
                buckets: None,
            }
        }),
        n => b.time_window(ns(duration_ns), n),
    })
}

/// Calls the window must hold before a rate or percentile rule may trip
/// (`minimum_calls`, 1..=1000000000; with a count window and such a rule on, at most
/// its size). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_minimum_calls(config: *mut tg_config, n: u32) -> tg_status {
    set!("tg_config_set_minimum_calls", config, |b| b
        .minimum_calls(n))
}

/// Trips when the weighted failure rate is at or above `rate`
/// (`failure_rate_threshold`, 0.0..=1.0). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_failure_rate_threshold(
    config: *mut tg_config,
    rate: f64,
) -> tg_status {
    set!("tg_config_set_failure_rate_threshold", config, |b| b
        .failure_rate_threshold(rate))
}

/// Removes the failure-rate rule. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_failure_rate_threshold(config: *mut tg_config) -> tg_status {
    set!(
        "tg_config_clear_failure_rate_threshold",
        config,
        ConfigBuilder::no_failure_rate
    )
}

/// Trips when the slow-call rate is at or above `rate` (`slow_call_rate_threshold`,
/// 0.0..=1.0). Implies latency tracking. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_slow_call_rate_threshold(
    config: *mut tg_config,
    rate: f64,
) -> tg_status {
    set!("tg_config_set_slow_call_rate_threshold", config, |b| edit(
        b,
        |c| c.slow_call_rate_threshold = Some(rate)
    ))
}

/// Removes the slow-call-rate rule. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_slow_call_rate_threshold(config: *mut tg_config) -> tg_status {
    set!(
        "tg_config_clear_slow_call_rate_threshold",
        config,
        |b| edit(b, |c| c.slow_call_rate_threshold = None)
    )
}

/// A success taking at least `duration_ns` is a slow call (`slow_call_duration`,
/// 1ns..=30days). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_slow_call_duration_ns(
    config: *mut tg_config,
    duration_ns: u64,
) -> tg_status {
    set!("tg_config_set_slow_call_duration_ns", config, |b| edit(
        b,
        |c| c.slow_call_duration = ns(duration_ns)
    ))
}

/// Trips after `n` failures in a row (`consecutive_failures`, 1..=1000000000).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_consecutive_failures(config: *mut tg_config, n: u32) -> tg_status {
    set!("tg_config_set_consecutive_failures", config, |b| b
        .consecutive_failures(n))
}

/// Removes the consecutive-failures rule. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_consecutive_failures(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_consecutive_failures", config, |b| edit(
        b,
        |c| c.consecutive_failures = None
    ))
}

/// Trips when `quantile` of the window's latencies (0.99 for p99; 0.0 < q < 1.0) is
/// `limit_ns` or more (1ns..=30days). Implies latency tracking.
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_latency_percentile(
    config: *mut tg_config,
    quantile: f64,
    limit_ns: u64,
) -> tg_status {
    set!("tg_config_set_latency_percentile", config, |b| b
        .latency_percentile(quantile, ns(limit_ns)))
}

/// Removes the latency-percentile rule. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_latency_percentile(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_latency_percentile", config, |b| edit(
        b,
        |c| c.latency_percentile = None
    ))
}

/// Weight of one failure kind (`TG_KIND_*`) in the weighted failure rate
/// (`failure_weights.<kind>`, 0.0..=100.0; default 1.0). An unknown kind is
/// `TG_ERR_INVALID_ARG`. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_failure_weight(
    config: *mut tg_config,
    kind: tg_failure_kind,
    weight: f64,
) -> tg_status {
    ffi_panic_boundary!("tg_config_set_failure_weight", {
        let config = try_mut!(config);
        let Some(kind) = kind_from(kind) else {
            return fail(
                TG_ERR_INVALID_ARG,
                format!("{FUNC}: unknown failure kind {kind}: allowed TG_KIND_TIMEOUT (0) ..= TG_KIND_OTHER (4)"),
            );
        };
        rebuild(FUNC, config, |b| b.failure_weight(kind, weight))
    })
}

/// Base open duration (`open.duration`, 1µs..=30days); raises `open.max_duration` to it
/// if the cap was lower. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_open_duration_ns(
    config: *mut tg_config,
    duration_ns: u64,
) -> tg_status {
    set!("tg_config_set_open_duration_ns", config, |b| b
        .open_duration(ns(duration_ns)))
}

/// Exponential backoff of the open duration on consecutive re-trips: growth factor
/// (`open.multiplier`, 1.0..=100.0) and cap (`open.max_duration`, at least
/// `open.duration`). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_backoff(
    config: *mut tg_config,
    multiplier: f64,
    max_duration_ns: u64,
) -> tg_status {
    set!("tg_config_set_backoff", config, |b| b
        .backoff(multiplier, ns(max_duration_ns)))
}

/// Random extra fraction added to each open duration (`open.jitter`, 0.0..=1.0).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_jitter(config: *mut tg_config, fraction: f64) -> tg_status {
    set!("tg_config_set_jitter", config, |b| b.jitter(fraction))
}

/// Healthy closed time that takes the backoff one step back down (`open.decay_after`,
/// 1ms..=30days). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_backoff_decay_ns(
    config: *mut tg_config,
    after_ns: u64,
) -> tg_status {
    set!("tg_config_set_backoff_decay_ns", config, |b| b
        .backoff_decay(ns(after_ns)))
}

/// Probes allowed in flight in half-open (`half_open.permits`, 1..=4095).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_half_open_permits(config: *mut tg_config, n: u32) -> tg_status {
    set!("tg_config_set_half_open_permits", config, |b| b
        .half_open_permits(n))
}

/// Successful probes needed to close (`half_open.success_threshold`, 1..=4095).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_half_open_success_threshold(
    config: *mut tg_config,
    n: u32,
) -> tg_status {
    set!("tg_config_set_half_open_success_threshold", config, |b| b
        .half_open_success_threshold(n))
}

/// Lease after which unreported probes are written off and their slots reclaimed
/// (`half_open.max_wait`, 1ms..=30days). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_half_open_max_wait_ns(
    config: *mut tg_config,
    wait_ns: u64,
) -> tg_status {
    set!("tg_config_set_half_open_max_wait_ns", config, |b| b
        .half_open_max_wait(ns(wait_ns)))
}

/// Slow start after closing: admission ramps linearly from `initial_fraction` of calls
/// (`slow_start.initial_fraction`, 0.0 < f <= 1.0) to all of them over `duration_ns`
/// (`slow_start.duration`, 1ms..=30days). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_slow_start(
    config: *mut tg_config,
    initial_fraction: f64,
    duration_ns: u64,
) -> tg_status {
    set!("tg_config_set_slow_start", config, |b| b
        .slow_start(initial_fraction, ns(duration_ns)))
}

/// Removes slow start. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_slow_start(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_slow_start", config, |b| edit(b, |c| c
        .slow_start =
        None))
}

/// Fills `*out` with the default adaptive threshold (0.8x at
/// 1000 calls or more, 1.2x at 100 or fewer, 1.1x after 50 successes in a row, 0.9x after
/// 10 failures in a row, clamped to 0.05..=1.0), to adjust before
/// `tg_config_set_adaptive_threshold`.
///
/// Thread safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tg_adaptive_threshold_default(out: *mut tg_adaptive_threshold) -> tg_status {
    ffi_panic_boundary!("tg_adaptive_threshold_default", {
        try_out!(out).set(tg_core::AdaptiveThreshold::default().into());
        TG_OK
    })
}

/// Makes the failure-rate threshold adapt to volume and streaks (`adaptive_threshold.*`;
/// needs a failure-rate rule). `*adaptive` is copied. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_adaptive_threshold(
    config: *mut tg_config,
    adaptive: *const tg_adaptive_threshold,
) -> tg_status {
    ffi_panic_boundary!("tg_config_set_adaptive_threshold", {
        let config = try_mut!(config);
        let adaptive = *try_ref!(adaptive);
        rebuild(FUNC, config, |b| b.adaptive_threshold(adaptive.into()))
    })
}

/// Removes the adaptive threshold. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_adaptive_threshold(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_adaptive_threshold", config, |b| edit(
        b,
        |c| c.adaptive_threshold = None
    ))
}

/// Anti-thrash: after recovering, stay closed at least `min_closed_ns` before tripping
/// again (`anti_thrash.min_closed`), and stay open at least `min_open_ns`
/// (`anti_thrash.min_open`); each 0..=30days. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_anti_thrash(
    config: *mut tg_config,
    min_closed_ns: u64,
    min_open_ns: u64,
) -> tg_status {
    set!("tg_config_set_anti_thrash", config, |b| b
        .anti_thrash(ns(min_closed_ns), ns(min_open_ns)))
}

/// Removes anti-thrash. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_anti_thrash(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_anti_thrash", config, |b| edit(b, |c| c
        .anti_thrash =
        None))
}

/// Whether to time calls and keep a latency histogram (`track_latency`; a slow-call or
/// percentile rule implies it). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_track_latency(config: *mut tg_config, on: bool) -> tg_status {
    set!("tg_config_set_track_latency", config, |b| b
        .track_latency(on))
}

/// Histogram precision in bits: relative error `2^-bits` (`histogram_precision`,
/// 2..=7; 5 gives 3.125%). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_histogram_precision(config: *mut tg_config, bits: u8) -> tg_status {
    set!("tg_config_set_histogram_precision", config, |b| b
        .histogram_precision(bits))
}

/// Whether to count calls in flight (`track_in_flight`; one atomic add on admission and
/// one on record). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_track_in_flight(config: *mut tg_config, on: bool) -> tg_status {
    set!("tg_config_set_track_in_flight", config, |b| b
        .track_in_flight(on))
}

/// Seed for the jitter generator, for reproducible runs (`seed`).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_seed(config: *mut tg_config, seed: u64) -> tg_status {
    set!("tg_config_set_seed", config, |b| b.seed(seed))
}

/// Seeds the jitter generator from the clock again (the default).
/// Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_seed(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_seed", config, |b| edit(b, |c| c.seed =
        None))
}

/// The state a new breaker starts in (`initial_state`): a `TG_STATE_*` value, passed as
/// an `int32_t` (`TG_STATE_CLOSED` (0) ..= `TG_STATE_METRICS_ONLY` (6); the default
/// is closed). `TG_STATE_OPEN` and `TG_STATE_HALF_OPEN` start as after a trip. No
/// transition is published for the initial state. Taken by `tg_breaker_new`, not by
/// `tg_reconfigure` (a running breaker keeps its state). Not thread-safe (see
/// `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_initial_state(config: *mut tg_config, state: i32) -> tg_status {
    ffi_panic_boundary!("tg_config_set_initial_state", {
        let config = try_mut!(config);
        let Some(state) = u8::try_from(state).ok().and_then(tg_core::State::from_u8) else {
            return fail(
                TG_ERR_INVALID_ARG,
                format!("{FUNC}: invalid initial_state = {state}: allowed TG_STATE_CLOSED (0) ..= TG_STATE_METRICS_ONLY (6)"),
            );
        };
        rebuild(FUNC, config, |b| b.initial_state(state))
    })
}

/// A deadline for the calls the breaker runs itself (`call_timeout`, 1µs..=30days):
/// one that takes this long or longer is a timeout failure. A C program makes its calls
/// itself (`tg_try_acquire`, `tg_record`): `tg_permit_deadline_ns` tells when each one
/// must be over, and a call that ran past it is recorded as `TG_FAILURE_TIMEOUT` by the
/// caller. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_call_timeout_ns(
    config: *mut tg_config,
    timeout_ns: u64,
) -> tg_status {
    set!("tg_config_set_call_timeout_ns", config, |b| b
        .call_timeout(ns(timeout_ns)))
}

/// Removes the call timeout (the default). Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_clear_call_timeout(config: *mut tg_config) -> tg_status {
    set!("tg_config_clear_call_timeout", config, |b| edit(b, |c| c
        .call_timeout =
        None))
}

/// The breaker's name (`name`, a NUL-terminated UTF-8 string of at most 256 bytes;
/// `""`, the default, leaves it unnamed), which rejections carry
/// (`tg_last_rejection_name`, `tg_last_rejection_message`). The string is copied.
/// Returns `TG_ERR_INVALID_ARG` for a longer name or invalid UTF-8, `TG_ERR_NULL`
/// for NULL. Not thread-safe (see `tg_config`).
#[no_mangle]
pub extern "C" fn tg_config_set_name(config: *mut tg_config, name: *const c_char) -> tg_status {
    ffi_panic_boundary!("tg_config_set_name", {
        let config = try_mut!(config);
        let name = try_str!(name);
        rebuild(FUNC, config, |b| b.name(name))
    })
}
