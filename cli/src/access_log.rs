//! Access logs as traces: Envoy's JSON access log, and nginx- or Apache-style lines of
//! a declared format, read into the same rows as the CSV trace.
//!
//! Each line gives a start time, a duration and an outcome:
//! - the status goes through [`Outcome::from_http_status`], the project's one table
//!   (1xx-3xx success, 429/503 rejected, 504 timeout, other 5xx server error, 4xx
//!   ignored; so nginx's 499, the client closing first, is ignored like a
//!   cancellation); status 0 (no response at all) is a connection failure;
//! - Envoy's `response_flags`, when they name an upstream failure, win over the
//!   status (see [`envoy_flag_outcome`]);
//! - nginx writes a line when the request ends, so a start is the logged time minus
//!   the request time; Apache's `%t` and Envoy's `start_time` are the start already;
//! - times logged to the second (`$time_local`, `$time_iso8601` without a fraction,
//!   `%t`) spread the calls of one second evenly over it, in file order, so a busy
//!   second is not replayed as one burst.
//!
//! Bad lines are all reported (up to [`MAX_ERRORS`]), each with its line and field.

use crate::budget::{exact, MAX_SPAN};
use crate::location::{FileError, FileErrors};
use tripgate::{FailureKind, Outcome};

/// Bad lines reported before the rest are only counted.
pub const MAX_ERRORS: usize = 20;

/// The nginx preset: the `combined` format with `$request_time` appended.
pub const NGINX_COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#;

/// The Apache preset: the `combined` format with `%D` (microseconds) appended.
pub const APACHE_COMBINED: &str = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D"#;

/// How a trace file is written.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceFormat {
    /// `timestamp,latency,outcome` (see [`crate::replay`]).
    Csv,
    /// Envoy's JSON access log: one object a line with `start_time`, `response_code`,
    /// `duration` and `response_flags`.
    EnvoyJson,
    /// Lines of a declared nginx or Apache format.
    Declared(LogFormat),
}

impl TraceFormat {
    /// `csv`, `envoy-json`, `nginx-combined` or `apache-combined`.
    pub fn from_name(name: &str) -> Result<TraceFormat, String> {
        match name.trim() {
            "csv" => Ok(TraceFormat::Csv),
            "envoy-json" => Ok(TraceFormat::EnvoyJson),
            "nginx-combined" => LogFormat::parse(NGINX_COMBINED).map(TraceFormat::Declared),
            "apache-combined" => LogFormat::parse(APACHE_COMBINED).map(TraceFormat::Declared),
            other => Err(format!(
                "--format {other:?} is not a trace format: allowed csv, envoy-json, nginx-combined, apache-combined (or --log-format for another)"
            )),
        }
    }
}

/// A time field of a declared format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeField {
    /// nginx `$time_local`: `10/Oct/2000:13:55:36 -0700`, when the request ended.
    NginxLocal,
    /// nginx `$time_iso8601`: `2000-10-10T13:55:36-07:00`, when the request ended.
    NginxIso,
    /// nginx `$msec`: seconds since the epoch with milliseconds, when it ended.
    NginxMsec,
    /// Apache `%t`: `[10/Oct/2000:13:55:36 -0700]`, when the request was received.
    ApacheT,
}

/// A duration field and its unit, in nanoseconds per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DurationField {
    name: &'static str,
    ns_per_unit: u64,
    /// nginx's `$upstream_response_time` lists one time per upstream tried.
    list: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Literal(String),
    Status(&'static str),
    Time(TimeField, &'static str),
    Duration(DurationField),
    /// Read over; its token as written (`$http_referer`, `%{Referer}i`).
    Skip(String),
}

/// A declared line format: literals and fields, nginx (`$variable`) or Apache (`%x`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogFormat {
    items: Vec<Item>,
}

