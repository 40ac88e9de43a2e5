//! [`TotalCorrelation`]: an objective addition, the β-TCVAE's penalty (Chen et al., 2018,
//! "Isolating Sources of Disentanglement in VAEs") on the total correlation of a Gaussian
//! code, `TC = KL(q(z) ‖ Π_d q(z_d))`: how far the aggregate posterior is from the product of
//! its marginals, that is, how much the code units depend on one another.
//!
//! It reads the sample, the mean and the log-variance that [`crate::GaussianSampler`] writes
//! (`z`, `z_mean`, `z_logvar`) and estimates `q(z)` and each `q(z_d)` at the batch's samples
//! by minibatch-weighted sampling (MWS): `log q(z_i) ≈ logsumexp_j log q(z_i | x_j) − log(N·M)`
//! over the `M` images of the batch, `N` being [`TotalCorrelationConfig::dataset_size`]. `N`
//! adds the constant `(Z − 1)·log N` to the estimate and nothing to its gradient; at `N = 1`
//! (the default) the estimate is that of the batch's own aggregate posterior, about 0 for
//! independent units. A β-TCVAE is a VAE (KL weight 1) with this penalty at weight `β − 1`.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// `ln(2π)`, in the Gaussian log-density.
const LN_TWO_PI: f64 = 1.837_877_066_409_345_5;

/// Configuration of a [`TotalCorrelation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TotalCorrelationConfig {
    /// The Gaussian code's sample `[B, Z]`; its mean and log-variance are read from
    /// `<input>_mean` and `<input>_logvar`, as [`crate::GaussianSampler`] writes them.
    pub input: String,
    /// Weight of the penalty (`β − 1` for a β-TCVAE).
    pub weight: f64,
    /// `N` of the estimator, the size of the data set the batches are drawn from; it only
    /// shifts the estimate by `(Z − 1)·log N` (see the module doc).
    pub dataset_size: u64,
}

impl Default for TotalCorrelationConfig {
    fn default() -> Self {
        Self {
            input: "z".into(),
            weight: 1.0,
            dataset_size: 1,
        }
    }
}

