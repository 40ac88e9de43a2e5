//! Trains a VAE (or, with `--plain`, a plain autoencoder) on MNIST and reports the test
//! negative ELBO.
//!
//! ```text
//! cargo run --release --example vae -- --out runs/vae [--epochs 10] [--plain] [--limit N]
//! ```
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (inputs over reconstructions), `samples.png` (VAE only),
//! `config.json`, `log.jsonl` and the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, RunArgs};
use aecraft::prelude::*;
use aecraft::train::generated::save_prior_samples;
use aecraft::train::pictures::save_reconstructions;
use aecraft::train::{evaluate, RunSpec};

#[derive(Debug, Parser)]
#[command(about = "Train a VAE or plain autoencoder on MNIST")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Hidden widths of the encoder (mirrored in the generator), e.g. 400 or 512,256.
    #[arg(long, default_value = "1024,512")]
    hidden: String,
    /// Code units.
    #[arg(long, default_value_t = 32)]
    code: i64,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
    lr: f64,
    /// Train a plain (deterministic) autoencoder instead of a VAE.
    #[arg(long)]
    plain: bool,
}

const DEFAULT_EPOCHS: usize = 10;
/// Prior samples in `samples.png`, and per row.
const SAMPLES: (i64, usize) = (64, 8);

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (device, splits) = args.run.load_checked_splits(None)?;
    let run = args.run.start_run(|| {
        let hidden = parse_widths("--hidden", &args.hidden)?;
        if args.code <= 0 {
            let reason = "the code needs at least one unit";
            return Err(TrainError::invalid("--code", args.code, reason));
        }
        let mut model = if args.plain {
            AutoencoderConfig::plain(&hidden, args.code)
        } else {
            AutoencoderConfig::vae(&hidden, args.code)
        };
        model.input = splits.train.pixels();
        let train = args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?;
        Ok(RunSpec { model, train })
    })?;
    let (train, eval) = (&splits.train, &splits.eval);
    let config = run.config();
    // A Gaussian code is read at its mean, `z_mean`; a plain one is `z`.
    let plain = config.model.code_group() == "z";
    let mut model = AutoencoderModel::new(&config.model, device)?;
    let kind = if plain { "plain autoencoder" } else { "VAE" };
    eprintln!(
        "training a {kind} on {} images for {} epochs on {device:?}",
        train.len(),
        config.train.epochs
    );
    let report = run.train(&mut model, train, Some(splits.evaluation()))?;

    let test_losses = evaluate(&model, eval, config.train.eval_batch_size)?;
    let metrics = serde_json::json!({
        "model": if plain { "plain" } else { "vae" },
        "test_neg_elbo_nats": test_losses["loss"],
        "test_reconstruction_bce": test_losses["reconstruction"],
        "test_kl_nats": test_losses.get("kl").copied().unwrap_or(0.0),
        "epochs": report.state.epochs_done,
        "train_images": train.len(),
        "train_seconds": report.state.train_seconds,
        "train_images_per_second": report.images_per_second(),
        "seed": args.run.seed,
        "evaluated_on": splits.eval_name,
    });
    run.save_metrics(&metrics)?;
    let size = (eval.height(), eval.width());
    let inputs = eval.images().narrow(0, 0, 16.min(eval.len() as i64));
    let reconstructions = model.net().reconstruct(&inputs)?;
    save_reconstructions(
        &run.path("reconstructions.png"),
        &inputs,
        &reconstructions,
        size,
    )?;
    if !plain {
        let code = ("z", config.model.code.total_width() / 2);
        let path = run.path("samples.png");
        save_prior_samples(&path, model.net(), code, SAMPLES, size, device)?;
    }
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
