//! [`ClassMeans`]: an objective addition that pulls the per-class means of a code together,
//! so that a label cannot be read linearly from the code.
//!
//! For every unit it measures the between-class share of the batch variance (the correlation
//! ratio η², the R² of a one-way analysis of variance on the label) and penalizes its mean
//! over the units. It is 0 exactly when every class has the same batch mean, which leaves a
//! linear read-out of the label (a linear discriminant, a logistic regression on the code)
//! nothing to separate the classes by, and it is invariant to each unit's scale and offset,
//! so shrinking a unit does not hide it. It is the first-moment part of matching the
//! per-class code distributions, the variational fair autoencoder's maximum mean
//! discrepancy with a linear kernel (Louizos et al., 2016); an [`crate::Adversary`] covers
//! what higher moments give away. Unlike the adversary, it needs no second player: the
//! penalty is a fixed function of the batch.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::side::one_hot_labels;
use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Added to variances before dividing by them: only guards a constant unit, so that the
/// share stays invariant to the scale of any unit that varies at all.
const VARIANCE_FLOOR: f64 = 1e-12;

/// Configuration of a [`ClassMeans`] penalty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassMeansConfig {
    /// The group, `[B, N]`.
    pub input: String,
    /// The side input holding the labels whose means are pulled together, `[B]` int64.
    pub side: String,
    /// The number of classes.
    pub classes: i64,
    /// Weight of the penalty.
    pub weight: f64,
}

impl Default for ClassMeansConfig {
    fn default() -> Self {
        Self {
            input: "z".into(),
            side: crate::LABEL_SIDE.into(),
            classes: 10,
            weight: 1.0,
        }
    }
}

