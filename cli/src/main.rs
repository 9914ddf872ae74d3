//! `tripgate`: a circuit-breaker tuning simulator.
//!
//! - `tripgate simulate [SCENARIO]` runs candidate configs side by side on the same
//!   simulated traffic against a dependency that misbehaves in phases (with
//!   `--replicas N`, as N replicas sharing the traffic, without and with fleet mode);
//! - `tripgate replay TRACE.csv` replays a recorded trace against candidate configs;
//! - `tripgate check CONFIG` validates a config file and prints its effective values;
//! - `tripgate example [NAME]` lists or prints the embedded example scenarios and trace.

use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tripgate_cli::access_log::{LogFormat, TraceFormat};
use tripgate_cli::budget::{self, Caps};
use tripgate_cli::replicas::{self, FleetSettings};
use tripgate_cli::{candidates, check, examples, plot, report, scenario, FaultRule, Settings};

#[derive(Parser)]
#[command(
    name = "tripgate",
    version,
    about = "Circuit-breaker tuning simulator: compare breaker configs on the same traffic before production does",
    after_help = "Examples:\n  tripgate simulate                                  # the embedded default scenario\n  tripgate simulate --replicas 10                    # ten replicas, without and with fleet mode\n  tripgate simulate --example flapping --plot flapping.svg\n  tripgate example flapping > mine.toml              # a scenario to start from\n  tripgate example trace > trace.csv && tripgate replay trace.csv --tier critical\n  tripgate check --tier critical > my-breaker.toml && tripgate check my-breaker.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate traffic against a misbehaving dependency and compare breaker configs.
    #[command(
        after_help = "Examples:\n  tripgate simulate\n      Run the embedded default scenario (order service -> inventory service, three tiers).\n  tripgate simulate --example latency_spike --json report.json --plot spike.svg\n      Print the table, write the JSON report and an SVG chart.\n  tripgate example default > mine.toml && tripgate simulate mine.toml --tier standard\n      Start a scenario from the default one; run it with the standard tier as the only candidate.\n  tripgate simulate --seed 7 --json\n      Print the JSON report (only) to stdout, with another seed.\n  tripgate simulate --replicas 10\n      Ten replicas share the traffic, each with its own breaker: fleet-wide figures without\n      and with fleet mode (quorum adoption, one probe per recovery; simulated store).\n\nThe same scenario and seed always give byte-identical JSON. `tripgate example` lists\nthe embedded scenarios. A run expected to pass --max-calls or --max-memory is refused\nbefore it starts, with the figure."
    )]
    Simulate(SimulateArgs),
    /// Replay a recorded trace (CSV: timestamp,latency,outcome) against breaker configs.
    #[command(
        after_help = "Examples:\n  tripgate example trace > trace.csv && tripgate replay trace.csv\n      Write the embedded example trace, replay it against the three tier presets.\n  tripgate replay trace.csv --tier critical --tier non_critical --plot trace.svg\n  tripgate example nginx_log > access.log && tripgate replay access.log --format nginx-combined\n  tripgate example envoy_log > envoy.log && tripgate replay envoy.log --format envoy-json\n\nTrace format (csv): timestamp in seconds, latency in milliseconds, outcome one of success/ok,\nfailure/error, ignored, timeout, connection, server_error, rejected, other. A header line is\noptional. Access logs (--format, --log-format): statuses map through the bindings' table\n(429/503 rejected, 504 timeout, other 5xx server error, 4xx ignored, 0 connection failure);\ncli/README.md gives the presets' exact formats. Faults are found in the trace: windows of\n--fault-window whose failure share reaches --fault-threshold."
    )]
    Replay(ReplayArgs),
    /// Validate a breaker config file (TOML or JSON) and print its effective values.
    #[command(
        after_help = "Examples:\n  tripgate check --tier critical > my-breaker.toml\n      Write a tier preset as a config file to start from.\n  tripgate check my-breaker.toml\n      Print the effective config with every default filled in, or every error.\n\nExit status: 0 when valid, 1 when the file has errors."
    )]
    Check(CheckArgs),
    /// Search breaker configs for the one that does best on a scenario, by your objective.
    #[command(
        after_help = "Examples:\n  tripgate tune\n      Search 200 configs on the embedded default scenario: at most 0 false trips, then\n      the least trip time, leaked calls, healthy rejections, recovery lag and flapping.\n  tripgate tune cli/scenarios/flapping.toml --max-false-trips 0 --minimize leaked\n  tripgate tune --weights trip=1,leaked=2,rejected=5,recovery=1,flaps=1 --plot front.svg --json tune.json\n  tripgate tune --candidates 500 --draws 5 --seed 7\n  tripgate example envoy_log > envoy.log && tripgate tune --trace envoy.log --format envoy-json\n\nFigures (lower is better): trip (s from a fault's start to opening), leaked (calls that\nreached the failing dependency), rejected (healthy calls rejected), false_trips,\nrecovery (s from a fault's end to closing), flaps (transitions), p99 (caller latency, ms).\nA scenario's [tune] table narrows or widens the space searched (see cli/README.md).\nThe same scenario and seed always give byte-identical JSON."
    )]
    Tune(TuneArgs),
    /// List the embedded example scenarios and trace, or print one (to start a file from).
    #[command(
        after_help = "Examples:\n  tripgate example\n      List them.\n  tripgate example flapping > flapping.toml\n      Write one to a file to edit; `tripgate simulate --example flapping` runs it as is."
    )]
    Example(ExampleArgs),
}

