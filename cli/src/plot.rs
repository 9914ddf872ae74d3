//! A hand-written SVG chart of a report: for each candidate, the breaker's state over
//! time as a coloured strip, the error rate of admitted calls (and the share rejected),
//! and the p99 latency seen by the caller on a log scale, over shaded fault phases.
//! Every candidate's latency chart shares one axis, so the panels compare at a glance;
//! time ticks fall on round steps (30s, 1m, 5m...), and every duration is written by
//! [`dur`], as in the tables.

use crate::report::{dur, Report};
use std::fmt::Write as _;
use tripgate::State;

const W: f64 = 1100.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const STRIP: f64 = 16.0;
const CHART: f64 = 90.0;
const GAP: f64 = 12.0;
const PANEL: f64 = 26.0 + STRIP + GAP + CHART + GAP + CHART + 34.0;
const TOP: f64 = 70.0;

/// `s` escaped for SVG text and attributes.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn state_color(s: State) -> &'static str {
    match s {
        State::Closed => "#43a047",
        State::Open => "#e53935",
        State::HalfOpen => "#ffb300",
        State::ForcedOpen => "#8e24aa",
        _ => "#90a4ae",
    }
}

/// Renders `report` as a standalone SVG document.
pub fn render(report: &Report) -> String {
    let pw = W - LEFT - RIGHT;
    let end = report.duration_ms.max(1e-9);
    let x = |t_ms: f64| LEFT + (t_ms / end).clamp(0.0, 1.0) * pw;
    let h = TOP + PANEL * report.candidates.len() as f64 + 10.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="system-ui, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">tripgate {}: {}</text>"#,
        report.meta.command,
        esc(&report.meta.name)
    );
    let _ = writeln!(
        o,
        r##"<text x="{LEFT}" y="40" fill="#555">{} calls over {}, seed {}. Shaded: dependency failing. Latency as seen by the caller; rejected calls count as ~0 ms.</text>"##,
        crate::report::group(report.calls),
        dur(report.duration_ms),
        report.meta.seed
    );
    // One latency axis for every candidate: log scale from 0.1 ms to the decade above
    // the largest p99 of any of them.
    let max_p99 = report
        .candidates
        .iter()
        .flat_map(|c| c.series.p99_ms.iter().copied())
        .fold(1.0, f64::max);
    let hi_exp = max_p99.log10().ceil().max(0.0);
    let lo_exp = -1.0;
    let latency_ticks: Vec<(f64, String)> = (lo_exp as i32..=hi_exp as i32)
        .map(|e| {
            (
                (f64::from(e) - lo_exp) / (hi_exp - lo_exp),
                dur(10f64.powi(e)),
            )
        })
        .collect();
    let latency_ticks: Vec<(f64, &str)> = latency_ticks
        .iter()
        .map(|(f, s)| (*f, s.as_str()))
        .collect();
    let time_ticks = time_ticks(end);
    // Legend.
    let mut lx = LEFT;
    for (label, color, dash) in [
        (State::Closed.name(), state_color(State::Closed), ""),
        (State::Open.name(), state_color(State::Open), ""),
        ("half-open", state_color(State::HalfOpen), ""),
        ("error rate (admitted calls)", "#c62828", ""),
        ("rejected share", "#546e7a", "4 3"),
        ("p99 latency", "#1565c0", ""),
    ] {
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" y1="56" x2="{}" y2="56" stroke="{color}" stroke-width="4" stroke-dasharray="{dash}"/><text x="{}" y="60">{label}</text>"#,
            lx + 18.0,
            lx + 22.0
        );
        lx += 30.0 + label.len() as f64 * 6.2;
    }
    for (ci, c) in report.candidates.iter().enumerate() {
        let y0 = TOP + PANEL * ci as f64;
        let top = y0 + 26.0;
        let bottom = top + STRIP + GAP + CHART + GAP + CHART;
        let _ = writeln!(
            o,
            r##"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text><text x="{}" y="{}" fill="#555">{} — {} trips, {} transitions, p99 {}</text>"##,
            y0 + 16.0,
            esc(&c.name),
            LEFT + 10.0 + c.name.len() as f64 * 8.0,
            y0 + 16.0,
            esc(&c.source),
            c.trips,
            c.transitions,
            dur(c.latency_ms.p99)
        );
        // Fault shading and phase labels.
        for p in &report.phases {
            let (a, b) = (x(p.start_ms), x(p.end_ms));
            if p.fault {
                let _ = writeln!(
                    o,
                    r##"<rect x="{a:.2}" y="{top}" width="{:.2}" height="{}" fill="#ffebee"/>"##,
                    (b - a).max(0.5),
                    bottom - top
                );
            }
            let _ = writeln!(
                o,
                r##"<line x1="{a:.2}" y1="{top}" x2="{a:.2}" y2="{bottom}" stroke="#bbb" stroke-dasharray="2 2"/>"##
            );
            if ci == 0 || report.phases.len() <= 8 {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.2}" y="{}" fill="#777" font-size="10">{}</text>"##,
                    a + 3.0,
                    top + STRIP + GAP + 10.0,
                    esc(&p.name)
                );
            }
        }
        // State strip.
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" text-anchor="end">state</text>"#,
            LEFT - 6.0,
            top + 12.0
        );
        let mut t0 = 0.0;
        let mut s0 = State::Closed;
        for tr in c
            .transition_log
            .iter()
            .chain(std::iter::once(&crate::report::TransitionOut {
                at_ms: end,
                from: c.final_state,
                to: c.final_state,
                reason: "end",
            }))
        {
            let (a, b) = (x(t0), x(tr.at_ms));
            if b > a {
                let _ = writeln!(
                    o,
                    r#"<rect x="{a:.2}" y="{top}" width="{:.2}" height="{STRIP}" fill="{}"/>"#,
                    (b - a).max(0.3),
                    state_color(s0)
                );
            }
            t0 = tr.at_ms;
            s0 = tr.to;
        }
        // Error rate chart.
        let ey = top + STRIP + GAP;
        axis_box(
            &mut o,
            ey,
            "error rate",
            &[(0.0, "0%"), (0.5, "50%"), (1.0, "100%")],
        );
        let bw = report.bucket_ms;
        let mid = |i: usize| x((i as f64 + 0.5) * bw);
        let rate_y = |r: f64| ey + CHART - r.clamp(0.0, 1.0) * CHART;
        let mut path = String::new();
        let mut pen = false;
        for (i, r) in c.series.error_rate.iter().enumerate() {
            match r {
                Some(r) => {
                    let _ = write!(
                        path,
                        "{}{:.2},{:.2} ",
                        if pen { "L" } else { "M" },
                        mid(i),
                        rate_y(*r)
                    );
                    pen = true;
                }
                None => pen = false,
            }
        }
        let _ = writeln!(
            o,
            r##"<path d="{path}" fill="none" stroke="#c62828" stroke-width="1.5"/>"##
        );
        let pts: Vec<String> = c
            .series
            .rejected_rate
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{:.2},{:.2}", mid(i), rate_y(*r)))
            .collect();
        let _ = writeln!(
            o,
            r##"<polyline points="{}" fill="none" stroke="#546e7a" stroke-width="1.2" stroke-dasharray="4 3"/>"##,
            pts.join(" ")
        );
        // p99 chart, on the shared axis.
        let ly = ey + CHART + GAP;
        let lat_y = |v: f64| {
            let e = v.max(10f64.powf(lo_exp)).log10();
            ly + CHART - (e - lo_exp) / (hi_exp - lo_exp) * CHART
        };
        axis_box(&mut o, ly, "p99 latency", &latency_ticks);
        let pts: Vec<String> = c
            .series
            .p99_ms
            .iter()
            .enumerate()
            .filter(|(i, _)| c.series.calls[*i] > 0)
            .map(|(i, v)| format!("{:.2},{:.2}", mid(i), lat_y(*v)))
            .collect();
        let _ = writeln!(
            o,
            r##"<polyline points="{}" fill="none" stroke="#1565c0" stroke-width="1.5"/>"##,
            pts.join(" ")
        );
        // Time axis.
        let ty = ly + CHART;
        for &t in &time_ticks {
            let _ = writeln!(
                o,
                r##"<line x1="{0:.2}" y1="{ty}" x2="{0:.2}" y2="{1}" stroke="#333"/><text x="{0:.2}" y="{2}" text-anchor="middle" fill="#333">{3}</text>"##,
                x(t),
                ty + 4.0,
                ty + 16.0,
                dur(t)
            );
        }
    }
    o.push_str("</svg>\n");
    o
}

