#!/usr/bin/env python3
"""Writes the benchmark tables into BENCHMARKS.md and a bar chart to benches/chart.svg.

Reads criterion's estimates ($TARGET/criterion/<scenario>/<contender>/new/estimates.json),
the instruction counts of benches/icount.sh ($TARGET/icount.tsv) and the memory figures
of the `memory` example ($TARGET/memory.jsonl) and the clock and add costs of the
`clocks` example ($TARGET/clocks.jsonl), where $TARGET is $CARGO_TARGET_DIR or
target/. Python 3 standard library only.

Only the text between <!-- bench:begin --> and <!-- bench:end --> in BENCHMARKS.md is
replaced (the file is re-read just before writing, so sections others keep in the same
file survive); the hand-written analysis between <!-- bench-notes:begin --> and
<!-- bench-notes:end --> is never touched. The patterns' figures (criterion groups of
patterns/benches/patterns.rs) go between <!-- bench-patterns:begin --> and
<!-- bench-patterns:end -->, placed after the notes the first time.

Usage: benches/report.py [--only breakers|patterns] [--command "the command that produced the figures"]
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
CRITERION = TARGET / "criterion"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
P_BEGIN, P_END = "<!-- bench-patterns:begin -->", "<!-- bench-patterns:end -->"
NOTES_END = "<!-- bench-notes:end -->"

CONTENDERS = [
    ("tripgate", "tripgate (time window)"),
    ("tripgate_latency", "tripgate (time window, latency tracking)"),
    ("tripgate_cached_clock", "tripgate (time window, cached clock: upkeep thread)"),
    ("tripgate_coarse_os_clock", "tripgate (time window, coarse OS clock: CLOCK_MONOTONIC_COARSE)"),
    ("tripgate_count", "tripgate (count window)"),
    ("tripgate_count_latency", "tripgate (count window, latency tracking)"),
    ("atomic_floor", "atomic floor (load + fetch_add)"),
    ("failsafe", "failsafe 1.3.0"),
    ("recloser", "recloser 1.4.0"),
    ("tower_resilience", "tower-resilience-circuitbreaker 0.14.0"),
    ("seatbelt", "seatbelt 0.11.0 (breaker)"),
]
PEERS = ["failsafe", "recloser", "tower_resilience", "seatbelt"]

SCENARIOS = [
    ("s1_closed_success", "1. Closed, all successes: acquire + record", "ns/op", "closed"),
    ("s2_closed_1pct_failures", "2. Closed, 1% failures", "ns/op", None),
    ("s3_open_reject", "3. Open: rejection", "ns/op", "open"),
    ("s4_half_open_churn", "4. Half-open churn: trip, open elapses, one probe closes", "ns/cycle", "churn"),
    ("s5_two_threads_one_breaker", "5a. Two threads, one shared breaker", "ns/op per thread", None),
    ("s5_two_threads_two_breakers", "5b. Two threads, one breaker each", "ns/op per thread", None),
]

# failsafe trips on an EMA of the success rate: at this bench's settings, on its frozen
# clock, 20 failures every cycle (`FailsafeChurn` measures it at setup and `check_churn`
# checks that it stays).
CHURN_CALLS = {"tripgate": 21, "failsafe": 21, "recloser": 102, "tower_resilience": 101, "seatbelt": 21}

PARTS = [
    ("admit_closed", "`acquire_raw`, Closed (admission alone; per check, in a loop of 100)"),
    ("admit_floor_load", "floor: one `Acquire` load (per check, in a loop of 100)"),
    ("admit_open", "`acquire_raw`, Open (rejection alone; per check, in a loop of 100)"),
    ("record_success_no_latency", "`record_raw` success, no latency tracking"),
    ("record_success_latency", "`record_raw` success, latency histogram (reads the clock)"),
    ("snapshot_percentiles", "`snapshot()` with p50/p95/p99/p999, 10 000 calls in window"),
]


# patterns/benches/patterns.rs: (criterion directory under $TARGET/criterion, name, what it does).
PATTERNS = [
    ("bulkhead/try_acquire+drop", "bulkhead: `try_acquire` + release",
     "a slot taken and given back (guard dropped), uncontended"),
    ("bulkhead/try_acquire_full", "bulkhead: `try_acquire`, full",
     "a refusal: one add, one sub, a counted rejection"),
    ("compose/breaker_only", "breaker alone: `Breaker::call`",
     "baseline for the two rows below"),
    ("compose/bulkhead_first", "bulkhead, then breaker: `call_bulkhead_first`",
     "the same call inside a bulkhead (limit 64) and the breaker"),
    ("compose/breaker_first", "breaker, then bulkhead: `call_breaker_first`",
     "the same, breaker asked first"),
    ("hedge/no_hedge", "hedged call, primary answers",
     "one breaker admission and record; the hedge timer is made but never due"),
    ("hedge/hedged", "hedged call, secondary wins",
     "delay already due: the secondary runs through its breaker and wins, the primary "
     "is cancelled and recorded as ignored"),
    ("chain_third_step", "fallback chain, third step answers",
     "first step rejected (open breaker), second fails, third (unguarded) answers"),
]

# Benches whose iteration makes this many operations (breakers.rs `ADMISSIONS`): their
# figures are per operation.
PER_ITERATION = {("s6_tripgate_parts", k): 100 for k in ("admit_closed", "admit_floor_load", "admit_open")}


def estimate(group, bench):
    """Criterion's estimates for one bench: of the passes benches/run.sh saved as
    baselines pass1, pass2, ..., the one with the lowest median (interference on a
    shared machine only adds time); without passes, the latest run (`new`)."""
    d = CRITERION / group / bench
    runs = sorted(d.glob("pass[0-9]*/estimates.json")) or [d / "new" / "estimates.json"]
    runs = [json.loads(p.read_text()) for p in runs if p.exists()]
    if not runs:
        return None
    e = min(runs, key=lambda r: r["median"]["point_estimate"])
    med = e["median"]
    n = PER_ITERATION.get((group, bench), 1)
    return {
        "median": med["point_estimate"] / n,
        "lo": med["confidence_interval"]["lower_bound"] / n,
        "hi": med["confidence_interval"]["upper_bound"] / n,
        "mad": e["median_abs_dev"]["point_estimate"] / n,
    }


def passes():
    """How many passes benches/run.sh saved (criterion baselines pass1, pass2, ...)."""
    names = {p.name for p in CRITERION.glob("*/*/pass[0-9]*")}
    return len(names) or 1


def icounts():
    p = TARGET / "icount.tsv"
    out = {}
    if p.exists():
        for line in p.read_text().splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) == 3:
                out[(parts[0], parts[1])] = float(parts[2])
    return out


def memory():
    p = TARGET / "memory.jsonl"
    out = {}
    if p.exists():
        for line in p.read_text().splitlines():
            if line.strip().startswith("{"):
                d = json.loads(line)
                out[d["contender"]] = d
    return out


def clock_rows():
    """The `clocks` example's lines ($TARGET/clocks.jsonl), in its order."""
    p = TARGET / "clocks.jsonl"
    if not p.exists():
        return []
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip().startswith("{")]


