//! Graduated fallback serves each tier at the right ages.

use std::time::Duration;
use tripgate::{Breaker, CallError, Config, ManualClock};
use tripgate_patterns::graduated::{Graduated, Tier};

const RECENT: Duration = Duration::from_secs(300);
const STALE: Duration = Duration::from_secs(3600);

fn setup() -> (ManualClock, Breaker<ManualClock>) {
    let clock = ManualClock::new();
    let config = Config::builder()
        .count_window(100)
        .minimum_calls(100)
        .build()
        .unwrap();
    let breaker = Breaker::with_clock(config, clock.clone()).unwrap();
    (clock, breaker)
}

#[test]
fn each_tier_answers_at_its_ages() {
    let (clock, breaker) = setup();
    let cache = Graduated::new(RECENT, STALE, clock.clone()).with_default(-1);
    let live = cache.call("k", &breaker, || Ok::<_, &str>(7)).unwrap();
    assert_eq!(
        (live.value, live.tier, live.age),
        (7, Tier::Live, Some(Duration::ZERO))
    );

    let down = || Err::<i32, _>("down");
    // (age, expected tier, expected value)
    let cases = [
        (Duration::ZERO, Tier::Recent, 7),
        (RECENT - Duration::from_nanos(1), Tier::Recent, 7),
        (RECENT, Tier::Recent, 7), // inclusive
        (RECENT + Duration::from_nanos(1), Tier::Stale, 7),
        (STALE, Tier::Stale, 7), // inclusive
        (STALE + Duration::from_nanos(1), Tier::Default, -1),
        (STALE * 10, Tier::Default, -1),
    ];
    let mut now = Duration::ZERO;
    for (age, tier, value) in cases {
        clock.advance(age - now);
        now = age;
        let served = cache.call("k", &breaker, down).unwrap();
        assert_eq!((served.tier, served.value), (tier, value), "at age {age:?}");
        match tier {
            Tier::Default => assert_eq!(served.age, None),
            _ => assert_eq!(served.age, Some(age)),
        }
    }
}

#[test]
fn without_a_default_a_too_old_value_fails_with_the_live_error() {
    let (clock, breaker) = setup();
    let cache: Graduated<&str, i32, _> = Graduated::new(RECENT, STALE, clock.clone());
    cache.call("k", &breaker, || Ok::<_, &str>(1)).unwrap();
    clock.advance(STALE + Duration::from_secs(1));
    let err = cache.call("k", &breaker, || Err("down")).unwrap_err();
    assert_eq!(err.live, CallError::Failed("down"));
    let err = cache.call("other", &breaker, || Err("down")).unwrap_err();
    assert_eq!(err.live, CallError::Failed("down"));
}

#[test]
fn an_open_breaker_is_served_from_the_cache_without_calling() {
    let (clock, breaker) = setup();
    let cache = Graduated::new(RECENT, STALE, clock.clone());
    cache.call("k", &breaker, || Ok::<_, ()>(1)).unwrap();
    breaker.force_open();
    clock.advance(Duration::from_secs(10));
    let served = cache
        .call("k", &breaker, || -> Result<i32, ()> {
            panic!("must not be called while open")
        })
        .unwrap();
    assert_eq!(served.tier, Tier::Recent);
    let err = cache
        .call("missing", &breaker, || Ok::<_, ()>(2))
        .unwrap_err();
    assert!(matches!(err.live, CallError::Rejected(_)));
}

#[test]
fn a_live_success_refreshes_the_cached_value() {
    let (clock, breaker) = setup();
    let cache = Graduated::new(RECENT, STALE, clock.clone());
    cache.call("k", &breaker, || Ok::<_, ()>(1)).unwrap();
    clock.advance(RECENT * 2);
    cache.call("k", &breaker, || Ok::<_, ()>(2)).unwrap();
    let served = cache.serve("k").unwrap();
    assert_eq!((served.value, served.tier), (2, Tier::Recent));
    assert_eq!(breaker.snapshot().successes, 2);
}

#[test]
fn a_full_cache_drops_expired_then_oldest_entries() {
    let (clock, _) = setup();
    let cache = Graduated::new(RECENT, STALE, clock.clone()).with_capacity(2);
    cache.insert(1, "a");
    clock.advance(STALE * 2);
    cache.insert(2, "b");
    // Distinct insertion times, so "the oldest" below is one entry, not a tie.
    clock.advance(Duration::from_millis(1));
    cache.insert(3, "c"); // 1 is expired: dropped
    assert_eq!(cache.len(), 2);
    assert!(cache.serve(&1).is_none());
    clock.advance(Duration::from_secs(1));
    cache.insert(4, "d"); // none expired: the oldest (2) goes
    assert_eq!(cache.len(), 2);
    assert!(cache.serve(&2).is_none());
    assert_eq!(cache.serve(&3).unwrap().value, "c");
    clock.advance(STALE * 2);
    assert_eq!(cache.purge(), 2);
    assert!(cache.is_empty());
}

#[tokio::test]
async fn async_call_serves_tiers_too() {
    let (clock, breaker) = setup();
    let cache = Graduated::new(RECENT, STALE, clock.clone()).with_default(0);
    let live = cache
        .call_async("k", &breaker, || async { Ok::<_, ()>(5) })
        .await
        .unwrap();
    assert_eq!(live.tier, Tier::Live);
    clock.advance(RECENT + Duration::from_secs(1));
    let stale = cache
        .call_async("k", &breaker, || async { Err(()) })
        .await
        .unwrap();
    assert_eq!((stale.tier, stale.value), (Tier::Stale, 5));
}
