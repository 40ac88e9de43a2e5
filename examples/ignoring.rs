//! The ignoring autoencoder: a code that leaves out the digit class.
//!
//! ```text
//! cargo run --release --example ignoring -- --out runs/ignoring --method both [--code-size 16]
//! ```
//!
//! Methods: `decoder-input` gives the generator the one-hot label next to the code
//! ([`LabelInputConfig`]), so the code need not carry it; `adversary` trains a classifier on
//! the code that the encoder must defeat ([`AdversaryConfig`]; by default the encoder
//! pushes the adversary's prediction toward uniform, see [`EncoderObjective`]); `both` does
//! both. By default the encoder also reads the one-hot label next to the image
//! (`--encoder-label true`, a conditional encoder as in a conditional VAE or the variational
//! fair autoencoder): knowing the class, it can leave out what the image says about it
//! instead of having to infer the class first; and a [`ClassMeansConfig`] penalty
//! (`--class-means-weight`, 0 leaves it out) pulls every class's mean code together, a fixed
//! function of the batch that steadies what the adversary alone did unevenly (see
//! `docs/toolbox.md` for the validation runs behind these defaults).
//!
//! After training, a fresh linear probe (multinomial logistic regression on standardized
//! codes) is fitted on the training codes to predict the label and scored on the test codes;
//! the same probe runs on a plain autoencoder with the same code size and training budget,
//! trained in the same run.
//!
//! Writes `metrics.json`, `swap.png` (rows: test digits; columns: the input, then the digit
//! regenerated from its code with labels 0–9; with `--method adversary`, whose generator
//! reads no label, the input and its reconstruction), `log.jsonl` and the checkpoint of the
//! ignoring model (the plain one goes to `plain/`) into `--out`.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs, RunSplits};
use aecraft::codes::{
    one_hot_labels, AdversaryConfig, ClassMeansConfig, EncoderObjective, GaussianSamplerConfig,
    LabelInputConfig, TransformConfig,
};
use aecraft::eval::probe::{linear_probe_accuracy, majority_rate};
use aecraft::generators::MlpGeneratorConfig;
use aecraft::prelude::*;
use aecraft::train::autoencoder::side_inputs;
use aecraft::train::pictures::save_image_grid;
use aecraft::train::run::{CHECKPOINT_DIR, CONFIG_FILE};
use aecraft::train::{atomic, evaluate, Autoencoder, EncoderLabelConfig, TrainReport};

/// How the code is made to ignore the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Method {
    /// The generator also receives the one-hot label.
    DecoderInput,
    /// An adversary on the code must fail to recover the label.
    Adversary,
    /// Both.
    Both,
}

impl Method {
    fn decoder_input(self) -> bool {
        matches!(self, Self::DecoderInput | Self::Both)
    }

    fn adversary(self) -> bool {
        matches!(self, Self::Adversary | Self::Both)
    }
}

/// What the adversary reads of a Gaussian code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AdversaryInput {
    /// The sampled code `z` (in evaluation, its mean).
    Sample,
    /// The mean `z_mean`, which the probe reads.
    Mean,
    /// Both, side by side.
    Both,
}

impl AdversaryInput {
    /// The code groups it names; a deterministic code has only `z`.
    fn groups(self, variational: bool) -> Vec<String> {
        let groups: &[&str] = match (variational, self) {
            (false, _) | (true, Self::Sample) => &["z"],
            (true, Self::Mean) => &["z_mean"],
            (true, Self::Both) => &["z", "z_mean"],
        };
        groups.iter().map(|g| (*g).to_owned()).collect()
    }
}

/// What the encoder does against the adversary (see [`EncoderObjective`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Objective {
    /// Make the adversary's prediction uniform.
    Confusion,
    /// Maximize the adversary's cross-entropy by gradient reversal.
    Reversal,
}