def clocks():
    """The `clocks` example's figures: op -> ns per operation."""
    return {d["op"]: d["ns"] for d in clock_rows()}


def fmt_ns(v):
    if v is None:
        return "—"
    if v >= 10_000:
        return f"{v / 1000:,.1f} µs"
    if v >= 100:
        return f"{v:,.0f} ns"
    if v >= 10:
        return f"{v:.1f} ns"
    return f"{v:.2f} ns"


def machine():
    model, cpus = platform.processor() or "unknown", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                model = v.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rustc = "rustc (unknown)"
    return f"{model}, {cpus} logical CPUs, {platform.system()} {platform.release()}; {rustc}"


def scenario_table(group, unit, icount_key, ic):
    rows = [(k, n, estimate(group, k)) for k, n in CONTENDERS]
    rows = [r for r in rows if r[2] is not None]
    if not rows:
        return None
    base = next((r[2]["median"] for r in rows if r[0] == "tripgate"), None)
    head = f"| contender | median {unit} | MAD | 95% CI of median | × tripgate |"
    sep = "|---|---:|---:|---:|---:|"
    if icount_key:
        head += " instructions/op |"
        sep += "---:|"
    if group == "s4_half_open_churn":
        head += " calls/cycle |"
        sep += "---:|"
    lines = [head, sep]
    for key, name, e in rows:
        ratio = f"{e['median'] / base:.2f}" if base else "—"
        line = (f"| {name} | {fmt_ns(e['median'])} | {fmt_ns(e['mad'])} | "
                f"{fmt_ns(e['lo'])} – {fmt_ns(e['hi'])} | {ratio} |")
        if icount_key:
            v = ic.get((icount_key, key))
            line += f" {v:,.1f} |" if v is not None else " — |"  # per cycle for churn
        if group == "s4_half_open_churn":
            c = CHURN_CALLS.get(key)
            line += f" {c} |" if c else " — |"
        lines.append(line)
    return "\n".join(lines)


