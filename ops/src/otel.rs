//! The OpenTelemetry metrics bridge (feature `otel`): the registry's breakers as
//! observable instruments of an OpenTelemetry [`Meter`].
//!
//! The instruments are the exposition's families ([`crate::exposition`]), read from
//! the same code, so the two never disagree: each gauge family becomes an `f64`
//! observable gauge, each counter family an `f64` observable counter (named without
//! `_total`: OpenTelemetry exporters add their own suffixes), and each summary a gauge
//! of its quantile samples. Every data point carries the breaker as the attribute
//! `name`, plus the family's own labels (`state`, `kind`, `from`, `to`, ...). The
//! callbacks read one snapshot of the registry per collection, not one per instrument.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use opentelemetry::metrics::MeterProvider;
//! use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
//!
//! let registry = Arc::new(tripgate_ops::Registry::new());
//! registry.breaker("database")?;
//! let exporter = InMemoryMetricExporter::default();
//! let provider = SdkMeterProvider::builder()
//!     .with_reader(PeriodicReader::builder(exporter.clone()).build())
//!     .build();
//! // Keep the handle: dropping it unregisters nothing, but it holds the instruments.
//! let _bridge = tripgate_ops::otel::register(Arc::clone(&registry), &provider.meter("tripgate"));
//! provider.force_flush()?;
//! assert!(!exporter.get_finished_metrics()?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::exposition::{families, Sink};
use crate::registry::{NamedSnapshot, Registry};
use opentelemetry::metrics::{AsyncInstrument, Meter, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tripgate::Clock;

/// The instruments registered by [`register`]. They live as long as the meter
/// provider; this handle only keeps them reachable.
pub struct Bridge {
    _gauges: Vec<ObservableGauge<f64>>,
    _counters: Vec<ObservableCounter<f64>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("instruments", &(self._gauges.len() + self._counters.len()))
            .finish()
    }
}

/// One reading of the registry, shared by the callbacks of one collection: a reading
/// younger than this is reused.
const READING_REUSED_FOR: Duration = Duration::from_millis(250);

/// The registry's snapshots, taken at most once per collection.
struct Readings<C: Clock + Clone> {
    registry: Arc<Registry<C>>,
    last: Mutex<Option<(Instant, Arc<Vec<NamedSnapshot>>)>>,
}

impl<C: Clock + Clone> Readings<C> {
    fn get(&self) -> Arc<Vec<NamedSnapshot>> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, snaps)) = &*last {
            if at.elapsed() < READING_REUSED_FOR {
                return Arc::clone(snaps);
            }
        }
        let snaps = Arc::new(self.registry.snapshots());
        *last = Some((Instant::now(), Arc::clone(&snaps)));
        snaps
    }
}

/// Writes a family's samples named `metric` into an OpenTelemetry observer.
struct Observe<'a> {
    metric: &'a str,
    observer: &'a dyn AsyncInstrument<f64>,
}

impl Sink for Observe<'_> {
    fn sample(&mut self, metric: &str, breaker: &str, labels: &[(&str, &str)], v: f64) {
        if metric != self.metric {
            return; // a summary's _sum and _count
        }
        let mut attributes = Vec::with_capacity(labels.len() + 1);
        attributes.push(KeyValue::new("name", breaker.to_string()));
        attributes.extend(
            labels
                .iter()
                .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string())),
        );
        self.observer.observe(v, &attributes);
    }
}

/// Registers every breaker metric of `registry` on `meter`, read at each collection.
pub fn register<C>(registry: Arc<Registry<C>>, meter: &Meter) -> Bridge
where
    C: Clock + Clone + Send + Sync + 'static,
{
    let readings = Arc::new(Readings {
        registry,
        last: Mutex::new(None),
    });
    let mut bridge = Bridge {
        _gauges: Vec::new(),
        _counters: Vec::new(),
    };
    for family in families() {
        let (name, kind, help) = family.describe();
        let readings = Arc::clone(&readings);
        let callback = move |observer: &dyn AsyncInstrument<f64>| {
            let mut sink = Observe {
                metric: name,
                observer,
            };
            for s in readings.get().iter() {
                family.write(&mut sink, s);
            }
        };
        if kind == "counter" {
            let otel_name = name.strip_suffix("_total").unwrap_or(name);
            let counter = meter
                .f64_observable_counter(otel_name)
                .with_description(help)
                .with_callback(callback)
                .build();
            bridge._counters.push(counter);
        } else {
            let gauge = meter
                .f64_observable_gauge(name)
                .with_description(help)
                .with_callback(callback)
                .build();
            bridge._gauges.push(gauge);
        }
    }
    bridge
}
