//! [`ClassMmd`]: an objective addition that pulls each class's code distribution toward the
//! batch's, so that no classifier, linear or not, can read the label from the code.
//!
//! For every class present in the batch it measures the squared maximum mean discrepancy
//! (Gretton et al., 2012) between the codes of that class and all the batch's codes, with a
//! sum of Gaussian kernels, and penalizes their mean weighted by the classes' shares of the
//! batch. It is 0 in expectation exactly when every class has the code distribution of the
//! whole batch (a characteristic kernel sees every moment), which is what a post-hoc probe
//! would need to find nothing. Each unit is first centred on its batch median and divided by
//! its batch median absolute deviation (scaled to a Gaussian's standard deviation), so
//! shrinking a unit does not hide it, and each kernel's bandwidth is a multiple of `sqrt(N)`
//! for `N` units, the scale of the distance between two such codes. The scale is robust on
//! purpose: with the standard deviation, an encoder under a strong penalty learned to throw
//! 1% of its codes far out (72% of each unit's variance, kurtosis 75), which shrank the bulk
//! of the standardized codes until every kernel read 1 and the penalty 0, while a probe still
//! told the classes apart in the bulk. Moving the median absolute deviation needs half the
//! codes.
//! [`crate::ClassMeans`] is its first-moment part (a linear kernel); this is the variational
//! fair autoencoder's MMD term (Louizos et al., 2016) with the label as the nuisance
//! variable. Like the class-means penalty, it is a fixed function of the batch with no second
//! player, so it pushes the same way on every run, where an [`crate::Adversary`]'s game
//! varies from run to run.
//!
//! The estimate is the biased one (a V-statistic, diagonal included): its floor `1/n_k`
//! terms are constants with no gradient, and it is never negative. With a batch of 128 and
//! 10 classes each class has about 13 codes, so one batch's value is noisy; training averages
//! it over many batches. On MNIST's ignoring autoencoder, next to the adversary, it did not
//! lower the post-hoc probe beyond the spread of the runs (`docs/toolbox.md`); it is off in
//! that preset.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::class_means::{add_class_penalty, check_class_penalty};
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Added to the batch's robust scales before dividing by them.
const SCALE_FLOOR: f64 = 1e-4;

/// The median absolute deviation of a Gaussian, over its standard deviation, inverted.
const MAD_TO_STD: f64 = 1.482_6;

/// Configuration of a [`ClassMmd`] penalty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassMmdConfig {
    /// The group, `[B, N]`.
    pub input: String,
    /// The side input holding the labels whose code distributions are matched, `[B]` int64.
    pub side: String,
    /// The number of classes.
    pub classes: i64,
    /// Weight of the penalty.
    pub weight: f64,
    /// The Gaussian kernels' bandwidths, in units of `sqrt(N)` (each > 0); the kernel is
    /// their mean.
    pub bandwidths: Vec<f64>,
}

impl Default for ClassMmdConfig {
    fn default() -> Self {
        Self {
            input: "z".into(),
            side: crate::LABEL_SIDE.into(),
            classes: 10,
            weight: 1.0,
            bandwidths: vec![0.25, 0.5, 1.0, 2.0],
        }
    }
}

