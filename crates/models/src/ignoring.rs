//! The ignoring autoencoder: a code that leaves out a label (the digit class), compared with
//! a plain autoencoder of the same code size trained in the same run.
//!
//! [`Method`]s: `decoder-input` gives the generator the one-hot label next to the code
//! (`LabelInputConfig`), so the code need not carry it; `adversary` trains a classifier on
//! the code that the encoder must defeat (`AdversaryConfig`; by default the encoder pushes
//! the adversary's prediction toward uniform, see `EncoderObjective`); `both` does both. A
//! `ClassMeansConfig` penalty pulls every class's mean code together (on everything the
//! encoder emits for the code: a Gaussian code's means and log-variances), a fixed function
//! of the batch that steadies what the adversary alone does unevenly. The encoder reads the
//! image only; with [`IgnoringConfig::conditional_encoder`] it reads the one-hot label too
//! (as in a conditional VAE or the variational fair autoencoder), which makes leaving the
//! class out far easier but needs the label to encode. With [`IgnoringConfig::label_guess`]
//! it reads its own guess of the label instead (a classifier on the image, trained on the
//! labels, `EncoderGuessConfig`): the conditional encoder's ease with only the image to
//! encode. The guess's logits are a code group of their own that the generator, the
//! penalties and the probes do not read.
//!
//! After training ([`train_ignoring`]), [`score_ignoring`] fits fresh probes on the training
//! codes and scores them on the evaluation codes: a linear one on both models' codes, and
//! the judge, an MLP trained to convergence on everything the ignoring model's encoder emits
//! for the code ([`aecraft_train::probe::posthoc_probe_accuracy`]); [`save_label_swap`] draws each
//! digit regenerated from its code with every label.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    one_hot_labels, AdversaryConfig, ClassMeansConfig, ClassMmdConfig, GaussianSamplerConfig,
    GroupSpec, LabelGuessConfig, LabelInputConfig, TransformConfig, LABEL_SIDE,
};
use aecraft_data::ImageDataset;
use aecraft_eval::probe::majority_rate;
use aecraft_generators::{GeneratorConfig, MlpGeneratorConfig};

use aecraft_train::autoencoder::side_inputs;
use aecraft_train::pictures::{save_labelled_image_grid, GridLabels};
use aecraft_train::probe::{code_probe_accuracy, posthoc_probe_accuracy};
use aecraft_train::run_folder::holds_run;
use aecraft_train::{
    evaluate, Autoencoder, AutoencoderConfig, AutoencoderModel, EncoderGuessConfig,
    EncoderLabelConfig, Evaluation, Run, RunConfig, RunSpec, TrainConfig, TrainError, TrainReport,
};

/// The sub-folder of a run that holds the plain autoencoder's run.
pub const PLAIN_DIR: &str = "plain";

/// The group of a Gaussian code's means and log-variances, as the encoder emits it.
const GAUSS_GROUP: &str = "gauss";

/// The code group the encoder of `model` emits for the code (its layout's only group besides
/// a guessed label's logits: `gauss` for a Gaussian code, `z` otherwise), what the
/// class-means penalty and the post-hoc probe read.
pub fn code_input(model: &AutoencoderConfig) -> Result<String, TrainError> {
    let guess = model
        .encoder_label
        .as_ref()
        .and_then(|label| label.guess.as_ref())
        .map(|guess| guess.group.as_str());
    let groups: Vec<_> = model
        .code
        .0
        .iter()
        .filter(|group| Some(group.name.as_str()) != guess)
        .collect();
    match groups.as_slice() {
        [group] => Ok(group.name.clone()),
        groups => Err(TrainError::invalid(
            "ignoring.model.code",
            groups.len(),
            "an ignoring model's encoder emits one code group",
        )),
    }
}

/// How the code is made to ignore the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The generator also receives the one-hot label.
    DecoderInput,
    /// An adversary on the code must fail to recover the label.
    Adversary,
    /// Both.
    Both,
}

impl Method {
    /// Whether the generator reads the label.
    pub fn decoder_input(self) -> bool {
        matches!(self, Self::DecoderInput | Self::Both)
    }

    /// Whether an adversary reads the code.
    pub fn adversary(self) -> bool {
        matches!(self, Self::Adversary | Self::Both)
    }
}

