//! [`Decorrelation`]: an objective addition that pushes the units of a group to be
//! uncorrelated over the batch, so that bits of a hash code carry different information.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Added to variances before dividing by them.
const VARIANCE_FLOOR: f64 = 1e-6;

/// Configuration of a [`Decorrelation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecorrelationConfig {
    /// The group, `[B, N]` with `N >= 2`.
    pub input: String,
    /// Weight of the penalty.
    pub weight: f64,
}

impl Default for DecorrelationConfig {
    fn default() -> Self {
        Self {
            input: "bits".into(),
            weight: 1.0,
        }
    }
}

impl DecorrelationConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "decorrelation")?;
        if width < 2 {
            return Err(CodesError::config(
                &format!("code.{}.width", self.input),
                width,
                "decorrelation needs at least 2 units",
            ));
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(CodesError::config(
                "decorrelation.weight",
                self.weight,
                "must be >= 0",
            ));
        }
        Ok(())
    }

    /// Builds the penalty.
    pub fn build(&self) -> Decorrelation {
        Decorrelation {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `decorrelation`: `weight` times the mean squared batch correlation over
/// pairs of distinct units; see [`DecorrelationConfig`].
#[derive(Debug)]
pub struct Decorrelation {
    config: DecorrelationConfig,
}

/// The mean squared correlation between distinct columns of `units` (`[B, N]`, N >= 2,
/// B >= 2) over the batch: a scalar in `[0, 1]`.
pub fn mean_squared_correlation(units: &Tensor) -> Tensor {
    let n = units.size()[1];
    let centered = units - units.mean_dim(0, true, units.kind());
    let covariance = centered.transpose(0, 1).matmul(&centered) / units.size()[0] as f64;
    let std = (covariance.diagonal(0, 0, 1) + VARIANCE_FLOOR).sqrt();
    let correlation = covariance / std.unsqueeze(1) / std.unsqueeze(0);
    let off_diagonal = correlation.square().sum(units.kind())
        - correlation.diagonal(0, 0, 1).square().sum(units.kind());
    off_diagonal / (n * (n - 1)) as f64
}

impl CodeTransform for Decorrelation {
    /// Reads `[B, N]`; adds the scalar penalty `decorrelation`, in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let penalty = mean_squared_correlation(code.get(&self.config.input)?);
        code.add_penalty(
            "decorrelation",
            penalty.to_kind(Kind::Float) * self.config.weight,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use proptest::prelude::*;
    use tch::Device;

    #[test]
    fn identical_columns_are_fully_correlated() {
        let column = Tensor::from_slice(&[0.0f64, 1.0, 1.0, 0.0]).view([4, 1]);
        let units = Tensor::cat(&[&column, &column], 1);
        let value = mean_squared_correlation(&units).double_value(&[]);
        assert!((value - 1.0).abs() < 1e-4, "{value}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let units =
            Tensor::from_slice(&[0.1f64, 0.9, 0.4, 0.3, 0.8, 0.2, 0.6, 0.7, 0.5]).view([3, 3]);
        check_gradients(mean_squared_correlation, &units).unwrap();
    }

    proptest! {
        #[test]
        fn lies_in_the_unit_interval(seed in 0i64..200) {
            tch::manual_seed(seed);
            let units = Tensor::rand([16, 5], (Kind::Double, Device::Cpu));
            let value = mean_squared_correlation(&units).double_value(&[]);
            prop_assert!((0.0..=1.0 + 1e-9).contains(&value));
        }
    }
}