impl ClassMmdConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        check_class_penalty(
            widths,
            "class_mmd",
            (&self.input, self.classes, self.weight),
        )?;
        if self.bandwidths.is_empty() {
            return Err(CodesError::config(
                "class_mmd.bandwidths",
                "[]",
                "name at least one bandwidth",
            ));
        }
        if let Some(bad) = self
            .bandwidths
            .iter()
            .find(|b| !(b.is_finite() && **b > 0.0))
        {
            return Err(CodesError::config(
                "class_mmd.bandwidths",
                bad,
                "every bandwidth must be > 0",
            ));
        }
        Ok(())
    }

    /// Builds the penalty.
    pub fn build(&self) -> ClassMmd {
        ClassMmd {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `class_mmd`: `weight` times [`class_mmd`] of the input group under the
/// side labels; see [`ClassMmdConfig`].
#[derive(Debug)]
pub struct ClassMmd {
    config: ClassMmdConfig,
}

/// The class-share-weighted mean over the classes of `one_hot` (`[B, K]`, one row per item)
/// of the squared MMD between that class's rows of `units` (`[B, N]`) and all the rows, with
/// the mean of Gaussian kernels of `bandwidths` (times `sqrt(N)`) on the units as
/// [`robustly_scaled`] over the batch: a scalar ≥ 0. Classes absent from the batch weigh 0.
pub fn class_mmd(units: &Tensor, one_hot: &Tensor, bandwidths: &[f64]) -> Tensor {
    class_mmd_of_scaled(&robustly_scaled(units), one_hot, bandwidths)
}

/// [`class_mmd`] of units already scaled.
fn class_mmd_of_scaled(units: &Tensor, one_hot: &Tensor, bandwidths: &[f64]) -> Tensor {
    let (batch, width) = (units.size()[0], units.size()[1]);
    let squared = pairwise_squared_distances(units);
    let kernel = bandwidths
        .iter()
        .map(|b| (&squared / (-2.0 * b * b * width as f64)).exp())
        .reduce(|sum, k| sum + k)
        .expect("at least one bandwidth")
        / bandwidths.len() as f64;
    let counts = one_hot.sum_dim_intlist(0, false, units.kind());
    // Column k: the class's mean embedding weights, 1/n_k on its rows (0 for an absent class).
    let class_weights = one_hot / counts.clamp_min(1.0).unsqueeze(0);
    let batch_weights = Tensor::full(
        [batch, 1],
        1.0 / batch as f64,
        (units.kind(), units.device()),
    );
    let kernel_class = kernel.matmul(&class_weights);
    // Per class: w_kᵀ K w_k − 2 w_kᵀ K u + uᵀ K u.
    let within = (&class_weights * &kernel_class).sum_dim_intlist(0, false, units.kind());
    let cross = (&batch_weights * &kernel_class).sum_dim_intlist(0, false, units.kind());
    let whole = batch_weights
        .transpose(0, 1)
        .matmul(&kernel.matmul(&batch_weights));
    let per_class = within - cross * 2.0 + whole.reshape([1]);
    (per_class * counts / batch as f64).sum(units.kind())
}

/// Each column of `units` (`[B, N]`) minus its median, over its median absolute deviation
/// times `MAD_TO_STD` (1.4826; plus `SCALE_FLOOR`): `[B, N]`, a Gaussian column's standardization.
pub fn robustly_scaled(units: &Tensor) -> Tensor {
    let (median, _) = units.median_dim(0, true);
    let centred = units - median;
    let (mad, _) = centred.abs().median_dim(0, true);
    centred / (mad * MAD_TO_STD + SCALE_FLOOR)
}

/// `‖x_i − x_j‖²` for the rows of `x` (`[B, N]`): `[B, B]`, clamped at 0 against rounding.
fn pairwise_squared_distances(x: &Tensor) -> Tensor {
    let norms = x.square().sum_dim_intlist(1, true, x.kind());
    (&norms + norms.transpose(0, 1) - x.matmul(&x.transpose(0, 1)) * 2.0).clamp_min(0.0)
}

impl CodeTransform for ClassMmd {
    /// Reads `[B, N]` and the side labels `[B]`; adds the scalar penalty `class_mmd`, in
    /// training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let config = &self.config;
        add_class_penalty(
            code,
            (&config.input, &config.side, config.classes),
            ("class_mmd", config.weight),
            |units, one_hot| class_mmd(units, one_hot, &config.bandwidths),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::side::one_hot_doubles;
    use tch::{Device, Kind};

    /// `n` codes of `units` standard-normal units in two alternating classes, class 1's
    /// shifted by 2 in every unit, and the classes one-hot: (`[n, units]`, `[n, 2]`).
    fn two_classes_apart(n: i64, units: i64) -> (Tensor, Tensor) {
        let labels: Vec<i64> = (0..n).map(|i| i % 2).collect();
        let shift = Tensor::from_slice(&labels)
            .to_kind(Kind::Double)
            .unsqueeze(1)
            * 2.0;
        let codes = Tensor::randn([n, units], (Kind::Double, Device::Cpu)) + shift;
        (codes, one_hot_doubles(&labels, 2))
    }

    fn gaussian_kernel_mmd_by_hand(x: &[[f64; 2]], labels: &[i64], bandwidth: f64) -> f64 {
        let n = x.len();
        // An odd count: the median is the middle value.
        let median = |v: Vec<f64>| {
            let mut v = v;
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let scale = |d: usize| {
            let m = median(x.iter().map(|r| r[d]).collect());
            let mad = median(x.iter().map(|r| (r[d] - m).abs()).collect());
            (m, mad * MAD_TO_STD + SCALE_FLOOR)
        };
        let (s0, s1) = (scale(0), scale(1));
        let z: Vec<[f64; 2]> = x
            .iter()
            .map(|r| [(r[0] - s0.0) / s0.1, (r[1] - s1.0) / s1.1])
            .collect();
        let k = |a: &[f64; 2], b: &[f64; 2]| {
            let d = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
            (-d / (2.0 * bandwidth * bandwidth * 2.0)).exp()
        };
        let mean_k = |p: &[usize], q: &[usize]| {
            p.iter()
                .flat_map(|&i| q.iter().map(move |&j| (i, j)))
                .map(|(i, j)| k(&z[i], &z[j]))
                .sum::<f64>()
                / (p.len() * q.len()) as f64
        };
        let all: Vec<usize> = (0..n).collect();
        let mut total = 0.0;
        for class in 0..3 {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] == class).collect();
            if members.is_empty() {
                continue;
            }
            let mmd =
                mean_k(&members, &members) - 2.0 * mean_k(&members, &all) + mean_k(&all, &all);
            total += mmd * members.len() as f64 / n as f64;
        }
        total
    }

    #[test]
    fn matches_the_definition_on_a_small_batch() {
        let x = [[0.1, 2.0], [1.5, -0.3], [0.7, 0.9], [-1.2, 0.4], [2.2, 1.1]];
        let labels = [0, 1, 0, 1, 0];
        let units = Tensor::from_slice(&x.concat()).reshape([5, 2]);
        let got = class_mmd(&units, &one_hot_doubles(&labels, 3), &[0.7]).double_value(&[]);
        let expected = gaussian_kernel_mmd_by_hand(&x, &labels, 0.7);
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
    }

    #[test]
    fn tells_classes_apart_by_their_spread_where_class_means_cannot() {
        tch::manual_seed(0);
        let n = 400;
        let labels: Vec<i64> = (0..n).map(|i| i % 2).collect();
        let noise = Tensor::randn([n, 2], (Kind::Double, Device::Cpu));
        // Same mean for both classes; class 1 spread 4 times wider.
        let scale = Tensor::from_slice(&labels).to_kind(Kind::Double) * 3.0 + 1.0;
        let spread = &noise * scale.unsqueeze(1);
        let one_hot = one_hot_doubles(&labels, 2);
        let same = class_mmd(&noise, &one_hot, &[0.5, 1.0]).double_value(&[]);
        let apart = class_mmd(&spread, &one_hot, &[0.5, 1.0]).double_value(&[]);
        assert!(apart > 5.0 * same, "same {same}, apart {apart}");
        let means = crate::class_means::between_class_share(&spread, &one_hot).double_value(&[]);
        assert!(means < 0.01, "the means agree: {means}");
        // Invariant to each unit's scale and offset.
        let rescaled = &spread * Tensor::from_slice(&[0.1f64, 50.0]) + 3.0;
        let again = class_mmd(&rescaled, &one_hot, &[0.5, 1.0]).double_value(&[]);
        assert!((again - apart).abs() < 1e-3 * apart, "{again} vs {apart}");
    }

    #[test]
    fn a_few_far_codes_cannot_hide_the_classes_in_the_bulk() {
        tch::manual_seed(2);
        let n = 400;
        let (separated, one_hot) = two_classes_apart(n, 3);
        // Every 100th code thrown 1000 times farther: most of the variance, none of the bulk.
        let far = Tensor::from_slice(
            &(0..n)
                .map(|i| if i % 100 == 3 { 1000.0 } else { 1.0 })
                .collect::<Vec<f64>>(),
        );
        let thrown = &separated * far.unsqueeze(1);
        let clean = class_mmd(&separated, &one_hot, &[0.5, 1.0]).double_value(&[]);
        let tailed = class_mmd(&thrown, &one_hot, &[0.5, 1.0]).double_value(&[]);
        assert!(
            tailed > 0.8 * clean,
            "clean {clean}, with far codes {tailed}"
        );
        // Standardizing by the standard deviation instead reads almost nothing.
        let std = thrown.std_dim(0, false, true);
        let by_std = (&thrown - thrown.mean_dim(0, true, Kind::Double)) / std;
        let naive = class_mmd_of_scaled(&by_std, &one_hot, &[0.5, 1.0]).double_value(&[]);
        assert!(naive < 0.2 * clean, "clean {clean}, standardized {naive}");
    }

    #[test]
    fn its_gradient_pulls_the_classes_together() {
        tch::manual_seed(1);
        let (codes, one_hot) = two_classes_apart(64, 3);
        let mut units = codes.set_requires_grad(true);
        let before = class_mmd(&units, &one_hot, &[1.0]).double_value(&[]);
        for _ in 0..200 {
            let loss = class_mmd(&units, &one_hot, &[1.0]);
            units.zero_grad();
            loss.backward();
            tch::no_grad(|| {
                let step = units.grad() * 20.0;
                let _ = units.f_sub_(&step).unwrap();
            });
        }
        let after = class_mmd(&units, &one_hot, &[1.0]).double_value(&[]);
        assert!(after < 0.2 * before, "before {before}, after {after}");
    }

    #[test]
    fn adds_a_named_penalty_and_refuses_bad_values() {
        let config = ClassMmdConfig {
            classes: 3,
            weight: 2.0,
            ..Default::default()
        };
        let mut code = Code::new();
        code.insert("z", Tensor::randn([6, 4], (Kind::Float, Device::Cpu)));
        code.insert_side("label", Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]));
        config.build().apply(&mut code, true).unwrap();
        assert_eq!(code.penalties()[0].name, "class_mmd");
        assert!(code.penalties()[0].value.double_value(&[]) > 0.0);
        let cases = [
            (
                ClassMmdConfig {
                    weight: f64::NAN,
                    ..config.clone()
                },
                "class_mmd.weight",
            ),
            (
                ClassMmdConfig {
                    bandwidths: vec![],
                    ..config.clone()
                },
                "class_mmd.bandwidths",
            ),
            (
                ClassMmdConfig {
                    bandwidths: vec![1.0, 0.0],
                    ..config.clone()
                },
                "class_mmd.bandwidths",
            ),
            (
                ClassMmdConfig {
                    classes: 1,
                    ..config.clone()
                },
                "class_mmd.classes",
            ),
            (
                ClassMmdConfig {
                    input: "w".into(),
                    ..config.clone()
                },
                "class_mmd",
            ),
        ];
        let widths = GroupWidths::from([("z".to_owned(), 4)]);
        for (bad, key) in cases {
            let error = bad.infer_widths(&mut widths.clone()).unwrap_err();
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }
}