#[derive(Debug, Parser)]
#[command(about = "Ignoring autoencoder on MNIST: a code without the digit class")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// How the code ignores the label.
    #[arg(long, value_enum, default_value_t = Method::Both)]
    method: Method,
    /// Code units.
    #[arg(long, default_value_t = 16)]
    code_size: i64,
    /// Hidden widths of the encoder (mirrored in the generator).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Images per training step.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Weight of the adversary's cross-entropy.
    #[arg(long, default_value_t = 1.0)]
    adversary_weight: f64,
    /// What the encoder does against the adversary: confusion (make its prediction
    /// uniform) or reversal (maximize its cross-entropy by gradient reversal).
    #[arg(long, value_enum, default_value_t = Objective::Confusion)]
    objective: Objective,
    /// Weight of the encoder's term against the adversary.
    #[arg(long, default_value_t = 30.0)]
    encoder_weight: f64,
    /// Make the code Gaussian (a conditional VAE when the generator also gets the label);
    /// the probe and the adversary then read the mean, `z_mean`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    variational: bool,
    /// Weight of the Gaussian code's KL term (with `--variational`).
    #[arg(long, default_value_t = 1.0)]
    kl_weight: f64,
    /// The adversary's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    adversary_lr: f64,
    /// The adversary's optimizer steps per training step (alternating updates above 1).
    #[arg(long, default_value_t = 1)]
    adversary_steps: usize,
    /// Hidden widths of the adversary, or `linear` for a multinomial logistic regression.
    #[arg(long, default_value = "256,256")]
    adversary_hidden: String,
    /// What the adversary reads of a Gaussian code: the sample, the mean, or both.
    #[arg(long, value_enum, default_value_t = AdversaryInput::Sample)]
    adversary_input: AdversaryInput,
    /// Weight of the class-means penalty on the code the probe reads (`z_mean` for a
    /// Gaussian code): the between-class share of each unit's variance; 0 leaves it out.
    #[arg(long, default_value_t = 1000.0)]
    class_means_weight: f64,
    /// Let the encoder read the one-hot label next to the image (a conditional encoder).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    encoder_label: bool,
}

/// What `config.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct RunConfig {
    method: Method,
    model: AutoencoderConfig,
    plain: AutoencoderConfig,
    train: TrainConfig,
}

const DEFAULT_EPOCHS: usize = 4;
const CLASSES: i64 = 10;
const SWAP_ROWS: i64 = 10;

