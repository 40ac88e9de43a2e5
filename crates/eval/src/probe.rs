//! Probes: how much of a label a code carries, measured by fitting a fresh classifier on
//! training codes and scoring it on held-out codes. [`linear_probe_accuracy`] fits a
//! multinomial logistic regression (what a linear read-out finds); [`mlp_probe_accuracy`]
//! trains an MLP to convergence (what any read-out finds, the judge of a code that must
//! hide the label).

use tch::nn::{self, Module, OptimizerConfig, VarStore};
use tch::{Kind, Tensor};

use aecraft_data::permutation;
use aecraft_tensor::MlpConfig;

use crate::EvalError;

/// Full-batch Adam steps of the probe.
const STEPS: usize = 500;
/// The probe's learning rate.
const LR: f64 = 0.05;

/// Test accuracy of a multinomial logistic regression fitted on `train_codes` (`[N, F]`)
/// and `train_labels` (`[N]`, int64 in `0..classes`), scored on `test_codes`/`test_labels`.
///
/// Features are standardized with the training codes' mean and standard deviation; the
/// probe is fitted by full-batch Adam for a fixed number of steps from zero weights, so the
/// result is deterministic for given codes.
pub fn linear_probe_accuracy(
    train_codes: &Tensor,
    train_labels: &Tensor,
    test_codes: &Tensor,
    test_labels: &Tensor,
    classes: i64,
) -> Result<f64, EvalError> {
    check_codes(train_codes, train_labels, test_codes, test_labels)?;
    let (train_x, test_x) = standardized(train_codes, test_codes);
    let vs = VarStore::new(train_x.device());
    let config = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    let features = train_x.size()[1];
    let linear = nn::linear(vs.root() / "probe", features, classes, config);
    let mut optimizer = nn::Adam::default().build(&vs, LR)?;
    let train_y = train_labels.to_kind(Kind::Int64);
    for _ in 0..STEPS {
        let loss = linear
            .forward(&train_x)
            .f_log_softmax(-1, Kind::Float)?
            .f_nll_loss(&train_y, None::<Tensor>, tch::Reduction::Mean, -100)?;
        optimizer.backward_step(&loss);
    }
    Ok(accuracy(&linear, &test_x, test_labels))
}

/// Hidden widths of the MLP probe.
pub const MLP_PROBE_HIDDEN: [i64; 2] = [256, 256];
/// The MLP probe's mini-batch size.
const MLP_BATCH: usize = 256;
/// The MLP probe's learning rate (Adam).
const MLP_LR: f64 = 1e-3;
/// Every how many training codes one is held out to decide when the MLP probe has converged.
const HOLD_OUT_EVERY: i64 = 10;
/// Epochs without a better held-out accuracy after which the MLP probe stops.
const PATIENCE: usize = 5;
/// The most epochs the MLP probe trains.
const MAX_EPOCHS: usize = 100;

