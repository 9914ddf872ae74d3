//! A fallback chain: try steps in order until one answers.
//!
//! Each step is an operation, guarded by its own breaker or not (a local cache needs
//! none). A step whose breaker rejects it, or whose operation fails, hands over to the
//! next. The [`Answer`] names the step that answered (index and name) and carries the
//! errors of the steps before it, so a caller can tell "served by the cache because the
//! primary's breaker is open" from "served by the cache because the primary failed".
//!
//! Every step that ran is recorded on its breaker through the chain's classifier
//! ([`default_classify`] unless [`classify`](Chain::classify) sets one). A step the chain
//! never reaches is not touched: its breaker sees nothing.
//!
//! [`Chain`] runs closures; [`AsyncChain`] awaits futures, runtime-agnostic. Dropping an
//! [`AsyncChain::run`] future while a step is awaited records that step as ignored.
//!
//! Building a chain boxes each step (one allocation per step per call): negligible next
//! to the calls a chain guards, and it lets steps of different closure types share one
//! list. Build the chain per call, borrowing what the steps need.
//!
//! # Examples
//!
//! ```
//! use tripgate::{Breaker, Config};
//! use tripgate_patterns::Chain;
//!
//! let primary = Breaker::new(Config::default())?;
//! let fallback = Breaker::new(Config::default())?;
//! let answer = Chain::new()
//!     .step("primary", &primary, || Err("primary down"))
//!     .step("fallback", &fallback, || Ok(7))
//!     .unguarded("cache", || Ok(1))
//!     .run()
//!     .unwrap();
//! assert_eq!((answer.index, answer.name, answer.value), (1, "fallback", 7));
//! assert_eq!(answer.errors.len(), 1);
//! assert!(!answer.errors[0].is_rejected()); // it ran and failed
//! assert_eq!(primary.snapshot().failures, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::classify::default_classify;
use crate::gate::{Gate, RawGuard};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use tripgate::{Breaker, CallError, Clock, Outcome};

type Classifier<'a, T, E> = Box<dyn Fn(&Result<T, E>) -> Outcome + Send + Sync + 'a>;
type SyncOp<'a, T, E> = Box<dyn FnOnce() -> Result<T, E> + 'a>;
type BoxFuture<'a, O> = Pin<Box<dyn Future<Output = O> + Send + 'a>>;
type AsyncOp<'a, T, E> = Box<dyn FnOnce() -> BoxFuture<'a, Result<T, E>> + Send + 'a>;

/// A step that did not answer: its position, its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError<'a, E> {
    /// Position of the step in the chain, from 0.
    pub index: usize,
    /// The step's name.
    pub name: &'a str,
    /// Rejected by the step's breaker (never ran), or ran and failed.
    pub error: CallError<E>,
}

impl<E> StepError<'_, E> {
    /// Whether the step's breaker rejected it (the operation never ran).
    pub fn is_rejected(&self) -> bool {
        matches!(self.error, CallError::Rejected(_))
    }
}

impl<E: fmt::Display> fmt::Display for StepError<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({}): {}", self.index, self.name, self.error)
    }
}

/// The answer of a chain: the value, which step gave it, and the errors of the steps
/// tried before it (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<'a, T, E> {
    /// The value the answering step returned.
    pub value: T,
    /// Position of the answering step, from 0.
    pub index: usize,
    /// Name of the answering step.
    pub name: &'a str,
    /// Errors of the steps before it, in order; empty when the first step answered.
    pub errors: Vec<StepError<'a, E>>,
}

/// Every step was rejected or failed; `errors` holds one entry per step, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError<'a, E> {
    /// One error per step, in order (empty for a chain without steps).
    pub errors: Vec<StepError<'a, E>>,
}

impl<E: fmt::Display> fmt::Display for ChainError<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "every step of the fallback chain failed")?;
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ChainError<'_, E> {}

struct Step<'a, Op> {
    name: &'a str,
    gate: Option<&'a dyn Gate>,
    op: Op,
}

/// Runs one step: admission, the call, the record. `Err` holds the step's error.
fn outcome_of<'a, T, E>(
    result: Result<T, E>,
    guard: Option<RawGuard<'a>>,
    classify: &Option<Classifier<'a, T, E>>,
) -> Result<T, CallError<E>> {
    if let Some(g) = guard {
        let outcome = match classify {
            Some(c) => c(&result),
            None => default_classify(&result),
        };
        g.finish(outcome);
    }
    result.map_err(CallError::Failed)
}

/// Ends step `index`: its value answers, carrying the errors of the steps before it, or
/// its error joins them.
fn settle_step<'a, T, E>(
    errors: &mut Vec<StepError<'a, E>>,
    index: usize,
    name: &'a str,
    result: Result<T, CallError<E>>,
) -> Option<Answer<'a, T, E>> {
    match result {
        Ok(value) => Some(Answer {
            value,
            index,
            name,
            errors: std::mem::take(errors),
        }),
        Err(error) => {
            errors.push(StepError { index, name, error });
            None
        }
    }
}

