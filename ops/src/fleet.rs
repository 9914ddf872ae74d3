//! Fleet mode from the config file: the `fleet` table, and the registry's membership
//! of its fleet ([`tripgate_fleet`], feature `fleet`).
//!
//! ```toml
//! [fleet]
//! service = "checkout"              # the key namespace: tripgate:{service}:{environment}:
//! # environment: the file's environment (the overlay applied) when not set
//! # replica: TRIPGATE_REPLICA, else {hostname}-{pid}, when not set
//! url = "redis://127.0.0.1:6379/0"  # shorthand for [fleet.store] url = ...
//! heartbeat = "1s"
//! quorum = { share = 0.5 }
//!
//! [fleet.store]                     # instead of `url`, for credentials and timeouts
//! # url = "redis://redis.internal:6379/0"
//! # username = "tripgate"
//! # password_env = "REDIS_PASSWORD"  # or password_file; never logged nor exported
//!
//! [environments.staging.fleet]      # an environment's overlay, merged key by key
//! quorum = { count = 1 }
//! ```
//!
//! Every other field is [`tripgate_fleet::FleetConfig`]'s. The table is checked when the
//! file loads (a mistake fails the load like any other, naming `fleet.<field>`). A
//! [`Registry`](crate::Registry) whose settings hold it joins the fleet: it starts one
//! [`Fleet`](tripgate_fleet::Fleet) (two background threads; the call path never waits
//! on them) and shares every breaker it holds under the breaker's name (names outside
//! `A-Z a-z 0-9 _ . -`, or longer than 64 bytes, stay local, with one warning). A
//! reload that changes the table leaves the old fleet (its holds released, its opinions
//! withdrawn) and joins the new one; a reload that removes it leaves the fleet.
//!
//! Without the `fleet` feature, a file with a `fleet` table is refused at load.

use crate::error::Problem;
use tripgate::config::Section;

/// The top-level table this module reads.
pub const SECTION: &str = "fleet";

/// The variable naming this replica, when the table does not.
pub const REPLICA_VAR: &str = "TRIPGATE_REPLICA";

#[cfg(feature = "fleet")]
pub use enabled::*;

#[cfg(not(feature = "fleet"))]
pub(crate) use disabled::*;

#[cfg(not(feature = "fleet"))]
mod disabled {
    use super::*;

    /// Without the feature, a `fleet` table is a mistake of the file.
    pub(crate) fn check(
        section: &Section,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<(), Problem> {
        Err(section.problem(
            "",
            "fleet mode needs tripgate-ops built with the `fleet` feature",
        ))
    }

    /// Nothing to join.
    #[derive(Default)]
    pub(crate) struct Membership {
        _none: (),
    }

    impl Membership {
        pub(crate) fn apply<B>(
            &self,
            _: &crate::file::Settings,
            _: impl IntoIterator<Item = (String, std::sync::Arc<B>)>,
        ) {
        }
        pub(crate) fn attach<B>(&self, _: &str, _: &std::sync::Arc<B>) {}
        pub(crate) fn detach(&self, _: &str) {}
    }
}

#[cfg(feature = "fleet")]
mod enabled {
    use super::*;
    use crate::file::Settings;
    use serde_json::{json, Map, Value};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::Duration;
    use tripgate_fleet::{check_name, replica_id, Fleet, FleetConfig, FleetMetrics, LocalBreaker};

    /// The fleet table read into a [`FleetConfig`], its defaults filled in: the
    /// environment from `environment` (the overlay applied), the replica from
    /// `replica` (`TRIPGATE_REPLICA`) else `{hostname}-{pid}`, `url` as `store.url`.
    pub fn read(
        section: &Section,
        environment: Option<&str>,
        replica: Option<&str>,
    ) -> Result<FleetConfig, Problem> {
        let value = filled(section, environment, replica)?;
        let config: FleetConfig =
            serde_json::from_value(value).map_err(|e| section.serde_problem(e.to_string()))?;
        config
            .validate()
            .map_err(|e| section.problem(e.field, e.message.clone()))?;
        Ok(config)
    }

    /// Checks the table as a load does.
    pub(crate) fn check(
        section: &Section,
        environment: Option<&str>,
        replica: Option<&str>,
    ) -> Result<(), Problem> {
        read(section, environment, replica).map(drop)
    }

    fn filled(
        section: &Section,
        environment: Option<&str>,
        replica: Option<&str>,
    ) -> Result<Value, Problem> {
        let Value::Object(mut table) = section.deserialize::<Value>()? else {
            return Err(section.problem("", "expected a table of fleet settings"));
        };
        if let Some(url) = table.remove("url") {
            if table.contains_key("store") {
                return Err(section.problem(
                    "url",
                    "set either `url` or a `store` table (with its `url`), not both",
                ));
            }
            table.insert("store".into(), json!({ "url": url }));
        }
        if !table.contains_key("environment") {
            let Some(env) = environment else {
                return Err(section.problem(
                    "environment",
                    "missing: set it, or load the file for an environment (its overlay)",
                ));
            };
            table.insert("environment".into(), env.into());
        }
        if !table.contains_key("replica") {
            let id = match replica {
                Some(r) => r.to_string(),
                None => default_replica(),
            };
            table.insert("replica".into(), id.into());
        }
        Ok(Value::Object(Map::from_iter(table)))
    }