/// Test accuracy of an MLP ([`MLP_PROBE_HIDDEN`], ReLU) trained to convergence on
/// `train_codes` (`[N, F]`) and `train_labels` (`[N]`, int64 in `0..classes`), scored on
/// `test_codes`/`test_labels`.
///
/// Features are standardized with the training codes' mean and standard deviation, so that
/// information in units of small scale is as visible as in large ones. Every tenth training
/// code (`HOLD_OUT_EVERY`) is held out; the probe trains on the others with mini-batch Adam
/// (batches shuffled by `seed`, which leaves libtorch's random state alone) until the
/// held-out accuracy has not improved for 5 epochs (`PATIENCE`; at most 100,
/// `MAX_EPOCHS`), and the weights of its best held-out epoch are scored. Its initial
/// weights draw from libtorch's random state.
pub fn mlp_probe_accuracy(
    train_codes: &Tensor,
    train_labels: &Tensor,
    test_codes: &Tensor,
    test_labels: &Tensor,
    classes: i64,
    seed: u64,
) -> Result<f64, EvalError> {
    check_codes(train_codes, train_labels, test_codes, test_labels)?;
    let (train_x, test_x) = standardized(train_codes, test_codes);
    let device = train_x.device();
    let n = train_x.size()[0];
    if n < 2 * HOLD_OUT_EVERY {
        return Err(EvalError::invalid(
            "train_codes",
            n,
            format!("the MLP probe needs at least {} codes", 2 * HOLD_OUT_EVERY),
        ));
    }
    let index = Tensor::arange(n, (Kind::Int64, device));
    let held = index.remainder(HOLD_OUT_EVERY).eq(0);
    let (held_idx, fit_idx) = (
        index.masked_select(&held),
        index.masked_select(&held.logical_not()),
    );
    let train_y = train_labels.to_kind(Kind::Int64);
    let (held_x, held_y) = (
        train_x.index_select(0, &held_idx),
        train_y.index_select(0, &held_idx),
    );
    let (fit_x, fit_y) = (
        train_x.index_select(0, &fit_idx),
        train_y.index_select(0, &fit_idx),
    );
    let features = train_x.size()[1];
    let mut vs = VarStore::new(device);
    let mlp = MlpConfig::with_hidden(&MLP_PROBE_HIDDEN).build(
        &(vs.root() / "probe"),
        features,
        classes,
    )?;
    let mut best_vs = VarStore::new(device);
    MlpConfig::with_hidden(&MLP_PROBE_HIDDEN).build(
        &(best_vs.root() / "probe"),
        features,
        classes,
    )?;
    tch::no_grad(|| best_vs.copy(&vs))?;
    let mut optimizer = nn::Adam::default().build(&vs, MLP_LR)?;
    let fit_n = fit_x.size()[0] as usize;
    let (mut best, mut since_best) = (accuracy(&mlp, &held_x, &held_y), 0);
    for epoch in 0..MAX_EPOCHS {
        let order = Tensor::from_slice(&permutation(
            fit_n,
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
        .to_device(device);
        for start in (0..fit_n).step_by(MLP_BATCH) {
            let rows = order.narrow(0, start as i64, MLP_BATCH.min(fit_n - start) as i64);
            let loss = mlp
                .forward(&fit_x.index_select(0, &rows))
                .f_log_softmax(-1, Kind::Float)?
                .f_nll_loss(
                    &fit_y.index_select(0, &rows),
                    None::<Tensor>,
                    tch::Reduction::Mean,
                    -100,
                )?;
            optimizer.backward_step(&loss);
        }
        let held_accuracy = accuracy(&mlp, &held_x, &held_y);
        if held_accuracy > best {
            (best, since_best) = (held_accuracy, 0);
            tch::no_grad(|| best_vs.copy(&vs))?;
        } else {
            since_best += 1;
            if since_best >= PATIENCE {
                break;
            }
        }
    }
    tch::no_grad(|| vs.copy(&best_vs))?;
    Ok(accuracy(&mlp, &test_x, test_labels))
}

/// Checks that the codes are `[N, F]` with one label each and the same F.
fn check_codes(
    train_codes: &Tensor,
    train_labels: &Tensor,
    test_codes: &Tensor,
    test_labels: &Tensor,
) -> Result<(), EvalError> {
    let features = train_codes.size().get(1).copied().unwrap_or(0);
    if train_codes.dim() != 2 || test_codes.dim() != 2 || test_codes.size()[1] != features {
        return Err(EvalError::invalid(
            "codes",
            format!("{:?} and {:?}", train_codes.size(), test_codes.size()),
            "train and test codes must be [N, F] with the same F",
        ));
    }
    for (name, codes, labels) in [
        ("train_labels", train_codes, train_labels),
        ("test_labels", test_codes, test_labels),
    ] {
        if labels.size() != [codes.size()[0]] || codes.size()[0] == 0 {
            return Err(EvalError::invalid(
                name,
                format!("{:?}", labels.size()),
                "needs one label per code and at least one code",
            ));
        }
    }
    Ok(())
}

/// The train and test codes (`[N, F]`, `[M, F]`) standardized with the training codes' mean
/// and standard deviation, as detached floats.
fn standardized(train_codes: &Tensor, test_codes: &Tensor) -> (Tensor, Tensor) {
    let train_codes = train_codes.detach().to_kind(Kind::Float);
    let mean = train_codes.mean_dim(0, true, Kind::Float);
    let std = train_codes.std_dim(0, false, true).clamp_min(1e-6);
    let standardize = |codes: &Tensor| (codes.detach().to_kind(Kind::Float) - &mean) / &std;
    (standardize(&train_codes), standardize(test_codes))
}

/// The fraction of `codes` (`[N, F]`) whose argmax under `classifier` is their `labels` (`[N]`).
fn accuracy(classifier: &impl Module, codes: &Tensor, labels: &Tensor) -> f64 {
    let predicted = tch::no_grad(|| classifier.forward(codes).argmax(1, false));
    predicted
        .eq_tensor(&labels.to_kind(Kind::Int64))
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[])
}

/// The fraction of `labels` that belong to the most frequent class: the accuracy of always
/// guessing it.
pub fn majority_rate(labels: &[usize]) -> Result<f64, EvalError> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut counts = vec![0usize; classes];
    for &label in labels {
        counts[label] += 1;
    }
    let most = counts
        .into_iter()
        .max()
        .ok_or_else(|| EvalError::invalid("labels", "[]", "needs at least one label"))?;
    Ok(most as f64 / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn blobs(n: i64, separated: bool) -> (Tensor, Tensor) {
        let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3);
        let noise = Tensor::randn([n, 4], (Kind::Float, Device::Cpu));
        let shift = if separated { 5.0 } else { 0.0 };
        let codes = noise + labels.to_kind(Kind::Float).unsqueeze(1) * shift;
        (codes, labels)
    }

    #[test]
    fn finds_a_linear_label_and_nothing_in_noise() {
        tch::manual_seed(0);
        let (train_x, train_y) = blobs(300, true);
        let (test_x, test_y) = blobs(150, true);
        let accuracy = linear_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 3).unwrap();
        assert!(accuracy > 0.95, "{accuracy}");
        let (train_x, train_y) = blobs(300, false);
        let (test_x, test_y) = blobs(3000, false);
        let accuracy = linear_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 3).unwrap();
        assert!(accuracy < 0.4, "{accuracy}");
    }

    /// Two classes by the radius of a 2-D Gaussian code (`|x| > 1.18`, about half each): no
    /// linear read-out finds them, an MLP does.
    fn rings(n: i64) -> (Tensor, Tensor) {
        let codes = Tensor::randn([n, 2], (Kind::Float, Device::Cpu));
        let labels = codes
            .square()
            .sum_dim_intlist(1, false, Kind::Float)
            .gt(1.386)
            .to_kind(Kind::Int64);
        (codes, labels)
    }

    #[test]
    fn the_mlp_probe_finds_a_nonlinear_label_and_nothing_in_noise() {
        tch::manual_seed(3);
        let (train_x, train_y) = rings(1000);
        let (test_x, test_y) = rings(500);
        let linear = linear_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 2).unwrap();
        let mlp = mlp_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 2, 1).unwrap();
        assert!(linear < 0.65 && mlp > 0.93, "linear {linear}, mlp {mlp}");
        let (train_x, train_y) = blobs(300, true);
        let (test_x, test_y) = blobs(150, true);
        let mlp = mlp_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 3, 1).unwrap();
        assert!(mlp > 0.95, "{mlp}");
        // Label-free codes: at chance (1/3) up to the noise of 3000 test codes.
        let (train_x, train_y) = blobs(300, false);
        let (test_x, test_y) = blobs(3000, false);
        let mlp = mlp_probe_accuracy(&train_x, &train_y, &test_x, &test_y, 3, 1).unwrap();
        assert!((mlp - 1.0 / 3.0).abs() < 0.05, "{mlp}");
        let few = mlp_probe_accuracy(
            &test_x.narrow(0, 0, 5),
            &test_y.narrow(0, 0, 5),
            &test_x,
            &test_y,
            3,
            1,
        );
        assert!(few.unwrap_err().to_string().contains("at least"));
    }

    #[test]
    fn rejects_mismatched_shapes_and_counts_the_majority() {
        let codes = Tensor::zeros([4, 2], (Kind::Float, Device::Cpu));
        let labels = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        assert!(linear_probe_accuracy(&codes, &labels, &codes, &labels, 2).is_err());
        assert_eq!(majority_rate(&[1, 1, 0, 2]).unwrap(), 0.5);
        assert!(majority_rate(&[]).is_err());
    }
}