impl LogFormat {
    /// Parses a format string; it must declare a status, a duration and a time.
    pub fn parse(format: &str) -> Result<LogFormat, String> {
        let apache = has_apache_token(format);
        let items = if apache {
            apache_items(format)?
        } else {
            nginx_items(format)?
        };
        let has = |f: fn(&Item) -> bool| items.iter().any(f);
        let (dur_hint, time_hint, status_hint) = if apache {
            ("%D, %T or %{ms}T", "%t", "%>s or %s")
        } else {
            (
                "$request_time or $upstream_response_time",
                "$time_local, $time_iso8601 or $msec",
                "$status",
            )
        };
        for (ok, what, hint) in [
            (has(|i| matches!(i, Item::Status(_))), "status", status_hint),
            (
                has(|i| matches!(i, Item::Duration(_))),
                "duration",
                dur_hint,
            ),
            (has(|i| matches!(i, Item::Time(..))), "time", time_hint),
        ] {
            if !ok {
                return Err(format!(
                    "--log-format {format:?} declares no {what} field: add {hint}"
                ));
            }
        }
        // Two fields back to back cannot be told apart.
        for w in items.windows(2) {
            if !matches!(w[0], Item::Literal(_)) && !matches!(w[1], Item::Literal(_)) {
                return Err(format!(
                    "--log-format {format:?}: two fields with nothing between them cannot be told apart: separate them (a space, a quote)"
                ));
            }
        }
        Ok(LogFormat { items })
    }
}

fn has_apache_token(f: &str) -> bool {
    let b = f.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'%' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'>' | b'<' | b'{')))
}

fn push_literal(items: &mut Vec<Item>, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Some(Item::Literal(l)) = items.last_mut() {
        l.push_str(s);
    } else {
        items.push(Item::Literal(s.to_string()));
    }
}

fn nginx_items(f: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = f;
    while let Some(i) = rest.find('$') {
        push_literal(&mut items, &rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("--log-format {f:?}: `${{` without its `}}`"))?;
            (&inner[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            push_literal(&mut items, "$");
        } else {
            items.push(match name {
                "status" => Item::Status("status"),
                "time_local" => Item::Time(TimeField::NginxLocal, "time_local"),
                "time_iso8601" => Item::Time(TimeField::NginxIso, "time_iso8601"),
                "msec" => Item::Time(TimeField::NginxMsec, "msec"),
                "request_time" => Item::Duration(DurationField {
                    name: "request_time",
                    ns_per_unit: 1_000_000_000,
                    list: false,
                }),
                "upstream_response_time" => Item::Duration(DurationField {
                    name: "upstream_response_time",
                    ns_per_unit: 1_000_000_000,
                    list: true,
                }),
                _ => Item::Skip(format!("${name}")),
            });
        }
        rest = &after[len..];
    }
    push_literal(&mut items, rest);
    Ok(items)
}

fn apache_items(f: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = f;
    while let Some(i) = rest.find('%') {
        push_literal(&mut items, &rest[..i]);
        let mut after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            push_literal(&mut items, "%");
            rest = r;
            continue;
        }
        let redirect = after.starts_with('>') || after.starts_with('<');
        if redirect {
            after = &after[1..];
        }
        let mut arg = None;
        if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("--log-format {f:?}: `%{{` without its `}}`"))?;
            arg = Some(&inner[..end]);
            after = &inner[end + 1..];
        }
        let letter = after
            .chars()
            .next()
            .ok_or_else(|| format!("--log-format {f:?}: ends with a lone `%`"))?;
        items.push(match (letter, arg) {
            ('s', None) if rest[i..].starts_with("%>") => Item::Status("%>s"),
            ('s', None) => Item::Status("%s"),
            ('t', None) => Item::Time(TimeField::ApacheT, "%t"),
            ('t', Some(_)) => {
                return Err(format!(
                    "--log-format {f:?}: %{{...}}t (a custom time format) is not supported: use %t"
                ))
            }
            ('D', None) => Item::Duration(DurationField {
                name: "%D",
                ns_per_unit: 1_000,
                list: false,
            }),
            ('T', unit) => Item::Duration(DurationField {
                name: "%T",
                ns_per_unit: match unit {
                    None | Some("s") => 1_000_000_000,
                    Some("ms") => 1_000_000,
                    Some("us") => 1_000,
                    Some(u) => {
                        return Err(format!(
                            "--log-format {f:?}: %{{{u}}}T: allowed units s, ms, us"
                        ))
                    }
                },
                list: false,
            }),
            _ => Item::Skip(rest[i..rest.len() - after.len() + letter.len_utf8()].to_string()),
        });
        rest = &after[letter.len_utf8()..];
    }
    push_literal(&mut items, rest);
    Ok(items)
}