impl ClassMeansConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        check_class_penalty(
            widths,
            "class_means",
            (&self.input, self.classes, self.weight),
        )
    }

    /// Builds the penalty.
    pub fn build(&self) -> ClassMeans {
        ClassMeans {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `class_means`: `weight` times [`between_class_share`] of the input group
/// under the side labels; see [`ClassMeansConfig`].
#[derive(Debug)]
pub struct ClassMeans {
    config: ClassMeansConfig,
}

/// The mean over the columns of `units` (`[B, N]`) of the share of each column's batch
/// variance that lies between the classes of `one_hot` (`[B, K]`, one row per item): a
/// scalar in `[0, 1]`, 0 when every class present has the same mean.
pub fn between_class_share(units: &Tensor, one_hot: &Tensor) -> Tensor {
    let batch = units.size()[0] as f64;
    let mean = units.mean_dim(0, true, units.kind());
    let centered = units - &mean;
    let total = centered.square().mean_dim(0, false, units.kind());
    let counts = one_hot.sum_dim_intlist(0, false, units.kind());
    let class_sums = one_hot.transpose(0, 1).matmul(&centered);
    // Σ_k n_k (μ_k − μ)² = Σ_k (Σ_{i in k} (u_i − μ))² / n_k, per column.
    let between = (class_sums.square() / counts.clamp_min(1.0).unsqueeze(1)).sum_dim_intlist(
        0,
        false,
        units.kind(),
    ) / batch;
    (between / (total + VARIANCE_FLOOR)).mean(units.kind())
}

impl CodeTransform for ClassMeans {
    /// Reads `[B, N]` and the side labels `[B]`; adds the scalar penalty `class_means`, in
    /// training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let config = &self.config;
        add_class_penalty(
            code,
            (&config.input, &config.side, config.classes),
            ("class_means", config.weight),
            between_class_share,
        )
    }
}

/// Checks a class penalty's keys, named `<kind>.…`: its input group is in `widths`, it has
/// at least 2 classes and a finite weight ≥ 0.
pub(crate) fn check_class_penalty(
    widths: &GroupWidths,
    kind: &str,
    (input, classes, weight): (&str, i64, f64),
) -> Result<(), CodesError> {
    input_width(widths, input, kind)?;
    if classes < 2 {
        return Err(CodesError::config(
            &format!("{kind}.classes"),
            classes,
            "needs at least 2 classes",
        ));
    }
    if !(weight.is_finite() && weight >= 0.0) {
        return Err(CodesError::config(
            &format!("{kind}.weight"),
            weight,
            "must be >= 0",
        ));
    }
    Ok(())
}

/// Adds to `code` the penalty `name`, `weight` times `penalty` of the group `input` (`[B, N]`)
/// and the one-hot encoding (`[B, K]`, K = `classes`) of the side labels `side`, as floats
/// of the group's kind on its device: what the class penalties share.
pub(crate) fn add_class_penalty(
    code: &mut Code,
    (input, side, classes): (&str, &str, i64),
    (name, weight): (&str, f64),
    penalty: impl Fn(&Tensor, &Tensor) -> Tensor,
) -> Result<(), CodesError> {
    let units = code.get(input)?;
    let one_hot = one_hot_labels(code.side(side)?, classes, side)?
        .to_kind(units.kind())
        .to_device(units.device());
    let value = penalty(units, &one_hot).to_kind(Kind::Float) * weight;
    code.add_penalty(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::side::one_hot_doubles;
    use aecraft_tensor::gradcheck::check_gradients;
    use proptest::prelude::*;
    use tch::Device;

    #[test]
    fn units_set_by_the_class_score_one_and_equal_means_zero() {
        let labels = one_hot_doubles(&[0, 1, 0, 1], 2);
        let by_class = Tensor::from_slice(&[3.0f64, -1.0, 3.0, -1.0]).view([4, 1]);
        let value = between_class_share(&by_class, &labels).double_value(&[]);
        assert!((value - 1.0).abs() < 1e-6, "{value}");
        let same_means = Tensor::from_slice(&[1.0f64, 1.0, -1.0, -1.0]).view([4, 1]);
        let value = between_class_share(&same_means, &labels).double_value(&[]);
        assert!(value.abs() < 1e-12, "{value}");
    }

    #[test]
    fn matches_a_direct_analysis_of_variance() {
        let units = Tensor::from_slice(&[1.0f64, 2.0, 4.0, 0.0, 5.0, 3.0]).view([6, 1]);
        let labels = [0, 0, 1, 1, 2, 2];
        let values = [1.0, 2.0, 4.0, 0.0, 5.0, 3.0];
        let mean = values.iter().sum::<f64>() / 6.0;
        let total: f64 = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0;
        let between: f64 = (0..3)
            .map(|k| {
                let class_mean = (values[2 * k] + values[2 * k + 1]) / 2.0;
                2.0 * (class_mean - mean).powi(2)
            })
            .sum::<f64>()
            / 6.0;
        let value = between_class_share(&units, &one_hot_doubles(&labels, 3)).double_value(&[]);
        assert!((value - between / total).abs() < 1e-9, "{value}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let labels = one_hot_doubles(&[0, 1, 2, 0, 1], 3);
        let units = Tensor::from_slice(&[0.1f64, 0.9, 0.4, 0.3, 0.8, 0.2, 0.6, 0.7, 0.5, 0.05])
            .view([5, 2]);
        check_gradients(|u| between_class_share(u, &labels), &units).unwrap();
    }

    #[test]
    fn the_penalty_is_named_weighted_and_checked() {
        let config = ClassMeansConfig {
            classes: 2,
            weight: 3.0,
            ..Default::default()
        };
        let mut code = Code::new();
        code.insert(
            "z",
            Tensor::from_slice(&[3.0f32, -1.0, 3.0, -1.0]).view([4, 1]),
        );
        code.insert_side("label", Tensor::from_slice(&[0i64, 1, 0, 1]));
        config.build().apply(&mut code, true).unwrap();
        let penalty = &code.penalties()[0];
        assert_eq!(penalty.name, "class_means");
        assert!((penalty.value.double_value(&[]) - 3.0).abs() < 1e-4);
        let mut widths = GroupWidths::from([("z".to_owned(), 1)]);
        let bad = ClassMeansConfig {
            weight: -1.0,
            ..Default::default()
        };
        let error = bad.infer_widths(&mut widths).unwrap_err().to_string();
        assert!(error.contains("class_means.weight"), "{error}");
    }

    proptest! {
        #[test]
        fn lies_in_the_unit_interval_and_ignores_scale_and_offset(
            seed in 0i64..200,
            scale in 0.01f64..100.0,
            offset in -10.0f64..10.0,
        ) {
            tch::manual_seed(seed);
            let units = Tensor::randn([24, 3], (Kind::Double, Device::Cpu));
            let labels = Tensor::randint(4, [24], (Kind::Int64, Device::Cpu));
            let labels = one_hot_labels(&labels, 4, "label").unwrap().to_kind(Kind::Double);
            let value = between_class_share(&units, &labels).double_value(&[]);
            prop_assert!((0.0..=1.0 + 1e-9).contains(&value), "{value}");
            let moved = between_class_share(&(&units * scale + offset), &labels).double_value(&[]);
            prop_assert!((moved - value).abs() < 1e-6, "{value} vs {moved}");
        }
    }
}