#[derive(Args)]
struct ExampleArgs {
    /// The example to print; all are listed when omitted.
    name: Option<String>,
}

#[derive(Args)]
struct Output {
    /// Write the report as JSON: to FILE, or to stdout (instead of the table) when no FILE
    /// is given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    json: Option<PathBuf>,
    /// Draw error rate, p99 latency and breaker state over time to an SVG file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Threads to simulate candidates on (each thread draws the calls once for all of
    /// its candidates).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Time-series buckets for the JSON series and the chart.
    #[arg(long, default_value_t = 240, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    buckets: u32,
    /// Refuse a run expected to make more calls than this (each candidate sees them all).
    #[arg(long, value_name = "CALLS", default_value_t = budget::DEFAULT_MAX_CALLS, value_parser = clap::value_parser!(u64).range(1..))]
    max_calls: u64,
    /// Refuse a run expected to need more memory than this (4GiB, 512MiB...), and stop
    /// one that does while running.
    #[arg(long, value_name = "BYTES", default_value = "4GiB", value_parser = budget::parse_bytes)]
    max_memory: u64,
}

impl Output {
    fn settings(&self) -> Settings {
        Settings {
            threads: self.threads,
            buckets: self.buckets as usize,
            caps: Caps {
                max_calls: self.max_calls,
                max_memory: self.max_memory,
            },
        }
    }
}

#[derive(Args)]
struct CandidateArgs {
    /// A candidate config file (TOML or JSON); repeatable.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
    /// A candidate tier preset: critical, standard or non_critical; repeatable.
    #[arg(long = "tier", value_name = "TIER")]
    tiers: Vec<String>,
}