    /// [`replica_id`] of this host (`HOSTNAME`, else the kernel's host name).
    fn default_replica() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .unwrap_or_default();
        replica_id(&host)
    }

    /// A running fleet and the settings it was started from.
    struct Joined {
        identity: Value,
        replica: String,
        fleet: Fleet,
    }

    /// The registry's membership of its fleet: none until settings with a `fleet` table
    /// are applied.
    #[derive(Default)]
    pub(crate) struct Membership {
        joined: Mutex<Option<Joined>>,
    }

    impl Membership {
        fn lock(&self) -> MutexGuard<'_, Option<Joined>> {
            self.joined.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Joins, rejoins or leaves the fleet as `settings` say, then shares every
        /// breaker of `breakers`. Cold path (loads and reloads).
        pub(crate) fn apply<B: LocalBreaker>(
            &self,
            settings: &Settings,
            breakers: impl IntoIterator<Item = (String, Arc<B>)>,
        ) {
            let mut joined = self.lock();
            let wanted = settings.fleet.as_ref().map(|s| {
                let replica = settings.replica.as_deref();
                (filled(s, settings.environment.as_deref(), replica), s)
            });
            let same = match (&*joined, &wanted) {
                (Some(j), Some((Ok(v), _))) => j.identity == *v,
                (None, None) => true,
                _ => false,
            };
            if same {
                return;
            }
            if let Some(old) = joined.take() {
                log::info!("tripgate: leaving the fleet as replica {}", old.replica);
                old.fleet.stop();
            }
            let Some((identity, section)) = wanted else {
                return;
            };
            let started = identity.map_err(|p| p.to_string()).and_then(|identity| {
                let config: FleetConfig = serde_json::from_value(identity.clone())
                    .map_err(|e| section.serde_problem(e.to_string()).to_string())?;
                let replica = config.replica.clone();
                let fleet = Fleet::start(config)
                    .map_err(|e| section.problem(e.field, e.message.clone()).to_string())?;
                Ok(Joined {
                    identity,
                    replica,
                    fleet,
                })
            });
            match started {
                Ok(j) => {
                    log::info!("tripgate: joined the fleet as replica {}", j.replica);
                    for (name, b) in breakers {
                        share(&j.fleet, &name, b);
                    }
                    *joined = Some(j);
                }
                Err(e) => log::error!("tripgate: cannot join the fleet: {e}"),
            }
        }

        /// Shares a breaker the registry just took in.
        pub(crate) fn attach<B: LocalBreaker>(&self, name: &str, breaker: &Arc<B>) {
            if let Some(j) = &*self.lock() {
                share(&j.fleet, name, Arc::clone(breaker));
            }
        }

        /// Stops sharing a breaker the registry let go of.
        pub(crate) fn detach(&self, name: &str) {
            if let Some(j) = &*self.lock() {
                j.fleet.detach(name);
            }
        }

        /// The fleet's figures and this replica's id, while joined.
        pub(crate) fn metrics(&self) -> Option<(String, FleetMetrics)> {
            let joined = self.lock();
            joined
                .as_ref()
                .map(|j| (j.replica.clone(), j.fleet.metrics()))
        }

        /// One full round now; false when not joined or not done within `timeout`.
        pub(crate) fn sync(&self, timeout: Duration) -> bool {
            // The lock is held for the round: a reload waits for it (cold paths both).
            let joined = self.lock();
            joined.as_ref().is_some_and(|j| j.fleet.sync(timeout))
        }
    }

    fn share<B: LocalBreaker>(fleet: &Fleet, name: &str, breaker: Arc<B>) {
        if check_name("breaker name", name).is_err() {
            log::warn!(
                "tripgate: breaker {name:?} stays out of the fleet: a fleet name is 1 to 64 of A-Z a-z 0-9 _ . -"
            );
            return;
        }
        if let Err(e) = fleet.attach(name, breaker) {
            log::warn!("tripgate: breaker {name:?} stays out of the fleet: {e}");
        }
    }
}

#[cfg(all(test, not(feature = "fleet")))]
mod tests {
    use crate::file::Format;
    use crate::{EnvVars, Settings};

    #[test]
    fn without_the_feature_a_fleet_table_fails_the_load_saying_so() {
        let text = "[fleet]\nservice = \"checkout\"\nurl = \"redis://h/0\"\n";
        let err = Settings::parse(text, Format::Toml, "f.toml", None, &EnvVars::empty())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "f.toml:1:1: field fleet: fleet mode needs tripgate-ops built with the `fleet` feature"
        );
    }
}