def budgets(ic, mem, floors):
    """(budget, measured, floor on this machine, verdict) rows for docs/ARCHITECTURE.md §3.

    The floor is what the operation cannot go below on this machine, measured in the
    same run: the atomic floor's criterion rows, and the `clocks` example's chains of a
    clock read and an add (`floors`). A budget under its floor is marked so: no code
    can meet it here."""
    g = lambda grp, b: (estimate(grp, b) or {}).get("median")
    rows = []
    # Floors, as (value, how it is made up); None where this run has no figure.
    floor_of = lambda v, what: (v, what) if v is not None else None
    load = floor_of(g("s6_tripgate_parts", "admit_floor_load"), "one load")
    counted = floor_of(g("s1_closed_success", "atomic_floor"), "load + `fetch_add`")
    precise_add = floor_of(floors.get("precise_then_add"), "precise clock, then `fetch_add`")
    cached_add = floor_of(floors.get("cached_then_add"), "cached clock, then `fetch_add`")
    timed = floor_of(floors.get("two_precise_two_adds"), "2 precise clock reads + 2 `fetch_add`")

    def verdict(ok, limit, floor):
        if ok:
            return "met"
        if floor is not None and floor[0] > limit:
            return "**MISSED** (budget below this machine's floor)"
        return "**MISSED**"

    def show_floor(floor, fmt=fmt_ns):
        return f"{fmt(floor[0])}: {floor[1]}" if floor else "—"

    def row(name, value, limit, shown, extra="", floor=None):
        if value is None:
            rows.append((name, "not measured", show_floor(floor), "—"))
            return
        rows.append((name, shown + extra, show_floor(floor), verdict(value <= limit, limit, floor)))

    v = g("s6_tripgate_parts", "admit_closed")
    row("`try_acquire` Closed <= 1 ns", v, 1.0, fmt_ns(v),
        f" ({ic[('admit', 'closed')]:.0f} instr)" if ("admit", "closed") in ic else "", load)
    v = g("s6_tripgate_parts", "admit_open")
    row("`try_acquire` Open <= 2 ns", v, 2.0, fmt_ns(v),
        f" ({ic[('admit', 'open')]:.0f} instr)" if ("admit", "open") in ic else "", precise_add)
    windows = [("tripgate_count", "count window", counted), ("tripgate", "time window", precise_add)]
    for key, window, floor in windows:
        v = g("s1_closed_success", key)
        row(f"scenario 1, no latency tracking <= 8 ns ({window})", v, 8.0, fmt_ns(v), floor=floor)
        if v is not None:
            peers = {p: g("s1_closed_success", p) for p in PEERS}
            peers = {p: x for p, x in peers.items() if x is not None}
            if peers:
                best = min(peers, key=peers.get)
                rows.append((f"scenario 1 ahead of every contender ({window})",
                             f"fastest peer {best} {fmt_ns(peers[best])} vs {fmt_ns(v)}", show_floor(floor),
                             verdict(v < peers[best], peers[best], floor)))
        if ("closed", key) in ic:
            pi = {p: ic.get(("closed", p)) for p in PEERS if ("closed", p) in ic}
            if pi:
                best = min(pi, key=pi.get)
                rows.append((f"scenario 1 ahead of every contender, instructions ({window})",
                             f"{ic[('closed', key)]:.0f} vs {best} {pi[best]:.0f}", "—",
                             "met" if ic[("closed", key)] < pi[best] else "**MISSED**"))
    v = g("s1_closed_success", "tripgate_cached_clock")
    row("scenario 1, no latency tracking <= 8 ns (time window, cached clock)", v, 8.0, fmt_ns(v),
        floor=cached_add)
    v = g("s3_open_reject", "tripgate_cached_clock")
    row("open rejection, cached clock <= 2 ns", v, 2.0, fmt_ns(v), floor=cached_add)
    for key, window in [("tripgate_count_latency", "count window"), ("tripgate_latency", "time window")]:
        v = g("s1_closed_success", key)
        row(f"scenario 1, latency tracking <= 25 ns ({window})", v, 25.0, fmt_ns(v), floor=timed)

    def ahead_of_peers_two_threads(contender, label, floor):
        """The ">= 10× every peer" row for two threads on one breaker. Its floor is
        the most any breaker could be ahead: the closest peer over `floor`."""
        two = g("s5_two_threads_one_breaker", contender)
        peers = {p: g("s5_two_threads_one_breaker", p) for p in PEERS}
        peers = {p: x for p, x in peers.items() if x is not None}
        if two and peers:
            closest = min(peers, key=peers.get)
            r = peers[closest] / two
            best = floor and (peers[closest] / floor[0], f"{closest} over {floor[1]}")
            shown = f"{best[0]:.1f}×: {best[1]}" if best else "—"
            verdict_ = "met" if r >= 10 else (
                "**MISSED** (budget below this machine's floor)" if best and best[0] < 10 else "**MISSED**")
            rows.append((f"2 threads, one breaker >= 10× faster than every peer ({label})",
                         f"closest peer {closest} {fmt_ns(peers[closest])} = {r:.1f}× tripgate {fmt_ns(two)}",
                         shown, verdict_))

    # Two threads on one shared counter (a count window's cursor) against one.
    shared = g("s5_two_threads_one_breaker", "atomic_floor")
    for key, window, _ in windows:
        one = g("s1_closed_success", key)
        two = g("s5_two_threads_one_breaker", key)
        if one and two:
            r = two / one
            floor = None
            if key == "tripgate_count" and shared and counted:
                floor = (shared / counted[0], "one shared counter, 2 threads vs 1")
            rows.append((f"2 threads, one breaker <= 1.5× single-thread per op ({window})",
                         f"{fmt_ns(two)} vs {fmt_ns(one)} = {r:.2f}×",
                         show_floor(floor, lambda x: f"{x:.2f}×"), verdict(r <= 1.5, 1.5, floor)))
    shared_floor = floor_of(shared, "one shared counter, 2 threads")
    ahead_of_peers_two_threads("tripgate_count", "count window", shared_floor)
    ahead_of_peers_two_threads("tripgate", "time window", precise_add)
    ahead_of_peers_two_threads("tripgate_cached_clock", "time window, cached clock", cached_add)
    v = g("s6_tripgate_parts", "snapshot_percentiles")
    row("snapshot with percentiles <= 15 µs", v, 15_000.0, fmt_ns(v))
    for suffix, window in [("", "time window"), ("_count", "count window")]:
        for key, budget, limit in [(f"tripgate{suffix}_latency", "with latency tracking <= 96 KiB", 96 * 1024),
                                   (f"tripgate{suffix}", "without latency tracking <= 4 KiB", 4 * 1024)]:
            m = mem.get(key)
            row(f"memory {budget} ({window})", m and m["measured"], limit,
                m and f"{m['measured']:,} B measured ({m['reported']:,} B reported)" or "")
    return rows


