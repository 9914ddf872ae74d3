//! Runs every candidate over the same calls, in parallel on a few threads (each thread
//! draws the calls once for all of its candidates), with a progress bar on stderr for
//! runs that take more than a second. Results come back in candidate order whatever
//! the scheduling, so output is deterministic.
//!
//! Workers are scoped threads joined through their handles: a worker that fails (a
//! candidate the engine refuses, too many calls in flight) or panics ends the run with
//! an error naming it; the main thread never waits on a worker that is gone.

use crate::candidates::Candidate;
use crate::engine::{Arrival, Run, Sim, Timeline};
use crate::report::dur_ns;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Calls drawn at a time and fed to each of a thread's candidates.
const CHUNK: usize = 4096;

/// How the candidates run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// The caller's cap on calls in flight (`None`: unlimited); calls beyond it are shed.
    pub concurrency: Option<u32>,
    /// Threads to run the candidates on (clamped to 1..=candidates).
    pub threads: usize,
    /// Expected calls, for the progress bar.
    pub expected_calls: u64,
    /// Calls in flight one candidate may hold before the run fails (see
    /// [`crate::budget::Estimate::in_flight_limit`]).
    pub in_flight_limit: u64,
}

/// Runs each candidate over `make_arrivals()` (called once per thread; it must yield
/// the same calls every time).
pub fn run_all<F, I>(
    candidates: &[Candidate],
    timeline: &Timeline,
    make_arrivals: F,
    opts: &RunOptions,
) -> Result<Vec<Run>, String>
where
    F: Fn() -> I + Sync,
    I: Iterator<Item = Arrival>,
{
    let progress = AtomicU64::new(0);
    // Set by a worker that fails, so the others stop early.
    let abort = AtomicBool::new(false);
    let threads = opts.threads.clamp(1, candidates.len().max(1));
    let total = opts
        .expected_calls
        .saturating_mul(candidates.len() as u64)
        .max(1);
    let mut results: Vec<Option<Run>> = candidates.iter().map(|_| None).collect();
    let mut errors: Vec<String> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (progress, abort, make_arrivals) = (&progress, &abort, &make_arrivals);
                s.spawn(move || {
                    let mine: Vec<usize> = (t..candidates.len()).step_by(threads).collect();
                    let out = run_thread(
                        candidates,
                        &mine,
                        timeline,
                        make_arrivals(),
                        opts,
                        progress,
                        abort,
                    );
                    if out.is_err() {
                        // ordering: a hint to the other workers; nothing is published through it.
                        abort.store(true, Ordering::Relaxed);
                    }
                    out
                })
            })
            .collect();
        // The bar appears only after a second, and only on a terminal.
        let start = Instant::now();
        let mut bar: Option<ProgressBar> = None;
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
            if bar.is_none()
                && start.elapsed() >= Duration::from_secs(1)
                && std::io::stderr().is_terminal()
            {
                bar = Some(progress_bar(total));
            }
            if let Some(b) = &bar {
                // ordering: a display figure only.
                b.set_position(progress.load(Ordering::Relaxed).min(total));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        for (t, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(Ok(runs)) => {
                    for (i, run) in runs {
                        results[i] = Some(run);
                    }
                }
                Ok(Err(e)) => errors.push(e),
                Err(payload) => errors.push(format!(
                    "simulation thread {t} panicked ({}); this is a bug in tripgate, please report it with the input",
                    panic_message(payload.as_ref())
                )),
            }
        }
    });
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    results
        .into_iter()
        .zip(candidates)
        .map(|(r, c)| r.ok_or_else(|| format!("candidate {}: no result", c.name)))
        .collect()
}

/// One worker: its candidates share one stream of calls, drawn once and fed to each of
/// them chunk by chunk.
fn run_thread(
    candidates: &[Candidate],
    mine: &[usize],
    timeline: &Timeline,
    mut arrivals: impl Iterator<Item = Arrival>,
    opts: &RunOptions,
    progress: &AtomicU64,
    abort: &AtomicBool,
) -> Result<Vec<(usize, Run)>, String> {
    let mut sims = Vec::with_capacity(mine.len());
    for &i in mine {
        let c = &candidates[i];
        let sim = Sim::new(&c.config, timeline, opts.concurrency, opts.in_flight_limit)
            .map_err(|e| format!("candidate {}: {e}", c.name))?;
        sims.push((i, sim));
    }
    let mut chunk: Vec<Arrival> = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        chunk.extend(arrivals.by_ref().take(CHUNK));
        // ordering: a hint; a late stop only costs one more chunk.
        if chunk.is_empty() || abort.load(Ordering::Relaxed) {
            break;
        }
        for (i, sim) in &mut sims {
            for a in &chunk {
                sim.step(a).map_err(|e| {
                    format!(
                        "candidate {}: more than {} calls in flight at {} (the share of --max-memory each candidate has); \
                         raise --max-memory, or lower the rate, the latency or the timeout",
                        candidates[*i].name,
                        e.limit,
                        dur_ns(e.at_ns)
                    )
                })?;
            }
        }
        // ordering: a display counter only.
        progress.fetch_add((chunk.len() * sims.len()) as u64, Ordering::Relaxed);
    }
    Ok(sims.into_iter().map(|(i, sim)| (i, sim.finish())).collect())
}

fn progress_bar(total: u64) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} simulating [{bar:40}] {human_pos}/{human_len} calls ({per_sec}, eta {eta})",
    ) {
        b.set_style(style.progress_chars("=> "));
    }
    b
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}
