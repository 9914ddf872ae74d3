//! Stable numbers and names for [`State`](crate::State), [`Reason`](crate::Reason),
//! [`FailureKind`](crate::FailureKind) and [`Outcome`](crate::Outcome).
//!
//! Each concept has one table, in its own module; the C and Python bindings, the
//! Prometheus exposition and the CLI read these numbers and names rather than
//! spelling them again. Numbers never change once published; new variants take new
//! numbers.
//!
//! | concept       | code | name                     |
//! |---------------|------|--------------------------|
//! | `State`       | 0    | `closed`                 |
//! |               | 1    | `open`                   |
//! |               | 2    | `half_open`              |
//! |               | 3    | `forced_open`            |
//! |               | 4    | `forced_closed`          |
//! |               | 5    | `disabled`               |
//! |               | 6    | `metrics_only`           |
//! | `Reason`      | 0    | `failure_rate`           |
//! |               | 1    | `slow_call_rate`         |
//! |               | 2    | `consecutive_failures`   |
//! |               | 3    | `latency_percentile`     |
//! |               | 4    | `open_elapsed`           |
//! |               | 5    | `probes_succeeded`       |
//! |               | 6    | `probe_failed`           |
//! |               | 7    | `probe_lease_expired`    |
//! |               | 8    | `manual`                 |
//! |               | 9    | `manual_open`            |
//! |               | 10   | `manual_half_open`       |
//! |               | 11   | `manual_close`           |
//! | `FailureKind` | 0    | `timeout`                |
//! |               | 1    | `connection`             |
//! |               | 2    | `server_error`           |
//! |               | 3    | `rejected`               |
//! |               | 4    | `other`                  |
//! | `Outcome`     | 0    | `success`                |
//! |               | 1..=5| the failure kind's name (code = 1 + the kind's code) |
//! |               | 6    | `ignored`                |
//!
//! Every name also exists as a NUL-terminated [`CStr`](std::ffi::CStr) (`c_name`), made
//! from the same literal, for the C binding.

/// One name, as `(&str, &CStr)`, both from one literal.
macro_rules! name {
    ($s:literal) => {
        (
            $s,
            match ::std::ffi::CStr::from_bytes_with_nul(concat!($s, "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("a name holds no NUL"),
            },
        )
    };
}
pub(crate) use name;

/// A name table entry: the name and the same name NUL-terminated.
pub(crate) type Name = (&'static str, &'static std::ffi::CStr);

#[cfg(test)]
mod tests {
    use crate::{FailureKind, Outcome, Reason, State};

    #[test]
    fn state_codes_round_trip_and_names_are_distinct() {
        for (i, s) in State::ALL.iter().enumerate() {
            assert_eq!(s.code() as usize, i);
            assert_eq!(State::from_code(s.code()), Some(*s));
            assert_eq!(s.c_name().to_str().unwrap(), s.name());
        }
        assert_eq!(State::from_code(7), None);
        let mut names: Vec<_> = State::ALL.iter().map(|s| s.name()).collect();
        names.dedup();
        assert_eq!(names.len(), 7);
    }

    #[test]
    fn reason_codes_are_stable_and_every_variant_has_its_own() {
        let all = Reason::examples();
        assert_eq!(all.len(), Reason::NAMES.len());
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.code() as usize, i);
            assert_eq!(Reason::name_of(r.code()), Some(r.name()));
            assert_eq!(
                Reason::c_name_of(r.code()).unwrap().to_str().unwrap(),
                r.name()
            );
        }
        assert_eq!(Reason::ManualOpen.name(), "manual_open");
        assert_eq!(Reason::name_of(12), None);
    }

    #[test]
    fn outcome_codes_put_kinds_between_success_and_ignored() {
        assert_eq!(Outcome::Success.code(), 0);
        assert_eq!(Outcome::Ignored.code(), 6);
        for k in FailureKind::ALL {
            assert_eq!(Outcome::Failure(k).code(), 1 + k.code());
            assert_eq!(Outcome::from_code(1 + k.code()), Some(Outcome::Failure(k)));
            assert_eq!(FailureKind::from_code(k.code()), Some(k));
            assert_eq!(Outcome::Failure(k).name(), k.name());
        }
        assert_eq!(Outcome::from_code(0), Some(Outcome::Success));
        assert_eq!(Outcome::from_code(6), Some(Outcome::Ignored));
        assert_eq!(Outcome::from_code(7), None);
        assert_eq!(Outcome::Success.name(), "success");
        assert_eq!(Outcome::Ignored.name(), "ignored");
        assert_eq!(Outcome::NAMES.len(), 7);
        for c in 0..7u8 {
            assert_eq!(
                Outcome::from_code(c).unwrap().name(),
                Outcome::NAMES[c as usize]
            );
        }
    }
}
