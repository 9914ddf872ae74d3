//! `tripgate tune`: searches the config space for the breaker config that does best on
//! a scenario's traffic, by the user's objective.
//!
//! 1. A seeded random sample of the [`space::Space`] (plus the three tier presets and
//!    the scenario's own candidates) is simulated on several traffic seeds, each
//!    candidate through the real engine on exactly the same calls ([`crate::simulate`]).
//! 2. Each candidate's [`Scores`] are averaged over the traffic seeds; candidates with too many
//!    false trips are out, and the rest are ranked by the [`Objective`]. The Pareto
//!    front over two chosen figures shows the trade-offs around the winner.
//! 3. The winner and the presets are simulated again on held-out seeds the search never
//!    saw, so a config tuned to one random draw shows up as such.
//! 4. The winner is written out as TOML, Python and C ([`snippet::Snippets`]).
//!
//! With a recorded trace ([`TraceSource`]: a CSV or an access log) the candidates are
//! replayed on its calls instead: a trace is one recording, so the draws differ only
//! in the candidates' jitter seeds (one by default) and nothing is held out.

pub mod objective;
pub mod snippet;
pub mod space;
mod svg;

use crate::access_log::TraceFormat;
use crate::candidates::{derived_seed, Candidate};
use crate::closeness::Closeness;
use crate::report::{closeness_table, dur, group, table};
use crate::rng::splitmix64;
use crate::scenario::Scenario;
use crate::{FaultRule, Settings, TraceText};
pub use objective::{Metric, Objective, Scores};
use serde::Serialize;
use snippet::Snippets;
use space::Space;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use tripgate::{Config, Tier, WindowConfig};

/// A scenario and the space to search on it.
#[derive(Debug, Clone)]
pub struct Input {
    /// The traffic and the dependency's phases (its candidates join the search).
    pub scenario: Scenario,
    /// The space, from the scenario's `[tune]` table.
    pub space: Space,
    /// A recorded trace to replay instead of the scenario's traffic.
    pub trace: Option<TraceSource>,
}

/// A recorded trace to tune on.
#[derive(Debug, Clone)]
pub struct TraceSource {
    /// The file's text.
    pub text: String,
    /// The file, as errors name it.
    pub file: String,
    /// Its name in the report.
    pub name: String,
    /// How it is written.
    pub format: TraceFormat,
    /// How faults are found in it.
    pub rule: FaultRule,
}

impl Input {
    /// Reads a scenario file and its `[tune]` table.
    pub fn load(path: &Path) -> Result<Input, String> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
        Input::parse(&text, &file, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses scenario text (`file` names it in errors, `dir` resolves config paths).
    /// `[[candidate]]` tables are optional here: the search brings its own.
    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Input, String> {
        let has_candidates =
            toml::from_str::<toml::Table>(text).map_or(true, |t| t.contains_key("candidate"));
        let scenario = if has_candidates {
            Scenario::parse(text, file, dir)
        } else {
            // Appended after the last line, so every line number stays right.
            Scenario::parse(
                &format!("{text}\n[[candidate]]\ntier = \"standard\"\n"),
                file,
                dir,
            )
        }
        .map_err(|e| e.to_string())?;
        let space = Space::parse(text, file).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        Ok(Input {
            scenario,
            space,
            trace: None,
        })
    }

    /// The embedded default scenario, with the default space.
    pub fn default_input() -> Input {
        Input {
            scenario: Scenario::default_scenario(),
            space: Space::default(),
            trace: None,
        }
    }

    /// The same search on `trace`'s calls instead of the scenario's traffic.
    pub fn with_trace(mut self, trace: TraceSource) -> Input {
        self.scenario.name = trace.name.clone();
        self.scenario.description = format!(
            "replayed trace; faults: {}-wide windows with a failure share >= {}",
            humantime::format_duration(trace.rule.window),
            trace.rule.threshold
        );
        self.trace = Some(trace);
        self
    }
}

/// How a search is run; `None` fields take the `[tune]` table's value.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sampled candidates.
    pub candidates: Option<usize>,
    /// Base seed of the sample and of the traffic seeds (default: the scenario's).
    pub seed: Option<u64>,
    /// Search seeds.
    pub seeds: Option<usize>,
    /// Held-out seeds.
    pub holdout: Option<usize>,
    /// What "best" means.
    pub objective: Objective,
    /// The two figures of the Pareto front and its chart.
    pub axes: (Metric, Metric),
    /// Threads, caps.
    pub settings: Settings,
    /// Draw a progress line on stderr.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            candidates: None,
            seed: None,
            seeds: None,
            holdout: None,
            objective: Objective::default(),
            axes: (Metric::Leaked, Metric::Rejected),
            settings: Settings {
                buckets: 1,
                ..Settings::default()
            },
            progress: false,
        }
    }
}