/// What the adversary reads of a Gaussian code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum AdversaryInput {
    /// The sampled code `z` (in evaluation, its mean).
    Sample,
    /// The mean `z_mean`, which the probe reads.
    Mean,
    /// Both, side by side.
    Both,
    /// The encoder's means and log-variances (the group `gauss`), what the post-hoc probe
    /// reads.
    Moments,
}

impl AdversaryInput {
    /// The code groups it names; a deterministic code has only `z`.
    pub fn groups(self, variational: bool) -> Vec<String> {
        let groups: &[&str] = match (variational, self) {
            (false, _) | (true, Self::Sample) => &["z"],
            (true, Self::Mean) => &["z_mean"],
            (true, Self::Both) => &["z", "z_mean"],
            (true, Self::Moments) => &[GAUSS_GROUP],
        };
        groups.iter().map(|g| (*g).to_owned()).collect()
    }
}

/// The knobs of an ignoring autoencoder; [`IgnoringConfig::models`] turns them into
/// pipelines.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoringConfig {
    /// How the code ignores the label.
    pub method: Method,
    /// Pixels per image.
    pub input: i64,
    /// Classes of the label.
    pub classes: i64,
    /// Code units.
    pub code_size: i64,
    /// Hidden widths of the encoder (mirrored in the generator).
    pub hidden: Vec<i64>,
    /// A Gaussian code (a conditional VAE when the generator also gets the label), whose
    /// mean `z_mean` the probe and the class-means penalty read.
    pub variational: bool,
    /// Weight of the Gaussian code's KL term.
    pub kl_weight: f64,
    /// Whether the encoder reads the one-hot label next to the image (a conditional
    /// encoder); the headline encoder is label-blind.
    pub conditional_encoder: bool,
    /// Whether the encoder guesses the label from the image and reads its guess in place of
    /// the label (`EncoderGuessConfig`, trained by a `label_guess` cross-entropy): a
    /// conditional encoder that needs only the image.
    pub label_guess: bool,
    /// Weight of the class-means penalty on everything the encoder emits for the code (for a
    /// Gaussian code, its means and log-variances); 0 leaves it out.
    pub class_means_weight: f64,
    /// Weight of the class-MMD penalty (each class's code distribution against the batch's,
    /// Gaussian kernels) on the same groups as the class-means penalty; 0 leaves it out.
    pub class_mmd_weight: f64,
    /// The adversary (with the methods that have one); its `inputs` are set from
    /// `adversary_input` and its classes from `classes`.
    pub adversary: AdversaryConfig,
    /// What the adversary reads of a Gaussian code.
    pub adversary_input: AdversaryInput,
}

impl IgnoringConfig {
    /// The knobs that build `run` (the inverse of [`IgnoringConfig::models`]), so that a
    /// shipped config can be changed knob by knob and rebuilt with [`IgnoringRun::new`].
    pub fn of_run(run: &IgnoringRun) -> Self {
        let model = &run.model;
        let (mut gaussian, mut adversary) = (None, None);
        let (mut class_means_weight, mut class_mmd_weight) = (0.0, 0.0);
        let mut classes = model.encoder_label.as_ref().map(|label| label.classes);
        for transform in &model.transforms {
            match transform {
                TransformConfig::Gaussian(config) => gaussian = Some(config),
                TransformConfig::Adversary(config) => {
                    classes = Some(config.classes);
                    adversary = Some(config.clone());
                }
                TransformConfig::ClassMeans(config) => class_means_weight = config.weight,
                TransformConfig::ClassMmd(config) => class_mmd_weight = config.weight,
                TransformConfig::LabelInput(config) => classes = Some(config.classes),
                _ => {}
            }
        }
        let adversary_input = match adversary.as_ref().map(|a| a.inputs.as_slice()) {
            Some([mean]) if mean == "z_mean" => AdversaryInput::Mean,
            Some([moments]) if moments == GAUSS_GROUP => AdversaryInput::Moments,
            Some([_, _]) => AdversaryInput::Both,
            _ => AdversaryInput::Sample,
        };
        Self {
            method: run.method,
            input: model.input,
            classes: classes.unwrap_or(AdversaryConfig::default().classes),
            code_size: run.plain.code.total_width(),
            hidden: model.encoder.hidden.clone(),
            variational: gaussian.is_some(),
            kl_weight: gaussian.map_or(1.0, |gaussian: &GaussianSamplerConfig| gaussian.kl_weight),
            conditional_encoder: model
                .encoder_label
                .as_ref()
                .is_some_and(|label| label.guess.is_none()),
            label_guess: model
                .encoder_label
                .as_ref()
                .is_some_and(|label| label.guess.is_some()),
            class_means_weight,
            class_mmd_weight,
            adversary: adversary.unwrap_or_default(),
            adversary_input,
        }
    }

