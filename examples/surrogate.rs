//! The computer-graphics autoencoder with a learned renderer: fits a neural surrogate of the
//! real sprites renderer, freezes it, and trains an inverse-graphics encoder through it
//! ([`fit_and_invert`]). Inference is the encoder's proposal followed by a search through the
//! surrogate: every shape, from `--rotation-starts` rotations, refined by `--search-steps`
//! steps of descent, the best reconstruction kept (`--search-steps 0` keeps the proposal).
//! The true renderer only scores the result.
//!
//! ```text
//! cargo run --release --example surrogate -- --out runs/surrogate [--epochs N] [--inverse-epochs M] [--seed S]
//! ```
//!
//! Writes into `--out`: `metrics.json`, `surrogate_vs_renderer.png` and `inverse.png` (see
//! [`save_inversion_pictures`]), and one run folder per stage, `surrogate/` and `inverse/`.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use aecraft::cli::{at_least_one, finite_f64, merge_metrics, parse_widths, run_main};
use aecraft::cli::{RunArgs, SpritesChoice};
use aecraft::models::sprites::{
    fit_and_invert, save_inversion_pictures, surrogate_config, Drawing, SearchConfig, ShapeInput,
    TwoStageConfig,
};
use aecraft::prelude::*;
use aecraft::train::atomic;

#[derive(Debug, Parser)]
#[command(about = "Learn a surrogate of the sprites renderer and invert it with an encoder")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The data set; sprites are rendered on the fly.
    #[arg(long, value_enum, default_value = "sprites")]
    dataset: SpritesChoice,
    /// Canvas width and height in pixels.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Training sprites (shared by both stages; `--limit` caps it too).
    #[arg(long, default_value_t = 20_000)]
    train_images: usize,
    /// Held-out test sprites, drawn with another seed.
    #[arg(long, default_value_t = 2_000)]
    test_images: usize,
    /// Keep every sprite white instead of drawing the intensity from its range.
    #[arg(long)]
    fixed_intensity: bool,
    /// What the surrogate network draws.
    #[arg(long, value_enum, default_value = "window")]
    surrogate: Drawing,
    /// How the inferred shape reaches the surrogate in the inverse stage.
    #[arg(long, value_enum, default_value = "straight-through")]
    shape_input: ShapeInput,
    /// Hidden widths of the surrogate MLP.
    #[arg(long, default_value = "256,1024")]
    surrogate_hidden: String,
    /// Hidden widths of the inverse-graphics encoder MLP.
    #[arg(long, default_value = "512,256")]
    encoder_hidden: String,
    /// Epochs of the inverse-graphics stage (`--epochs` sets the surrogate's).
    #[arg(long, default_value_t = 12, value_parser = at_least_one)]
    inverse_epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam's learning rate, both stages.
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
    lr: f64,
    /// Descent steps through the surrogate per search candidate at inference; 0 keeps the
    /// encoder's proposal.
    #[arg(long, default_value_t = 30)]
    search_steps: usize,
    /// Starting rotations per shape in the search.
    #[arg(long, default_value_t = 4)]
    rotation_starts: usize,
    /// Adam's learning rate in the search, in units of the raw parameters.
    #[arg(long, default_value_t = 0.05, value_parser = finite_f64)]
    search_lr: f64,
}

/// Epochs of the surrogate stage when `--epochs` is absent.
const DEFAULT_EPOCHS: usize = 12;
/// The learning rate decays along a cosine to this fraction of `--lr`, in both stages.
const FINAL_LR: f64 = 0.05;
/// Sprites shown in the pictures.
const SHOWN: i64 = 16;

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let SpritesChoice::Sprites = args.dataset;
    if args.run.resume.is_some() {
        anyhow::bail!("--resume: this two-stage example always trains from scratch");
    }
    let device = args.run.check()?;
    let search = SearchConfig::new(args.search_steps, args.rotation_starts, args.search_lr);
    search
        .validate()
        .context("--search-steps, --rotation-starts or --search-lr")?;
    let started = Instant::now();
    let counts = (args.train_images, args.test_images);
    let sprites = args
        .run
        .scored_sprites(args.size, counts, !args.fixed_intensity)?;
    sprites.require_eval(SHOWN as usize, "the pictures")?;
    let schedule = |n| args.run.cosine_config(n, args.batch, args.lr, FINAL_LR);
    let surrogate_hidden = parse_widths("--surrogate-hidden", &args.surrogate_hidden)?;
    let config = TwoStageConfig {
        sprites: sprites.config,
        surrogate: surrogate_config(&surrogate_hidden, args.surrogate, args.shape_input),
        surrogate_train: schedule(args.run.epochs_or(DEFAULT_EPOCHS))?,
        encoder: MlpConfig::with_hidden(&parse_widths("--encoder-hidden", &args.encoder_hidden)?),
        inverse_train: schedule(args.inverse_epochs)?,
    };
    let splits = (&sprites.train, &sprites.eval);
    args.run.prepare_out()?;
    let outcome = fit_and_invert(&config, splits, &search, &args.run.out, device)?;
    let (stages, inversion) = (&outcome.stages, &outcome.inversion);
    let surrogate_seconds = stages.surrogate_report.state.train_seconds;
    let inverse_seconds = stages.inverse_report.state.train_seconds;
    let metrics = merge_metrics(&[
        serde_json::to_value(&inversion.scores)?,
        serde_json::json!({
            "search": {
                "steps": search.refine.steps,
                "rotation_starts": search.rotation_starts,
                "lr": search.refine.lr,
                "seconds": inversion.search_seconds,
            },
            "train_seconds": surrogate_seconds + inverse_seconds,
            "surrogate_train_seconds": surrogate_seconds,
            "inverse_train_seconds": inverse_seconds,
            "total_seconds": started.elapsed().as_secs_f64(),
            "size": args.size,
            "train_images": outcome.data.train.len(),
            "test_images": outcome.data.eval.len(),
            "evaluated_on": sprites.eval_name,
            "epochs": stages.surrogate_report.state.epochs_done,
            "inverse_epochs": stages.inverse_report.state.epochs_done,
            "seed": args.run.seed,
        }),
    ]);
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    save_inversion_pictures(&args.run.out, stages, &outcome.data, inversion, SHOWN)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
