//! Runs every candidate over the same calls, in parallel on a few threads (each thread
//! draws the calls once for all of its candidates), with a
//! progress bar on stderr for runs that take more than a second. Results come back in
//! candidate order whatever the scheduling, so output is deterministic.

use crate::candidates::Candidate;
use crate::engine::{Arrival, Run, Sim, Timeline};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls drawn at a time and fed to each of a thread's candidates.
const CHUNK: usize = 4096;

/// Runs each candidate over `make_arrivals()` (called once per thread; it must yield
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
    let finished = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Run, String>>>> =
        candidates.iter().map(|_| Mutex::new(None)).collect();
    let threads = threads.clamp(1, candidates.len().max(1));
    let total = expected_calls
        .saturating_mul(candidates.len() as u64)
        .max(1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (progress, finished, results, make_arrivals) =
                (&progress, &finished, &results, &make_arrivals);
            s.spawn(move || {
                // This thread's candidates share one stream of calls, drawn once and
                // fed to each of them chunk by chunk.
                let mine: Vec<usize> = (t..candidates.len()).step_by(threads).collect();
                let mut sims = Vec::new();
                for &i in &mine {
                    let c = &candidates[i];
                    match Sim::new(&c.config, timeline, concurrency) {
                        Ok(sim) => sims.push((i, sim)),
                        Err(e) => {
                            *results[i].lock().expect("result slot") =
                                Some(Err(format!("candidate {}: {e}", c.name)));
                            finished.fetch_add(1, Ordering::Release);
                        }
                    }
                }
                let mut arrivals = make_arrivals();
                let mut chunk: Vec<Arrival> = Vec::with_capacity(CHUNK);
                loop {
                    chunk.clear();
                    chunk.extend(arrivals.by_ref().take(CHUNK));
                    if chunk.is_empty() {
                        break;
                    }
                    for (_, sim) in &mut sims {
                        for a in &chunk {
                            sim.step(a);
                        }
                    }
                    progress.fetch_add((chunk.len() * sims.len()) as u64, Ordering::Relaxed);
                }
                for (i, sim) in sims {
                    *results[i].lock().expect("result slot") = Some(Ok(sim.finish()));
                    finished.fetch_add(1, Ordering::Release);
                }
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
