//! The independent-features autoencoder: dropout on the code units, so that the generator
//! cannot count on any one unit and each unit has to be useful on its own. Trains it and, in
//! the same run, the same autoencoder without code dropout, on sprites whose true factors are
//! known, and scores both codes with the Mutual Information Gap. A beta-VAE with the same
//! networks (`--beta`, 0 leaves it out) is trained and scored too, as the usual reference
//! for disentangling; its code is the posterior mean.
//!
//! ```text
//! cargo run --release --example independent -- --out runs/independent [--code-dropout P] [--epochs N] [--seed S]
//! ```
//!
//! Writes into `--out`: `metrics.json`, `traversals.png` (each row varies one code unit of
//! the code-dropout autoencoder, from its smallest to its largest test value, the other units
//! held at their test means), and one checkpoint per model in `dropout/`, `no_dropout/` and
//! `beta_vae/` (each with `config.json`, `model.safetensors`, `optimizer.safetensors`, `state.json` and
//! `log.jsonl`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs};
use aecraft::codes::{CodeDropoutConfig, GaussianSamplerConfig};
use aecraft::data::sprites::{SpriteLabels, SpritesConfig, SpritesDataset};
use aecraft::eval::mig::{mig, MigReport};
use aecraft::eval::sprite_factors::discrete_factors;
use aecraft::prelude::*;
use aecraft::train::pictures::save_image_grid;
use aecraft::train::run::CONFIG_FILE;
use aecraft::train::{atomic, evaluate};

/// The data sets this example knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DatasetChoice {
    /// The built-in sprites renderer (no download), whose factors are known.
    Sprites,
}

#[derive(Debug, Parser)]
#[command(about = "Autoencoders with and without code dropout on sprites, scored by MIG")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The data set; sprites are rendered on the fly.
    #[arg(long, value_enum, default_value = "sprites")]
    dataset: DatasetChoice,
    /// The probability of dropping each code unit in training.
    #[arg(long, default_value_t = 0.2)]
    code_dropout: f64,
    /// Canvas width and height in pixels.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Training sprites (`--limit` caps it too).
    #[arg(long, default_value_t = 20_000)]
    train_images: usize,
    /// Held-out test sprites on which MIG is estimated (at least 10,000 for the issue's MIG).
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    /// Code units.
    #[arg(long, default_value_t = 10)]
    code: i64,
    /// Hidden widths of the encoder (mirrored in the generator).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Equal-width bins for the code units and the continuous factors in MIG.
    #[arg(long, default_value_t = 20)]
    bins: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Weight of the KL term of the beta-VAE reference; 0 leaves the reference out.
    #[arg(long, default_value_t = 4.0)]
    beta: f64,
}

const DEFAULT_EPOCHS: usize = 10;
/// The learning rate decays along a cosine to this fraction of `--lr`.
const FINAL_LR_FRACTION: f64 = 0.05;
/// Code values per traversal row.
const STEPS: i64 = 10;

/// What each model's `config.json` holds.
#[derive(Debug, Serialize)]
struct RunConfig<'a> {
    sprites: &'a SpritesConfig,
    model: &'a AutoencoderConfig,
    train: &'a TrainConfig,
}

/// One trained model and its scores.
struct Outcome {
    model: AutoencoderModel,
    mig: MigReport,
    test_reconstruction_mse: f64,
    test_bce: f64,
    train_seconds: f64,
}

