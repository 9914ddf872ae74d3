//! Control over HTTP: the token that enables it and the actions it may take.
//!
//! Off unless the endpoint is given a [`ControlToken`]. A request carries it as
//! `Authorization: Bearer <token>`; it is compared in constant time.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
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

    /// Whether `authorization` (an `Authorization` header value) is `Bearer <token>`.
    pub(super) fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(candidate) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
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
