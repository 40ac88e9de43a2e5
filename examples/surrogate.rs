//! The computer-graphics autoencoder with a learned renderer: fits a neural surrogate of the
//! real sprites renderer by regression, freezes it, and trains an inverse-graphics encoder
//! whose reconstruction gradients flow through the surrogate.
//!
//! ```text
//! cargo run --release --example surrogate -- --out runs/surrogate [--epochs N] [--inverse-epochs M] [--seed S]
//! ```
//!
//! Inference is the encoder's proposal followed by a search through the surrogate
//! ([`search_params`]): every shape, from `--rotation-starts` rotations, refined by
//! `--search-steps` steps of gradient descent through the frozen surrogate, the best
//! reconstruction kept (`--search-steps 0` keeps the encoder's proposal). The true renderer
//! only scores the result.
//!
//! Writes into `--out`: `metrics.json`, `surrogate_vs_renderer.png` (true renders over the
//! surrogate's), `inverse.png` (test inputs, the true renderer's re-renders of the inferred
//! parameters, the surrogate's renders of them, and the true renderer's re-renders of the
//! encoder's proposals alone), and one checkpoint per stage in `surrogate/` and `inverse/`
//! (each with `config.json`, `model.safetensors`, `optimizer.safetensors`, `state.json` and
//! `log.jsonl`).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use aecraft::cli::{finish, parse_widths, RunArgs};
use aecraft::codes::Code;
use aecraft::data::sprites::{
    SpriteLabels, SpriteParams, SpritesConfig, SpritesDataset, PARAM_VECTOR_LEN,
};
use aecraft::eval::inverse::factor_errors;
use aecraft::generators::{CategoricalMode, SurrogateConfig, TranslationConfig};
use aecraft::prelude::*;
use aecraft::train::pictures::save_image_grid;
use aecraft::train::refine::RefineConfig;
use aecraft::train::run::CONFIG_FILE;
use aecraft::train::sprites::surrogate::{SurrogateData, SurrogateModel};
use aecraft::train::sprites::{search_params, SearchConfig};
use aecraft::train::{atomic, evaluate};

/// What the surrogate network draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Drawing {
    /// A window around the sprite, placed on the canvas by a fixed translation.
    Window,
    /// The whole canvas (a plain MLP from parameters to pixels).
    Canvas,
}

/// How the encoder's soft one-hot shape reaches the surrogate ([`CategoricalMode`]).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeInput {
    /// The soft one-hot itself.
    Soft,
    /// The expected image over the three shapes.
    Expected,
    /// The argmax's one-hot forward, the softmax's gradient backward.
    StraightThrough,
}

impl ShapeInput {
    fn mode(self) -> CategoricalMode {
        match self {
            Self::Soft => CategoricalMode::Soft,
            Self::Expected => CategoricalMode::Expected,
            Self::StraightThrough => CategoricalMode::StraightThrough,
        }
    }
}

/// The data sets this example knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DatasetChoice {
    /// The built-in sprites renderer (no download).
    Sprites,
}

#[derive(Debug, Parser)]
#[command(about = "Learn a surrogate of the sprites renderer and invert it with an encoder")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The data set; sprites are rendered on the fly.
    #[arg(long, value_enum, default_value = "sprites")]
    dataset: DatasetChoice,
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
    #[arg(long, default_value_t = 12)]
    inverse_epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Adam's learning rate, both stages.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Descent steps through the surrogate per search candidate at inference; 0 keeps the
    /// encoder's proposal.
    #[arg(long, default_value_t = 30)]
    search_steps: usize,
    /// Starting rotations per shape in the search.
    #[arg(long, default_value_t = 4)]
    rotation_starts: usize,
    /// Adam's learning rate in the search, in units of the raw parameters.
    #[arg(long, default_value_t = 0.05)]
    search_lr: f64,
}

