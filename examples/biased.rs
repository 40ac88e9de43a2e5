//! The biased autoencoder: codes pushed toward chosen kinds by the objective alone.
//!
//! ```text
//! cargo run --release --example biased -- --out runs/biased [--mode softmax|sparse-bits]
//! ```
//!
//! - `softmax`: a 12-way choice ([`ClusterChoiceConfig`]: straight-through one-hot choices
//!   in training, the argmax in evaluation) next to a few free units, with a usage prior
//!   ([`UsagePriorConfig`]) whose target is 2 common units at 0.4 each and 10 rare units at
//!   0.02 each. The prior reads the one-hot choices, so it counts how often each unit is
//!   chosen (with the softmax's gradients). On the soft probabilities it was met by giving
//!   every image a little of each rare unit while never choosing them; with noise on the
//!   logits, by rare units that win only through the noise. Measured usage is the fraction
//!   of test images whose argmax is each unit.
//! - `sparse-bits`: 64 logistic units with discretization noise ([`BinarizeConfig`]) and a
//!   sparsity prior ([`SparsityPriorConfig`]) with a target firing rate of 0.1 on the clean
//!   firing probabilities (the sigmoid of the logits). The measured rate is that of the
//!   thresholded test bits.
//!
//! Writes `metrics.json`, `reconstructions.png` (test inputs over reconstructions), for
//! `softmax` also `usage.png` (test images grouped by their unit: one row per unit),
//! `log.jsonl` and the checkpoint into `--out`.

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs, RunSplits};
use aecraft::codes::usage::usage_kl;
use aecraft::codes::{
    BinarizeConfig, ChoiceNoise, ClusterChoiceConfig, LinearSchedule, SparsityPriorConfig,
    TransformConfig, UsagePriorConfig,
};
use aecraft::generators::MlpGeneratorConfig;
use aecraft::prelude::*;
use aecraft::train::pictures::{save_image_grid, save_reconstructions};
use aecraft::train::run::{CHECKPOINT_DIR, CONFIG_FILE};
use aecraft::train::{atomic, evaluate, Autoencoder};

/// The kind of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// A 12-way softmax with 2 common and 10 rare units.
    Softmax,
    /// 64 bits with a target firing rate of 0.1.
    SparseBits,
}

#[derive(Debug, Parser)]
#[command(about = "Biased autoencoder on MNIST: codes pushed toward chosen kinds")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The kind of code.
    #[arg(long, value_enum, default_value_t = Mode::Softmax)]
    mode: Mode,
    /// Hidden widths of the encoder (mirrored in the generator).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Free continuous units next to the softmax (softmax mode).
    #[arg(long, default_value_t = 8)]
    free: i64,
    /// Weight of the usage prior (softmax; default 300) or the sparsity prior (sparse-bits;
    /// default 1000).
    #[arg(long)]
    prior_weight: Option<f64>,
    /// Standard deviation of the noise on the logits in training (default: 0 for softmax,
    /// whose straight-through choices are already discrete, 3 for sparse-bits).
    #[arg(long)]
    noise: Option<f64>,
    /// Sparse-bits: train with straight-through bits (the thresholded noisy logits, with the
    /// sigmoid's gradients) and let the sparsity prior read them, instead of putting the
    /// prior on the clean firing probabilities (the sigmoid of the logits).
    #[arg(long)]
    straight_through: bool,
    /// Images per training step (default: 512 for softmax, so that a batch holds about 10
    /// images of each rare unit; 128 for sparse-bits).
    #[arg(long)]
    batch: Option<usize>,
    /// Adam's learning rate (default: 2e-3 for softmax, 1e-3 for sparse-bits).
    #[arg(long)]
    lr: Option<f64>,
}

/// What `config.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct RunConfig {
    mode: Mode,
    model: AutoencoderConfig,
    train: TrainConfig,
}

const DEFAULT_EPOCHS: usize = 6;
const COMMON_UNITS: usize = 2;
const COMMON_USAGE: f64 = 0.4;
const RARE_UNITS: usize = 10;
const RARE_USAGE: f64 = 0.02;
const BITS: i64 = 64;
const SOFTMAX_NOISE: f64 = 0.0;
const BITS_NOISE: f64 = 3.0;
const FIRING_RATE: f64 = 0.1;
/// Test images shown per unit in `usage.png`.
const PER_UNIT: i64 = 12;

