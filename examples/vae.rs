//! Trains a VAE (or, with `--plain`, a plain autoencoder) on MNIST and reports the test
//! negative ELBO.
//!
//! ```text
//! cargo run --release --example vae -- --out runs/vae [--epochs 10] [--plain] [--limit N]
//! ```
//!
//! It trains the shipped preset `configs/vae.toml` (what `aecraft train --preset vae`
//! trains), changed by the flags given, and scores it with the same library code
//! ([`aecraft::experiment::train_and_score`]).
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (inputs over reconstructions), `samples.png` (VAE only),
//! `config.json`, `config.toml`, `log.jsonl` and the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{run_main, PresetFlags, RunArgs};
use aecraft::experiment::{train_and_score, Experiment};
use aecraft::train::TrainError;

#[derive(Debug, Parser)]
#[command(about = "Train a VAE or plain autoencoder on MNIST (the `vae` preset)")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    /// Code units [preset: 32].
    #[arg(long)]
    code: Option<i64>,
    /// Train a plain (deterministic) autoencoder instead of a VAE.
    #[arg(long)]
    plain: bool,
}

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(None)?;
    let run = args
        .run
        .start_preset_run("vae", &splits.train, |experiment| edit(&args, experiment))?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The preset as the flags change it.
fn edit(args: &Args, experiment: &mut Experiment) -> Result<(), TrainError> {
    let run = experiment.autoencoder_mut()?;
    if let Some(hidden) = args.preset.hidden()? {
        run.model.set_hidden(&hidden);
    }
    if let Some(code) = args.code {
        if code <= 0 {
            let reason = "the code needs at least one unit";
            return Err(TrainError::invalid("--code", code, reason));
        }
        run.model.set_code_units("--code", "gauss", code)?;
    }
    if args.plain {
        run.model.make_deterministic();
    }
    args.preset.set_training(&mut run.train);
    Ok(())
}