#[derive(Args)]
struct SimulateArgs {
    /// Scenario file (TOML); the embedded default scenario when omitted.
    #[arg(conflicts_with = "example")]
    scenario: Option<PathBuf>,
    /// Run an embedded example scenario instead of a file (`tripgate example` lists them).
    #[arg(long, value_name = "NAME")]
    example: Option<String>,
    /// Override the scenario's seed (traffic and jitter).
    #[arg(long)]
    seed: Option<u64>,
    /// Run as N replicas sharing the traffic, each with its own breaker, without and with
    /// fleet mode (overrides the scenario's `[fleet] replicas`; see cli/README.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(replicas::MAX_REPLICAS)))]
    replicas: Option<u32>,
    #[command(flatten)]
    candidates: CandidateArgs,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
struct ReplayArgs {
    /// The trace: CSV with columns timestamp (s), latency (ms), outcome, or an access
    /// log (see --format).
    trace: PathBuf,
    /// How the trace is written: csv, envoy-json, nginx-combined (nginx's combined
    /// format with $request_time appended) or apache-combined (Apache's combined format
    /// with %D appended).
    #[arg(long, default_value = "csv", conflicts_with = "log_format")]
    format: String,
    /// An access log of this declared format: nginx `$variable`s or Apache `%x` tokens,
    /// with a status, a duration and a time among them.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(flatten)]
    candidates: CandidateArgs,
    /// Seed of the candidates' jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A window of the trace whose failure share reaches this is a fault.
    #[arg(long, default_value_t = 0.25)]
    fault_threshold: f64,
    /// Width of the windows faults are found in.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    fault_window: std::time::Duration,
    #[command(flatten)]
    output: Output,
}

#[derive(Args)]
struct CheckArgs {
    /// The config file (TOML, or JSON when it starts with `{`).
    #[arg(required_unless_present = "tier")]
    config: Option<PathBuf>,
    /// Print a tier preset instead.
    #[arg(long, conflicts_with = "config")]
    tier: Option<String>,
}

#[derive(Args)]
struct TuneArgs {
    /// Scenario file (TOML, with an optional [tune] table); the embedded default when omitted.
    scenario: Option<PathBuf>,
    /// Configs to sample from the space (the three tiers and the scenario's candidates
    /// are evaluated too) [default: 200, or the [tune] table's].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    candidates: Option<u64>,
    /// Base seed of the sample and of the traffic draws [default: the scenario's].
    #[arg(long)]
    seed: Option<u64>,
    /// Traffic draws every candidate is evaluated on [default: 3].
    #[arg(long = "draws", alias = "seeds", value_parser = clap::value_parser!(u64).range(1..=100))]
    seeds: Option<u64>,
    /// Further draws, never seen by the search, the winner and tiers are re-run on [default: 3].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=100))]
    holdout: Option<u64>,
    /// Rule out candidates with more false trips than this on any draw ("none": no cap).
    #[arg(long, default_value = "0", value_name = "N|none")]
    max_false_trips: String,
    /// Minimize one figure (ties go to the best on every figure).
    #[arg(long, value_name = "FIGURE", conflicts_with = "weights")]
    minimize: Option<String>,
    /// Minimize a weighted sum, each figure divided by its largest value among the
    /// candidates [default: trip=1,leaked=1,rejected=1,recovery=1,flaps=1].
    #[arg(long, value_name = "FIGURE=W,...")]
    weights: Option<String>,
    /// The two figures of the Pareto front and its chart.
    #[arg(long, default_value = "leaked,rejected", value_name = "X,Y")]
    axes: String,
    /// Write the report as JSON: to FILE, or to stdout (instead of the table) when no FILE
    /// is given.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    json: Option<PathBuf>,
    /// Draw the Pareto front (the two --axes) to an SVG file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Threads to simulate candidates on.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Show the progress line on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Tune on a recorded trace (CSV or access log) instead of the scenario's traffic;
    /// the scenario, when given, still brings its [tune] space and candidates.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// How the --trace is written: csv, envoy-json, nginx-combined or apache-combined.
    #[arg(
        long,
        default_value = "csv",
        conflicts_with = "log_format",
        requires = "trace"
    )]
    format: String,
    /// The --trace is an access log of this declared format (nginx `$variable`s or
    /// Apache `%x` tokens).
    #[arg(long, value_name = "FORMAT", requires = "trace")]
    log_format: Option<String>,
    /// A window of the --trace whose failure share reaches this is a fault.
    #[arg(long, default_value_t = 0.25, requires = "trace")]
    fault_threshold: f64,
    /// Width of the windows faults are found in, in the --trace.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, requires = "trace")]
    fault_window: std::time::Duration,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Replay(a) => replay(a),
        Command::Check(a) => check(a),
        Command::Tune(a) => tune(a),
        Command::Example(a) => example(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cli_candidates(args: &CandidateArgs, seed: u64) -> Result<Vec<candidates::Candidate>, String> {
    let mut out = Vec::new();
    for p in &args.configs {
        out.push(candidates::from_file(p, out.len(), seed)?);
    }
    for t in &args.tiers {
        out.push(candidates::from_tier(t, out.len(), seed)?);
    }
    candidates::dedupe_names(&mut out);
    Ok(out)
}

fn simulate(a: SimulateArgs) -> Result<ExitCode, String> {
    let mut sc = match (&a.scenario, &a.example) {
        (Some(p), _) => scenario::Scenario::load(p).map_err(|e| e.to_string())?,
        (None, Some(name)) => {
            let ex = examples::find(name)?;
            if let Some((file, args)) = ex.trace {
                return Err(format!(
                    "example {name} is a trace, not a scenario: `tripgate example {name} > {file} && tripgate replay {file}{args}`"
                ));
            }
            scenario::Scenario::parse(ex.text, &format!("<example {name}>"), Path::new("."))
                .map_err(|e| e.to_string())?
        }
        (None, None) => scenario::Scenario::default_scenario(),
    };
    if let Some(seed) = a.seed {
        sc.seed = seed;
        for (i, c) in sc.candidates.iter_mut().enumerate() {
            if c.seed_derived {
                c.config.seed = Some(candidates::derived_seed(seed, i));
            }
        }
    }
    let from_cli = cli_candidates(&a.candidates, sc.seed)?;
    if !from_cli.is_empty() {
        sc.candidates = from_cli;
    }
    if let Some(n) = a.replicas {
        let mut fleet = sc
            .fleet
            .take()
            .unwrap_or_else(|| FleetSettings::with_replicas(n));
        fleet.replicas = n;
        sc.fleet = Some(fleet);
    }
    if let Some(fleet) = &sc.fleet {
        if a.output.plot.is_some() {
            return Err("--plot draws one breaker per candidate: it is not available for a fleet of replicas (--replicas or a [fleet] table)".into());
        }
        let rep = tripgate_cli::simulate_fleet(&sc, fleet, &a.output.settings())?;
        write_outputs(
            || rep.to_table(),
            || rep.to_json(),
            String::new,
            a.output.json.as_deref(),
            None,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rep = tripgate_cli::simulate(&sc, &a.output.settings())?;
    emit(&rep, &a.output)
}

fn replay(a: ReplayArgs) -> Result<ExitCode, String> {
    let mut cands = cli_candidates(&a.candidates, a.seed)?;
    if cands.is_empty() {
        for t in ["critical", "standard", "non_critical"] {
            cands.push(candidates::from_tier(t, cands.len(), a.seed)?);
        }
    }
    let rule = FaultRule {
        threshold: a.fault_threshold,
        window: a.fault_window,
    };
    let format = match &a.log_format {
        Some(f) => TraceFormat::Declared(LogFormat::parse(f)?),
        None => TraceFormat::from_name(&a.format)?,
    };
    let rep = tripgate_cli::replay(
        &a.trace,
        &format,
        &cands,
        a.seed,
        &rule,
        &a.output.settings(),
    )?;
    emit(&rep, &a.output)
}

/// Prints the table (or the JSON to stdout) and writes the files asked for, telling on
/// stderr each file written.
fn emit(rep: &report::Report, out: &Output) -> Result<ExitCode, String> {
    write_outputs(
        || rep.to_table(),
        || rep.to_json(),
        || plot::render(rep),
        out.json.as_deref(),
        out.plot.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn check(a: CheckArgs) -> Result<ExitCode, String> {
    if let Some(t) = a.tier {
        print!("{}", check::tier_toml(&t)?);
        return Ok(ExitCode::SUCCESS);
    }
    let path = a.config.expect("clap requires a config or --tier");
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: cannot read: {e}"))?;
    match check::check(&text, &file) {
        check::Checked::Valid(toml) => {
            println!("# {file}: valid. Effective config, every default filled in:");
            print!("{toml}");
            Ok(ExitCode::SUCCESS)
        }
        check::Checked::Invalid(errors) => {
            eprintln!(
                "{file}: {} error{}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for e in &errors {
                eprintln!("error: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn tune(a: TuneArgs) -> Result<ExitCode, String> {
    use std::io::IsTerminal;
    use tripgate_cli::tune::{self, Metric, Objective};
    let mut input = match &a.scenario {
        Some(p) => tune::Input::load(p)?,
        None => tune::Input::default_input(),
    };
    let objective = Objective::from_args(
        &a.max_false_trips,
        a.minimize.as_deref(),
        a.weights.as_deref(),
    )?;
    let axes = Metric::parse_pair(&a.axes).map_err(|e| format!("--axes: {e}"))?;
    let mut opts = tune::Options {
        candidates: a.candidates.map(|n| n as usize),
        seed: a.seed,
        seeds: a.seeds.map(|n| n as usize),
        holdout: a.holdout.map(|n| n as usize),
        objective,
        axes,
        progress: a.progress || std::io::stderr().is_terminal(),
        ..tune::Options::default()
    };
    opts.settings.threads = a.threads;
    if let Some(path) = &a.trace {
        let format = match &a.log_format {
            Some(f) => TraceFormat::Declared(LogFormat::parse(f)?),
            None => TraceFormat::from_name(&a.format)?,
        };
        let rule = FaultRule {
            threshold: a.fault_threshold,
            window: a.fault_window,
        };
        rule.check()?;
        let (text, file, name) = tripgate_cli::read_trace(path, &opts.settings)?;
        input = input.with_trace(tune::TraceSource {
            text,
            file,
            name,
            format,
            rule,
        });
    }
    let rep = tune::tune(&input, &opts)?;
    let t = rep.throughput;
    let secs = t.elapsed.as_secs_f64();
    eprintln!(
        "tune: {} candidate runs ({} calls) in {secs:.1}s: {:.1} candidate runs/s, {:.1}M calls/s on {} thread{}",
        t.runs,
        report::group(t.calls),
        t.runs as f64 / secs.max(1e-9),
        t.calls as f64 / secs.max(1e-9) / 1e6,
        a.threads,
        if a.threads == 1 { "" } else { "s" }
    );
    write_outputs(
        || rep.to_table(),
        || rep.to_json(),
        || rep.to_svg(),
        a.json.as_deref(),
        a.plot.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a report's table (or its JSON, for `--json -`) and writes the JSON and the
/// chart files asked for, with a `wrote FILE` line on stderr for each.
fn write_outputs(
    table: impl FnOnce() -> String,
    json: impl FnOnce() -> String,
    svg: impl FnOnce() -> String,
    json_path: Option<&Path>,
    plot_path: Option<&Path>,
) -> Result<(), String> {
    let write = |p: &Path, body: &str| {
        std::fs::write(p, body).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
        Ok::<_, String>(())
    };
    match json_path {
        Some(p) if p == Path::new("-") => print!("{}", json()),
        Some(p) => {
            print!("{}", table());
            write(p, &json())?;
        }
        None => print!("{}", table()),
    }
    if let Some(p) = plot_path {
        write(p, &svg())?;
    }
    Ok(())
}

fn example(a: ExampleArgs) -> Result<ExitCode, String> {
    match a.name {
        Some(name) => print!("{}", examples::find(&name)?.text),
        None => print!("{}", examples::list()),
    }
    Ok(ExitCode::SUCCESS)
}
