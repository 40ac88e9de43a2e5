//! A linear probe: how much of a label a code carries, measured by fitting a fresh
//! multinomial logistic regression on training codes and scoring it on held-out codes.

use tch::nn::{self, Module, OptimizerConfig, VarStore};
use tch::{Kind, Tensor};

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
    let train_codes = train_codes.detach().to_kind(Kind::Float);
    let mean = train_codes.mean_dim(0, true, Kind::Float);
    let std = train_codes.std_dim(0, false, true).clamp_min(1e-6);
    let standardize = |codes: &Tensor| (codes.detach().to_kind(Kind::Float) - &mean) / &std;
    let (train_x, test_x) = (standardize(&train_codes), standardize(test_codes));
    let vs = VarStore::new(train_x.device());
    let config = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        ..Default::default()
    };
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
    let predicted = tch::no_grad(|| linear.forward(&test_x).argmax(1, false));
    Ok(predicted
        .eq_tensor(&test_labels.to_kind(Kind::Int64))
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]))
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

    #[test]
    fn rejects_mismatched_shapes_and_counts_the_majority() {
        let codes = Tensor::zeros([4, 2], (Kind::Float, Device::Cpu));
        let labels = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        assert!(linear_probe_accuracy(&codes, &labels, &codes, &labels, 2).is_err());
        assert_eq!(majority_rate(&[1, 1, 0, 2]).unwrap(), 0.5);
        assert!(majority_rate(&[]).is_err());
    }
}