/// One candidate of the search and how it did on the search seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluated {
    /// `c001`..., a tier name, or the scenario candidate's name.
    pub name: String,
    /// `sampled`, `tier` or `scenario`.
    pub source: &'static str,
    /// Its config (no jitter seed: each run sets its own).
    pub config: Config,
    /// Mean figures over the search seeds.
    pub scores: Scores,
    /// False trips on its worst search seed.
    pub worst_false_trips: f64,
    /// Whether it meets the false-trip cap.
    pub admitted: bool,
    /// The objective's value (lower is better).
    pub score: f64,
    /// How close each rule came to tripping: per fault and over the healthy phases,
    /// the closest reading over every search draw.
    pub closeness: Closeness,
}

/// A config re-evaluated on the held-out seeds.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    /// Its name (`winner` first, then the tiers).
    pub name: String,
    /// Mean figures over the held-out seeds.
    pub scores: Scores,
    /// False trips on its worst held-out seed.
    pub worst_false_trips: f64,
    /// The objective's value, on the search's scales.
    pub score: f64,
    /// How close each rule came to tripping, over every held-out draw.
    pub closeness: Closeness,
}

/// Wall-clock figures of a search (never in the JSON, which must not vary).
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    /// Candidate runs simulated (search and held out).
    pub runs: usize,
    /// Calls simulated, over every run.
    pub calls: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// The result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Base seed.
    pub seed: u64,
    /// Traffic seeds of the search.
    pub search_seeds: Vec<u64>,
    /// Traffic seeds held out (disjoint from the search seeds).
    pub holdout_seeds: Vec<u64>,
    /// Calls made on each search seed.
    pub calls_per_seed: Vec<u64>,
    /// The objective in words.
    pub objective_text: String,
    /// The objective.
    pub objective: Objective,
    /// The largest value of each figure among the candidates (the weighted sum's scales).
    pub scales: Scores,
    /// The two figures of the Pareto front.
    pub axes: [Metric; 2],
    /// The space searched.
    pub space: Space,
    /// Name of the winner.
    pub winner: String,
    /// The winner's config.
    pub winner_config: Config,
    /// Names of the admitted candidates on the Pareto front, by increasing first axis.
    pub front: Vec<String>,
    /// The winner and the tier presets on the held-out seeds.
    pub holdout: Vec<HeldOut>,
    /// The winner, ready to use.
    pub snippets: Snippets,
    /// Every candidate, in search order.
    pub candidates: Vec<Evaluated>,
    /// Speed of the run (not serialized).
    #[serde(skip)]
    pub throughput: Throughput,
}

/// `n` distinct traffic seeds derived from `base`: the first `search` for the search,
/// the rest held out; distinct by construction.
fn traffic_seeds(base: u64, n: usize) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        let s = splitmix64(base ^ splitmix64(0x7475_6e65 + i)) >> 1;
        if !out.contains(&s) {
            out.push(s);
        }
        i += 1;
    }
    out
}

/// A progress line on stderr: runs done of the total, and the time left.
struct Progress {
    on: bool,
    total: usize,
    done: usize,
    start: Instant,
}

