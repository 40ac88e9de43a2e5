//! Trains a VAE (or, with `--plain`, a plain autoencoder) on MNIST and reports the test
//! negative ELBO.
//!
//! ```text
//! cargo run --release --example vae -- --out runs/vae [--epochs 10] [--plain] [--limit N]
//! ```
//!
//! Writes `metrics.json`, `reconstructions.png` (inputs over reconstructions), `samples.png`
//! (VAE only), `log.jsonl`, and the checkpoint (`config.json`, `model.safetensors`,
//! `optimizer.safetensors`, `state.json`) into `--out`.

use clap::Parser;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs, RunSplits};
use aecraft::codes::Code;
use aecraft::prelude::*;
use aecraft::train::pictures::{save_image_grid, save_reconstructions};
use aecraft::train::run::{CHECKPOINT_DIR, CONFIG_FILE};
use aecraft::train::{atomic, evaluate};

#[derive(Debug, Parser)]
#[command(about = "Train a VAE or plain autoencoder on MNIST")]
struct Args {
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
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Train a plain (deterministic) autoencoder instead of a VAE.
    #[arg(long)]
    plain: bool,
}

/// What `config.json` holds: enough to rebuild and resume the run.
#[derive(Debug, Serialize, Deserialize)]
struct RunConfig {
    plain: bool,
    model: AutoencoderConfig,
    train: TrainConfig,
}

const DEFAULT_EPOCHS: usize = 10;

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
    let kind = if config.plain {
        "plain autoencoder"
    } else {
        "VAE"
    };
    eprintln!(
        "training a {kind} on {} images for {} epochs on {device:?}",
        train.len(),
        config.train.epochs
    );
    let evaluation = Evaluation {
        name: eval_name,
        data: &eval,
    };
    let report = trainer.fit(&mut model, &mut optimizer, &train, Some(evaluation), state)?;

    let test_losses = evaluate(&model, &eval, config.train.eval_batch_size)?;
    let metrics = serde_json::json!({
        "model": if config.plain { "plain" } else { "vae" },
        "test_neg_elbo_nats": test_losses["loss"],
        "test_reconstruction_bce": test_losses["reconstruction"],
        "test_kl_nats": test_losses.get("kl").copied().unwrap_or(0.0),
        "epochs": report.state.epochs_done,
        "train_images": train.len(),
        "train_seconds": report.state.train_seconds,
        "train_images_per_second": report.images_per_second(),
        "seed": args.run.seed,
        "evaluated_on": eval_name,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    write_pictures(
        &args,
        &model,
        &eval,
        config.model.code.total_width(),
        config.plain,
    )?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The configuration: from the checkpoint when resuming (with `--epochs` applied), else
/// from the flags.
fn run_config(args: &Args) -> anyhow::Result<RunConfig> {
    if let Some(config) = args.run.resumed_config(|c: &mut RunConfig| &mut c.train)? {
        return Ok(config);
    }
    let hidden = parse_widths("--hidden", &args.hidden)?;
    if args.code <= 0 {
        anyhow::bail!("--code {}: the code needs at least one unit", args.code);
    }
    let model = if args.plain {
        AutoencoderConfig::plain(&hidden, args.code)
    } else {
        AutoencoderConfig::vae(&hidden, args.code)
    };
    let train = args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?;
    Ok(RunConfig {
        plain: args.plain,
        model,
        train,
    })
}

/// `reconstructions.png` (16 test inputs over their reconstructions) and, for a VAE,
/// `samples.png` (64 decodings of codes drawn from the prior).
fn write_pictures(
    args: &Args,
    model: &AutoencoderModel,
    test: &ImageDataset,
    code_width: i64,
    plain: bool,
) -> anyhow::Result<()> {
    let size = (test.height(), test.width());
    let inputs = test.images().narrow(0, 0, 16.min(test.len() as i64));
    save_reconstructions(
        &args.run.out_path("reconstructions.png"),
        &inputs,
        &model.net().reconstruct(&inputs)?,
        size,
    )?;
    if !plain {
        let mut code = Code::new();
        let device = test.images().device();
        code.insert(
            "z",
            Tensor::randn([64, code_width / 2], (Kind::Float, device)),
        );
        let samples = tch::no_grad(|| model.net().generate(&code, false))?;
        let samples = model.net().to_pixels(&samples).to_device(Device::Cpu);
        save_image_grid(&args.run.out_path("samples.png"), &samples, size, 8, 2)?;
    }
    Ok(())
}
