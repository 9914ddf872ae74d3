//! The three tier presets: a starting point for a dependency's breaker by how much a
//! failure of it costs.

use super::{Config, FailureWeights, HalfOpenConfig, OpenConfig, WindowConfig};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The three presets, by how much a failure of the dependency costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Payments, authentication: 30% failures over at least 20 calls, open 60 s.
    Critical,
    /// Search, recommendations: 50% over at least 10 calls, open 30 s.
    Standard,
    /// Analytics, metrics: 70% over at least 5 calls, open 10 s.
    NonCritical,
}

impl Tier {
    /// The tier's name in config files.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Critical => "critical",
            Tier::Standard => "standard",
            Tier::NonCritical => "non_critical",
        }
    }

    /// Parses a tier name (`critical`, `standard`, `non_critical` or `non-critical`).
    pub fn from_name(name: &str) -> Option<Tier> {
        match name {
            "critical" => Some(Tier::Critical),
            "standard" => Some(Tier::Standard),
            "non_critical" | "non-critical" | "noncritical" => Some(Tier::NonCritical),
            _ => None,
        }
    }
}

impl Config {
    fn tier(rate: f64, minimum_calls: u32, open_secs: u64) -> Config {
        Config {
            window: WindowConfig::default(),
            minimum_calls,
            failure_rate_threshold: Some(rate),
            slow_call_rate_threshold: None,
            slow_call_duration: Duration::from_secs(5),
            consecutive_failures: None,
            latency_percentile: None,
            failure_weights: FailureWeights::default(),
            open: OpenConfig {
                duration: Duration::from_secs(open_secs),
                max_duration: Duration::from_secs(open_secs * 10),
                ..OpenConfig::default()
            },
            half_open: HalfOpenConfig::default(),
            slow_start: None,
            track_latency: true,
            histogram_precision: 5,
            track_in_flight: false,
            seed: None,
            adaptive_threshold: None,
            anti_thrash: None,
            initial_state: crate::State::Closed,
            call_timeout: None,
            name: String::new(),
        }
    }

    /// Critical tier: trip at 30% failures over at least 20 calls; open 60 s.
    pub fn critical() -> Config {
        Config::tier(0.3, 20, 60)
    }

    /// Standard tier: trip at 50% failures over at least 10 calls; open 30 s.
    pub fn standard() -> Config {
        Config::tier(0.5, 10, 30)
    }

    /// Non-critical tier: trip at 70% failures over at least 5 calls; open 10 s.
    pub fn non_critical() -> Config {
        Config::tier(0.7, 5, 10)
    }

    /// The preset for `tier`.
    pub fn preset(tier: Tier) -> Config {
        match tier {
            Tier::Critical => Config::critical(),
            Tier::Standard => Config::standard(),
            Tier::NonCritical => Config::non_critical(),
        }
    }
}