impl Progress {
    fn advance(&mut self, n: usize) {
        self.done += n;
        if self.on {
            let spent = self.start.elapsed().as_secs_f64();
            let left =
                spent / self.done.max(1) as f64 * self.total.saturating_sub(self.done) as f64;
            eprint!(
                "\rtune: {}/{} candidate runs, {:.0}s left   ",
                self.done, self.total, left
            );
        }
    }

    fn finish(&self) {
        if self.on {
            eprint!("\r{}\r", " ".repeat(60));
        }
    }
}

/// What [`evaluate`] found for one config.
struct Evaluation {
    /// The figures of each seed.
    per_seed: Vec<Scores>,
    /// The closest approach of each rule over every seed.
    closeness: Closeness,
}

/// Simulates every config on every seed; the figures come back per config, per seed.
fn evaluate(
    sc: &Scenario,
    trace: Option<&TraceSource>,
    configs: &[(String, Config)],
    seeds: &[u64],
    settings: &Settings,
    progress: &mut Progress,
    calls: &mut Vec<u64>,
) -> Result<Vec<Evaluation>, String> {
    // Each thread draws the calls once per batch: batches amortize that and still
    // move the progress line.
    let batch = settings.threads.max(1) * 16;
    let mut out: Vec<Evaluation> = configs
        .iter()
        .map(|_| Evaluation {
            per_seed: Vec::with_capacity(seeds.len()),
            closeness: Closeness::default(),
        })
        .collect();
    for &seed in seeds {
        let mut run = sc.clone();
        run.seed = seed;
        for (b, chunk) in configs.chunks(batch).enumerate() {
            run.candidates = chunk
                .iter()
                .enumerate()
                .map(|(i, (name, config))| Candidate {
                    name: name.clone(),
                    source: "tune".into(),
                    config: Config {
                        seed: Some(derived_seed(seed, b * batch + i)),
                        ..config.clone()
                    },
                    seed_derived: true,
                })
                .collect();
            let rep = match trace {
                Some(t) => crate::replay_text_as(
                    &TraceText {
                        text: &t.text,
                        file: &t.file,
                        name: &t.name,
                        format: &t.format,
                    },
                    &run.candidates,
                    seed,
                    &t.rule,
                    settings,
                )?,
                None => crate::simulate(&run, settings)?,
            };
            for (i, c) in rep.candidates.iter().enumerate() {
                let e = &mut out[b * batch + i];
                e.per_seed.push(Scores::of(c, &rep));
                e.closeness.merge(&c.closeness);
            }
            if b == 0 {
                calls.push(rep.calls);
            }
            progress.advance(chunk.len());
        }
    }
    Ok(out)
}

fn worst_false_trips(runs: &[Scores]) -> f64 {
    runs.iter().map(|s| s.false_trips).fold(0.0, f64::max)
}

const TIERS: [Tier; 3] = [Tier::Critical, Tier::Standard, Tier::NonCritical];

