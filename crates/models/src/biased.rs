//! The biased autoencoder: codes pushed toward chosen kinds by the objective alone.
//!
//! - [`Mode::Softmax`]: a 12-way choice (`ClusterChoiceConfig`: straight-through one-hot
//!   choices in training, the argmax in evaluation) next to a few free units, with a usage
//!   prior (`UsagePriorConfig`) whose target ([`usage_target`]) is 2 common units at 0.4 each
//!   and 10 rare units at 0.02 each. The prior reads the one-hot choices, so it counts how
//!   often each unit is chosen (with the softmax's gradients). On the soft probabilities it
//!   was met by giving every image a little of each rare unit while never choosing them;
//!   with noise on the logits, by rare units that win only through the noise. Measured usage
//!   is the fraction of evaluation images whose argmax is each unit.
//! - [`Mode::SparseBits`]: 64 logistic units with discretization noise (`BinarizeConfig`) and
//!   a sparsity prior (`SparsityPriorConfig`) with a target firing rate of
//!   [`FIRING_RATE`] on the clean firing probabilities (the sigmoid of the logits), or, with
//!   straight-through bits, on the bits themselves. The measured rate is that of the
//!   thresholded evaluation bits.
//!
//! [`BiasedConfig::autoencoder`] builds the pipeline, [`score_bias`] measures how close the
//! code came to its target, and [`save_usage_picture`] shows the images each unit took.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft_codes::usage::usage_kl;
use aecraft_codes::{
    BinarizeConfig, ChoiceNoise, ClusterChoiceConfig, CodeLayout, GroupSpec, LinearSchedule,
    SparsityPriorConfig, TransformConfig, UsagePriorConfig,
};
use aecraft_data::ImageDataset;
use aecraft_generators::{GeneratorConfig, MlpGeneratorConfig};
use aecraft_tensor::MlpConfig;

use aecraft_train::encode::encode_dataset;
use aecraft_train::pictures::{save_labelled_image_grid, GridLabels};
use aecraft_train::{Autoencoder, AutoencoderConfig, RunConfig, TrainConfig, TrainError};

/// Common units of the softmax and their target usage.
const COMMON: (usize, f64) = (2, 0.4);
/// Rare units of the softmax and their target usage.
const RARE: (usize, f64) = (10, 0.02);
/// Bits of the sparse code.
const BITS: i64 = 64;
/// The sparse code's target firing rate.
pub const FIRING_RATE: f64 = 0.1;

/// The kind of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A 12-way softmax with 2 common and 10 rare units.
    Softmax,
    /// 64 bits with a target firing rate of 0.1.
    SparseBits,
}

impl Mode {
    /// The code group [`score_bias`] reads: the one-hot choices or the bits.
    pub fn group(self) -> &'static str {
        match self {
            Self::Softmax => "cluster",
            Self::SparseBits => "bits",
        }
    }
}

/// 2 common units at 0.4, then 10 rare units at 0.02.
pub fn usage_target() -> Vec<f64> {
    let mut target = vec![COMMON.1; COMMON.0];
    target.extend(std::iter::repeat_n(RARE.1, RARE.0));
    target
}

/// The knobs of a biased autoencoder.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasedConfig {
    /// The kind of code.
    pub mode: Mode,
    /// Hidden widths of the encoder (mirrored in the generator).
    pub hidden: Vec<i64>,
    /// Free continuous units next to the softmax (softmax mode; 0 for none).
    pub free: i64,
    /// Weight of the usage prior (default 300) or of the sparsity prior (default 1000).
    pub prior_weight: Option<f64>,
    /// Standard deviation of the noise on the logits in training (default 0 for the
    /// softmax, whose straight-through choices are already discrete; 3 for sparse bits).
    pub noise: Option<f64>,
    /// Sparse bits: straight-through bits (the thresholded noisy logits, with the
    /// sigmoid's gradients) that the sparsity prior reads, instead of the prior on the clean
    /// firing probabilities.
    pub straight_through: bool,
}

