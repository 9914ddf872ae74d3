//! Runs every candidate over the same calls, in parallel on a few threads, with a
//! progress bar on stderr for runs that take more than a second. Results come back in
//! candidate order whatever the scheduling, so output is deterministic.

use crate::candidates::Candidate;
use crate::engine::{self, Arrival, Run, Timeline};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs each candidate over `make_arrivals()` (called once per candidate; it must yield
/// the same calls every time).
pub fn run_all<F, I>(
    candidates: &[Candidate],
    timeline: &Timeline,
    concurrency: Option<u32>,
    make_arrivals: F,
    threads: usize,
    expected_calls: u64,
) -> Result<Vec<Run>, String>
where
    F: Fn() -> I + Sync,
    I: Iterator<Item = Arrival>,
{
    let progress = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Run, String>>>> =
        candidates.iter().map(|_| Mutex::new(None)).collect();
    let threads = threads.clamp(1, candidates.len().max(1));
    let total = expected_calls
        .saturating_mul(candidates.len() as u64)
        .max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = candidates.get(i) else { break };
                let r = engine::run(&c.config, make_arrivals(), timeline, concurrency, &progress)
                    .map_err(|e| format!("candidate {}: {e}", c.name));
                *results[i].lock().expect("result slot") = Some(r);
                finished.fetch_add(1, Ordering::Release);
            });
        }
        // The bar appears only after a second, and only on a terminal.
        let start = Instant::now();
        let mut bar: Option<ProgressBar> = None;
        while finished.load(Ordering::Acquire) < candidates.len() {
            std::thread::sleep(Duration::from_millis(50));
            if bar.is_none()
                && start.elapsed() >= Duration::from_secs(1)
                && std::io::stderr().is_terminal()
            {
                let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} simulating [{bar:40}] {human_pos}/{human_len} calls ({per_sec}, eta {eta})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar = Some(b);
            }
            if let Some(b) = &bar {
                b.set_position(progress.load(Ordering::Relaxed).min(total));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("result slot")
                .expect("every candidate ran")
        })
        .collect()
}