/// A parsed line: start (s since the epoch), latency (ns), outcome, line number.
pub type Row = (f64, u64, Outcome, usize);

/// Reads the rows of an access log in `format` (not [`TraceFormat::Csv`]), in file
/// order; every bad line is reported (the first [`MAX_ERRORS`] in full).
pub fn parse_rows(text: &str, file: &str, format: &TraceFormat) -> Result<Vec<Row>, FileErrors> {
    let mut rows: Vec<Row> = Vec::new();
    // Rows whose time has whole-second resolution, and the duration to subtract from
    // their logged time after spreading (nginx logs at the end of a request).
    let mut coarse: Vec<(usize, u64)> = Vec::new();
    let mut errors = Vec::new();
    let mut bad = 0usize;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match format {
            TraceFormat::EnvoyJson => envoy_line(line).map(|r| (r, None)),
            TraceFormat::Declared(f) => declared_line(f, line),
            TraceFormat::Csv => Err(("format", "the CSV format is read by crate::replay".into())),
        };
        match parsed {
            Ok(((t, lat, outcome), shift)) => {
                if let Some(shift) = shift {
                    coarse.push((rows.len(), shift));
                }
                rows.push((t, lat, outcome, n));
            }
            Err((field, message)) => {
                bad += 1;
                if errors.len() < MAX_ERRORS {
                    errors.push(FileError::at_line(file, Some(n), field, message));
                }
            }
        }
    }
    if !errors.is_empty() {
        let more = bad - errors.len();
        return Err(FileErrors(errors, more));
    }
    spread_seconds(&mut rows, &coarse);
    Ok(rows)
}

/// Spreads the rows logged in the same whole second evenly over it (in file order),
/// then moves each by its shift (its duration, for a time logged at the end).
fn spread_seconds(rows: &mut [Row], coarse: &[(usize, u64)]) {
    let mut i = 0;
    while i < coarse.len() {
        let second = rows[coarse[i].0].0;
        let mut j = i;
        while j < coarse.len() && rows[coarse[j].0].0 == second {
            j += 1;
        }
        let n = (j - i) as f64;
        for (k, &(row, _)) in coarse[i..j].iter().enumerate() {
            rows[row].0 = second + k as f64 / n;
        }
        i = j;
    }
    for &(row, shift) in coarse {
        rows[row].0 -= shift as f64 / 1e9;
    }
}

type LineResult<T> = Result<T, (&'static str, String)>;

fn status_outcome(field: &'static str, raw: &str) -> LineResult<Outcome> {
    let code: u16 = raw
        .trim()
        .parse()
        .ok()
        .filter(|c| *c <= 999)
        .ok_or_else(|| {
            (
                field,
                format!("{raw:?} is not an HTTP status (allowed 0..=999)"),
            )
        })?;
    Ok(if code == 0 {
        Outcome::Failure(FailureKind::Connection)
    } else {
        Outcome::from_http_status(code)
    })
}

/// A duration of `raw` units of `ns_per_unit`, at most [`MAX_SPAN`].
fn duration_ns(field: &'static str, raw: &str, ns_per_unit: u64) -> LineResult<u64> {
    let max_units = MAX_SPAN.as_nanos() as f64 / ns_per_unit as f64;
    let unit = match ns_per_unit {
        1_000 => "microseconds",
        1_000_000 => "milliseconds",
        _ => "seconds",
    };
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=max_units).contains(v))
        .map(|v| (v * ns_per_unit as f64).round() as u64)
        .ok_or_else(|| {
            (
                field,
                format!(
                    "{raw:?} is not a duration in {unit}: allowed 0..={max_units} ({})",
                    exact(MAX_SPAN)
                ),
            )
        })
}

