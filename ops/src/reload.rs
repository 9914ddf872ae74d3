//! Live reload: apply a changed config file to running breakers, keeping their state.
//!
//! A reload is all or nothing. The new [`Settings`] are resolved and validated in full
//! (every service, every field), then each running breaker's new config is checked
//! against what a running breaker can take ([`Config::check_live_change`]: a window
//! no larger than the one it was built with and time-based only if that one was,
//! latency tracking not switched on, the same histogram precision). Only if everything
//! passes are the breakers reconfigured, with [`Breaker::reconfigure`], which keeps
//! state (an open breaker stays open), backoff and counters. Otherwise nothing changes
//! and the error names the file, the service, the field and what is allowed.
//!
//! Each change is logged through the [`log`] facade at `info` in one line,
//! `circuit breaker config updated: service=database failure_rate_threshold=0.3 (was 0.5), ...`,
//! and returned as a [`Change`]. Breakers created with an explicit config
//! ([`Registry::get_or_create`]) are left alone.
//!
//! [`Breaker::reconfigure`]: tripgate::Breaker::reconfigure

use crate::env::EnvVars;
use crate::error::{LoadError, Problem};
use crate::file::Settings;
use crate::registry::Registry;
use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tripgate::{Clock, Config};

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// Dotted path (`open.duration`), or `critical`.
    pub field: String,
    /// The old value, as written in a config file (`none` for an unset rule).
    pub old: String,
    /// The new value.
    pub new: String,
}

/// What a reload changed on one breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The breaker's name.
    pub service: String,
    /// The fields that changed, in field order.
    pub fields: Vec<FieldChange>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit breaker config updated: service={}",
            self.service
        )?;
        for (i, c) in self.fields.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{}={} (was {})", c.field, c.new, c.old)?;
        }
        Ok(())
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), "none".into())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// The fields that differ between two configs, as dotted paths.
pub fn diff(old: &Config, new: &Config) -> Vec<FieldChange> {
    let leaves = |c: &Config| {
        let mut v = Vec::new();
        flatten("", &serde_json::to_value(c).expect("serializes"), &mut v);
        v
    };
    let (a, b) = (leaves(old), leaves(new));
    let mut out = Vec::new();
    for (field, new) in &b {
        let old = a
            .iter()
            .find(|(f, _)| f == field)
            .map_or("none".to_string(), |(_, v)| v.clone());
        if &old != new {
            out.push(FieldChange {
                field: field.clone(),
                old,
                new: new.clone(),
            });
        }
    }
    for (field, old) in &a {
        if !b.iter().any(|(f, _)| f == field) {
            out.push(FieldChange {
                field: field.clone(),
                old: old.clone(),
                new: "none".into(),
            });
        }
    }
    out
}

/// Whether a breaker built with `built` can take `new` live; the problem otherwise.
fn check_live(built: &Config, new: &Config) -> Result<(), (String, String)> {
    built
        .check_live_change(new)
        .map_err(|e| (e.field().to_string(), format!("{e}; restart to apply it")))
}

