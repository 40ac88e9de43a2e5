//! [`LinearSchedule`]: a value that moves linearly with training progress, such as the scale
//! of discretization noise.
//!
//! Transforms learn how far training has come through [`crate::CodeTransform::set_progress`]:
//! the trainer sets a progress value in `[0, 1]` (the fraction of training steps done) before
//! every step, and a transform with a schedule keeps the latest value and reads its schedule
//! there. Evaluation does not change it.

use serde::{Deserialize, Serialize};

use crate::CodesError;

/// A value going linearly from `start` (progress 0) to `end` (progress 1); constant when
/// both are equal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearSchedule {
    /// The value at the start of training.
    pub start: f64,
    /// The value at the end of training.
    pub end: f64,
}

impl LinearSchedule {
    /// The same value throughout.
    pub fn constant(value: f64) -> Self {
        Self {
            start: value,
            end: value,
        }
    }

    /// The value after `progress` (clamped to `[0, 1]`) of training.
    pub fn at(&self, progress: f64) -> f64 {
        let progress = progress.clamp(0.0, 1.0);
        self.start + (self.end - self.start) * progress
    }

    /// Checks that both ends are finite and at least 0, naming `field`.
    pub fn validate_non_negative(&self, field: &str) -> Result<(), CodesError> {
        for (end, value) in [("start", self.start), ("end", self.end)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CodesError::config(
                    &format!("{field}.{end}"),
                    value,
                    "must be a finite number >= 0",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn moves_from_start_to_end() {
        let schedule = LinearSchedule {
            start: 1.0,
            end: 4.0,
        };
        assert_eq!(schedule.at(0.0), 1.0);
        assert_eq!(schedule.at(0.5), 2.5);
        assert_eq!(schedule.at(1.0), 4.0);
        assert_eq!(schedule.at(7.0), 4.0);
        assert!(LinearSchedule::constant(-1.0)
            .validate_non_negative("bits.noise_std")
            .unwrap_err()
            .to_string()
            .contains("bits.noise_std.start"));
    }

    proptest! {
        #[test]
        fn stays_between_its_ends(start in 0.0..10.0f64, end in 0.0..10.0f64, p in -1.0..2.0f64) {
            let value = LinearSchedule { start, end }.at(p);
            prop_assert!(value >= start.min(end) - 1e-12 && value <= start.max(end) + 1e-12);
        }
    }
}
