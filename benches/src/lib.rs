//! Shared helpers for the tripgate benchmarks.