/// Applies `settings` to `registry`: every managed breaker is reconfigured to its
/// service's new config, critical marks are updated, and breakers created later use
/// the new settings. All or nothing; see the [module docs](self).
pub fn apply<C: Clock + Clone>(
    registry: &Registry<C>,
    settings: Settings,
) -> Result<Vec<Change>, LoadError> {
    let _w = registry.lock_writer();
    let mut plan = Vec::new();
    let mut critical = Vec::new();
    let mut problems = Vec::new();
    for (name, entry) in registry.entries() {
        if !entry.managed {
            continue;
        }
        let spec = settings.spec(&name);
        let current = entry.breaker.config();
        let mut fields = diff(&current, &spec.config);
        if let Err((field, message)) = check_live(&entry.built_with, &spec.config) {
            problems.push(Problem {
                source: settings.source.clone(),
                location: None,
                service: Some(name.clone()),
                field,
                message,
            });
            continue;
        }
        if entry.critical != spec.critical {
            fields.push(FieldChange {
                field: "critical".into(),
                old: entry.critical.to_string(),
                new: spec.critical.to_string(),
            });
            critical.push((name.clone(), spec.critical));
        }
        if !fields.is_empty() {
            plan.push((name, entry, current, spec.config.clone(), fields));
        }
    }
    if !problems.is_empty() {
        return Err(LoadError { problems });
    }
    let mut applied = Vec::new();
    for (name, entry, old, new, _) in &plan {
        if **old == *new {
            continue;
        }
        if let Err(e) = entry.breaker.reconfigure(new.clone()) {
            // Not expected after the checks above; undo what was applied.
            for (breaker, old) in applied {
                let _ = tripgate::Breaker::reconfigure(breaker, Config::clone(old));
            }
            return Err(LoadError::one(
                &settings.source,
                Some(name),
                e.field(),
                e.to_string(),
            ));
        }
        applied.push((&*entry.breaker, old));
    }
    registry.set_critical_locked(&critical);
    registry.store_settings(Arc::new(settings));
    let changes: Vec<Change> = plan
        .into_iter()
        .map(|(service, _, _, _, fields)| Change { service, fields })
        .collect();
    for c in &changes {
        log::info!("{c}");
    }
    Ok(changes)
}

/// Reloads one config file into a registry, on demand or from a polling thread.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    environment: Option<String>,
    env: EnvVars,
    last: Mutex<Option<u64>>,
}

impl Reloader {
    /// A reloader for the file at `path`, in `environment` (else `TRIPGATE_ENV`, else
    /// the file's own `environment` key), with `env` as the environment variables.
    pub fn new(path: impl AsRef<Path>, environment: Option<&str>, env: EnvVars) -> Self {
        Reloader {
            path: path.as_ref().to_path_buf(),
            environment: environment.map(str::to_string),
            env,
            last: Mutex::new(None),
        }
    }

    /// The file this reloader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Resolves the file as it is now, without applying it.
    pub fn load(&self) -> Result<Settings, LoadError> {
        Settings::load(&self.path, self.environment.as_deref(), &self.env)
    }

    /// Reads the file and applies it (see [`apply`]).
    pub fn reload<C: Clock + Clone>(
        &self,
        registry: &Registry<C>,
    ) -> Result<Vec<Change>, LoadError> {
        self.remember_current();
        let result = self.load().and_then(|s| apply(registry, s));
        if let Err(e) = &result {
            log::error!("circuit breaker config reload refused, old config kept: {e}");
        }
        result
    }

    /// Reloads when the file's content differs from the last one read (valid or not);
    /// `Ok(None)` when it has not changed. Suits a ConfigMap mounted as a file, which
    /// Kubernetes replaces in place.
    pub fn reload_if_changed<C: Clock + Clone>(
        &self,
        registry: &Registry<C>,
    ) -> Result<Option<Vec<Change>>, LoadError> {
        let now = self.content_hash();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_some() && *last == now {
            return Ok(None);
        }
        *last = now;
        drop(last);
        let result = self.load().and_then(|s| apply(registry, s));
        if let Err(e) = &result {
            log::error!("circuit breaker config reload refused, old config kept: {e}");
        }
        result.map(Some)
    }

    fn content_hash(&self) -> Option<u64> {
        let bytes = std::fs::read(&self.path).ok()?;
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        Some(h.finish())
    }

    fn remember_current(&self) {
        let h = self.content_hash();
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = h;
    }

    /// Polls the file every `every` on a thread of its own, reloading when it changes.
    /// The file's current content counts as already applied. Stops when the handle is
    /// dropped or [`Watcher::stop`] is called.
    pub fn watch<C: Clock + Clone>(self, registry: Arc<Registry<C>>, every: Duration) -> Watcher {
        self.remember_current();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tripgate-reload".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    let _ = self.reload_if_changed(&registry);
                }
            })
            .expect("spawn the reload thread");
        Watcher {
            stop,
            thread: Some(thread),
        }
    }
}

/// The polling thread of [`Reloader::watch`].
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}
