//! The chart of a search: every admitted candidate on the two chosen figures, the
//! Pareto front joined by a line, the winner in red and the tiers labelled.

use super::TuneReport;
use crate::plot::esc;
use std::fmt::Write as _;

const W: f64 = 820.0;
const H: f64 = 580.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 60.0;

/// Renders `rep` as a standalone SVG document.
pub fn render(rep: &TuneReport) -> String {
    let [ax, ay] = rep.axes;
    let admitted: Vec<_> = rep.candidates.iter().filter(|c| c.admitted).collect();
    let max_of = |f: &dyn Fn(&super::Evaluated) -> f64| {
        admitted.iter().map(|c| f(c)).fold(0.0, f64::max).max(1e-9) * 1.05
    };
    let (mx, my) = (max_of(&|c| c.scores.get(ax)), max_of(&|c| c.scores.get(ay)));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |v: f64| LEFT + v / mx * pw;
    let py = |v: f64| TOP + ph - v / my * ph;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="system-ui, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="24" font-size="15" font-weight="bold">tripgate tune: {}</text>
<text x="{LEFT}" y="42" fill="#555">{} admitted candidates (grey), Pareto front (blue), winner {} (red), tiers (orange). Lower is better on both axes.</text>"##,
        esc(&rep.scenario),
        admitted.len(),
        esc(&rep.winner)
    );
    let _ = writeln!(
        o,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    for k in 0..=5 {
        let f = k as f64 / 5.0;
        let (x, y) = (LEFT + f * pw, TOP + ph - f * ph);
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            tick(f * mx)
        );
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            tick(f * my)
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{} (mean per search draw)</text>"#,
        LEFT + pw / 2.0,
        H - 16.0,
        ax.label()
    );
    let _ = writeln!(
        o,
        r#"<text x="20" y="{0:.1}" transform="rotate(-90 20 {0:.1})" text-anchor="middle" font-size="13">{1}</text>"#,
        TOP + ph / 2.0,
        ay.label()
    );
    for c in &admitted {
        let _ = writeln!(
            o,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#bdbdbd"><title>{}</title></circle>"##,
            px(c.scores.get(ax)),
            py(c.scores.get(ay)),
            esc(&c.name)
        );
    }
    let front: Vec<String> = rep
        .front
        .iter()
        .filter_map(|n| rep.candidate(n))
        .map(|c| format!("{:.1},{:.1}", px(c.scores.get(ax)), py(c.scores.get(ay))))
        .collect();
    let _ = writeln!(
        o,
        r##"<polyline points="{}" fill="none" stroke="#1565c0" stroke-width="1.5"/>"##,
        front.join(" ")
    );
    for p in &front {
        let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
        let _ = writeln!(o, r##"<circle cx="{x}" cy="{y}" r="4" fill="#1565c0"/>"##);
    }
    for c in rep
        .candidates
        .iter()
        .filter(|c| c.source == "tier" && c.admitted)
    {
        let (x, y) = (px(c.scores.get(ax)), py(c.scores.get(ay)));
        let _ = writeln!(
            o,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="#fb8c00"/><text x="{:.1}" y="{:.1}" fill="#e65100">{}</text>"##,
            x + 7.0,
            y - 5.0,
            esc(&c.name)
        );
    }
    if let Some(w) = rep.candidate(&rep.winner) {
        let (x, y) = (px(w.scores.get(ax)), py(w.scores.get(ay)));
        let _ = writeln!(
            o,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="6" fill="#e53935"/><text x="{:.1}" y="{:.1}" fill="#b71c1c" font-weight="bold">{} (winner)</text>"##,
            x + 8.0,
            y + 14.0,
            esc(&w.name)
        );
    }
    o.push_str("</svg>\n");
    o
}

fn tick(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