impl BiasedConfig {
    /// The pipeline, validated; for MNIST-sized images (784 pixels: set `input` for
    /// others).
    pub fn autoencoder(&self) -> Result<AutoencoderConfig, TrainError> {
        let (code, transforms, inputs) = match self.mode {
            Mode::Softmax => self.softmax(),
            Mode::SparseBits => self.sparse_bits(),
        };
        let model = AutoencoderConfig {
            input: 784,
            encoder: MlpConfig::with_hidden(&self.hidden).into(),
            encoder_label: None,
            code: CodeLayout(code),
            transforms,
            generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&self.hidden, inputs)),
        };
        model.validate()?;
        Ok(model)
    }

    fn softmax(&self) -> (Vec<GroupSpec>, Vec<TransformConfig>, Vec<String>) {
        let group = Mode::Softmax.group();
        let mut code = vec![GroupSpec::new(group, (COMMON.0 + RARE.0) as i64)];
        let mut inputs = vec![group.to_owned()];
        if self.free > 0 {
            code.push(GroupSpec::new("free", self.free));
            inputs.push("free".into());
        }
        let transforms = vec![
            TransformConfig::ClusterChoice(ClusterChoiceConfig {
                noise: ChoiceNoise::Gaussian,
                noise_scale: self.noise.unwrap_or(0.0),
                straight_through: true,
                ..Default::default()
            }),
            TransformConfig::UsagePrior(UsagePriorConfig {
                input: group.into(),
                target: usage_target(),
                weight: self.prior_weight.unwrap_or(300.0),
                name: "usage".into(),
            }),
        ];
        (code, transforms, inputs)
    }

    fn sparse_bits(&self) -> (Vec<GroupSpec>, Vec<TransformConfig>, Vec<String>) {
        let bits = Mode::SparseBits.group();
        let transforms = vec![
            TransformConfig::Binarize(BinarizeConfig {
                input: "logits".into(),
                output: bits.into(),
                noise_std: LinearSchedule::constant(self.noise.unwrap_or(3.0)),
                straight_through: self.straight_through,
            }),
            TransformConfig::SparsityPrior(SparsityPriorConfig {
                input: if self.straight_through {
                    bits.into()
                } else {
                    format!("{bits}_logits")
                },
                logits: !self.straight_through,
                target: FIRING_RATE,
                weight: self.prior_weight.unwrap_or(1000.0),
                name: "sparsity".into(),
            }),
        ];
        (
            vec![GroupSpec::new("logits", BITS)],
            transforms,
            vec![bits.to_owned()],
        )
    }
}

/// What a biased run's `config.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiasedRun {
    /// The kind of code.
    pub mode: Mode,
    /// The pipeline ([`BiasedConfig::autoencoder`]).
    pub model: AutoencoderConfig,
    /// The training settings.
    pub train: TrainConfig,
}

impl RunConfig for BiasedRun {
    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }
}

/// How close the code came to its target; the field names are the metric names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BiasScores {
    /// The softmax's usage.
    Usage {
        /// [`usage_target`].
        usage_target: Vec<f64>,
        /// The fraction of evaluation images whose argmax is each unit.
        usage_measured: Vec<f64>,
        /// KL divergence of the target from the measured usage (see `usage_kl`).
        usage_kl: f64,
    },
    /// The sparse bits' firing rate.
    Firing {
        /// [`FIRING_RATE`].
        firing_rate_target: f64,
        /// The mean of the evaluation bits.
        firing_rate_measured: f64,
    },
}

/// Measures `net`'s code of `eval` against `mode`'s target; also returns the code
/// ([`Mode::group`], `[N, K]`: one-hot choices or 0/1 bits).
pub fn score_bias(
    net: &Autoencoder,
    mode: Mode,
    eval: &ImageDataset,
) -> Result<(BiasScores, Tensor), TrainError> {
    let code = encode_dataset(net, eval, mode.group())?;
    let scores = match mode {
        Mode::Softmax => {
            let measured = code.mean_dim(0, false, Kind::Double);
            let target = Tensor::from_slice(&usage_target()).to_device(measured.device());
            BiasScores::Usage {
                usage_target: usage_target(),
                usage_measured: Vec::<f64>::try_from(&measured)?,
                usage_kl: usage_kl(&measured, &target).double_value(&[]),
            }
        }
        Mode::SparseBits => BiasScores::Firing {
            firing_rate_target: FIRING_RATE,
            firing_rate_measured: code.mean(Kind::Double).double_value(&[]),
        },
    };
    Ok((scores, code))
}

