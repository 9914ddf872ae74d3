//! Control over HTTP: the token that enables it and the actions it may take.
//!
//! Off unless the endpoint is given a [`ControlToken`]. A request carries it as
//! `Authorization: Bearer <token>`; it is compared in constant time.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tripgate::{Breaker, Clock};

/// The fewest bytes a control token may have.
pub const MIN_TOKEN_BYTES: usize = 16;

/// The environment variable [`ControlToken::from_environment`] reads the token from.
/// Not `TRIPGATE_*`: those are breaker settings to [`EnvVars`](crate::EnvVars).
pub const TOKEN_VAR: &str = "TG_ADMIN_TOKEN";

/// The environment variable [`ControlToken::from_environment`] reads a token file's
/// path from.
pub const TOKEN_FILE_VAR: &str = "TG_ADMIN_TOKEN_FILE";

/// The `Authorization` scheme of a control request, with the space that ends it.
const SCHEME: &[u8] = b"Bearer ";

/// Refused control requests logged a second, at most (see [`RefusalLog`]).
pub(super) const REFUSALS_LOGGED_PER_SECOND: u32 = 10;

/// The most characters of a breaker name or action a log line shows.
const LOGGED_CHARS: usize = 64;

/// The secret that enables control actions. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct ControlToken(Arc<[u8]>);

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl ControlToken {
    /// A token from its text: at least [`MIN_TOKEN_BYTES`] bytes of visible ASCII
    /// (`!` to `~`, so that it fits an HTTP header unchanged).
    pub fn new(token: impl AsRef<[u8]>) -> io::Result<ControlToken> {
        let t = token.as_ref();
        if t.len() < MIN_TOKEN_BYTES {
            return Err(invalid(format!(
                "admin control token: at least {MIN_TOKEN_BYTES} bytes, got {}",
                t.len()
            )));
        }
        if let Some(i) = t.iter().position(|b| !b.is_ascii_graphic()) {
            return Err(invalid(format!(
                "admin control token: byte {i} is not visible ASCII ('!' to '~')"
            )));
        }
        Ok(ControlToken(t.into()))
    }

    /// The token in the file at `path`, its surrounding whitespace (a final newline)
    /// removed.
    pub fn from_file(path: impl AsRef<Path>) -> io::Result<ControlToken> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("admin control token file {}: {e}", path.display()),
            )
        })?;
        ControlToken::new(text.trim_ascii())
            .map_err(|e| invalid(format!("{e} (in {})", path.display())))
    }

    /// The token in the environment variable `var`, its surrounding whitespace removed;
    /// `Ok(None)` when `var` is unset.
    pub fn from_env(var: &str) -> io::Result<Option<ControlToken>> {
        match std::env::var_os(var) {
            None => Ok(None),
            Some(v) => ControlToken::new(v.as_encoded_bytes().trim_ascii())
                .map(Some)
                .map_err(|e| invalid(format!("{e} (in ${var})"))),
        }
    }

    /// The token in `$TG_ADMIN_TOKEN`, else in the file named by
    /// `$TG_ADMIN_TOKEN_FILE`; `Ok(None)` when neither is set (control stays off).
    pub fn from_environment() -> io::Result<Option<ControlToken>> {
        if let Some(t) = ControlToken::from_env(TOKEN_VAR)? {
            return Ok(Some(t));
        }
        match std::env::var_os(TOKEN_FILE_VAR) {
            None => Ok(None),
            Some(path) => ControlToken::from_file(path).map(Some),
        }
    }

    /// Whether `authorization` (an `Authorization` header value) is `Bearer <token>`,
    /// the scheme in any case (RFC 9110).
    pub(super) fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(candidate) = authorization.and_then(|h| {
            let (scheme, rest) = h.split_at_checked(SCHEME.len())?;
            scheme.eq_ignore_ascii_case(SCHEME).then_some(rest)
        }) else {
            return false;
        };
        // Constant time in the bytes compared: a wrong guess takes as long whatever its
        // first wrong byte. Only the length may show (subtle returns early on it).
        self.0.as_ref().ct_eq(candidate.trim_ascii()).into()
    }
}

/// What a control action does to a breaker.
pub(super) type Action<C> = fn(&Breaker<C>);

/// Every control action, by the name in `POST /breakers/{name}/{action}`. Adding one
/// is one line here.
pub(super) fn actions<C: Clock>() -> Vec<(&'static str, Action<C>)> {
    vec![
        ("force-open", Breaker::force_open),
        ("force-closed", Breaker::force_closed),
        ("disable", Breaker::disable),
        ("metrics-only", Breaker::metrics_only),
        ("reset", Breaker::reset),
        ("open", Breaker::open),
        ("half-open", Breaker::half_open),
        ("close", Breaker::close),
    ]
}

/// The action named `name`.
pub(super) fn action<C: Clock>(name: &str) -> Option<Action<C>> {
    actions::<C>()
        .into_iter()
        .find_map(|(n, a)| (n == name).then_some(a))
}

/// The action names, for error messages: `force-open, force-closed, ...`.
pub(super) fn action_names<C: Clock>() -> String {
    let names: Vec<&str> = actions::<C>().into_iter().map(|(n, _)| n).collect();
    names.join(", ")
}

/// The warnings of refused control requests: at most [`REFUSALS_LOGGED_PER_SECOND`] a
/// second, with the name and action cut to [`LOGGED_CHARS`], so that a client without
/// the token cannot flood the log. The refusals left out are counted in one line, with
/// the first refusal of a later second.
pub(super) struct RefusalLog {
    window: Mutex<RefusalWindow>,
}

#[derive(Default)]
struct RefusalWindow {
    /// When the current second began (`None`: nothing refused yet).
    start: Option<Instant>,
    logged: u32,
    left_out: u64,
}

impl RefusalLog {
    pub(super) fn new() -> RefusalLog {
        RefusalLog {
            window: Mutex::new(RefusalWindow::default()),
        }
    }

    /// Logs, at warn, that `action` on breaker `name` by `peer` was refused for `why`,
    /// unless this second's lines are used up.
    pub(super) fn refused(&self, name: &str, action: &str, peer: SocketAddr, why: &str) {
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if w.start
            .map_or(true, |s| now.duration_since(s) >= Duration::from_secs(1))
        {
            if w.left_out > 0 {
                log::warn!(
                    target: "tripgate_ops::admin",
                    "admin control refused {} more requests without logging them (at most {REFUSALS_LOGGED_PER_SECOND} a second)",
                    w.left_out
                );
            }
            *w = RefusalWindow {
                start: Some(now),
                ..RefusalWindow::default()
            };
        }
        if w.logged == REFUSALS_LOGGED_PER_SECOND {
            w.left_out += 1;
            return;
        }
        w.logged += 1;
        drop(w);
        log::warn!(
            target: "tripgate_ops::admin",
            "admin control refused: breaker {:?} action {} by {peer}: {why}",
            shown(name),
            shown(action)
        );
    }
}

/// `s` cut to its first [`LOGGED_CHARS`] characters, marked `...` when cut.
fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(LOGGED_CHARS) {
        None => s.into(),
        Some((end, _)) => format!("{}...", &s[..end]).into(),
    }
}