fn main() -> std::process::ExitCode {
    finish(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let device = args.run.prepare()?;
    let config = run_config(&args)?;
    let RunSplits {
        train,
        eval,
        eval_name,
    } = args.run.load_splits(device)?;

    eprintln!(
        "training an ignoring autoencoder ({:?}) on {} images for {} epochs on {device:?}",
        config.method,
        train.len(),
        config.train.epochs
    );
    atomic::write_json(&args.run.out_path(CONFIG_FILE), &config)?;
    let (model, report) = train_model(
        &args,
        &config.model,
        &config.train,
        &train,
        &eval,
        eval_name,
        "",
    )?;
    eprintln!("training the plain autoencoder with the same code size and budget");
    let (plain, plain_report) = train_model(
        &args,
        &config.plain,
        &config.train,
        &train,
        &eval,
        eval_name,
        "plain",
    )?;

    let probe = probe_accuracy(model.net(), &config.model.code_group(), &train, &eval)?;
    let plain_probe = probe_accuracy(plain.net(), &config.plain.code_group(), &train, &eval)?;
    let losses = evaluate(&model, &eval, config.train.eval_batch_size)?;
    let metrics = serde_json::json!({
        "method": config.method,
        "probe": "multinomial logistic regression on standardized codes",
        "probe_accuracy": probe,
        "plain_probe_accuracy": plain_probe,
        "chance_accuracy": majority_rate(&eval.label_vec("the chance rate")?)?,
        "test_reconstruction_bce": losses["reconstruction"],
        "plain_test_reconstruction_bce": evaluate(&plain, &eval, config.train.eval_batch_size)?["reconstruction"],
        "adversary_accuracy": losses.get("adversary_accuracy"),
        "train_seconds": report.state.train_seconds,
        "plain_train_seconds": plain_report.state.train_seconds,
        "evaluated_on": eval_name,
        "code_size": args.code_size,
        "epochs": report.state.epochs_done,
        "seed": args.run.seed,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    save_swap(&args, model.net(), config.method, &eval)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// Trains `model` with a checkpoint in `--out`/`subdir` (resuming from `--resume`/`subdir`).
fn train_model(
    args: &Args,
    model: &AutoencoderConfig,
    train_config: &TrainConfig,
    train: &ImageDataset,
    eval: &ImageDataset,
    eval_name: &str,
    subdir: &str,
) -> anyhow::Result<(AutoencoderModel, TrainReport)> {
    let mut net = AutoencoderModel::new(model, train.images().device())?;
    let trainer = Trainer::new(train_config.clone())?.in_folder(&args.run.out.join(subdir));
    let resume = args
        .run
        .resume
        .as_ref()
        .map(|dir| dir.join(subdir).join(CHECKPOINT_DIR));
    let (mut optimizer, state) = trainer.start(&mut net, train, resume.as_deref())?;
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let report = trainer.fit(&mut net, &mut optimizer, train, Some(evaluation), state)?;
    Ok((net, report))
}

/// The configuration: from the checkpoint when resuming, else from the flags.
fn run_config(args: &Args) -> anyhow::Result<RunConfig> {
    if let Some(config) = args.run.resumed_config(|c: &mut RunConfig| &mut c.train)? {
        return Ok(config);
    }
    let hidden = parse_widths("--hidden", &args.hidden)?;
    let adversary_hidden = match args.adversary_hidden.as_str() {
        "linear" => Vec::new(),
        widths => parse_widths("--adversary-hidden", widths)?,
    };
    if args.code_size <= 0 {
        anyhow::bail!(
            "--code-size {}: the code needs at least one unit",
            args.code_size
        );
    }
    let plain = AutoencoderConfig::plain(&hidden, args.code_size);
    let mut model = if args.variational {
        let mut vae = AutoencoderConfig::vae(&hidden, args.code_size);
        vae.transforms = vec![TransformConfig::Gaussian(GaussianSamplerConfig {
            kl_weight: args.kl_weight,
            ..Default::default()
        })];
        vae
    } else {
        plain.clone()
    };
    if args.encoder_label {
        model.encoder_label = Some(EncoderLabelConfig {
            classes: CLASSES,
            ..Default::default()
        });
    }
    let mut generator_inputs = vec!["z".to_owned()];
    if args.method.decoder_input() {
        model
            .transforms
            .push(TransformConfig::LabelInput(LabelInputConfig::default()));
        generator_inputs.push("label".into());
    }
    if args.method.adversary() {
        model
            .transforms
            .push(TransformConfig::Adversary(AdversaryConfig {
                inputs: args.adversary_input.groups(args.variational),
                mlp: MlpConfig::with_hidden(&adversary_hidden),
                weight: args.adversary_weight,
                objective: match args.objective {
                    Objective::Confusion => EncoderObjective::Confusion,
                    Objective::Reversal => EncoderObjective::Reversal,
                },
                encoder_weight: args.encoder_weight,
                lr: args.adversary_lr,
                steps: args.adversary_steps,
                ..Default::default()
            }));
    }
    if args.class_means_weight != 0.0 {
        model
            .transforms
            .push(TransformConfig::ClassMeans(ClassMeansConfig {
                input: model.code_group(),
                classes: CLASSES,
                weight: args.class_means_weight,
                ..Default::default()
            }));
    }
    model.generator =
        GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&hidden, generator_inputs));
    model.validate()?;
    let train = args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?;
    Ok(RunConfig {
        method: args.method,
        model,
        plain,
        train,
    })
}

/// The evaluation-mode code (group `group`) of every image: `[N, code]`.
fn codes(net: &Autoencoder, group: &str, data: &ImageDataset) -> anyhow::Result<Tensor> {
    tch::no_grad(|| {
        let parts = data
            .ordered_batches(1000)
            .map(|batch| {
                let side = side_inputs(&batch);
                Ok(net
                    .encode_with_side(&batch.images, side, false)?
                    .take(group)?)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0))
    })
}

/// Test accuracy of a fresh linear probe fitted on the training codes.
fn probe_accuracy(
    net: &Autoencoder,
    group: &str,
    train: &ImageDataset,
    eval: &ImageDataset,
) -> anyhow::Result<f64> {
    let label = |data: &ImageDataset| {
        data.labels()
            .map(Tensor::shallow_clone)
            .context("the probe needs labelled data")
    };
    Ok(linear_probe_accuracy(
        &codes(net, group, train)?,
        &label(train)?,
        &codes(net, group, eval)?,
        &label(eval)?,
        CLASSES,
    )?)
}

/// `swap.png`: each of the first test digits, then regenerated with labels 0–9 (or, when the
/// generator reads no label, its reconstruction). The code is always that of the digit with
/// its own label; only the label the generator reads changes.
fn save_swap(
    args: &Args,
    net: &Autoencoder,
    method: Method,
    eval: &ImageDataset,
) -> anyhow::Result<()> {
    let rows = SWAP_ROWS.min(eval.len() as i64);
    let batch = eval
        .ordered_batches(rows as usize)
        .next()
        .context("swap.png needs at least one test image")?;
    let inputs = batch.images.shallow_clone();
    let regenerate = |label: Option<i64>| {
        tch::no_grad(|| -> anyhow::Result<Tensor> {
            let mut code = net.encode_with_side(&inputs, side_inputs(&batch), false)?;
            if let Some(label) = label {
                let labels = Tensor::full([rows], label, (Kind::Int64, inputs.device()));
                code.insert("label", one_hot_labels(&labels, CLASSES, "label")?);
            }
            Ok(net.to_pixels(&net.generate(&code, false)?))
        })
    };
    let mut columns = vec![inputs.shallow_clone()];
    if method.decoder_input() {
        for label in 0..CLASSES {
            columns.push(regenerate(Some(label))?);
        }
    } else {
        columns.push(regenerate(None)?);
    }
    let per_row = columns.len();
    let grid = Tensor::stack(&columns, 1).view([rows * per_row as i64, -1]);
    save_image_grid(
        &args.run.out_path("swap.png"),
        &grid.to_device(Device::Cpu),
        (eval.height(), eval.width()),
        per_row,
        2,
    )?;
    Ok(())
}
