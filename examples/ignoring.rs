//! The ignoring autoencoder: a code that leaves out the digit class (the methods and parts:
//! [`aecraft::models::ignoring`]; `docs/toolbox.md` has the validation runs behind the
//! defaults). The encoder reads the image only (`--conditional-encoder` lets it read the
//! label too; `--label-guess true` lets it read its own guess of the label, made from the
//! image). After training, the judge, an MLP probe (256-256) trained to convergence on
//! the frozen training codes, predicts the label from the test codes
//! (`posthoc_probe_accuracy`); a linear probe does too (`probe_accuracy`), and on a plain
//! autoencoder with the same code size and training budget, trained in the same run
//! (`plain_probe_accuracy`). `examples/ignoring_tradeoff.rs` draws a sweep's trade-off.
//!
//! ```text
//! cargo run --release --example ignoring -- --out runs/ignoring --method both [--code-size 10]
//! ```
//!
//! It trains the shipped preset `configs/ignoring.toml` (what `aecraft train --preset
//! ignoring` trains), changed by the flags given.
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `swap.png` (rows: test digits; columns: the input, then the digit regenerated from its
//! code with labels 0–9, or with `--method adversary` its reconstruction), `config.json`,
//! `config.toml`, `log.jsonl`, the checkpoint (`checkpoint/`) and the plain autoencoder's
//! run (`plain/`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, set_if_given, PresetFlags, RunArgs};
use aecraft::codes::EncoderObjective;
use aecraft::experiment::{train_and_score, Experiment};
use aecraft::models::ignoring::{AdversaryInput, IgnoringConfig, IgnoringRun, Method};
use aecraft::prelude::*;

#[derive(Debug, Parser)]
#[command(about = "Ignoring autoencoder on MNIST: a code without the digit class")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    /// How the code ignores the label [preset: both].
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Code units [preset: 10].
    #[arg(long)]
    code_size: Option<i64>,
    /// Weight of the adversary's cross-entropy [preset: 1].
    #[arg(long, value_parser = finite_f64)]
    adversary_weight: Option<f64>,
    /// What the encoder does against the adversary: confusion (make its prediction
    /// uniform) or reversal (maximize its cross-entropy by gradient reversal) [preset:
    /// confusion].
    #[arg(long, value_enum)]
    objective: Option<EncoderObjective>,
    /// Weight of the encoder's term against the adversary [preset: 20].
    #[arg(long, value_parser = finite_f64)]
    encoder_weight: Option<f64>,
    /// Make the code Gaussian (a conditional VAE when the generator also gets the label);
    /// the linear probe then reads the mean `z_mean`, the post-hoc probe the means and
    /// log-variances [preset: false].
    #[arg(long, action = clap::ArgAction::Set)]
    variational: Option<bool>,
    /// Weight of the Gaussian code's KL term (with `--variational`) [preset: 1].
    #[arg(long, value_parser = finite_f64)]
    kl_weight: Option<f64>,
    /// The adversary's learning rate [preset: 0.001].
    #[arg(long, value_parser = finite_f64)]
    adversary_lr: Option<f64>,
    /// The adversary's optimizer steps per training step (alternating updates above 1)
    /// [preset: 5].
    #[arg(long)]
    adversary_steps: Option<usize>,
    /// Adversaries in the ensemble, each initialized apart; the encoder confuses their mean
    /// [preset: 1].
    #[arg(long)]
    adversaries: Option<usize>,
    /// Re-initialize one adversary, in turn, every this many training batches; 0 never does
    /// [preset: 0].
    #[arg(long)]
    adversary_reset_every: Option<usize>,
    /// Hidden widths of the adversary, or `linear` for a multinomial logistic regression
    /// [preset: 256,256].
    #[arg(long)]
    adversary_hidden: Option<String>,
    /// What the adversary reads of a Gaussian code: the sample, the mean, both, or the
    /// encoder's means and log-variances (moments) [preset: sample].
    #[arg(long, value_enum)]
    adversary_input: Option<AdversaryInput>,
    /// Weight of the class-means penalty on everything the encoder emits for the code (a
    /// Gaussian code's means and log-variances): the between-class share of each unit's
    /// variance; 0 leaves it out [preset: 1000].
    #[arg(long, value_parser = finite_f64)]
    class_means_weight: Option<f64>,
    /// Weight of the class-MMD penalty on the same groups: each class's code distribution
    /// against the batch's, under Gaussian kernels (what any classifier could read, not only
    /// the means); 0 leaves it out [preset: 0].
    #[arg(long, value_parser = finite_f64)]
    class_mmd_weight: Option<f64>,
    /// Let the encoder read the one-hot label next to the image (a conditional encoder), in
    /// place of its own guess of it; the preset's encoder is label-blind.
    #[arg(long)]
    conditional_encoder: bool,
    /// Let the encoder guess the label from the image (an MLP classifier, 256 hidden units,
    /// trained on the labels by a `label_guess` cross-entropy) and read its guess next to the
    /// image: a conditional encoder that needs only the image [preset: true].
    #[arg(long, action = clap::ArgAction::Set)]
    label_guess: Option<bool>,
}

const CLASSES: i64 = 10;

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(CLASSES))?;
    let run = args
        .run
        .start_preset_run("ignoring", &splits.train, |experiment| {
            edit(&args, experiment)
        })?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The preset as the flags change it: its knobs read back, changed, and rebuilt.
fn edit(args: &Args, experiment: &mut Experiment) -> Result<(), TrainError> {
    let run = experiment.ignoring_mut()?;
    let mut knobs = IgnoringConfig::of_run(run);
    set_if_given(&mut knobs.method, args.method);
    set_if_given(&mut knobs.code_size, args.code_size);
    set_if_given(&mut knobs.hidden, args.preset.hidden()?);
    set_if_given(&mut knobs.variational, args.variational);
    set_if_given(&mut knobs.kl_weight, args.kl_weight);
    if args.conditional_encoder {
        // The label in place of the guess, unless both are asked for (refused).
        knobs.conditional_encoder = true;
        knobs.label_guess = false;
    }
    set_if_given(&mut knobs.label_guess, args.label_guess);
    set_if_given(&mut knobs.class_means_weight, args.class_means_weight);
    set_if_given(&mut knobs.class_mmd_weight, args.class_mmd_weight);
    set_if_given(&mut knobs.adversary_input, args.adversary_input);
    let adversary = &mut knobs.adversary;
    set_if_given(&mut adversary.weight, args.adversary_weight);
    set_if_given(&mut adversary.objective, args.objective);
    set_if_given(&mut adversary.encoder_weight, args.encoder_weight);
    set_if_given(&mut adversary.lr, args.adversary_lr);
    set_if_given(&mut adversary.steps, args.adversary_steps);
    set_if_given(&mut adversary.members, args.adversaries);
    set_if_given(&mut adversary.reset_every, args.adversary_reset_every);
    match args.adversary_hidden.as_deref() {
        Some("linear") => adversary.mlp = MlpConfig::with_hidden(&[]),
        Some(widths) => {
            adversary.mlp = MlpConfig::with_hidden(&parse_widths("--adversary-hidden", widths)?)
        }
        None => {}
    }
    *run = IgnoringRun::new(&knobs, run.train.clone())?;
    args.preset.set_training(&mut run.train);
    Ok(())
}
