//! Other names for config fields, as other breakers and older configs spell them: one
//! table, accepted in documents, environment variables and explicit options alike.

use super::tree::{Node, Value};
use super::MAX_DURATION;
use std::time::Duration;

/// How an alias's value becomes the field's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasValue {
    /// Taken as is.
    Same,
    /// A number of seconds, in (0, 30 days].
    Seconds,
    /// An integer 1..=1000000000 sets `consecutive_failures`; a fraction in (0, 1) sets
    /// `failure_rate_threshold`.
    FailuresOrRate,
}

/// Another name for a config field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    /// The name as written.
    pub name: &'static str,
    /// The field it sets, as a dotted path.
    pub field: &'static str,
    /// How its value is read.
    pub value: AliasValue,
}

const fn alias(name: &'static str, field: &'static str, value: AliasValue) -> Alias {
    Alias { name, field, value }
}

/// Every alias. Setting the open duration through one raises `open.max_duration` to
/// match, as setting `open.duration` does.
pub const ALIASES: &[Alias] = &[
    alias(
        "failure_threshold",
        "consecutive_failures",
        AliasValue::FailuresOrRate,
    ),
    alias("fail_max", "consecutive_failures", AliasValue::Same),
    alias("minimum_requests", "minimum_calls", AliasValue::Same),
    alias(
        "recovery_timeout_seconds",
        "open.duration",
        AliasValue::Seconds,
    ),
    alias("reset_timeout", "open.duration", AliasValue::Seconds),
    alias(
        "max_reset_timeout",
        "open.max_duration",
        AliasValue::Seconds,
    ),
    alias("backoff_multiplier", "open.multiplier", AliasValue::Same),
    alias("jitter", "open.jitter", AliasValue::Same),
    alias("backoff_decay", "open.decay_after", AliasValue::Seconds),
    alias("timeout_seconds", "slow_call_duration", AliasValue::Seconds),
    alias(
        "success_threshold",
        "half_open.success_threshold",
        AliasValue::Same,
    ),
    alias("half_open_permits", "half_open.permits", AliasValue::Same),
    alias(
        "half_open_max_wait",
        "half_open.max_wait",
        AliasValue::Seconds,
    ),
];

impl Alias {
    /// The alias called `name`.
    pub fn find(name: &str) -> Option<&'static Alias> {
        ALIASES.iter().find(|a| a.name == name)
    }

    /// The field path and value `value` written under this alias sets, or why it
    /// cannot.
    pub(crate) fn translate(&self, value: &Node) -> Result<(Vec<String>, Node), String> {
        let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        let refused =
            |allowed: String| format!("invalid {} = {value}: allowed {allowed}", self.name);
        match self.value {
            AliasValue::Same => Ok((path(self.field), value.clone())),
            AliasValue::Seconds => {
                let secs = value
                    .as_f64()
                    .filter(|s| *s > 0.0 && *s <= MAX_DURATION.as_secs_f64())
                    .ok_or_else(|| {
                        refused(format!(
                            "a number of seconds in (0, {}]",
                            MAX_DURATION.as_secs()
                        ))
                    })?;
                let d = Duration::from_secs_f64(secs).max(Duration::from_nanos(1));
                let text = humantime::format_duration(d).to_string();
                Ok((path(self.field), Node::new(Value::Str(text), value.at)))
            }
            AliasValue::FailuresOrRate => {
                let f = value.as_f64().unwrap_or(f64::NAN);
                if f >= 1.0 && f.fract() == 0.0 && f <= 1e9 {
                    let n = Node::new(Value::Int(f as i128), value.at);
                    Ok((path("consecutive_failures"), n))
                } else if f > 0.0 && f < 1.0 {
                    let n = Node::new(Value::Float(f), value.at);
                    Ok((path("failure_rate_threshold"), n))
                } else {
                    Err(refused("an integer 1..=1000000000 (consecutive failures) or a fraction in (0, 1) (failure rate)".into()))
                }
            }
        }
    }
}