/// What one of Envoy's response flags says about the upstream, if anything: `UT`
/// (upstream request timeout) and `SI` (stream idle timeout) are timeouts; `UF`
/// (connection failure), `URX` (retry or connect-attempt limit reached), `UH` (no
/// healthy upstream), `UC` (upstream connection termination), `UR` (upstream remote
/// reset) and `LR` (local reset) are connection failures; `UO` (upstream overflow:
/// Envoy's own circuit breaking) and `RL` (rate limited) are rejections; `DC`
/// (downstream connection termination: the caller left) is ignored. Other flags leave
/// the status to decide.
pub fn envoy_flag_outcome(flag: &str) -> Option<Outcome> {
    Some(match flag.trim() {
        "UT" | "SI" => Outcome::Failure(FailureKind::Timeout),
        "UF" | "URX" | "UH" | "UC" | "UR" | "LR" => Outcome::Failure(FailureKind::Connection),
        "UO" | "RL" => Outcome::Failure(FailureKind::Rejected),
        "DC" => Outcome::Ignored,
        _ => return None,
    })
}

/// Flags in precedence order: timeouts, then connection failures, rejections, the
/// caller leaving.
fn flags_outcome(flags: &str) -> Option<Outcome> {
    let rank = |o: &Outcome| match o {
        Outcome::Failure(FailureKind::Timeout) => 0,
        Outcome::Failure(FailureKind::Connection) => 1,
        Outcome::Failure(_) => 2,
        _ => 3,
    };
    flags
        .split(',')
        .filter_map(envoy_flag_outcome)
        .min_by_key(rank)
}

fn envoy_line(line: &str) -> LineResult<(f64, u64, Outcome)> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ("json", format!("not a JSON object: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ("json", "not a JSON object: one object a line".to_string()))?;
    let text = |key: &'static str| -> LineResult<Option<String>> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err((key, format!("{other} is neither a string nor a number"))),
        }
    };
    let need = |key: &'static str| -> LineResult<String> {
        text(key)?.ok_or_else(|| (key, format!("missing `{key}`")))
    };
    let start = need("start_time")?;
    let t = rfc3339(&start).map_err(|m| ("start_time", format!("{start:?} {m}")))?;
    let duration = need("duration")?;
    let lat = duration_ns("duration", &duration, 1_000_000)?;
    let status = need("response_code")?;
    let by_status = status_outcome("response_code", &status)?;
    let flags = text("response_flags")?.unwrap_or_default();
    Ok((t, lat, flags_outcome(&flags).unwrap_or(by_status)))
}

