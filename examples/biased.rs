//! The biased autoencoder: codes pushed toward chosen kinds by the objective alone.
//!
//! ```text
//! cargo run --release --example biased -- --out runs/biased [--mode softmax|sparse-bits]
//! ```
//!
//! The two kinds are described in [`aecraft::train::biased`]: `softmax`, a 12-way choice
//! with a usage prior whose target is 2 common and 10 rare units; `sparse-bits`, 64 bits
//! with a target firing rate of 0.1. Usage and firing rates are measured on the test images.
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (test inputs over reconstructions), for `softmax` also `usage.png`
//! (test images grouped by their unit: one row per unit), `config.json`, `log.jsonl` and
//! the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, RunArgs};
use aecraft::experiment::score_biased;
use aecraft::train::biased::{BiasedConfig, BiasedRun, Mode};

#[derive(Debug, Parser)]
#[command(about = "Biased autoencoder on MNIST: codes pushed toward chosen kinds")]
pub(crate) struct Args {
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
    #[arg(long, value_parser = finite_f64)]
    prior_weight: Option<f64>,
    /// Standard deviation of the noise on the logits in training (default: 0 for softmax,
    /// whose straight-through choices are already discrete, 3 for sparse-bits).
    #[arg(long, value_parser = finite_f64)]
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
    #[arg(long, value_parser = finite_f64)]
    lr: Option<f64>,
}

const DEFAULT_EPOCHS: usize = 6;

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(None)?;
    let run = args.run.start_run(|| {
        let preset = BiasedConfig {
            mode: args.mode,
            hidden: parse_widths("--hidden", &args.hidden)?,
            free: args.free,
            prior_weight: args.prior_weight,
            noise: args.noise,
            straight_through: args.straight_through,
        };
        let batch = args.batch.unwrap_or(args.mode.default_batch());
        let lr = args.lr.unwrap_or(args.mode.default_lr());
        let mut model = preset.autoencoder()?;
        model.input = splits.train.pixels();
        Ok(BiasedRun {
            mode: args.mode,
            model,
            train: args.run.train_config(DEFAULT_EPOCHS, batch, lr)?,
        })
    })?;
    let metrics = score_biased(&run, (&splits.train, &splits.eval, splits.eval_name))?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