    /// The ignoring pipeline and the plain autoencoder it is compared with (same code size
    /// and networks, no label anywhere), both validated.
    pub fn models(&self) -> Result<(AutoencoderConfig, AutoencoderConfig), TrainError> {
        if self.code_size <= 0 {
            return Err(TrainError::invalid(
                "code_size",
                self.code_size,
                "the code needs at least one unit",
            ));
        }
        let mut plain = AutoencoderConfig::plain(&self.hidden, self.code_size);
        plain.input = self.input;
        let mut model = if self.variational {
            let mut vae = AutoencoderConfig::vae(&self.hidden, self.code_size);
            vae.input = self.input;
            vae.transforms = vec![TransformConfig::Gaussian(GaussianSamplerConfig {
                kl_weight: self.kl_weight,
                ..Default::default()
            })];
            vae
        } else {
            plain.clone()
        };
        if self.conditional_encoder && self.label_guess {
            return Err(TrainError::invalid(
                "label_guess",
                true,
                "an encoder reads either the label (conditional_encoder) or its own guess of it",
            ));
        }
        if self.conditional_encoder || self.label_guess {
            model.encoder_label = Some(EncoderLabelConfig {
                classes: self.classes,
                guess: self.label_guess.then(EncoderGuessConfig::default),
                ..Default::default()
            });
        }
        if self.label_guess {
            let guess = LabelGuessConfig::default();
            model
                .code
                .0
                .push(GroupSpec::new(&guess.input, self.classes));
            model.transforms.push(TransformConfig::LabelGuess(guess));
        }
        let mut generator_inputs = vec!["z".to_owned()];
        if self.method.decoder_input() {
            model
                .transforms
                .push(TransformConfig::LabelInput(LabelInputConfig {
                    classes: self.classes,
                    ..Default::default()
                }));
            generator_inputs.push(LABEL_SIDE.into());
        }
        if self.method.adversary() {
            model
                .transforms
                .push(TransformConfig::Adversary(AdversaryConfig {
                    inputs: self.adversary_input.groups(self.variational),
                    classes: self.classes,
                    ..self.adversary.clone()
                }));
        }
        if self.class_means_weight != 0.0 {
            model
                .transforms
                .push(TransformConfig::ClassMeans(ClassMeansConfig {
                    input: code_input(&model)?,
                    classes: self.classes,
                    weight: self.class_means_weight,
                    ..Default::default()
                }));
        }
        if self.class_mmd_weight != 0.0 {
            model
                .transforms
                .push(TransformConfig::ClassMmd(ClassMmdConfig {
                    input: code_input(&model)?,
                    classes: self.classes,
                    weight: self.class_mmd_weight,
                    ..Default::default()
                }));
        }
        model.generator = GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(
            &self.hidden,
            generator_inputs,
        ));
        model.validate()?;
        plain.validate()?;
        Ok((model, plain))
    }
}

/// What an ignoring run's `config.json` holds; the plain autoencoder's run, in
/// [`PLAIN_DIR`], holds its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoringRun {
    /// How the code ignores the label.
    pub method: Method,
    /// The ignoring pipeline.
    pub model: AutoencoderConfig,
    /// The plain autoencoder.
    pub plain: AutoencoderConfig,
    /// The training settings, shared by both.
    pub train: TrainConfig,
}

impl IgnoringRun {
    /// The run of `config`'s two pipelines with `train`.
    pub fn new(config: &IgnoringConfig, train: TrainConfig) -> Result<Self, TrainError> {
        let (model, plain) = config.models()?;
        Ok(Self {
            method: config.method,
            model,
            plain,
            train,
        })
    }
}

impl RunConfig for IgnoringRun {
    fn train(&self) -> &TrainConfig {
        &self.train
    }

    fn train_mut(&mut self) -> &mut TrainConfig {
        &mut self.train
    }
}

