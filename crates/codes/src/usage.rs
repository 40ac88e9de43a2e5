//! The usage prior: pushes how often each unit of a softmax group is used, averaged over the
//! batch, toward a target distribution (uniform by default), with a KL term. It keeps all
//! clusters of a clustering autoencoder in use, and biases a softmax toward common and rare
//! units in the biased autoencoder.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Tolerance on the target distribution's sum.
const SUM_TOLERANCE: f64 = 1e-6;
/// Floor on usage before the logarithm, so that unused units give a finite KL.
const USAGE_FLOOR: f64 = 1e-12;

/// Configuration of a [`UsagePrior`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsagePriorConfig {
    /// The group holding probabilities `[B, K]` (rows summing to 1), e.g. the
    /// `cluster_probs` written by the cluster choice.
    pub input: String,
    /// The target usage of each unit: K positive numbers summing to 1. Empty means uniform.
    pub target: Vec<f64>,
    /// The weight of the KL term.
    pub weight: f64,
    /// The name the term is logged under.
    pub name: String,
}

impl Default for UsagePriorConfig {
    fn default() -> Self {
        Self {
            input: crate::ClusterChoiceConfig::default().probs_group(),
            target: Vec::new(),
            weight: 1.0,
            name: "usage".into(),
        }
    }
}