/// Epochs of the surrogate stage when `--epochs` is absent.
const DEFAULT_EPOCHS: usize = 12;
/// The learning rate decays along a cosine to this fraction of `--lr`, in both stages.
const FINAL_LR_FRACTION: f64 = 0.05;
/// Sprites shown in the pictures.
const SHOWN: i64 = 16;

/// What `surrogate/config.json` holds.
#[derive(Debug, Serialize)]
struct SurrogateRun<'a> {
    sprites: &'a SpritesConfig,
    surrogate: &'a SurrogateConfig,
    train: &'a TrainConfig,
}

/// What `inverse/config.json` holds.
#[derive(Debug, Serialize)]
struct InverseRun<'a> {
    model: &'a AutoencoderConfig,
    train: &'a TrainConfig,
}

fn main() -> std::process::ExitCode {
    finish(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let DatasetChoice::Sprites = args.dataset;
    if args.run.resume.is_some() {
        anyhow::bail!("--resume: this two-stage example always trains from scratch");
    }
    let device = args.run.prepare()?;
    let search = SearchConfig {
        refine: RefineConfig {
            steps: args.search_steps,
            lr: args.search_lr,
        },
        rotation_starts: args.rotation_starts,
        ..SearchConfig::default()
    };
    search
        .validate()
        .context("--search-steps, --rotation-starts or --search-lr")?;
    let started = Instant::now();
    let (train_sprites, test_sprites) = sprites(&args)?;
    let pixels = (args.size * args.size) as i64;
    let data = SurrogateData::new(&train_sprites, &test_sprites)?;
    let (train, test) = (data.train.to_device(device), data.eval.to_device(device));

    let surrogate_dir = args.run.out_path("surrogate");
    let surrogate = SurrogateConfig {
        mlp: MlpConfig::with_hidden(&parse_widths("--surrogate-hidden", &args.surrogate_hidden)?),
        categorical: args.shape_input.mode(),
        translation: (args.surrogate == Drawing::Window).then(TranslationConfig::default),
        weights: surrogate_dir.join("model.safetensors"),
        ..SurrogateConfig::default()
    };
    let surrogate_train = args.run.cosine_config(
        args.run.epochs_or(DEFAULT_EPOCHS),
        args.batch,
        args.lr,
        FINAL_LR_FRACTION,
    )?;
    let sprites_config = sprites_config(&args, args.train_images, args.run.seed);
    let mut surrogate_model = SurrogateModel::new(&surrogate, &data.table, pixels, device)?;
    atomic::create_dir(&surrogate_dir)?;
    atomic::write_json(
        &surrogate_dir.join(CONFIG_FILE),
        &SurrogateRun {
            sprites: &sprites_config,
            surrogate: &surrogate,
            train: &surrogate_train,
        },
    )?;
    eprintln!(
        "stage 1: fitting the surrogate to {} renders of {}×{} for {} epochs",
        train.len(),
        args.size,
        args.size,
        surrogate_train.epochs
    );
    let trainer = Trainer::new(surrogate_train.clone())?.in_folder(&surrogate_dir);
    let mut optimizer = trainer.optimizer(&surrogate_model)?;
    let evaluation = Evaluation {
        name: "test",
        data: &test,
    };
    let surrogate_report = trainer.fit(
        &mut surrogate_model,
        &mut optimizer,
        &train,
        Some(evaluation),
        Default::default(),
    )?;
    let surrogate_mse = evaluate(&surrogate_model, &test, 500)?["pixel_mse"];

    let inverse_dir = args.run.out_path("inverse");
    let inverse = AutoencoderConfig {
        input: pixels,
        encoder: MlpConfig::with_hidden(&parse_widths("--encoder-hidden", &args.encoder_hidden)?),
        encoder_label: None,
        code: CodeLayout(vec![GroupSpec::new(
            &surrogate.input,
            PARAM_VECTOR_LEN as i64,
        )]),
        transforms: Vec::new(),
        generator: GeneratorConfig::Surrogate(surrogate.clone()),
    };
    let inverse_train =
        args.run
            .cosine_config(args.inverse_epochs, args.batch, args.lr, FINAL_LR_FRACTION)?;
    let mut inverse_model = AutoencoderModel::new(&inverse, device)?;
    atomic::create_dir(&inverse_dir)?;
    atomic::write_json(
        &inverse_dir.join(CONFIG_FILE),
        &InverseRun {
            model: &inverse,
            train: &inverse_train,
        },
    )?;
    eprintln!(
        "stage 2: training the inverse-graphics encoder through the frozen surrogate for {} epochs",
        inverse_train.epochs
    );
    let trainer = Trainer::new(inverse_train)?.in_folder(&inverse_dir);
    let mut optimizer = trainer.optimizer(&inverse_model)?;
    let inverse_report = trainer.fit(
        &mut inverse_model,
        &mut optimizer,
        &train,
        Some(evaluation),
        Default::default(),
    )?;

    let proposed = proposals(&inverse_model, &surrogate, test.images())?;
    let search_started = Instant::now();
    let found = if args.search_steps == 0 {
        proposed.shallow_clone()
    } else {
        search_params(
            inverse_model.net(),
            &surrogate.input,
            test.images(),
            &search,
        )?
    };
    let search_seconds = search_started.elapsed().as_secs_f64();
    let inferred = decode(&surrogate, &found)?;
    let encoder_inferred = decode(&surrogate, &proposed)?;
    let rerendered = rerender(args.size, &inferred, device)?;
    let encoder_rerendered = rerender(args.size, &encoder_inferred, device)?;
    let inverse_rerender_mse = mse(&rerendered, test.images());
    let train_mean = train.images().mean_dim(0, true, Kind::Float);
    let metrics = serde_json::json!({
        "pixel_variance": test
            .images()
            .var_dim(0, false, false)
            .mean(Kind::Float)
            .double_value(&[]),
        "mean_image_mse": mse(&train_mean, test.images()),
        "surrogate_mse": surrogate_mse,
        "inverse_rerender_mse": inverse_rerender_mse,
        "factor_errors": factor_errors(&test_sprites.params, &inferred, args.size)?,
        "encoder_rerender_mse": mse(&encoder_rerendered, test.images()),
        "encoder_factor_errors": factor_errors(&test_sprites.params, &encoder_inferred, args.size)?,
        "search": {
            "steps": args.search_steps,
            "rotation_starts": args.rotation_starts,
            "lr": args.search_lr,
            "seconds": search_seconds,
        },
        "train_seconds": surrogate_report.state.train_seconds + inverse_report.state.train_seconds,
        "surrogate_train_seconds": surrogate_report.state.train_seconds,
        "inverse_train_seconds": inverse_report.state.train_seconds,
        "total_seconds": started.elapsed().as_secs_f64(),
        "size": args.size,
        "train_images": train.len(),
        "test_images": test.len(),
        "epochs": surrogate_report.state.epochs_done,
        "inverse_epochs": inverse_report.state.epochs_done,
        "seed": args.run.seed,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    write_pictures(
        &args.run.out,
        (args.size as i64, args.size as i64),
        &surrogate_model,
        &data.table.narrow(0, train.len() as i64, SHOWN),
        InversePicture {
            model: &inverse_model,
            group: &surrogate.input,
            inputs: test.images(),
            found: &found,
            rerendered: &rerendered,
            encoder_rerendered: &encoder_rerendered,
        },
    )?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The training and test sprites, drawn with distinct seeds.
fn sprites(args: &Args) -> anyhow::Result<(SpritesDataset, SpritesDataset)> {
    let train_count = args
        .run
        .limit
        .map_or(args.train_images, |n| n.min(args.train_images));
    let train = SpritesDataset::generate(&sprites_config(args, train_count, args.run.seed))
        .context("--train-images/--size")?;
    let test_seed = args.run.seed.wrapping_add(1 << 32);
    let test = SpritesDataset::generate(&sprites_config(args, args.test_images, test_seed))
        .context("--test-images/--size")?;
    if (test.len() as i64) < SHOWN {
        anyhow::bail!(
            "--test-images {}: the pictures need at least {SHOWN}",
            test.len()
        );
    }
    Ok((train, test))
}

fn sprites_config(args: &Args, count: usize, seed: u64) -> SpritesConfig {
    SpritesConfig {
        size: args.size,
        count,
        seed,
        vary_intensity: !args.fixed_intensity,
    }
}

/// The encoder's raw parameter vectors `[N, 9]` for `images` (`[N, D]`).
fn proposals(
    model: &AutoencoderModel,
    surrogate: &SurrogateConfig,
    images: &Tensor,
) -> anyhow::Result<Tensor> {
    let parts = (0..images.size()[0])
        .step_by(500)
        .map(|start| {
            let batch = images.narrow(0, start, 500.min(images.size()[0] - start));
            tch::no_grad(|| -> anyhow::Result<Tensor> {
                let mut code = model.net().encode(&batch, false)?;
                Ok(code.take(&surrogate.input)?)
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Tensor::cat(&parts, 0))
}

/// Raw parameter vectors `[N, 9]` decoded as [`SpriteParams::from_vector`] does after the
/// layout's squash (the shape is the argmax of the soft one-hot).
fn decode(surrogate: &SurrogateConfig, raw: &Tensor) -> anyhow::Result<Vec<SpriteParams>> {
    let vectors = tch::no_grad(|| surrogate.layout.squash(raw))?;
    let values = Vec::<f32>::try_from(vectors.to_device(Device::Cpu).reshape([-1]))?;
    Ok(values
        .chunks(PARAM_VECTOR_LEN)
        .map(SpriteParams::from_vector)
        .collect::<Result<_, _>>()?)
}

/// The true renderer's images `[N, size²]` of `params`, on `device`.
fn rerender(size: usize, params: &[SpriteParams], device: Device) -> anyhow::Result<Tensor> {
    Ok(SpritesDataset::from_params(size, params.to_vec())?
        .to_image_dataset(SpriteLabels::Shape)?
        .images()
        .to_device(device))
}

fn mse(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).square().mean(Kind::Float).double_value(&[])
}

/// What `inverse.png` shows; see the module doc.
struct InversePicture<'a> {
    model: &'a AutoencoderModel,
    group: &'a str,
    inputs: &'a Tensor,
    found: &'a Tensor,
    rerendered: &'a Tensor,
    encoder_rerendered: &'a Tensor,
}

/// `surrogate_vs_renderer.png` and `inverse.png`; see the module doc.
fn write_pictures(
    out: &Path,
    size: (i64, i64),
    surrogate: &SurrogateModel,
    test_params: &Tensor,
    inverse: InversePicture,
) -> anyhow::Result<()> {
    let inputs = inverse.inputs.narrow(0, 0, SHOWN);
    let device = inputs.device();
    let rendered = tch::no_grad(|| surrogate.render(&test_params.to_device(device)))?.sigmoid();
    save_image_grid(
        &out.join("surrogate_vs_renderer.png"),
        &Tensor::cat(&[&inputs, &rendered], 0),
        size,
        SHOWN as usize,
        2,
    )?;
    let through_surrogate = tch::no_grad(|| -> anyhow::Result<Tensor> {
        let mut code = Code::new();
        code.insert(inverse.group, inverse.found.narrow(0, 0, SHOWN));
        let net = inverse.model.net();
        Ok(net.to_pixels(&net.generate(&code, false)?))
    })?;
    save_image_grid(
        &out.join("inverse.png"),
        &Tensor::cat(
            &[
                &inputs,
                &inverse.rerendered.narrow(0, 0, SHOWN),
                &through_surrogate,
                &inverse.encoder_rerendered.narrow(0, 0, SHOWN),
            ],
            0,
        ),
        size,
        SHOWN as usize,
        2,
    )?;
    Ok(())
}