/// Runs the search.
pub fn tune(input: &Input, opts: &Options) -> Result<TuneReport, String> {
    let started = Instant::now();
    let sc = &input.scenario;
    let mut space = input.space.clone();
    if let Some(n) = opts.candidates {
        space.candidates = n;
    }
    if input.trace.is_some() {
        // One recording: draws vary only the jitter seeds; nothing can be held out.
        space.seeds = 1;
        space.holdout = 0;
        if opts.holdout.is_some_and(|n| n > 0) {
            return Err("--holdout: a trace is one recording, so nothing can be held out: give --holdout 0, or tune on a scenario".into());
        }
    }
    if let Some(n) = opts.seeds {
        space.seeds = n;
    }
    if let Some(n) = opts.holdout {
        space.holdout = n;
    }
    if space.seeds == 0 {
        return Err("--seeds 0 is out of range: allowed at least 1".into());
    }
    let base = opts.seed.unwrap_or(sc.seed);
    let seeds = traffic_seeds(base, space.seeds + space.holdout);
    let (search_seeds, holdout_seeds) = seeds.split_at(space.seeds);

    // The pool: the tiers, the scenario's own candidates, then the sample.
    let mut pool: Vec<(String, &'static str, Config)> = TIERS
        .iter()
        .map(|t| (t.name().to_string(), "tier", Config::preset(*t)))
        .collect();
    for c in &sc.candidates {
        let config = Config {
            seed: None,
            ..c.config.clone()
        };
        if !pool.iter().any(|(n, _, p)| *p == config || *n == c.name) {
            pool.push((c.name.clone(), "scenario", config));
        }
    }
    let taken: Vec<Config> = pool.iter().map(|(_, _, c)| c.clone()).collect();
    let width = space.candidates.to_string().len().max(3);
    for (i, c) in space
        .sample(splitmix64(base ^ 0x7361_6d70), &taken)
        .into_iter()
        .enumerate()
    {
        pool.push((format!("c{:0width$}", i + 1), "sampled", c));
    }

    let holdout_count = if holdout_seeds.is_empty() {
        0
    } else {
        TIERS.len() + 1
    };
    let mut progress = Progress {
        on: opts.progress,
        total: pool.len() * search_seeds.len() + holdout_count * holdout_seeds.len(),
        done: 0,
        start: started,
    };
    let mut calls_per_seed = Vec::new();
    let named: Vec<(String, Config)> = pool
        .iter()
        .map(|(n, _, c)| (n.clone(), c.clone()))
        .collect();
    let runs = evaluate(
        sc,
        input.trace.as_ref(),
        &named,
        search_seeds,
        &opts.settings,
        &mut progress,
        &mut calls_per_seed,
    )?;

    let means: Vec<Scores> = runs.iter().map(|r| Scores::mean(&r.per_seed)).collect();
    let scales = Scores::scales(means.iter());
    let obj = &opts.objective;
    let candidates: Vec<Evaluated> = pool
        .into_iter()
        .zip(&runs)
        .zip(&means)
        .map(|(((name, source, config), r), s)| {
            let worst = worst_false_trips(&r.per_seed);
            Evaluated {
                name,
                source,
                config,
                scores: *s,
                worst_false_trips: worst,
                admitted: obj.admits(worst),
                score: obj.score(s, &scales),
                closeness: r.closeness.clone(),
            }
        })
        .collect();
    let winner = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.admitted)
        .min_by(|(i, a), (j, b)| {
            a.score
                .total_cmp(&b.score)
                .then(Objective::tie_break(&a.scores, &scales).total_cmp(&Objective::tie_break(&b.scores, &scales)))
                .then(i.cmp(j))
        })
        .map(|(i, _)| i)
        .ok_or_else(|| {
            let fewest = candidates.iter().map(|c| c.worst_false_trips).fold(f64::INFINITY, f64::min);
            format!(
                "no candidate meets the objective: {}; the fewest false trips of a candidate on its worst draw was {fewest}: raise --max-false-trips or widen the [tune] space",
                obj.describe()
            )
        })?;
    let (ax, ay) = opts.axes;
    let points: Vec<(usize, f64, f64)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.admitted)
        .map(|(i, c)| (i, c.scores.get(ax), c.scores.get(ay)))
        .collect();
    let front: Vec<String> = objective::pareto_front(&points)
        .into_iter()
        .map(|i| candidates[i].name.clone())
        .collect();

    // The winner and the tiers on seeds the search never saw.
    let w = &candidates[winner];
    let mut again: Vec<(String, Config)> = vec![(format!("{} (winner)", w.name), w.config.clone())];
    again.extend(
        TIERS
            .iter()
            .map(|t| (t.name().to_string(), Config::preset(*t))),
    );
    let mut holdout = Vec::new();
    if !holdout_seeds.is_empty() {
        let runs = evaluate(
            sc,
            input.trace.as_ref(),
            &again,
            holdout_seeds,
            &opts.settings,
            &mut progress,
            &mut Vec::new(),
        )?;
        for ((name, _), r) in again.into_iter().zip(runs) {
            let s = Scores::mean(&r.per_seed);
            holdout.push(HeldOut {
                name,
                score: obj.score(&s, &scales),
                worst_false_trips: worst_false_trips(&r.per_seed),
                scores: s,
                closeness: r.closeness,
            });
        }
    }
    progress.finish();
    let total_runs = progress.done;
    let calls: u64 = calls_per_seed.iter().sum::<u64>() * candidates.len() as u64;
    Ok(TuneReport {
        scenario: sc.name.clone(),
        description: sc.description.clone(),
        seed: base,
        search_seeds: search_seeds.to_vec(),
        holdout_seeds: holdout_seeds.to_vec(),
        calls_per_seed,
        objective_text: obj.describe(),
        objective: obj.clone(),
        scales,
        axes: [ax, ay],
        space,
        winner: w.name.clone(),
        winner_config: w.config.clone(),
        front,
        holdout,
        snippets: Snippets::of(&w.config),
        throughput: Throughput {
            runs: total_runs,
            calls,
            elapsed: started.elapsed(),
        },
        candidates,
    })
}