def chart(path):
    """Horizontal bars, log scale: scenario 1 and both scenario-5 groups."""
    groups = [("s1_closed_success", "1. Closed, all successes (1 thread)"),
              ("s5_two_threads_one_breaker", "5a. Two threads, one breaker (per op, per thread)"),
              ("s5_two_threads_two_breakers", "5b. Two threads, two breakers (per op, per thread)")]
    colors = {"tripgate": "#1b7837", "tripgate_latency": "#5aae61", "tripgate_count": "#00441b",
              "tripgate_count_latency": "#a6dba0", "atomic_floor": "#999999",
              "failsafe": "#2166ac", "recloser": "#b2182b", "tower_resilience": "#e08214",
              "seatbelt": "#762a83"}
    data = []
    for grp, title in groups:
        rows = [(n, estimate(grp, k), k) for k, n in CONTENDERS]
        rows = [(n, e["median"], k) for n, e, k in rows if e]
        if rows:
            data.append((title, rows))
    if not data:
        return False
    import math
    lo = min(v for _, rows in data for _, v, _ in rows)
    hi = max(v for _, rows in data for _, v, _ in rows)
    lmin, lmax = math.floor(math.log10(max(lo, 0.1))), math.ceil(math.log10(hi))
    # The label column fits the longest name (about 7 px a character at 12 px sans).
    longest = max(len(n) for _, rows in data for n, _, _ in rows)
    left, width, bar, gap = max(300, 20 + 7 * longest), 520, 16, 4
    y = 40
    out = []
    for title, rows in data:
        out.append(f'<text x="10" y="{y}" font-weight="bold">{esc(title)}</text>')
        y += 10
        for name, v, key in rows:
            w = (math.log10(max(v, 10 ** lmin)) - lmin) / (lmax - lmin) * width
            out.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{esc(name)}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{max(w, 1):.1f}" height="{bar}" fill="{colors.get(key, "#444")}"/>')
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 4}">{esc(fmt_ns(v))}</text>')
            y += bar + gap
        y += 24
    axis_y = y - 10
    ticks = []
    for p in range(lmin, lmax + 1):
        x = left + (p - lmin) / (lmax - lmin) * width
        label = fmt_ns(10 ** p)
        ticks.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{axis_y}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">{esc(label)}</text>')
    h = axis_y + 40
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 110}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="18" font-size="14" font-weight="bold">tripgate vs peers: median time per call '
           f'(log scale, lower is better)</text>'] + ticks + out + [
           f'<text x="10" y="{h - 8}" fill="#666">Generated by benches/report.py from criterion estimates.</text>',
           '</svg>']
    path.write_text("\n".join(svg) + "\n")
    return True


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")



