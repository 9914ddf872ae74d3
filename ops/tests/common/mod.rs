#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system temp dir, for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tripgate-ops-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Drives `breaker` open with failures (the config must trip on them).
pub fn trip<C: tripgate::Clock>(breaker: &tripgate::Breaker<C>) {
    for _ in 0..1000 {
        if breaker.state() == tripgate::State::Open {
            return;
        }
        if let Ok(p) = breaker.try_acquire() {
            p.failure(tripgate::FailureKind::ServerError);
        }
    }
    panic!("breaker did not trip");
}