/// A config in one line: its rules, window, open time and probing.
pub fn summary(c: &Config) -> String {
    let pct = |x: f64| format!("{}%", (x * 100.0).round());
    let secs = |d: Duration| dur(d.as_secs_f64() * 1e3);
    let mut rules = Vec::new();
    if let Some(t) = c.failure_rate_threshold {
        rules.push(format!("failures >= {}", pct(t)));
    }
    if let Some(t) = c.slow_call_rate_threshold {
        rules.push(format!(
            "slow (>= {}) >= {}",
            secs(c.slow_call_duration),
            pct(t)
        ));
    }
    if let Some(n) = c.consecutive_failures {
        rules.push(format!("{n} failures in a row"));
    }
    if let Some(p) = c.latency_percentile {
        rules.push(format!("p{} >= {}", p.quantile.0 * 100.0, secs(p.limit)));
    }
    let window = match c.window {
        WindowConfig::Count { size, .. } => format!("last {size} calls"),
        WindowConfig::Time { duration, .. } => format!("last {}", secs(duration)),
    };
    let mut open = format!("open {}", secs(c.open.duration));
    if c.open.multiplier > 1.0 {
        let _ = write!(
            open,
            " x{} up to {}",
            c.open.multiplier,
            secs(c.open.max_duration)
        );
    }
    let mut s = format!(
        "{} | {window}, min {} calls | {open} | {} probe{}, {} to close",
        rules.join(" or "),
        c.minimum_calls,
        c.half_open.permits,
        if c.half_open.permits == 1 { "" } else { "s" },
        c.half_open.success_threshold
    );
    if let Some(ss) = c.slow_start {
        let _ = write!(
            s,
            " | slow start {} over {}",
            pct(ss.initial_fraction),
            secs(ss.duration)
        );
    }
    s
}

fn figures(s: &Scores) -> Vec<String> {
    vec![
        format!("{:.2}s", s.trip),
        group(s.leaked.round() as u64),
        group(s.rejected.round() as u64),
        format!("{}", (s.false_trips * 100.0).round() / 100.0),
        format!("{:.2}s", s.recovery),
        format!("{}", (s.flaps * 100.0).round() / 100.0),
        format!("{:.0}ms", s.p99),
    ]
}

const FIGURE_HEADS: [&str; 7] = [
    "trip",
    "leaked",
    "rejected",
    "false trips",
    "recovery",
    "flaps",
    "p99",
];