/// The two trained models of an ignoring run.
#[derive(Debug)]
pub struct IgnoringOutcome {
    /// The ignoring model.
    pub model: AutoencoderModel,
    /// Its training report.
    pub report: TrainReport,
    /// The plain autoencoder.
    pub plain: AutoencoderModel,
    /// Its training report.
    pub plain_report: TrainReport,
}

/// Trains the ignoring model in `run` and the plain autoencoder in its sub-run
/// [`PLAIN_DIR`] (created or resumed with it, to the same epochs; created when a resumed run
/// was stopped before it), scoring `eval` after every epoch.
pub fn train_ignoring(
    run: &Run<IgnoringRun>,
    train: &ImageDataset,
    eval: Option<Evaluation<'_>>,
) -> Result<IgnoringOutcome, TrainError> {
    let config = run.config();
    let device = train.images().device();
    let mut model = AutoencoderModel::new(&config.model, device)?;
    eprintln!(
        "training an ignoring autoencoder ({:?}) on {} images for {} epochs on {device:?}",
        config.method,
        train.len(),
        config.train.epochs
    );
    let report = run.train(&mut model, train, eval)?;
    eprintln!("training the plain autoencoder with the same code size and budget");
    let plain_run = if run.is_resumed() && holds_run(&run.path(PLAIN_DIR)) {
        Run::resume(run.path(PLAIN_DIR), Some(config.train.epochs))?
    } else {
        Run::create(
            run.path(PLAIN_DIR),
            RunSpec {
                model: config.plain.clone(),
                train: config.train.clone(),
            },
        )?
    };
    let mut plain = AutoencoderModel::new(&plain_run.config().model, device)?;
    let plain_report = plain_run.train(&mut plain, train, eval)?;
    Ok(IgnoringOutcome {
        model,
        report,
        plain,
        plain_report,
    })
}

/// What [`score_ignoring`] measures; the field names are the metric names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IgnoringScores {
    /// The held-out accuracy of an MLP probe trained to convergence on everything the
    /// ignoring model's encoder emits for the code (a Gaussian code's means and
    /// log-variances): the judge of whether the code hides the label.
    pub posthoc_probe_accuracy: f64,
    /// The linear probe's held-out accuracy on the ignoring model's code (a Gaussian code's
    /// mean).
    pub probe_accuracy: f64,
    /// The probe's held-out accuracy on the plain autoencoder's code.
    pub plain_probe_accuracy: f64,
    /// The accuracy of always guessing the most frequent held-out label.
    pub chance_accuracy: f64,
    /// The ignoring model's held-out reconstruction loss.
    pub test_reconstruction_bce: f64,
    /// The plain autoencoder's held-out reconstruction loss.
    pub plain_test_reconstruction_bce: f64,
    /// The adversary's held-out accuracy, with the methods that have one.
    pub adversary_accuracy: Option<f64>,
    /// The held-out accuracy of the encoder's own guess of the label, when it guesses
    /// ([`IgnoringConfig::label_guess`]).
    pub label_guess_accuracy: Option<f64>,
}

/// Probes both models' codes for the label (`0..classes`; fitted on `train`, scored on
/// `eval`): linearly, and the ignoring model's with the post-hoc MLP probe too; evaluates
/// their losses on `eval` in batches of `batch_size`.
pub fn score_ignoring(
    run: &IgnoringRun,
    outcome: &IgnoringOutcome,
    (train, eval): (&ImageDataset, &ImageDataset),
    classes: i64,
    batch_size: usize,
) -> Result<IgnoringScores, TrainError> {
    let probe = |model: &AutoencoderModel, config: &AutoencoderConfig| {
        code_probe_accuracy(model.net(), &config.code_group(), train, eval, classes)
    };
    // In this order: a Gaussian code samples in evaluation too and the probe's bias starts
    // at random, so each step draws from libtorch's random state.
    let probe_accuracy = probe(&outcome.model, &run.model)?;
    let plain_probe_accuracy = probe(&outcome.plain, &run.plain)?;
    let posthoc_probe_accuracy = posthoc_probe_accuracy(
        outcome.model.net(),
        &[code_input(&run.model)?],
        (train, eval),
        classes,
        run.train.seed,
    )?;
    let losses = evaluate(&outcome.model, eval, batch_size)?;
    Ok(IgnoringScores {
        posthoc_probe_accuracy,
        probe_accuracy,
        plain_probe_accuracy,
        chance_accuracy: majority_rate(&eval.label_vec("the chance rate")?)?,
        test_reconstruction_bce: losses["reconstruction"],
        plain_test_reconstruction_bce: evaluate(&outcome.plain, eval, batch_size)?
            ["reconstruction"],
        adversary_accuracy: losses.get("adversary_accuracy").copied(),
        label_guess_accuracy: losses.get("label_guess_accuracy").copied(),
    })
}

