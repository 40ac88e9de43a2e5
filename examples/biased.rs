//! The biased autoencoder: codes pushed toward chosen kinds by the objective alone.
//!
//! ```text
//! cargo run --release --example biased -- --out runs/biased [--mode softmax|sparse-bits]
//! ```
//!
//! The two kinds are described in [`aecraft::models::biased`]: `softmax`, a 12-way choice
//! with a usage prior whose target is 2 common and 10 rare units; `sparse-bits`, 64 bits
//! with a target firing rate of 0.1. Usage and firing rates are measured on the test images.
//!
//! Each mode trains its shipped preset (`configs/biased-softmax.toml`,
//! `configs/biased-sparse.toml`), changed by the flags given.
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (test inputs over reconstructions), for `softmax` also `usage.png`
//! (test images grouped by their unit: one row per unit), `config.json`, `config.toml`, `log.jsonl` and
//! the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{finite_f64, run_main, set_if_given, PresetFlags, RunArgs};
use aecraft::codes::{BinarizeConfig, ClusterChoiceConfig, LinearSchedule};
use aecraft::codes::{SparsityPriorConfig, UsagePriorConfig};
use aecraft::experiment::{train_and_score, Experiment};
use aecraft::generators::GeneratorConfig;
use aecraft::models::biased::Mode;
use aecraft::train::TrainError;

#[derive(Debug, Parser)]
#[command(about = "Biased autoencoder on MNIST: codes pushed toward chosen kinds")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    /// The kind of code: softmax (preset `biased-softmax`) or sparse-bits (preset
    /// `biased-sparse`).
    #[arg(long, value_enum, default_value_t = Mode::Softmax)]
    mode: Mode,
    /// Free continuous units next to the softmax, 0 for none (softmax) [preset: 8].
    #[arg(long)]
    free: Option<i64>,
    /// Weight of the usage prior (softmax) or the sparsity prior (sparse-bits) [preset: 300
    /// for softmax, 1000 for sparse-bits].
    #[arg(long, value_parser = finite_f64)]
    prior_weight: Option<f64>,
    /// Standard deviation of the noise on the logits in training [preset: 0 for softmax,
    /// whose straight-through choices are already discrete, 3 for sparse-bits].
    #[arg(long, value_parser = finite_f64)]
    noise: Option<f64>,
    /// Sparse-bits: train with straight-through bits (the thresholded noisy logits, with the
    /// sigmoid's gradients) and let the sparsity prior read them, instead of putting the
    /// prior on the clean firing probabilities (the sigmoid of the logits).
    #[arg(long)]
    straight_through: bool,
}

/// The free units' code group.
const FREE: &str = "free";

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(None)?;
    let preset = match args.mode {
        Mode::Softmax => "biased-softmax",
        Mode::SparseBits => "biased-sparse",
    };
    let run = args
        .run
        .start_preset_run(preset, &splits.train, |experiment| edit(&args, experiment))?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The preset as the flags change it.
fn edit(args: &Args, experiment: &mut Experiment) -> Result<(), TrainError> {
    let run = experiment.biased_mut()?;
    let model = &mut run.model;
    if let Some(hidden) = args.preset.hidden()? {
        model.set_hidden(&hidden);
    }
    if let Some(free) = args.free {
        if args.mode != Mode::Softmax {
            return Err(TrainError::invalid(
                "--free",
                free,
                "only --mode softmax has free units",
            ));
        }
        if free > 0 {
            model.set_code_units("--free", FREE, free)?;
        } else {
            model.code.0.retain(|group| group.name != FREE);
            if let GeneratorConfig::Mlp(generator) = &mut model.generator {
                generator.inputs.retain(|input| input != FREE);
            }
        }
    }
    for prior in model.transforms_mut::<UsagePriorConfig>() {
        set_if_given(&mut prior.weight, args.prior_weight);
    }
    for prior in model.transforms_mut::<SparsityPriorConfig>() {
        set_if_given(&mut prior.weight, args.prior_weight);
    }
    if let Some(noise) = args.noise {
        for choice in model.transforms_mut::<ClusterChoiceConfig>() {
            choice.noise_scale = noise;
        }
        for binarize in model.transforms_mut::<BinarizeConfig>() {
            binarize.noise_std = LinearSchedule::constant(noise);
        }
    }
    if args.straight_through {
        let mut bits = None;
        for binarize in model.transforms_mut::<BinarizeConfig>() {
            binarize.straight_through = true;
            bits = Some(binarize.output.clone());
        }
        let Some(bits) = bits else {
            let reason = "only --mode sparse-bits has bits";
            return Err(TrainError::invalid("--straight-through", true, reason));
        };
        for prior in model.transforms_mut::<SparsityPriorConfig>() {
            (prior.input, prior.logits) = (bits.clone(), false);
        }
    }
    args.preset.set_training(&mut run.train);
    Ok(())
}
