//! [`SparsityPrior`]: an objective addition that pulls the firing rate of each unit of a
//! group toward a target, the biased autoencoder's tool for sparse bits. With a target of
//! 0.5 it is a bit-balance term, as semantic hashing wants.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::bits::firing_rates;
use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Rates are kept this far from 0 and 1, so that the KL stays finite.
const RATE_FLOOR: f64 = 1e-6;

/// Configuration of a [`SparsityPrior`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparsityPriorConfig {
    /// The group whose units' batch-average values are the firing rates, `[B, N]`, values in
    /// `[0, 1]` (e.g. the bits of a [`crate::Binarizer`]).
    pub input: String,
    /// Whether the group holds logits (e.g. `bits_logits` of a [`crate::Binarizer`]): the
    /// firing probabilities are then their sigmoid. Rates of noise-free logits follow the
    /// thresholded bits of evaluation more closely than rates of noisy units do.
    pub logits: bool,
    /// The target firing rate, in `(0, 1)`.
    pub target: f64,
    /// Weight of the penalty.
    pub weight: f64,
    /// The name the penalty is logged under.
    pub name: String,
}

impl Default for SparsityPriorConfig {
    fn default() -> Self {
        Self {
            input: "bits".into(),
            logits: false,
            target: 0.1,
            weight: 1.0,
            name: "sparsity".into(),
        }
    }
}

impl SparsityPriorConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        input_width(widths, &self.input, "sparsity")?;
        if !(self.target > 0.0 && self.target < 1.0) {
            return Err(CodesError::config(
                "sparsity.target",
                self.target,
                "must be strictly between 0 and 1",
            ));
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(CodesError::config(
                "sparsity.weight",
                self.weight,
                "must be >= 0",
            ));
        }
        Ok(())
    }

    /// Builds the prior.
    pub fn build(&self) -> SparsityPrior {
        SparsityPrior {
            config: self.clone(),
        }
    }
}

/// Adds `weight * mean over units of KL(Bernoulli(target) || Bernoulli(rate))`, where `rate`
/// is each unit's batch-average value; see [`SparsityPriorConfig`].
#[derive(Debug)]
pub struct SparsityPrior {
    config: SparsityPriorConfig,
}

/// KL(Bernoulli(target) || Bernoulli(rate)) per unit: `[N] -> [N]`, 0 where `rate == target`.
pub fn bernoulli_kl(target: f64, rate: &Tensor) -> Tensor {
    let rate = rate.clamp(RATE_FLOOR, 1.0 - RATE_FLOOR);
    let on = (rate.log() - target.ln()) * -target;
    let off = ((-&rate + 1.0).log() - (1.0 - target).ln()) * -(1.0 - target);
    on + off
}

impl CodeTransform for SparsityPrior {
    /// Reads `[B, N]` (values in `[0, 1]`, or logits); adds the scalar penalty `<name>`. The same in training and evaluation
    /// (in evaluation it scores the thresholded bits).
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let units = code.get(&self.config.input)?;
        let rates = if self.config.logits {
            firing_rates(&units.sigmoid())
        } else {
            firing_rates(units)
        };
        let kl = bernoulli_kl(self.config.target, &rates).mean(Kind::Float);
        code.add_penalty(self.config.name.clone(), kl * self.config.weight);
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
    fn penalizes_the_distance_from_the_target() {
        let mut code = Code::new();
        // Rates 0.5 and 0.0 against a target of 0.5.
        code.insert(
            "bits",
            Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0]).view([2, 2]),
        );
        let config = SparsityPriorConfig {
            target: 0.5,
            weight: 2.0,
            name: "balance".into(),
            ..Default::default()
        };
        config.build().apply(&mut code, true).unwrap();
        let penalty = &code.penalties()[0];
        assert_eq!(penalty.name, "balance");
        let expected = 2.0 * 0.5 * (0.5 * (0.5 / RATE_FLOOR).ln() + 0.5 * (0.5f64).ln());
        assert!((penalty.value.double_value(&[]) - expected).abs() < 1e-3);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let rates = Tensor::from_slice(&[0.05f64, 0.3, 0.8]);
        check_gradients(|r| bernoulli_kl(0.1, r).sum(Kind::Double), &rates).unwrap();
    }

    #[test]
    fn rejects_targets_outside_the_open_interval() {
        let config = SparsityPriorConfig {
            target: 1.0,
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("bits".to_owned(), 4)]);
        assert!(config.infer_widths(&mut widths).is_err());
    }

    proptest! {
        #[test]
        fn kl_is_zero_at_the_target_and_positive_elsewhere(target in 0.01..0.99f64, rate in 0.01..0.99f64) {
            let rate_tensor = Tensor::from_slice(&[rate]).to_device(Device::Cpu);
            let at_target = bernoulli_kl(target, &Tensor::from_slice(&[target])).double_value(&[0]);
            prop_assert!(at_target.abs() < 1e-12);
            let kl = bernoulli_kl(target, &rate_tensor).double_value(&[0]);
            prop_assert!(kl >= -1e-12);
        }
    }
}