/// Saves at `path` one row per unit of `choices` (`[N, K]`, the codes of `data`): the first
/// `per_unit` images of `data` whose argmax is that unit, blank cells where a unit has fewer,
/// labelled with the unit and how many images took it.
pub fn save_usage_picture(
    path: &Path,
    data: &ImageDataset,
    choices: &Tensor,
    per_unit: i64,
) -> Result<(), TrainError> {
    let units = choices.size()[1];
    let assigned = choices.argmax(1, false);
    let blank = data.images().get(0).zeros_like();
    let mut cells = Vec::new();
    let mut row_labels = Vec::with_capacity(units as usize);
    for unit in 0..units {
        let members = assigned.eq(unit).nonzero().view([-1]);
        let shown = members.size()[0].min(per_unit);
        row_labels.push(format!("unit {unit} ({} images)", members.size()[0]));
        for i in 0..per_unit {
            cells.push(if i < shown {
                data.images().get(members.int64_value(&[i]))
            } else {
                blank.shallow_clone()
            });
        }
    }
    save_labelled_image_grid(
        path,
        &Tensor::f_stack(&cells, 0)?.to_device(Device::Cpu),
        (data.height(), data.width()),
        per_unit as usize,
        2,
        &GridLabels {
            title: "The images each code unit took",
            columns_label: "the first images whose largest unit it is",
            columns: &[],
            rows: &row_labels,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_train::AutoencoderModel;

    fn config(mode: Mode) -> BiasedConfig {
        BiasedConfig {
            mode,
            hidden: vec![16],
            free: 2,
            prior_weight: None,
            noise: None,
            straight_through: false,
        }
    }

    fn model(mode: Mode) -> AutoencoderModel {
        let mut model = config(mode).autoencoder().unwrap();
        model.input = 16;
        AutoencoderModel::new(&model, Device::Cpu).unwrap()
    }

    fn data(n: i64) -> ImageDataset {
        ImageDataset::new(
            Tensor::rand([n, 16], (Kind::Float, Device::Cpu)),
            None,
            4,
            4,
        )
        .unwrap()
    }

    #[test]
    fn the_usage_target_is_a_distribution() {
        let target = usage_target();
        assert_eq!(target.len(), 12);
        assert!((target.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_softmax_scores_usage_and_draws_its_units() {
        tch::manual_seed(0);
        let model = model(Mode::Softmax);
        let data = data(40);
        let (scores, choices) = score_bias(model.net(), Mode::Softmax, &data).unwrap();
        assert_eq!(choices.size(), [40, 12]);
        let BiasScores::Usage {
            usage_measured,
            usage_kl,
            ..
        } = &scores
        else {
            panic!("{scores:?}")
        };
        assert!((usage_measured.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(usage_kl.is_finite());
        let json = serde_json::to_value(&scores).unwrap();
        assert!(json.get("usage_target").is_some(), "{json}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.png");
        save_usage_picture(&path, &data, &choices, 3).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn sparse_bits_score_their_firing_rate_with_either_prior() {
        tch::manual_seed(1);
        let (scores, bits) =
            score_bias(model(Mode::SparseBits).net(), Mode::SparseBits, &data(10)).unwrap();
        assert_eq!(bits.size(), [10, 64]);
        let json = serde_json::to_value(&scores).unwrap();
        assert_eq!(json["firing_rate_target"], FIRING_RATE);
        let rate = json["firing_rate_measured"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate));
        let straight = BiasedConfig {
            straight_through: true,
            ..config(Mode::SparseBits)
        };
        let model = straight.autoencoder().unwrap();
        let TransformConfig::SparsityPrior(prior) = &model.transforms[1] else {
            panic!("{model:?}")
        };
        assert_eq!((prior.input.as_str(), prior.logits), ("bits", false));
    }
}