def scaling_tables():
    """Scenario 7: per op and thread, by thread count, for each contender that ran."""
    out = []
    for group, title in (("s7_scaling_one_breaker", "7a. Scaling: N threads on one shared breaker"),
                         ("s7_scaling_breaker_per_thread", "7b. Scaling: N threads, one breaker each")):
        counts = sorted({int(p.name) for p in (CRITERION / group).glob("*/[0-9]*") if p.name.isdigit()})
        rows = []
        for key, name in CONTENDERS:
            cells = [estimate(f"{group}/{key}", str(n)) for n in counts]
            if any(cells):
                rows.append((name, cells))
        if not counts or not rows:
            continue
        out += [f"### {title}", "",
                "Median ns per call as each thread sees it (each thread makes the same calls; the figure "
                "is the slowest thread's time over its calls). The bench runs 1, 2, 4, ... threads up to "
                "the machine's parallelism.", "",
                "| contender | " + " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in counts) + " |",
                "|---|" + "---:|" * len(counts)]
        out += [f"| {name} | " + " | ".join(fmt_ns(c["median"]) if c else "—" for c in cells) + " |"
                for name, cells in rows]
        out += [""]
    return out

def section(command):
    ic, mem, floors = icounts(), memory(), clocks()
    out = [BEGIN, "## Benchmarks: tripgate against the Rust breakers in use", "",
           "_Generated by `benches/report.py`; edit the generator, not this section._", "",
           f"- **Machine:** {machine()}.",
           f"- **Command:** `{command}` (criterion: 30 samples, 2 s measurement, 0.5 s warm-up per bench; "
           "instruction counts from `benches/icount.sh`, valgrind callgrind, N = 20 000 and 2N).",
           "- **Noise:** a shared 2-CPU virtual machine; other work on it moves the figures. "
           "Wall-clock figures move by 10–50% from run to run (up to 2× in a busy phase of the host) and "
           "the two-thread figures even more (the two bench threads may not get both CPUs). The suite runs "
           f"in {passes()} passes minutes apart, and each row is the pass with the lower median, the same rule "
           "for every contender. Compare contenders within one run, and prefer the instruction counts, which "
           "are deterministic.",
           "- Medians with their median absolute deviation (MAD) and criterion's 95% confidence interval "
           "of the median. `× tripgate` is the median over tripgate's median (higher = slower than tripgate).",
           ""]
    out += ["### Budgets (docs/ARCHITECTURE.md §3)", "",
            "*Floor here* is what the operation cannot go below on this machine, measured in the same run: "
            "the atomic floor's rows below, and chains of a clock read and an add (`benches/examples/clocks.rs`, "
            "table after this one). A budget under its floor cannot be met by any code on this machine.", "",
            "| budget | measured (median) | floor here | verdict |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in budgets(ic, mem, floors)]
    out += ["", "See *Where the time goes* below for the cause of each missed budget.", ""]
    if floors:
        out += ["### Clock reads and adds on this machine", "",
                "`cargo run --release -p tripgate-benches --example clocks`: best of 5 rounds of 20 M "
                "operations in a loop.", "", "| operation | ns per operation |", "|---|---:|"]
        out += [f"| {d['what']} | {d['ns']:.2f} |" for d in clock_rows()]
        out += [""]
    if chart(ROOT / "benches" / "chart.svg"):
        out += ["![scenario 1 and 5, median ns per call, log scale](benches/chart.svg)", ""]
    for grp, title, unit, ick in SCENARIOS:
        t = scenario_table(grp, unit, ick, ic)
        if t:
            out += [f"### {title}", "", t, ""]
            if grp == "s4_half_open_churn":
                out += ["One iteration is a whole cycle: the failed calls that trip the breaker, the open "
                        "duration passing, one successful probe that closes it. Contenders need different "
                        "numbers of failures to trip (column *calls/cycle*), so compare ns/cycle with that "
                        "in mind.", ""]
            if grp.startswith("s5_"):
                out += ["Each of two threads makes the same number of successful calls; the figure is the "
                        "slower thread's time divided by its calls (throughput = 2 / figure).", ""]
    out += scaling_tables()
    rows = [(n, estimate("s6_tripgate_parts", k)) for k, n in PARTS]
    rows = [(n, e) for n, e in rows if e]
    if rows:
        out += ["### 6. tripgate's parts", "", "| operation | median | MAD | 95% CI of median |",
                "|---|---:|---:|---:|"]
        out += [f"| {n} | {fmt_ns(e['median'])} | {fmt_ns(e['mad'])} | {fmt_ns(e['lo'])} – {fmt_ns(e['hi'])} |"
                for n, e in rows]
        if ("admit", "closed") in ic:
            out += ["", f"Instructions: admission alone {ic[('admit', 'closed')]:.0f} (Closed), "
                    f"{ic.get(('admit', 'open'), float('nan')):.0f} (Open) per call, loop included."]
        out += [""]
    if mem:
        out += ["### Memory per breaker", "",
                "Measured with a counting global allocator (`benches/examples/memory.rs`): live heap bytes "
                "after building the breaker in a `Box` (so its inline size counts), and after 10 000 calls.", "",
                "| contender | measured at build | after 10 000 calls | `memory_bytes()` |", "|---|---:|---:|---:|"]
        for key, name in CONTENDERS:
            m = mem.get(key)
            if m:
                rep = f"{m['reported']:,}" if m.get("reported") is not None else "—"
                out.append(f"| {name} | {m['measured']:,} B | {m['after_calls']:,} B | {rep} |")
        out += [""]
    out += ["### How each contender is set up", "",
            "Same semantics as far as each API allows: failure-rate window of 100 calls (count-based) or 10 s "
            "(time-based), trip at 50%, at least 20 calls, open 60 s, one half-open probe. The operation is a "
            "trivial closure that returns `Ok`/`Err`; every contender goes through its public API "
            "(`benches/common/mod.rs`).", "",
            "| contender | window | what it cannot express / how it is driven |", "|---|---|---|",
            "| tripgate (time window) | time, 10 s / 10 buckets | `try_acquire` + `Permit::success/failure`. "
            "Latency tracking off (`track_latency(false)`) unless named. The `× tripgate` column compares with "
            "this row. |",
            "| tripgate (count window) | count, exactly the last 100 calls (a bucket per call), as recloser's "
            "ring | The same, with `count_window(100)`. Scenarios 1, 2 and 5: the open path (3) does not depend "
            "on the window, and the churn cycle (4) runs on the time window. |",
            "| failsafe 1.3.0 | EMA of the success rate over 10 s, min 20 requests | No exact window (an "
            "exponentially weighted average). Cannot trip in the first 10 s after it is (re)armed, so scenario 3 "
            "reaches Open with its `consecutive_failures(20)` policy (the rejection path is policy-independent), "
            "and scenario 4 runs under `failsafe::clock::freeze`, advancing 10 s before each trip. Half-open "
            "admits every call (no probe limit). Driven by `is_call_permitted` + `on_success/on_error`. |",
            "| recloser 1.4.0 | count, ring of 100 | No minimum-calls option: the rate is evaluated once the ring "
            "is full, so it trips on the 101st failure. Reads only the real clock, so scenario 4 uses an open "
            "wait of zero. Driven by `call`. |",
            "| tower-resilience-circuitbreaker 0.14.0 | count, 100 | Only a tower `Service`: each call is "
            "`poll_ready` + `call` + polling a boxed future (a tokio `Mutex` inside), driven without a runtime by "
            "polling with a no-op waker. `minimum_number_of_calls(20)` is set, but a count window is only "
            "evaluated when full (trips on the 100th failure); its time window keeps a record per call in a "
            "`VecDeque` (unbounded under load), so it is not used. Real clock only: scenario 4 uses a zero "
            "open wait. Default features (no `metrics`/`tracing`). |",
            "| seatbelt 0.11.0 | time, 10 s sampling | No count-based window. A `layered` service stack (breaker "
            "over `Execute`), polled with a no-op waker, on a real `tick` clock (scenario 4: `tick::ClockControl`). "
            "`HalfOpenMode::quick()` (one probe). Default features off but `breaker` (no telemetry). |",
            "| atomic floor | — | One `Acquire` load of a state word + one `Relaxed` `fetch_add` on a counter on "
            "its own cache line: what any breaker that counts must at least pay. |",
            "", "All contenders run the same scenarios except: scenario 6 is tripgate's own. Versions are the "
            "ones the issue named; all exist on crates.io.", "", END]
    return "\n".join(out)


def pattern_estimate(path):
    """`estimate` for a criterion directory `group/bench`, or `name` for a bench outside a group."""
    group, _, bench = path.partition("/")
    return estimate(group, bench)


def patterns_section(command):
    """The Patterns section, or None when patterns/benches/patterns.rs has not been run."""
    rows = [(n, what, pattern_estimate(d)) for d, n, what in PATTERNS]
    rows = [r for r in rows if r[2]]
    if not rows:
        return None
    # run.sh writes /proc/loadavg's first three fields before and after the benches.
    p = TARGET / "loadavg-patterns.txt"
    lines = p.read_text().split("\n") if p.exists() else []
    if len(lines) >= 2 and lines[0] and lines[1]:
        load = (f"load average {lines[0].replace(' ', ', ')} (1, 5, 15 min) before the benches "
                f"and {lines[1].replace(' ', ', ')} after")
    else:
        try:
            avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            load = f"load average {avg} (1, 5, 15 min) when this section was written"
        except OSError:
            load = "load average unknown"
    out = [P_BEGIN, "## Patterns: bulkhead, bulkhead + breaker, hedged call, fallback chain", "",
           "_Generated by `benches/report.py`; edit the generator, not this section._", "",
           f"- **Machine:** {machine()}.",
           f"- **Command:** `{command}` (criterion benches of `patterns/benches/patterns.rs`: 30 samples, "
           "2 s measurement, 0.5 s warm-up per bench, as the breakers suite).",
           f"- **Load:** {load}, on {os.cpu_count()} logical CPUs (the bench itself keeps one busy): "
           "a run that is preempted shows it as a wide MAD and CI; compare rows within one run.",
           "- One thread; the guarded calls do nothing, so each figure is the pattern's own cost. "
           "Breakers are `Config::default()` (standard tier, latency tracked). Medians with their "
           "median absolute deviation (MAD) and criterion's 95% confidence interval of the median.",
           "", "| operation | what is measured | median | MAD | 95% CI of median |",
           "|---|---|---:|---:|---:|"]
    out += [f"| {n} | {what} | {fmt_ns(e['median'])} | {fmt_ns(e['mad'])} | "
            f"{fmt_ns(e['lo'])} – {fmt_ns(e['hi'])} |" for n, what, e in rows]
    alone, first = pattern_estimate("compose/breaker_only"), pattern_estimate("compose/bulkhead_first")
    if alone and first:
        if first["lo"] > alone["hi"]:
            out += ["", f"A bulkhead in front of the breaker adds {fmt_ns(first['median'] - alone['median'])} "
                    f"per call (bulkhead first {fmt_ns(first['median'])} against the breaker alone "
                    f"{fmt_ns(alone['median'])})."]
        else:
            out += ["", f"A bulkhead in front of the breaker costs less than this run resolves: bulkhead first "
                    f"{fmt_ns(first['median'])} against the breaker alone {fmt_ns(alone['median'])}, with "
                    "overlapping confidence intervals; the bulkhead's own round trip is the first row."]
    out += ["", P_END]
    return "\n".join(out)


def replace(text, begin, end, new, after=None):
    """`text` with the part between `begin` and `end` replaced by `new` (markers included
    in `new`); if absent, `new` goes right after the marker `after` when present, else at
    the end."""
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        _, post = rest.split(end, 1)
        return pre + new + post
    if after and after in text:
        pre, post = text.split(after, 1)
        return pre + after + "\n\n" + new + "\n\n" + post.lstrip("\n")
    return text.rstrip("\n") + "\n\n" + new + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--command", default="benches/run.sh")
    ap.add_argument("--only", choices=["all", "breakers", "patterns"], default="all",
                    help="regenerate only this section (default: every section)")
    args = ap.parse_args()
    if not CRITERION.exists():
        sys.exit(f"report.py: no criterion results under {CRITERION}; run benches/run.sh first")
    new = section(args.command) if args.only != "patterns" else None
    new_patterns = patterns_section(args.command) if args.only != "breakers" else None
    md = ROOT / "BENCHMARKS.md"
    # Re-read right before writing: others keep their own sections in this file.
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    if new is not None:
        text = replace(text, BEGIN, END, new)
    if new_patterns is not None:
        text = replace(text, P_BEGIN, P_END, new_patterns, after=NOTES_END)
    md.write_text(text)
    wrote = [str(md)] if new is not None or new_patterns is not None else []
    if new is not None:
        wrote.append("benches/chart.svg")
    if args.only != "breakers" and new_patterns is None:
        print("report.py: no patterns results (cargo bench -p tripgate-patterns); Patterns section left as is",
              file=sys.stderr)
    print(f"report.py: wrote {' and '.join(wrote) or 'nothing'}")


if __name__ == "__main__":
    main()
