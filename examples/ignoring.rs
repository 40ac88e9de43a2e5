//! The ignoring autoencoder: a code that leaves out the digit class (the methods and parts:
//! [`aecraft::train::ignoring`]; `docs/toolbox.md` has the validation runs behind the
//! defaults). After training, a fresh linear probe is fitted on the training codes to predict
//! the label and scored on the test codes; the same probe runs on a plain autoencoder with the
//! same code size and training budget, trained in the same run.
//!
//! ```text
//! cargo run --release --example ignoring -- --out runs/ignoring --method both [--code-size 16]
//! ```
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `swap.png` (rows: test digits; columns: the input, then the digit regenerated from its
//! code with labels 0–9, or with `--method adversary` its reconstruction), `config.json`,
//! `log.jsonl`, the checkpoint (`checkpoint/`) and the plain autoencoder's run (`plain/`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, RunArgs};
use aecraft::codes::{AdversaryConfig, EncoderObjective};
use aecraft::experiment::score_ignoring_run;
use aecraft::prelude::*;
use aecraft::train::ignoring::{AdversaryInput, IgnoringConfig, IgnoringRun, Method};

#[derive(Debug, Parser)]
#[command(about = "Ignoring autoencoder on MNIST: a code without the digit class")]
pub(crate) struct Args {
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
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
    lr: f64,
    /// Weight of the adversary's cross-entropy.
    #[arg(long, default_value_t = 1.0, value_parser = finite_f64)]
    adversary_weight: f64,
    /// What the encoder does against the adversary: confusion (make its prediction
    /// uniform) or reversal (maximize its cross-entropy by gradient reversal).
    #[arg(long, value_enum, default_value_t = EncoderObjective::Confusion)]
    objective: EncoderObjective,
    /// Weight of the encoder's term against the adversary.
    #[arg(long, default_value_t = 30.0, value_parser = finite_f64)]
    encoder_weight: f64,
    /// Make the code Gaussian (a conditional VAE when the generator also gets the label);
    /// the probe and the adversary then read the mean, `z_mean`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    variational: bool,
    /// Weight of the Gaussian code's KL term (with `--variational`).
    #[arg(long, default_value_t = 1.0, value_parser = finite_f64)]
    kl_weight: f64,
    /// The adversary's learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
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
    #[arg(long, default_value_t = 1000.0, value_parser = finite_f64)]
    class_means_weight: f64,
    /// Let the encoder read the one-hot label next to the image (a conditional encoder).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    encoder_label: bool,
}

const DEFAULT_EPOCHS: usize = 4;
const CLASSES: i64 = 10;

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(CLASSES))?;
    let run = args.run.start_run(|| {
        let adversary_hidden = match args.adversary_hidden.as_str() {
            "linear" => Vec::new(),
            widths => parse_widths("--adversary-hidden", widths)?,
        };
        let preset = IgnoringConfig {
            method: args.method,
            input: splits.train.pixels(),
            classes: CLASSES,
            code_size: args.code_size,
            hidden: parse_widths("--hidden", &args.hidden)?,
            variational: args.variational,
            kl_weight: args.kl_weight,
            encoder_label: args.encoder_label,
            class_means_weight: args.class_means_weight,
            adversary: AdversaryConfig {
                mlp: MlpConfig::with_hidden(&adversary_hidden),
                weight: args.adversary_weight,
                objective: args.objective,
                encoder_weight: args.encoder_weight,
                lr: args.adversary_lr,
                steps: args.adversary_steps,
                ..Default::default()
            },
            adversary_input: args.adversary_input,
        };
        let train = args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?;
        IgnoringRun::new(&preset, train)
    })?;
    let metrics = score_ignoring_run(&run, (&splits.train, &splits.eval, splits.eval_name))?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