impl UsagePriorConfig {
    /// See [`crate::TransformConfig::infer_widths`]. Reads the input group; writes nothing.
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let width = input_width(widths, &self.input, "usage_prior")?;
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(CodesError::config(
                "usage_prior.weight",
                self.weight,
                "must be a finite number >= 0",
            ));
        }
        if self.name.is_empty() {
            return Err(CodesError::config(
                "usage_prior.name",
                "\"\"",
                "name the logged term",
            ));
        }
        if self.target.is_empty() {
            return Ok(());
        }
        let shown = format!("{:?}", self.target);
        if self.target.len() as i64 != width {
            return Err(CodesError::config(
                "usage_prior.target",
                &shown,
                &format!(
                    "needs one entry per unit of group {:?}, which has {width}",
                    self.input
                ),
            ));
        }
        if self.target.iter().any(|&t| !(t.is_finite() && t > 0.0)) {
            return Err(CodesError::config(
                "usage_prior.target",
                &shown,
                "every entry must be a finite number > 0",
            ));
        }
        let sum: f64 = self.target.iter().sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(CodesError::config(
                "usage_prior.target",
                &shown,
                &format!("must sum to 1, sums to {sum}"),
            ));
        }
        Ok(())
    }

    /// Builds the prior.
    pub fn build(&self) -> UsagePrior {
        UsagePrior {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `weight * KL(u || target)`, where `u` is the batch-average of the input
/// probabilities, `[B, K] -> [K]`. It leaves the code unchanged, in training and evaluation.
#[derive(Debug)]
pub struct UsagePrior {
    config: UsagePriorConfig,
}

/// KL(`usage` || `target`) for two distributions `[K]`: a scalar, 0 when they are equal.
pub fn usage_kl(usage: &Tensor, target: &Tensor) -> Tensor {
    (usage * (usage.clamp_min(USAGE_FLOOR).log() - target.log())).sum(usage.kind())
}

impl CodeTransform for UsagePrior {
    /// Reads `[B, K]` probabilities from the input group and adds the penalty `<name>`.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let probs = code.get(&self.config.input)?;
        let usage = probs.mean_dim(0, false, probs.kind());
        let k = usage.size()[0];
        let target = if self.config.target.is_empty() {
            usage.ones_like() / k as f64
        } else {
            Tensor::from_slice(&self.config.target)
                .to_kind(usage.kind())
                .to_device(usage.device())
        };
        let kl = usage_kl(&usage, &target) * self.config.weight;
        code.add_penalty(self.config.name.clone(), kl);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use proptest::prelude::*;
    use tch::Kind;

    fn penalty(config: &UsagePriorConfig, probs: &Tensor) -> f64 {
        let mut widths = GroupWidths::from([(config.input.clone(), probs.size()[1])]);
        config.infer_widths(&mut widths).unwrap();
        let mut code = Code::new();
        code.insert(config.input.clone(), probs.shallow_clone());
        config.build().apply(&mut code, true).unwrap();
        assert_eq!(code.penalties()[0].name, config.name);
        code.penalties()[0].value.double_value(&[])
    }

    /// The biased autoencoder's target: 2 common units at 0.4 and 10 rare ones at 0.02.
    fn biased_target() -> Vec<f64> {
        let mut target = vec![0.4, 0.4];
        target.extend([0.02; 10]);
        target
    }

    proptest! {
        #[test]
        fn kl_is_zero_when_usage_equals_the_target_and_positive_otherwise(
            raw in prop::collection::vec(0.05f64..1.0, 6),
            rows in 1i64..5,
        ) {
            let sum: f64 = raw.iter().sum();
            let target: Vec<f64> = raw.iter().map(|r| r / sum).collect();
            let config = UsagePriorConfig { target: target.clone(), ..Default::default() };
            // Every row equal to the target: the usage is the target.
            let probs = Tensor::from_slice(&target).view([1, 6]).repeat([rows, 1]);
            prop_assert!(penalty(&config, &probs).abs() < 1e-6);
            // Everything on unit 0: usage differs from the target.
            let mut onehot = vec![0.0; 6];
            onehot[0] = 1.0;
            let probs = Tensor::from_slice(&onehot).view([1, 6]);
            prop_assert!((penalty(&config, &probs) + target[0].ln()).abs() < 1e-6);
        }

        #[test]
        fn uniform_kl_is_log_k_minus_the_usage_entropy(
            raw in prop::collection::vec(0.05f64..1.0, 8),
            weight in 0.0f64..20.0,
        ) {
            let probs = Tensor::from_slice(&raw).view([2, 4]);
            let probs = &probs / probs.sum_dim_intlist(-1, true, None::<Kind>);
            let usage = Vec::<f64>::try_from(probs.mean_dim(0, false, Kind::Double)).unwrap();
            let entropy: f64 = usage.iter().map(|u| -u * u.ln()).sum();
            let config = UsagePriorConfig { weight, ..Default::default() };
            let expected = weight * (4f64.ln() - entropy);
            prop_assert!((penalty(&config, &probs) - expected).abs() < 1e-4 * (1.0 + expected));
        }
    }

    #[test]
    fn biased_target_is_accepted_and_unused_units_give_a_finite_kl() {
        let config = UsagePriorConfig {
            target: biased_target(),
            weight: 2.0,
            name: "bias".into(),
            ..Default::default()
        };
        let mut onehot = vec![0.0f64; 12];
        onehot[0] = 1.0;
        let value = penalty(&config, &Tensor::from_slice(&onehot).view([1, 12]));
        assert!((value - 2.0 * (1.0 / 0.4f64).ln()).abs() < 1e-5, "{value}");
    }

    #[test]
    fn kl_gradients_match_finite_differences() {
        let target = Tensor::from_slice(&[0.5f64, 0.3, 0.2]);
        let logits = Tensor::from_slice(&[0.3f64, -1.0, 0.8, 2.0, 0.1, -0.4]).view([2, 3]);
        check_gradients(
            |x| {
                let usage = x.softmax(-1, Kind::Double).mean_dim(0, false, Kind::Double);
                usage_kl(&usage, &target)
            },
            &logits,
        )
        .unwrap();
    }

    #[test]
    fn both_parts_are_transform_configs_in_json() {
        let json = r#"[
            {"kind": "cluster_choice", "noise": "gaussian", "noise_scale": 2.0},
            {"kind": "usage_prior", "weight": 10.0}
        ]"#;
        let configs: Vec<crate::TransformConfig> = serde_json::from_str(json).unwrap();
        let mut widths = GroupWidths::from([("cluster".to_owned(), 4)]);
        for config in &configs {
            config.infer_widths(&mut widths).unwrap();
        }
        let mut code = Code::new();
        code.insert(
            "cluster",
            Tensor::zeros([3, 4], (Kind::Float, tch::Device::Cpu)),
        );
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        for config in &configs {
            config
                .build(&vs.root(), &widths)
                .unwrap()
                .apply(&mut code, false)
                .unwrap();
        }
        // Uniform logits: the usage equals the uniform target.
        assert!(code.penalties()[0].value.double_value(&[]).abs() < 1e-6);
        let bad: Result<crate::TransformConfig, _> =
            serde_json::from_str(r#"{"kind": "usage_prior", "wieght": 1.0}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn rejects_targets_that_are_not_distributions() {
        let check = |target: Vec<f64>| {
            let config = UsagePriorConfig {
                target,
                ..Default::default()
            };
            let mut widths = GroupWidths::from([("cluster_probs".to_owned(), 3)]);
            config.infer_widths(&mut widths).unwrap_err().to_string()
        };
        assert!(check(vec![0.5, 0.5]).contains("one entry per unit"));
        assert!(check(vec![0.5, 0.5, 0.5]).contains("sum to 1"));
        assert!(check(vec![0.5, 0.5, 0.0]).contains("> 0"));
        let config = UsagePriorConfig {
            weight: -1.0,
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("cluster_probs".to_owned(), 3)]);
        assert!(config
            .infer_widths(&mut widths)
            .unwrap_err()
            .to_string()
            .contains("usage_prior.weight"));
    }
}