impl TuneReport {
    /// Pretty JSON, newline-terminated; the same input and seed give the same bytes.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a tune report serializes");
        s.push('\n');
        s
    }

    /// The SVG chart of the Pareto front.
    pub fn to_svg(&self) -> String {
        svg::render(self)
    }

    /// The candidate named `name`.
    pub fn candidate(&self, name: &str) -> Option<&Evaluated> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// The terminal report.
    pub fn to_table(&self) -> String {
        let mut o = String::new();
        let sampled = self
            .candidates
            .iter()
            .filter(|c| c.source == "sampled")
            .count();
        let admitted = self.candidates.iter().filter(|c| c.admitted).count();
        let _ = writeln!(o, "tripgate tune: {}", self.scenario);
        if !self.description.is_empty() {
            let _ = writeln!(o, "  {}", self.description.trim());
        }
        let held_out = match self.holdout_seeds.len() {
            // A recording (or --holdout 0): nothing is held out, say so plainly.
            0 => "nothing held out".to_string(),
            n => format!("{n} more draws held out"),
        };
        let _ = writeln!(
            o,
            "  {} candidates ({sampled} sampled + the 3 tiers{}), each on the same calls of {} traffic draws ({} calls each); {held_out}",
            self.candidates.len(),
            if self.candidates.len() > sampled + 3 { " + the scenario's own" } else { "" },
            self.search_seeds.len(),
            self.calls_per_seed.iter().map(|c| group(*c)).collect::<Vec<_>>().join(", "),
        );
        let _ = writeln!(o, "  objective: {}", self.objective_text);
        let _ = writeln!(
            o,
            "  {admitted} of {} candidates meet the false-trip cap",
            self.candidates.len()
        );
        let _ = writeln!(o);

        let heads = |first: &str| {
            let mut h = vec![first.to_string()];
            h.extend(FIGURE_HEADS.map(String::from));
            h.push("score".into());
            h
        };
        let w = self
            .candidate(&self.winner)
            .expect("the winner is a candidate");
        let _ = writeln!(o, "Winner: {} ({})", w.name, summary(&w.config));
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Pareto front: {} vs {} (admitted candidates no other beats on both)",
            self.axes[0].name(),
            self.axes[1].name()
        );
        let mut rows = vec![heads("candidate")];
        let mut shown: Vec<&Evaluated> = self
            .front
            .iter()
            .filter_map(|n| self.candidate(n))
            .collect();
        if !self.front.contains(&self.winner) {
            shown.push(w);
        }
        for c in &shown {
            let mark = if c.name == self.winner { " *" } else { "" };
            let mut r = vec![format!("{}{mark}", c.name)];
            r.extend(figures(&c.scores));
            r.push(format!("{:.3}", c.score));
            rows.push(r);
        }
        table(&mut o, &rows, 1);
        let _ = writeln!(
            o,
            "  * the winner. Figures are means over the search draws; trip and recovery per fault."
        );
        for c in &shown {
            let _ = writeln!(o, "  {}: {}", c.name, summary(&c.config));
        }
        let _ = writeln!(o);

        let _ = writeln!(
            o,
            "Closeness of the candidates above: each rule's peak statistic / its threshold, closest over the search draws (\"-\": rule off)"
        );
        closeness_table(&mut o, shown.iter().map(|c| (&c.name, &c.closeness)));
        let _ = writeln!(o);

        if !self.holdout.is_empty() {
            let _ = writeln!(
                o,
                "Held-out draws (never seen by the search): the winner against the tiers"
            );
            let mut rows = vec![heads("config")];
            for h in &self.holdout {
                let mut r = vec![h.name.clone()];
                r.extend(figures(&h.scores));
                r.push(format!("{:.3}", h.score));
                rows.push(r);
            }
            table(&mut o, &rows, 1);
            let held = &self.holdout[0];
            let _ =
                writeln!(
                o,
                "  search score {:.3}, held-out score {:.3}; worst held-out draw: {} false trip{}",
                w.score,
                held.score,
                held.worst_false_trips,
                if held.worst_false_trips == 1.0 { "" } else { "s" }
            );
            let _ = writeln!(o);
        }

        let _ = writeln!(o, "Use it. A config file (tripgate check / simulate --config; unlisted options keep the standard tier's values):");
        indent(&mut o, &self.snippets.toml);
        let _ = writeln!(o, "Python:");
        indent(&mut o, &self.snippets.python);
        let _ = writeln!(o, "C:");
        indent(&mut o, &self.snippets.c);
        o
    }
}

fn indent(o: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(o, "{}", format!("    {line}").trim_end());
    }
    let _ = writeln!(o);
}