/// Saves at `path` the first `rows` images of `eval`, each followed by the images `net`
/// generates from its code with every label `0..classes` when `relabel` (the generator reads
/// the label), else by its reconstruction. The code is always that of the image with its own
/// label; only the label the generator reads changes.
pub fn save_label_swap(
    path: &Path,
    net: &Autoencoder,
    eval: &ImageDataset,
    rows: i64,
    classes: i64,
    relabel: bool,
) -> Result<(), TrainError> {
    let rows = rows.min(eval.len() as i64);
    let batch = eval.ordered_batches(rows as usize).next().ok_or_else(|| {
        TrainError::invalid("swap picture", 0, "needs at least one evaluation image")
    })?;
    let inputs = batch.images.shallow_clone();
    let regenerate = |label: Option<i64>| {
        tch::no_grad(|| -> Result<Tensor, TrainError> {
            let mut code = net.encode_with_side(&inputs, side_inputs(&batch), false)?;
            if let Some(label) = label {
                let labels = Tensor::full([rows], label, (Kind::Int64, inputs.device()));
                code.insert(LABEL_SIDE, one_hot_labels(&labels, classes, LABEL_SIDE)?);
            }
            Ok(net.to_pixels(&net.generate(&code, false)?))
        })
    };
    let mut columns = vec![inputs.shallow_clone()];
    if relabel {
        for label in 0..classes {
            columns.push(regenerate(Some(label))?);
        }
    } else {
        columns.push(regenerate(None)?);
    }
    let per_row = columns.len();
    let grid = Tensor::f_stack(&columns, 1)?.view([rows * per_row as i64, -1]);
    let column_labels: Vec<String> = match relabel {
        true => std::iter::once("input".to_string())
            .chain((0..classes).map(|label| label.to_string()))
            .collect(),
        false => vec!["input".into(), "redrawn".into()],
    };
    save_labelled_image_grid(
        path,
        &grid.to_device(Device::Cpu),
        (eval.height(), eval.width()),
        per_row,
        2,
        &GridLabels {
            title: "Each input's code, drawn with every label",
            columns_label: match relabel {
                true => "the label the generator reads",
                false => "the generator does not read the label",
            },
            columns: &column_labels,
            rows: &[],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_codes::EncoderObjective;
    use aecraft_tensor::MlpConfig;

    fn config(method: Method, variational: bool) -> IgnoringConfig {
        IgnoringConfig {
            method,
            input: 16,
            classes: 3,
            code_size: 4,
            hidden: vec![16],
            variational,
            kl_weight: 1.0,
            conditional_encoder: true,
            label_guess: false,
            class_means_weight: 10.0,
            class_mmd_weight: 0.0,
            adversary: AdversaryConfig {
                mlp: MlpConfig::with_hidden(&[8]),
                objective: EncoderObjective::Confusion,
                ..Default::default()
            },
            adversary_input: AdversaryInput::Sample,
        }
    }

    /// `n` 4×4 images of 3 noisy prototypes, labelled by prototype.
    fn data(n: i64) -> ImageDataset {
        aecraft_data::synthetic::noisy_prototypes(n, 3, (4, 4)).unwrap()
    }

    fn names(config: &AutoencoderConfig) -> Vec<&'static str> {
        config
            .transforms
            .iter()
            .map(|t| match t {
                TransformConfig::Gaussian(_) => "gaussian",
                TransformConfig::LabelInput(_) => "label",
                TransformConfig::Adversary(_) => "adversary",
                TransformConfig::ClassMeans(_) => "class_means",
                TransformConfig::ClassMmd(_) => "class_mmd",
                TransformConfig::LabelGuess(_) => "label_guess",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn a_run_rebuilt_from_its_knobs_is_the_same_run() {
        for method in [Method::Both, Method::Adversary, Method::DecoderInput] {
            for variational in [true, false] {
                for input in [
                    AdversaryInput::Sample,
                    AdversaryInput::Mean,
                    AdversaryInput::Both,
                    AdversaryInput::Moments,
                ] {
                    let mut knobs = config(method, variational);
                    knobs.adversary_input = input;
                    knobs.class_means_weight = if variational { 0.0 } else { 10.0 };
                    knobs.class_mmd_weight = if variational { 5.0 } else { 0.0 };
                    knobs.label_guess = !variational;
                    knobs.conditional_encoder = variational;
                    let run = IgnoringRun::new(&knobs, TrainConfig::default()).unwrap();
                    let again = IgnoringConfig::of_run(&run);
                    let rebuilt = IgnoringRun::new(&again, TrainConfig::default()).unwrap();
                    assert_eq!(rebuilt, run, "{method:?} {variational} {input:?}");
                }
            }
        }
    }

    #[test]
    fn each_method_adds_its_parts() {
        let (model, plain) = config(Method::Both, true).models().unwrap();
        assert_eq!(
            names(&model),
            ["gaussian", "label", "adversary", "class_means"]
        );
        assert!(plain.transforms.is_empty() && plain.encoder_label.is_none());
        assert_eq!(model.code_group(), "z_mean");
        let (model, _) = config(Method::Adversary, false).models().unwrap();
        assert_eq!(names(&model), ["adversary", "class_means"]);
        let (model, _) = config(Method::DecoderInput, false).models().unwrap();
        assert_eq!(names(&model), ["label", "class_means"]);
        let with_mmd = IgnoringConfig {
            class_mmd_weight: 5.0,
            ..config(Method::Both, false)
        };
        let (model, _) = with_mmd.models().unwrap();
        assert_eq!(
            names(&model),
            ["label", "adversary", "class_means", "class_mmd"]
        );
        assert_eq!(AdversaryInput::Both.groups(true), ["z", "z_mean"]);
        assert_eq!(AdversaryInput::Mean.groups(false), ["z"]);
        assert_eq!(AdversaryInput::Moments.groups(true), ["gauss"]);
        assert_eq!(AdversaryInput::Moments.groups(false), ["z"]);
        let bad = IgnoringConfig {
            code_size: 0,
            ..config(Method::Both, true)
        };
        assert!(bad.models().unwrap_err().to_string().contains("code_size"));
    }

    #[test]
    fn trains_both_models_scores_them_and_resumes_the_plain_one_too() {
        tch::manual_seed(0);
        let dir = tempfile::tempdir().unwrap();
        let (train, eval) = (data(96), data(30));
        let settings = TrainConfig {
            epochs: 1,
            batch_size: 32,
            ..Default::default()
        };
        let spec = IgnoringRun::new(&config(Method::Both, true), settings).unwrap();
        let run = Run::create(dir.path(), spec).unwrap();
        let outcome = train_ignoring(&run, &train, None).unwrap();
        assert_eq!(outcome.plain_report.state.epochs_done, 1);
        assert!(dir.path().join(PLAIN_DIR).join("log.jsonl").is_file());
        let scores = score_ignoring(run.config(), &outcome, (&train, &eval), 3, 16).unwrap();
        assert!((0.0..=1.0).contains(&scores.probe_accuracy), "{scores:?}");
        assert!(
            (0.0..=1.0).contains(&scores.posthoc_probe_accuracy),
            "{scores:?}"
        );
        assert!(scores.adversary_accuracy.is_some());
        assert!((scores.chance_accuracy - 10.0 / 30.0).abs() < 1e-9);
        let path = dir.path().join("swap.png");
        save_label_swap(&path, outcome.model.net(), &eval, 4, 3, true).unwrap();
        assert!(path.is_file());

        drop(run); // its lock; a folder is written by one run at a time
        let resumed: Run<IgnoringRun> = Run::resume(dir.path(), Some(2)).unwrap();
        let outcome = train_ignoring(&resumed, &train, None).unwrap();
        assert_eq!(outcome.report.epochs.len(), 1, "epoch 2 only");
        assert_eq!(outcome.plain_report.state.epochs_done, 2);
        assert_eq!(outcome.plain_report.epochs.len(), 1);
    }
}