/// Round steps for the time axis, in ms.
const TIME_STEPS_MS: [f64; 31] = [
    1e-3,
    1e-2,
    0.1,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1e3,
    2e3,
    5e3,
    10e3,
    15e3,
    30e3,
    60e3,
    120e3,
    300e3,
    600e3,
    900e3,
    1_800e3,
    3_600e3,
    7_200e3,
    21_600e3,
    43_200e3,
    86_400e3,
    604_800e3,
    2_592_000e3,
];

/// Tick times from 0 to `end_ms` on the smallest round step that gives at most 10
/// intervals.
fn time_ticks(end_ms: f64) -> Vec<f64> {
    let step = TIME_STEPS_MS
        .into_iter()
        .find(|s| end_ms / s <= 10.0)
        .unwrap_or_else(|| (end_ms / 10.0 / 2_592_000e3).ceil() * 2_592_000e3);
    (0..=10)
        .map(|k| f64::from(k) * step)
        .take_while(|t| *t <= end_ms * (1.0 + 1e-9))
        .collect()
}

fn axis_box(o: &mut String, y: f64, label: &str, ticks: &[(f64, &str)]) {
    let pw = W - LEFT - RIGHT;
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{y}" width="{pw}" height="{CHART}" fill="none" stroke="#999"/>"##
    );
    let _ = writeln!(
        o,
        r##"<text x="14" y="{0}" transform="rotate(-90 14 {0})" text-anchor="middle" fill="#333">{1}</text>"##,
        y + CHART / 2.0,
        label
    );
    for (f, t) in ticks {
        let ty = y + CHART - f * CHART;
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{ty:.2}" x2="{}" y2="{ty:.2}" stroke="#eee"/><text x="{}" y="{:.2}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            ty + 4.0,
            esc(t)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::time_ticks;
    use crate::report::dur;

    #[test]
    fn time_ticks_fall_on_round_steps() {
        let labels = |end: f64| time_ticks(end).into_iter().map(dur).collect::<Vec<_>>();
        assert_eq!(
            labels(285_000.0),
            ["0s", "30s", "1m", "1m30s", "2m", "2m30s", "3m", "3m30s", "4m", "4m30s"]
        );
        assert_eq!(labels(480_000.0)[..3], ["0s", "1m", "2m"]);
        assert_eq!(labels(1_000.0)[..3], ["0s", "100ms", "200ms"]);
        assert_eq!(time_ticks(366.0 * 86_400e3).len(), 7, "60-day steps");
        assert_eq!(time_ticks(1e-4), [0.0]);
    }
}