/// 2 common units at 0.4, then 10 rare units at 0.02.
fn usage_target() -> Vec<f64> {
    let mut target = vec![COMMON_USAGE; COMMON_UNITS];
    target.extend(std::iter::repeat_n(RARE_USAGE, RARE_UNITS));
    target
}

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

    let mut model = AutoencoderModel::new(&config.model, device)?;
    let trainer = Trainer::new(config.train.clone())?.in_folder(&args.run.out);
    let resume = args.run.resume.as_ref().map(|dir| dir.join(CHECKPOINT_DIR));
    let (mut optimizer, state) = trainer.start(&mut model, &train, resume.as_deref())?;
    atomic::write_json(&args.run.out_path(CONFIG_FILE), &config)?;
    eprintln!(
        "training a biased autoencoder ({:?}) on {} images for {} epochs on {device:?}",
        config.mode,
        train.len(),
        config.train.epochs
    );
    let evaluation = Evaluation {
        name: eval_name,
        data: &eval,
    };
    let report = trainer.fit(&mut model, &mut optimizer, &train, Some(evaluation), state)?;

    let losses = evaluate(&model, &eval, config.train.eval_batch_size)?;
    let mut metrics = serde_json::json!({
        "mode": config.mode,
        "test_reconstruction_bce": losses["reconstruction"],
        "train_seconds": report.state.train_seconds,
        "evaluated_on": eval_name,
        "epochs": report.state.epochs_done,
        "seed": args.run.seed,
    });
    match config.mode {
        Mode::Softmax => {
            let choices = eval_group(model.net(), &eval, "cluster")?;
            let measured = choices.mean_dim(0, false, Kind::Double);
            let target = Tensor::from_slice(&usage_target()).to_device(measured.device());
            metrics["usage_target"] = serde_json::json!(usage_target());
            metrics["usage_measured"] = serde_json::json!(Vec::<f64>::try_from(&measured)?);
            metrics["usage_kl"] = serde_json::json!(usage_kl(&measured, &target).double_value(&[]));
            save_usage_picture(&args, &eval, &choices)?;
        }
        Mode::SparseBits => {
            let bits = eval_group(model.net(), &eval, "bits")?;
            metrics["firing_rate_target"] = serde_json::json!(FIRING_RATE);
            metrics["firing_rate_measured"] =
                serde_json::json!(bits.mean(Kind::Double).double_value(&[]));
        }
    }
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    let inputs = eval.images().narrow(0, 0, 16);
    save_reconstructions(
        &args.run.out_path("reconstructions.png"),
        &inputs,
        &model.net().reconstruct(&inputs)?,
        (eval.height(), eval.width()),
    )?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The configuration: from the checkpoint when resuming, else from the flags.
fn run_config(args: &Args) -> anyhow::Result<RunConfig> {
    if let Some(config) = args.run.resumed_config(|c: &mut RunConfig| &mut c.train)? {
        return Ok(config);
    }
    let hidden = parse_widths("--hidden", &args.hidden)?;
    let (code, transforms, inputs) = match args.mode {
        Mode::Softmax => {
            let units = (COMMON_UNITS + RARE_UNITS) as i64;
            let mut code = vec![GroupSpec::new("cluster", units)];
            let mut inputs = vec!["cluster".to_owned()];
            if args.free > 0 {
                code.push(GroupSpec::new("free", args.free));
                inputs.push("free".into());
            }
            let transforms = vec![
                TransformConfig::ClusterChoice(ClusterChoiceConfig {
                    noise: ChoiceNoise::Gaussian,
                    noise_scale: args.noise.unwrap_or(SOFTMAX_NOISE),
                    straight_through: true,
                    ..Default::default()
                }),
                TransformConfig::UsagePrior(UsagePriorConfig {
                    input: "cluster".into(),
                    target: usage_target(),
                    weight: args.prior_weight.unwrap_or(300.0),
                    name: "usage".into(),
                }),
            ];
            (code, transforms, inputs)
        }
        Mode::SparseBits => {
            let transforms = vec![
                TransformConfig::Binarize(BinarizeConfig {
                    input: "logits".into(),
                    output: "bits".into(),
                    noise_std: LinearSchedule::constant(args.noise.unwrap_or(BITS_NOISE)),
                    straight_through: args.straight_through,
                }),
                TransformConfig::SparsityPrior(SparsityPriorConfig {
                    input: if args.straight_through {
                        "bits".into()
                    } else {
                        "bits_logits".into()
                    },
                    logits: !args.straight_through,
                    target: FIRING_RATE,
                    weight: args.prior_weight.unwrap_or(1000.0),
                    name: "sparsity".into(),
                }),
            ];
            (
                vec![GroupSpec::new("logits", BITS)],
                transforms,
                vec!["bits".to_owned()],
            )
        }
    };
    let model = AutoencoderConfig {
        input: 784,
        encoder: MlpConfig::with_hidden(&hidden),
        encoder_label: None,
        code: CodeLayout(code),
        transforms,
        generator: GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&hidden, inputs)),
    };
    model.validate()?;
    let train = args.run.train_config(
        DEFAULT_EPOCHS,
        args.batch.unwrap_or(match args.mode {
            Mode::Softmax => 512,
            Mode::SparseBits => 128,
        }),
        args.lr.unwrap_or(match args.mode {
            Mode::Softmax => 2e-3,
            Mode::SparseBits => 1e-3,
        }),
    )?;
    Ok(RunConfig {
        mode: args.mode,
        model,
        train,
    })
}

/// The evaluation-mode group `name` of every image (one-hot choices or 0/1 bits): `[N, K]`.
fn eval_group(net: &Autoencoder, data: &ImageDataset, name: &str) -> anyhow::Result<Tensor> {
    tch::no_grad(|| {
        let parts = data
            .ordered_batches(1000)
            .map(|batch| Ok(net.encode(&batch.images, false)?.take(name)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0))
    })
}

/// `usage.png`: one row per unit, the first test images whose argmax is that unit (blank
/// cells where a unit has fewer).
fn save_usage_picture(args: &Args, eval: &ImageDataset, choices: &Tensor) -> anyhow::Result<()> {
    let units = choices.size()[1];
    let assigned = choices.argmax(1, false);
    let blank = eval.images().get(0).zeros_like();
    let mut cells = Vec::new();
    for unit in 0..units {
        let members = assigned.eq(unit).nonzero().view([-1]);
        let shown = members.size()[0].min(PER_UNIT);
        for i in 0..PER_UNIT {
            cells.push(if i < shown {
                eval.images().get(members.int64_value(&[i]))
            } else {
                blank.shallow_clone()
            });
        }
    }
    save_image_grid(
        &args.run.out_path("usage.png"),
        &Tensor::stack(&cells, 0).to_device(Device::Cpu),
        (eval.height(), eval.width()),
        PER_UNIT as usize,
        2,
    )?;
    Ok(())
}