impl TotalCorrelationConfig {
    /// The groups read: the sample, its mean and its log-variance.
    fn groups(&self) -> [String; 3] {
        let input = &self.input;
        [
            input.clone(),
            format!("{input}_mean"),
            format!("{input}_logvar"),
        ]
    }

    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        let [sample, mean, logvar] = self.groups();
        let width = input_width(widths, &sample, "total_correlation")?;
        for group in [mean, logvar] {
            let other = input_width(widths, &group, "total_correlation")?;
            if other != width {
                return Err(CodesError::config(
                    &format!("code.{group}.width"),
                    other,
                    &format!("must equal the width of {sample:?}, {width}"),
                ));
            }
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(CodesError::config(
                "total_correlation.weight",
                self.weight,
                "must be >= 0",
            ));
        }
        if self.dataset_size == 0 {
            return Err(CodesError::config(
                "total_correlation.dataset_size",
                self.dataset_size,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Builds the penalty.
    pub fn build(&self) -> TotalCorrelation {
        TotalCorrelation {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `total_correlation`: `weight` times the batch mean of
/// [`total_correlation`]; see [`TotalCorrelationConfig`].
#[derive(Debug)]
pub struct TotalCorrelation {
    config: TotalCorrelationConfig,
}

/// The MWS estimate of the total correlation at each sample: `[B]` from the sample, mean and
/// log-variance, each `[B, Z]`, of the batch's Gaussian posteriors, with `dataset_size` the
/// `N` of the estimator (see the module doc). Differentiable in all three.
pub fn total_correlation(
    sample: &Tensor,
    mean: &Tensor,
    logvar: &Tensor,
    dataset_size: f64,
) -> Tensor {
    let batch = sample.size()[0] as f64;
    // log q(z_i,d | x_j): [B (i), B (j), Z].
    let (logvar, deviation) = (logvar.unsqueeze(0), sample.unsqueeze(1) - mean.unsqueeze(0));
    let log_density = (deviation.square() * (-&logvar).exp() + logvar + LN_TWO_PI) * -0.5;
    let normalizer = (batch * dataset_size).ln();
    let kind = None::<Kind>;
    let log_joint = log_density
        .sum_dim_intlist(-1, false, kind)
        .logsumexp(1, false)
        - normalizer;
    let log_marginals =
        (log_density.logsumexp(1, false) - normalizer).sum_dim_intlist(-1, false, kind);
    log_joint - log_marginals
}

impl CodeTransform for TotalCorrelation {
    /// Reads the sample, mean and log-variance, `[B, Z]` each; adds the scalar penalty
    /// `total_correlation`, in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let [sample, mean, logvar] = self.config.groups();
        let estimate = total_correlation(
            code.get(&sample)?,
            code.get(&mean)?,
            code.get(&logvar)?,
            self.config.dataset_size as f64,
        );
        let penalty = estimate.mean(None::<Kind>) * self.config.weight;
        code.add_penalty("total_correlation", penalty);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::gradcheck::check_gradients;
    use tch::Device;

    const DOUBLE: (Kind, Device) = (Kind::Double, Device::Cpu);

    /// The mean estimate over a batch of `mean` `[B, Z]` with every log-variance `logvar`,
    /// sampled.
    fn estimate(mean: &Tensor, logvar: f64, dataset_size: f64) -> f64 {
        let logvar = mean.full_like(logvar);
        let sample = mean + (&logvar * 0.5).exp() * mean.randn_like();
        total_correlation(&sample, mean, &logvar, dataset_size)
            .mean(Kind::Double)
            .double_value(&[])
    }

    #[test]
    fn independent_units_have_a_total_correlation_near_zero() {
        tch::manual_seed(0);
        let mean = Tensor::randn([1024, 4], DOUBLE) * 0.5;
        let value = estimate(&mean, 0.0, 1.0);
        assert!(value.abs() < 0.05, "{value}");
    }

    #[test]
    fn correlated_units_have_a_clearly_positive_total_correlation() {
        tch::manual_seed(0);
        let shared = Tensor::randn([1024, 1], DOUBLE);
        let mean = Tensor::cat(
            &[
                &shared,
                &shared,
                &-&shared,
                &Tensor::randn([1024, 1], DOUBLE),
            ],
            1,
        );
        let correlated = estimate(&mean, (0.1f64).ln(), 1.0);
        tch::manual_seed(0);
        let independent = estimate(&Tensor::randn([1024, 4], DOUBLE), (0.1f64).ln(), 1.0);
        assert!(correlated > 1.0, "{correlated}");
        assert!(
            correlated > independent + 1.0,
            "{correlated} vs {independent}"
        );
    }

    #[test]
    fn the_dataset_size_shifts_the_estimate_by_a_constant() {
        tch::manual_seed(1);
        let mean = Tensor::randn([16, 3], DOUBLE);
        let logvar = Tensor::randn([16, 3], DOUBLE) * 0.3;
        let sample = Tensor::randn([16, 3], DOUBLE);
        let at = |n: f64| total_correlation(&sample, &mean, &logvar, n);
        let shift = (at(1000.0) - at(1.0) - 2.0 * 1000f64.ln()).abs().max();
        assert!(shift.double_value(&[]) < 1e-9);
    }

    #[test]
    fn gradients_match_finite_differences() {
        tch::manual_seed(2);
        let inputs = Tensor::randn([4, 6], DOUBLE) * 0.5;
        check_gradients(
            |x| {
                let parts = x.chunk(3, 1);
                total_correlation(&parts[0], &parts[1], &parts[2], 10.0).sum(Kind::Double)
            },
            &inputs,
        )
        .unwrap();
    }

    #[test]
    fn reads_the_gaussian_groups_and_adds_a_weighted_penalty() {
        tch::manual_seed(3);
        let config = TotalCorrelationConfig {
            weight: 2.0,
            ..Default::default()
        };
        let mut widths = GroupWidths::from([("gauss".to_owned(), 6)]);
        let sampler = crate::GaussianSamplerConfig::default();
        sampler.infer_widths(&mut widths).unwrap();
        config.infer_widths(&mut widths).unwrap();
        let mut code = Code::new();
        code.insert("gauss", Tensor::randn([8, 6], (Kind::Float, Device::Cpu)));
        sampler.build().apply(&mut code, true).unwrap();
        config.build().apply(&mut code, true).unwrap();
        let penalty = &code.penalties()[1];
        assert_eq!(penalty.name, "total_correlation");
        let expected = total_correlation(
            code.get("z").unwrap(),
            code.get("z_mean").unwrap(),
            code.get("z_logvar").unwrap(),
            1.0,
        )
        .mean(Kind::Float)
            * 2.0;
        assert!((penalty.value.double_value(&[]) - expected.double_value(&[])).abs() < 1e-5);
    }

    #[test]
    fn rejects_missing_groups_and_bad_settings() {
        let config = TotalCorrelationConfig::default();
        let message = |config: &TotalCorrelationConfig, widths: &[(&str, i64)]| {
            let mut widths = widths.iter().map(|&(n, w)| (n.to_owned(), w)).collect();
            config.infer_widths(&mut widths).unwrap_err().to_string()
        };
        assert!(message(&config, &[("z", 3)]).contains("z_mean"));
        let mismatched = [("z", 3), ("z_mean", 3), ("z_logvar", 2)];
        assert!(message(&config, &mismatched).contains("z_logvar"));
        let ok = [("z", 3), ("z_mean", 3), ("z_logvar", 3)];
        let negative = TotalCorrelationConfig {
            weight: -1.0,
            ..Default::default()
        };
        assert!(message(&negative, &ok).contains("weight"));
        let empty = TotalCorrelationConfig {
            dataset_size: 0,
            ..Default::default()
        };
        assert!(message(&empty, &ok).contains("dataset_size"));
    }
}