/// A synchronous fallback chain. See the [module documentation](self).
#[must_use = "a chain does nothing until `run`"]
pub struct Chain<'a, T, E> {
    steps: Vec<Step<'a, SyncOp<'a, T, E>>>,
    classify: Option<Classifier<'a, T, E>>,
}

impl<T, E> Default for Chain<'_, T, E> {
    fn default() -> Self {
        Chain {
            steps: Vec::new(),
            classify: None,
        }
    }
}

impl<'a, T, E> Chain<'a, T, E> {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step guarded by `breaker`.
    pub fn step<C: Clock>(
        mut self,
        name: &'a str,
        breaker: &'a Breaker<C>,
        op: impl FnOnce() -> Result<T, E> + 'a,
    ) -> Self {
        self.steps.push(Step {
            name,
            gate: Some(breaker),
            op: Box::new(op),
        });
        self
    }

    /// Adds a step no breaker guards (a local cache, a constant).
    pub fn unguarded(mut self, name: &'a str, op: impl FnOnce() -> Result<T, E> + 'a) -> Self {
        self.steps.push(Step {
            name,
            gate: None,
            op: Box::new(op),
        });
        self
    }

    /// Sets the classifier every guarded step's result is recorded with.
    pub fn classify(mut self, f: impl Fn(&Result<T, E>) -> Outcome + Send + Sync + 'a) -> Self {
        self.classify = Some(Box::new(f));
        self
    }

    /// Tries the steps in order; the first that is admitted and returns `Ok` answers.
    pub fn run(self) -> Result<Answer<'a, T, E>, ChainError<'a, E>> {
        let mut errors = Vec::new();
        for (index, step) in self.steps.into_iter().enumerate() {
            let result = match step.gate.map(RawGuard::acquire).transpose() {
                Ok(guard) => outcome_of((step.op)(), guard, &self.classify),
                Err(r) => Err(CallError::Rejected(r)),
            };
            if let Some(answer) = settle_step(&mut errors, index, step.name, result) {
                return Ok(answer);
            }
        }
        Err(ChainError { errors })
    }
}

/// An asynchronous fallback chain, runtime-agnostic. See the [module documentation](self).
///
/// # Examples
///
/// ```
/// use tripgate::{Breaker, Config};
/// use tripgate_patterns::chain::AsyncChain;
///
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let primary = Breaker::new(Config::default()).unwrap();
/// primary.force_open();
/// let answer = AsyncChain::new()
///     .step("primary", &primary, || async { Ok::<_, String>("live") })
///     .unguarded("cache", || async { Ok("cached") })
///     .run()
///     .await
///     .unwrap();
/// assert_eq!(answer.name, "cache");
/// # });
/// ```
#[must_use = "a chain does nothing until `run` is awaited"]
pub struct AsyncChain<'a, T, E> {
    steps: Vec<Step<'a, AsyncOp<'a, T, E>>>,
    classify: Option<Classifier<'a, T, E>>,
}

impl<T, E> Default for AsyncChain<'_, T, E> {
    fn default() -> Self {
        AsyncChain {
            steps: Vec::new(),
            classify: None,
        }
    }
}

impl<'a, T, E> AsyncChain<'a, T, E> {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step guarded by `breaker`; `op` is called only if the breaker admits.
    pub fn step<C: Clock, F>(
        mut self,
        name: &'a str,
        breaker: &'a Breaker<C>,
        op: impl FnOnce() -> F + Send + 'a,
    ) -> Self
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
    {
        self.steps.push(Step {
            name,
            gate: Some(breaker),
            op: Box::new(move || Box::pin(op()) as BoxFuture<'a, Result<T, E>>),
        });
        self
    }

    /// Adds a step no breaker guards.
    pub fn unguarded<F>(mut self, name: &'a str, op: impl FnOnce() -> F + Send + 'a) -> Self
    where
        F: Future<Output = Result<T, E>> + Send + 'a,
    {
        self.steps.push(Step {
            name,
            gate: None,
            op: Box::new(move || Box::pin(op()) as BoxFuture<'a, Result<T, E>>),
        });
        self
    }

    /// Sets the classifier every guarded step's result is recorded with.
    pub fn classify(mut self, f: impl Fn(&Result<T, E>) -> Outcome + Send + Sync + 'a) -> Self {
        self.classify = Some(Box::new(f));
        self
    }

    /// Tries the steps in order; the first that is admitted and returns `Ok` answers.
    pub async fn run(self) -> Result<Answer<'a, T, E>, ChainError<'a, E>> {
        let mut errors = Vec::new();
        for (index, step) in self.steps.into_iter().enumerate() {
            let result = match step.gate.map(RawGuard::acquire).transpose() {
                Ok(guard) => outcome_of((step.op)().await, guard, &self.classify),
                Err(r) => Err(CallError::Rejected(r)),
            };
            if let Some(answer) = settle_step(&mut errors, index, step.name, result) {
                return Ok(answer);
            }
        }
        Err(ChainError { errors })
    }
}