/// A declared-format line: the row and, for a time logged to the second, the shift
/// applied after spreading (see [`spread_seconds`]).
fn declared_line(f: &LogFormat, line: &str) -> LineResult<((f64, u64, Outcome), Option<u64>)> {
    let mut rest = line;
    let mut status = None;
    let mut duration = None;
    let mut time: Option<(TimeField, &'static str, &str)> = None;
    for (k, item) in f.items.iter().enumerate() {
        if let Item::Literal(l) = item {
            rest = rest.strip_prefix(l.as_str()).ok_or_else(|| {
                let at = line.len() - rest.len();
                (
                    "line",
                    format!(
                        "expected {l:?} at column {} (the declared format), found {:?}",
                        at + 1,
                        rest.chars().take(20).collect::<String>()
                    ),
                )
            })?;
            continue;
        }
        // A field runs to the next literal (or the end of the line).
        let end = match f.items.get(k + 1) {
            Some(Item::Literal(next)) => rest.find(next.as_str()).ok_or_else(|| match item {
                Item::Skip(token) => (
                    "line",
                    format!(
                        "the line ends before the {next:?} after {token} (the declared format)"
                    ),
                ),
                _ => (
                    field_name(item),
                    format!("the line ends before {next:?} (the declared format)"),
                ),
            })?,
            _ => rest.len(),
        };
        let value = &rest[..end];
        rest = &rest[end..];
        match item {
            Item::Status(name) => status = Some(status_outcome(name, value)?),
            Item::Duration(d) => duration = Some(declared_duration(d, value)?),
            Item::Time(kind, name) => time = Some((*kind, name, value)),
            _ => {}
        }
    }
    let (Some(outcome), Some(lat), Some((kind, name, raw))) = (status, duration, time) else {
        return Err(("line", "the declared fields are not all present".into()));
    };
    let at = |m: String| (name, format!("{raw:?} {m}"));
    let (t, coarse) = match kind {
        TimeField::NginxLocal => (clf_time(raw).map_err(at)?, true),
        TimeField::ApacheT => {
            let inner = raw
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .ok_or_else(|| {
                    at("is not a time in brackets ([10/Oct/2000:13:55:36 -0700])".into())
                })?;
            (clf_time(inner).map_err(at)?, true)
        }
        TimeField::NginxIso => (rfc3339(raw).map_err(at)?, !raw.contains('.')),
        TimeField::NginxMsec => {
            let s = raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| at("is not a number of seconds since the epoch".into()))?;
            (s, false)
        }
    };
    // nginx logs when a request ends: its start is that minus the request time.
    let shift = if kind == TimeField::ApacheT { 0 } else { lat };
    if coarse {
        Ok(((t, lat, outcome), Some(shift)))
    } else {
        Ok(((t - shift as f64 / 1e9, lat, outcome), None))
    }
}

fn field_name(item: &Item) -> &'static str {
    match item {
        Item::Status(n) | Item::Time(_, n) => n,
        Item::Duration(d) => d.name,
        _ => "line",
    }
}

fn declared_duration(d: &DurationField, raw: &str) -> LineResult<u64> {
    if !d.list {
        return duration_ns(d.name, raw, d.ns_per_unit);
    }
    // `0.012, 0.034 : 0.005`: one time per upstream tried; the call took them all.
    let mut total = 0u64;
    for part in raw.split([',', ':']) {
        total = total.saturating_add(duration_ns(d.name, part, d.ns_per_unit)?);
    }
    if u128::from(total) > MAX_SPAN.as_nanos() {
        return Err((
            d.name,
            format!("{raw:?} adds up to more than {}", exact(MAX_SPAN)),
        ));
    }
    Ok(total)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, lo: u32, hi: u32) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|v| (lo..=hi).contains(v))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since the epoch of a civil date and time at a UTC offset in seconds.
fn epoch(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: f64, offset_s: i64) -> Result<f64, String> {
    if d > days_in_month(y as i64, mo) {
        return Err(format!("has day {d}, past the end of the month"));
    }
    let days = days_from_civil(y as i64, mo, d);
    let secs = days * 86_400 + (h * 3600 + mi * 60) as i64 - offset_s;
    Ok(secs as f64 + s)
}

fn bad_time(example: &str) -> String {
    format!("is not a time like {example}")
}

/// `10/Oct/2000:13:55:36 -0700` (nginx `$time_local`, Apache `%t` in brackets).
fn clf_time(raw: &str) -> Result<f64, String> {
    let bad = || bad_time("10/Oct/2000:13:55:36 -0700");
    let (dt, zone) = raw.trim().split_once(' ').ok_or_else(bad)?;
    let mut p = dt.splitn(4, ':');
    let date = p.next().ok_or_else(bad)?;
    let mut dp = date.split('/');
    let d = dp.next().and_then(|x| num(x, 1, 31)).ok_or_else(bad)?;
    let mo = dp
        .next()
        .and_then(|x| MONTHS.iter().position(|m| *m == x))
        .ok_or_else(bad)? as u32
        + 1;
    let y = dp.next().and_then(|x| num(x, 0, 9999)).ok_or_else(bad)?;
    let h = p.next().and_then(|x| num(x, 0, 23)).ok_or_else(bad)?;
    let mi = p.next().and_then(|x| num(x, 0, 59)).ok_or_else(bad)?;
    let s = p.next().and_then(|x| num(x, 0, 60)).ok_or_else(bad)?;
    let offset = zone_offset(zone, false).ok_or_else(bad)?;
    epoch(y, mo, d, h, mi, s as f64, offset)
}