fn main() -> std::process::ExitCode {
    finish(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let DatasetChoice::Sprites = args.dataset;
    if args.run.resume.is_some() {
        anyhow::bail!("--resume: this example trains both models from scratch");
    }
    if !(args.beta.is_finite() && args.beta >= 0.0) {
        anyhow::bail!(
            "--beta {}: must be >= 0 (0 leaves the beta-VAE out)",
            args.beta
        );
    }
    let device = args.run.prepare()?;
    let train_count = args
        .run
        .limit
        .map_or(args.train_images, |n| n.min(args.train_images));
    let sprites_config = SpritesConfig {
        size: args.size,
        count: train_count,
        seed: args.run.seed,
        vary_intensity: false,
    };
    let train_sprites =
        SpritesDataset::generate(&sprites_config).context("--train-images/--size")?;
    let test_sprites = SpritesDataset::generate(&SpritesConfig {
        count: args.test_images,
        seed: args.run.seed.wrapping_add(1 << 32),
        ..sprites_config.clone()
    })
    .context("--test-images")?;
    let train = train_sprites
        .to_image_dataset(SpriteLabels::Shape)?
        .to_device(device);
    let test = test_sprites
        .to_image_dataset(SpriteLabels::Shape)?
        .to_device(device);
    let factors = discrete_factors(&test_sprites, args.bins)?;
    let factor_names = test_sprites.factor_names();

    let hidden = parse_widths("--hidden", &args.hidden)?;
    if args.code <= 0 {
        anyhow::bail!("--code {}: the code needs at least one unit", args.code);
    }
    let mut with_dropout = AutoencoderConfig::plain(&hidden, args.code);
    with_dropout.input = (args.size * args.size) as i64;
    let without_dropout = with_dropout.clone();
    with_dropout
        .transforms
        .push(TransformConfig::Dropout(CodeDropoutConfig {
            input: "z".into(),
            rate: args.code_dropout,
        }));
    let train_config = args.run.cosine_config(
        args.run.epochs_or(DEFAULT_EPOCHS),
        args.batch,
        args.lr,
        FINAL_LR_FRACTION,
    )?;
    let shared = Shared {
        args: &args,
        sprites: &sprites_config,
        train: &train,
        test: &test,
        factors: &factors,
        num_factors: factor_names.len(),
        train_config: &train_config,
    };
    eprintln!(
        "training two autoencoders ({} code units; code dropout {} and none) on {} sprites of {}×{}",
        args.code, args.code_dropout, train.len(), args.size, args.size
    );
    let dropout = shared.train_and_score(&with_dropout, "dropout")?;
    let plain = shared.train_and_score(&without_dropout, "no_dropout")?;
    let beta_vae = if args.beta > 0.0 {
        let mut config = AutoencoderConfig::vae(&hidden, args.code);
        config.input = with_dropout.input;
        config.transforms = vec![TransformConfig::Gaussian(GaussianSamplerConfig {
            kl_weight: args.beta,
            ..Default::default()
        })];
        Some(shared.train_and_score(&config, "beta_vae")?)
    } else {
        None
    };

    let per_factor = |report: &MigReport| {
        factor_names
            .iter()
            .zip(&report.per_factor)
            .map(|(name, gap)| (name.to_string(), serde_json::json!(gap)))
            .collect::<serde_json::Map<_, _>>()
    };
    let metrics = serde_json::json!({
        "mig": dropout.mig.mig,
        "mig_no_dropout": plain.mig.mig,
        "test_reconstruction_mse": dropout.test_reconstruction_mse,
        "test_reconstruction_mse_no_dropout": plain.test_reconstruction_mse,
        "test_reconstruction_bce": dropout.test_bce,
        "test_reconstruction_bce_no_dropout": plain.test_bce,
        "mig_per_factor": per_factor(&dropout.mig),
        "mig_per_factor_no_dropout": per_factor(&plain.mig),
        "mig_beta_vae": beta_vae.as_ref().map(|o| o.mig.mig),
        "mig_per_factor_beta_vae": beta_vae.as_ref().map(|o| per_factor(&o.mig)),
        "test_reconstruction_mse_beta_vae": beta_vae.as_ref().map(|o| o.test_reconstruction_mse),
        "beta": args.beta,
        "train_seconds": dropout.train_seconds + plain.train_seconds,
        "train_seconds_beta_vae": beta_vae.as_ref().map(|o| o.train_seconds),
        "code_dropout": args.code_dropout,
        "code_units": args.code,
        "mig_images": test.len(),
        "mig_bins": args.bins,
        "size": args.size,
        "train_images": train.len(),
        "epochs": train_config.epochs,
        "seed": args.run.seed,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    save_traversals(
        &args.run.out_path("traversals.png"),
        &dropout.model,
        &test,
        args.code,
    )?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// What both models share.
struct Shared<'a> {
    args: &'a Args,
    sprites: &'a SpritesConfig,
    train: &'a ImageDataset,
    test: &'a ImageDataset,
    factors: &'a [usize],
    num_factors: usize,
    train_config: &'a TrainConfig,
}

impl Shared<'_> {
    /// Trains `config` from the run's seed, checkpointing into `--out/name`, and scores it.
    fn train_and_score(&self, config: &AutoencoderConfig, name: &str) -> anyhow::Result<Outcome> {
        tch::manual_seed(self.args.run.seed as i64);
        let dir: PathBuf = self.args.run.out_path(name);
        let mut model = AutoencoderModel::new(config, self.train.images().device())?;
        atomic::create_dir(&dir)?;
        atomic::write_json(
            &dir.join(CONFIG_FILE),
            &RunConfig {
                sprites: self.sprites,
                model: config,
                train: self.train_config,
            },
        )?;
        let trainer = Trainer::new(self.train_config.clone())?.in_folder(&dir);
        let mut optimizer = trainer.optimizer(&model)?;
        let evaluation = Evaluation {
            name: "test",
            data: self.test,
        };
        eprintln!("{name}:");
        let report = trainer.fit(
            &mut model,
            &mut optimizer,
            self.train,
            Some(evaluation),
            Default::default(),
        )?;
        let codes = codes_of(&model, self.test, &config.code_group())?;
        let dims = (codes.len() / self.test.len()).max(1);
        let mig = mig(&codes, dims, self.factors, self.num_factors, self.args.bins)?;
        let mut squared_error = 0.0;
        for batch in self.test.ordered_batches(1000) {
            let reconstruction = model.net().reconstruct(&batch.images)?;
            squared_error += (reconstruction - &batch.images)
                .square()
                .sum(Kind::Double)
                .double_value(&[]);
        }
        let pixels = (self.test.len() as i64 * self.test.pixels()) as f64;
        Ok(Outcome {
            test_bce: evaluate(&model, self.test, 1000)?["reconstruction"],
            model,
            mig,
            test_reconstruction_mse: squared_error / pixels,
            train_seconds: report.state.train_seconds,
        })
    }
}

/// The evaluation-mode code group `group` of every image, row-major `N × code units`.
fn codes_of(
    model: &AutoencoderModel,
    data: &ImageDataset,
    group: &str,
) -> anyhow::Result<Vec<f32>> {
    let mut codes = Vec::new();
    for batch in data.ordered_batches(1000) {
        let z = tch::no_grad(|| -> anyhow::Result<Tensor> {
            Ok(model.net().encode(&batch.images, false)?.take(group)?)
        })?;
        codes.extend(Vec::<f32>::try_from(
            z.to_device(Device::Cpu).reshape([-1]),
        )?);
    }
    Ok(codes)
}

/// `traversals.png`: row `i` decodes the mean test code with unit `i` swept over `STEPS`
/// values from its smallest to its largest test value.
fn save_traversals(
    path: &std::path::Path,
    model: &AutoencoderModel,
    test: &ImageDataset,
    code_units: i64,
) -> anyhow::Result<()> {
    let z = tch::no_grad(|| -> anyhow::Result<Tensor> {
        Ok(model.net().encode(test.images(), false)?.take("z")?)
    })?;
    let (low, high) = (z.amin(0, false), z.amax(0, false));
    let mean = z.mean_dim(0, false, Kind::Float);
    let device = z.device();
    let steps = Tensor::linspace(0.0, 1.0, STEPS, (Kind::Float, device));
    let mut rows = Vec::with_capacity(code_units as usize);
    for unit in 0..code_units {
        let codes = mean.unsqueeze(0).repeat([STEPS, 1]);
        let (lo, hi) = (low.get(unit), high.get(unit));
        let values = &lo + &steps * (&hi - &lo);
        codes.narrow(1, unit, 1).copy_(&values.unsqueeze(1));
        rows.push(codes);
    }
    let mut code = Code::new();
    code.insert("z", Tensor::cat(&rows, 0));
    let images = tch::no_grad(|| model.net().generate(&code, false))?;
    let images = model.net().to_pixels(&images);
    save_image_grid(
        path,
        &images,
        (test.height(), test.width()),
        STEPS as usize,
        2,
    )?;
    Ok(())
}
