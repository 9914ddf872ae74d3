//! Costs of the patterns' own machinery (the guarded calls do nothing). Run by
//! `benches/run.sh` (or `benches/run.sh --only patterns`), which writes the figures into
//! BENCHMARKS.md; alone:
//!
//!   cargo bench -p tripgate-patterns --bench patterns
//!
//! Breakers are `Config::default()` (the standard tier: latency tracked).
//!
//! - `bulkhead/try_acquire+drop`: a slot taken and given back, uncontended.
//! - `bulkhead/try_acquire_full`: a refusal (one add, one sub, a counted rejection).
//! - `compose/breaker_only`: `Breaker::call` alone, the baseline of the two below.
//! - `compose/bulkhead_first`, `compose/breaker_first`: the same call inside a
//!   bulkhead and the breaker (`call_bulkhead_first`, `call_breaker_first`).
//! - `hedge/no_hedge`: a hedged call whose primary answers at once (one breaker
//!   admission and record, a timer future made but never due).
//! - `hedge/hedged`: a hedged call whose delay is already due: the secondary is started
//!   through its breaker and wins, the primary is cancelled and recorded as ignored.
//! - `chain/third_step`: a sync chain whose first step is rejected and second fails.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tripgate::{Breaker, Config};
use tripgate_patterns::chain::Chain;
use tripgate_patterns::hedge::{Hedge, HedgeDelay};
use tripgate_patterns::{call_breaker_first, call_bulkhead_first, Bulkhead};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls `f` until ready on a waker that does nothing: every future here completes
/// in one poll.
fn block_on<F: Future>(waker: &Waker, f: F) -> F::Output {
    let mut cx = Context::from_waker(waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn bulkhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulkhead");
    let b = Bulkhead::new(64);
    g.bench_function("try_acquire+drop", |bench| {
        bench.iter(|| drop(black_box(b.try_acquire()).unwrap()))
    });
    let full = Bulkhead::new(1);
    let _held = full.try_acquire().unwrap();
    g.bench_function("try_acquire_full", |bench| {
        bench.iter(|| black_box(full.try_acquire()).unwrap_err())
    });
    g.finish();
}

fn compose(c: &mut Criterion) {
    let mut g = c.benchmark_group("compose");
    let breaker = Breaker::new(Config::default()).unwrap();
    let bulkhead = Bulkhead::new(64);
    g.bench_function("breaker_only", |bench| {
        bench.iter(|| breaker.call(|| Ok::<_, ()>(black_box(1u32))).unwrap())
    });
    g.bench_function("bulkhead_first", |bench| {
        bench.iter(|| {
            call_bulkhead_first(&bulkhead, &breaker, || Ok::<_, ()>(black_box(1u32))).unwrap()
        })
    });
    g.bench_function("breaker_first", |bench| {
        bench.iter(|| {
            call_breaker_first(&bulkhead, &breaker, || Ok::<_, ()>(black_box(1u32))).unwrap()
        })
    });
    g.finish();
}

fn hedge(c: &mut Criterion) {
    let mut g = c.benchmark_group("hedge");
    let waker = Waker::from(Arc::new(Noop));
    let breaker = || Arc::new(Breaker::new(Config::default()).unwrap());

    // The timer never fires: the primary answers first.
    let never = Hedge::new(
        breaker(),
        breaker(),
        HedgeDelay::Fixed(Duration::from_millis(10)),
        |_| std::future::pending::<()>(),
    );
    g.bench_function("no_hedge", |bench| {
        bench.iter(|| {
            block_on(
                &waker,
                never.call(|| async { Ok::<_, ()>(1u32) }, || async { Ok(2u32) }),
            )
            .unwrap()
        })
    });

    // The timer is due at once and the primary never answers: the secondary wins.
    let now = Hedge::new(
        breaker(),
        breaker(),
        HedgeDelay::Fixed(Duration::ZERO),
        |_| std::future::ready(()),
    );
    g.bench_function("hedged", |bench| {
        bench.iter(|| {
            block_on(
                &waker,
                now.call(std::future::pending::<Result<u32, ()>>, || async {
                    Ok(2u32)
                }),
            )
            .unwrap()
        })
    });
    g.finish();
}

fn chain(c: &mut Criterion) {
    let (a, b) = (
        Breaker::new(Config::default()).unwrap(),
        Breaker::new(Config::default()).unwrap(),
    );
    a.force_open();
    b.metrics_only();
    c.bench_function("chain/third_step", |bench| {
        bench.iter(|| {
            Chain::new()
                .step("a", &a, || Ok::<u32, u32>(1))
                .step("b", &b, || Err(2))
                .unguarded("c", || Ok(3))
                .run()
                .unwrap()
                .value
        })
    });
}

/// The breakers suite's settings (`benches/benches/breakers.rs`), so that one
/// `benches/run.sh` states one set of them.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bulkhead, compose, hedge, chain
}
criterion_main!(benches);