/// `+HHMM` (`colon`: `+HH:MM`), or `Z`, as seconds east of UTC.
fn zone_offset(z: &str, colon: bool) -> Option<i64> {
    if z == "Z" || z == "z" {
        return Some(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &z[1..];
    let (hh, mm) = if colon {
        digits.split_once(':')?
    } else {
        (digits.get(..2)?, digits.get(2..)?)
    };
    if digits.len() != if colon { 5 } else { 4 } {
        return None;
    }
    let (hh, mm) = (num(hh, 0, 23)?, num(mm, 0, 59)?);
    Some(sign * (hh as i64 * 3600 + mm as i64 * 60))
}

/// RFC 3339: `2000-10-10T13:55:36.123Z`, `2000-10-10T13:55:36-07:00`.
fn rfc3339(raw: &str) -> Result<f64, String> {
    let bad = || bad_time("2000-10-10T13:55:36.123Z");
    let raw = raw.trim();
    let (date, time) = raw.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let mut dp = date.split('-');
    let y = dp
        .next()
        .filter(|x| x.len() == 4)
        .and_then(|x| num(x, 0, 9999))
        .ok_or_else(bad)?;
    let mo = dp
        .next()
        .filter(|x| x.len() == 2)
        .and_then(|x| num(x, 1, 12))
        .ok_or_else(bad)?;
    let d = dp
        .next()
        .filter(|x| x.len() == 2)
        .and_then(|x| num(x, 1, 31))
        .ok_or_else(bad)?;
    if dp.next().is_some() {
        return Err(bad());
    }
    let zone_at = time
        .find(['Z', 'z', '+', '-'])
        .ok_or_else(|| "has no time zone (Z or +HH:MM)".to_string())?;
    let (clock, zone) = time.split_at(zone_at);
    let offset = zone_offset(zone, true).ok_or_else(bad)?;
    let mut cp = clock.split(':');
    let h = cp
        .next()
        .filter(|x| x.len() == 2)
        .and_then(|x| num(x, 0, 23))
        .ok_or_else(bad)?;
    let mi = cp
        .next()
        .filter(|x| x.len() == 2)
        .and_then(|x| num(x, 0, 59))
        .ok_or_else(bad)?;
    let sec = cp.next().ok_or_else(bad)?;
    if cp.next().is_some() {
        return Err(bad());
    }
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s = num(whole, 0, 60)
        .filter(|_| whole.len() == 2)
        .ok_or_else(bad)?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 12 || sec.ends_with('.') {
        return Err(bad());
    }
    let frac_s = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().map_err(|_| bad())?
    };
    epoch(y, mo, d, h, mi, s as f64 + frac_s, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_to_the_same_instant() {
        let a = clf_time("10/Oct/2000:13:55:36 -0700").unwrap();
        let b = rfc3339("2000-10-10T13:55:36-07:00").unwrap();
        let c = rfc3339("2000-10-10T20:55:36Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(c, 971_211_336.0);
        assert_eq!(rfc3339("1970-01-01T00:00:00.250Z").unwrap(), 0.25);
        assert_eq!(
            clf_time("29/Feb/2000:00:00:00 +0000").unwrap(),
            951_782_400.0
        );
    }

    #[test]
    fn bad_times_are_refused_not_panicked_on() {
        for t in [
            "",
            "10/Oct/2000",
            "32/Oct/2000:13:55:36 -0700",
            "30/Feb/2000:13:55:36 -0700",
            "10/Foo/2000:13:55:36 -0700",
            "10/Oct/2000:25:55:36 -0700",
            "10/Oct/2000:13:55:36 -07000",
            "10/Oct/99999999999999999999:13:55:36 -0700",
            "10/Oct/2000:13:55:36 +ab00",
            "10/Oct/-2000:13:55:36 -0700",
        ] {
            assert!(clf_time(t).is_err(), "{t:?}");
        }
        for t in [
            "2000-10-10",
            "2000-10-10T13:55:36",
            "2000-13-10T13:55:36Z",
            "2000-10-10T13:55:36.Z",
            "2000-10-10T13:55:36.1e5Z",
            "99999-10-10T13:55:36Z",
            "2000-10-10T13:55:36+07",
            "-200-10-10T13:55:36Z",
        ] {
            assert!(rfc3339(t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn statuses_go_through_the_one_table() {
        let o = |s: &str| status_outcome("status", s).unwrap();
        assert_eq!(o("200"), Outcome::Success);
        assert_eq!(o("503"), Outcome::Failure(FailureKind::Rejected));
        assert_eq!(o("429"), Outcome::Failure(FailureKind::Rejected));
        assert_eq!(o("504"), Outcome::Failure(FailureKind::Timeout));
        assert_eq!(o("500"), Outcome::Failure(FailureKind::ServerError));
        assert_eq!(o("404"), Outcome::Ignored);
        assert_eq!(o("499"), Outcome::Ignored);
        assert_eq!(o("0"), Outcome::Failure(FailureKind::Connection));
        let e = status_outcome("status", "abc").unwrap_err();
        assert_eq!(e.0, "status");
        assert_eq!(e.1, "\"abc\" is not an HTTP status (allowed 0..=999)");
        assert!(status_outcome("status", "1000").is_err());
        assert!(status_outcome("status", "-1").is_err());
    }

    #[test]
    fn envoy_flags_win_over_the_status_in_precedence_order() {
        assert_eq!(
            flags_outcome("UT"),
            Some(Outcome::Failure(FailureKind::Timeout))
        );
        assert_eq!(
            flags_outcome("UO,UF"),
            Some(Outcome::Failure(FailureKind::Connection))
        );
        assert_eq!(
            flags_outcome("UF,UT"),
            Some(Outcome::Failure(FailureKind::Timeout))
        );
        assert_eq!(
            flags_outcome("UO"),
            Some(Outcome::Failure(FailureKind::Rejected))
        );
        assert_eq!(flags_outcome("DC"), Some(Outcome::Ignored));
        assert_eq!(flags_outcome("-"), None);
        assert_eq!(flags_outcome("NR"), None);
    }

    #[test]
    fn formats_must_declare_status_duration_and_time() {
        assert!(LogFormat::parse(NGINX_COMBINED).is_ok());
        assert!(LogFormat::parse(APACHE_COMBINED).is_ok());
        let e = LogFormat::parse("$remote_addr [$time_local] $status").unwrap_err();
        assert!(
            e.contains("declares no duration field: add $request_time"),
            "{e}"
        );
        let e = LogFormat::parse("%h %t %>s").unwrap_err();
        assert!(e.contains("%D"), "{e}");
        let e = LogFormat::parse("$status$request_time [$time_local]").unwrap_err();
        assert!(e.contains("cannot be told apart"), "{e}");
        assert!(LogFormat::parse("%{%d/%b}t %>s %D").is_err());
    }

    #[test]
    fn seconds_are_spread_and_nginx_times_moved_to_the_start() {
        let f =
            TraceFormat::Declared(LogFormat::parse("[$time_local] $status $request_time").unwrap());
        let log = "[10/Oct/2000:13:55:36 +0000] 200 0.500\n[10/Oct/2000:13:55:36 +0000] 200 0.000\n[10/Oct/2000:13:55:37 +0000] 502 1.000\n";
        let rows = parse_rows(log, "a.log", &f).unwrap();
        let t0 = 971_186_136.0;
        assert_eq!(rows[0].0, t0 - 0.5);
        assert_eq!(rows[1].0, t0 + 0.5);
        assert_eq!(rows[2].0, t0 + 1.0 - 1.0);
        assert_eq!(rows[2].1, 1_000_000_000);
        assert_eq!(rows[2].2, Outcome::Failure(FailureKind::ServerError));
    }
}
