//! [`CodeDropout`]: random editing that drops code units in training, the independent
//! features autoencoder's tool: a generator that cannot count on any one unit being there
//! favours units that are useful on their own.

use serde::{Deserialize, Serialize};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Configuration of a [`CodeDropout`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodeDropoutConfig {
    /// The group edited in place, `[B, N]`.
    pub input: String,
    /// The probability of dropping each unit, in `[0, 1)`.
    pub rate: f64,
}

impl Default for CodeDropoutConfig {
    fn default() -> Self {
        Self {
            input: "z".into(),
            rate: 0.1,
        }
    }
}

impl CodeDropoutConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        input_width(widths, &self.input, "dropout")?;
        if !(0.0..1.0).contains(&self.rate) {
            return Err(CodesError::config(
                "dropout.rate",
                self.rate,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }

    /// Builds the transform.
    pub fn build(&self) -> CodeDropout {
        CodeDropout {
            config: self.clone(),
        }
    }
}

/// Inverted dropout on one group; see [`CodeDropoutConfig`].
#[derive(Debug)]
pub struct CodeDropout {
    config: CodeDropoutConfig,
}

impl CodeTransform for CodeDropout {
    /// Edits `[B, N]` in place. Training: each unit is zeroed with probability `rate` and the
    /// others are divided by `1 - rate`, keeping expectations. Evaluation: the identity.
    fn apply(&self, code: &mut Code, train: bool) -> Result<(), CodesError> {
        if !train || self.config.rate == 0.0 {
            return Ok(());
        }
        let units = code.take(&self.config.input)?;
        code.insert(
            self.config.input.clone(),
            units.f_dropout(self.config.rate, true)?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::{Device, Kind, Tensor};

    fn apply(rate: f64, units: &Tensor, train: bool) -> Tensor {
        let mut code = Code::new();
        code.insert("z", units.shallow_clone());
        let config = CodeDropoutConfig {
            rate,
            ..Default::default()
        };
        config.build().apply(&mut code, train).unwrap();
        code.take("z").unwrap()
    }

    #[test]
    fn training_drops_about_rate_and_keeps_the_mean() {
        tch::manual_seed(0);
        let units = Tensor::ones([200, 50], (Kind::Float, Device::Cpu));
        let dropped = apply(0.3, &units, true);
        let zeros = dropped.eq(0.0).to_kind(Kind::Float).mean(Kind::Float);
        assert!((zeros.double_value(&[]) - 0.3).abs() < 0.02);
        assert!((dropped.mean(Kind::Float).double_value(&[]) - 1.0).abs() < 0.03);
    }

    #[test]
    fn rejects_a_rate_of_one() {
        let config = CodeDropoutConfig {
            rate: 1.0,
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("z".to_owned(), 3)]);
        assert!(config
            .infer_widths(&mut widths)
            .unwrap_err()
            .to_string()
            .contains("dropout.rate"));
    }

    proptest! {
        #[test]
        fn evaluation_is_the_identity(rate in 0.0..0.99f64, seed in 0i64..100) {
            tch::manual_seed(seed);
            let units = Tensor::randn([3, 7], (Kind::Float, Device::Cpu));
            prop_assert!(apply(rate, &units, false).equal(&units));
        }
    }
}
