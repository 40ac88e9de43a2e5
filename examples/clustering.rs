//! The talk's clustering section on MNIST: the flagship computer-graphics clustering
//! autoencoder (`capsules`, the default), k-means as an autoencoder (`constant`), a Gaussian
//! generator per cluster (`gaussian`), and the three MLP clustering autoencoders (`mlp` with
//! `--variant naive|free|discrete`). Training never sees a label; labels are revealed only
//! to score the clusters.
//!
//! ```text
//! cargo run --release --example clustering -- --out runs/clustering \
//!     [--generator capsules|constant|gaussian|mlp] [--variant naive|free|discrete] \
//!     [--clusters 25] [--epochs N] [--seed S] [--limit N] [--threads 1]
//! ```
//!
//! Writes `metrics.json`, `clusters.png` (per cluster: its prototype, then its most confident
//! test images), `cluster_sizes.png`, and the checkpoint (`checkpoint/`: `config.json`,
//! `model.safetensors`, and for `mlp` and `capsules` the optimizer and training state) into
//! `--out`; `mlp` and `capsules` also write `log.jsonl`, and `capsules` writes
//! `templates.png` and `reconstructions.png`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tch::Device;

use aecraft::cli::{finish, parse_widths, RunArgs, RunSplits};
use aecraft::generators::{CapsuleGeneratorConfig, KMeansConfig, MixtureConfig};
use aecraft::prelude::*;
use aecraft::train::capsule_clustering::{
    save_capsule_pictures, train_capsule_clustering, CapsuleClusteringConfig,
    CapsuleClusteringModel, CapsuleRun,
};
use aecraft::train::clustering::{
    clustering_metrics, save_cluster_pictures, Assignments, ClusterModel,
};
use aecraft::train::run::{read_config, CONFIG_FILE};
use aecraft::train::{
    atomic, ClusterAutoencoder, ClusterAutoencoderConfig, ClusterVariant, GaussianMixtureConfig,
    GaussianMixtureModel, KMeansModel,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GeneratorChoice {
    /// k-means: one constant image per cluster.
    Constant,
    /// A Gaussian per cluster with low-rank-plus-diagonal covariance (EM, on PCA features).
    Gaussian,
    /// An MLP clustering autoencoder (see --variant).
    Mlp,
    /// The capsule graphics generator: per-cluster templates under bounded affine poses.
    Capsules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VariantChoice {
    /// A softmax cluster code alone.
    Naive,
    /// A softmax cluster code plus free units.
    Free,
    /// Noise on the logits makes the cluster choice discrete in training.
    Discrete,
}

#[derive(Debug, Parser)]
#[command(about = "Cluster MNIST with the talk's clustering autoencoders")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The generator.
    #[arg(long, value_enum, default_value = "capsules")]
    generator: GeneratorChoice,
    /// The MLP clustering autoencoder's version (with --generator mlp).
    #[arg(long, value_enum, default_value = "discrete")]
    variant: VariantChoice,
    /// The number of clusters K.
    #[arg(long, default_value_t = 25)]
    clusters: i64,
    /// Free code units beside the cluster choice (mlp; default 3 for `free`, else 0).
    #[arg(long)]
    free: Option<i64>,
    /// Standard deviation of the noise on the logits (mlp, variant discrete).
    #[arg(long, default_value_t = 2.0)]
    noise_std: f64,
    /// Weight of the usage prior that keeps all clusters in use (mlp).
    #[arg(long, default_value_t = 10.0)]
    usage_weight: f64,
    /// Hidden widths of the encoder, mirrored in the generator (mlp).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Images per training step (mlp, capsules).
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate (mlp, capsules).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Capsules per cluster (capsules).
    #[arg(long, default_value_t = 1)]
    capsules: i64,
    /// Template height and width in pixels (capsules).
    #[arg(long, default_value_t = 28)]
    template: i64,
    /// Clusters rendered per image and side when choosing the cluster in training: the
    /// encoder's top ones and the nearest in pixels (capsules; 0 renders all).
    #[arg(long, default_value_t = 4)]
    candidates: usize,
    /// Weight of the term that trains every cluster's pose on every image (capsules).
    #[arg(long, default_value_t = 0.0)]
    pose_alignment: f64,
    /// Independent k-means starts, the lowest training inertia kept (constant, gaussian).
    #[arg(long, default_value_t = 3)]
    restarts: usize,
    /// Factors per cluster of the Gaussian's covariance (0: diagonal) (gaussian).
    #[arg(long, default_value_t = 10)]
    rank: i64,
    /// Principal components the Gaussian mixture models (gaussian).
    #[arg(long, default_value_t = 50)]
    pca_dims: i64,
    /// The most EM iterations (gaussian).
    #[arg(long, default_value_t = 100)]
    em_iterations: usize,
}

/// What `config.json` holds: the model's configuration.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "generator", rename_all = "snake_case")]
enum RunConfig {
    Constant {
        kmeans: KMeansConfig,
    },
    Gaussian {
        gaussian: GaussianMixtureConfig,
    },
    Mlp {
        model: ClusterAutoencoderConfig,
        train: TrainConfig,
    },
}

/// A fitted model: the capsule model keeps its type for its own pictures.
enum FittedModel {
    Capsules(Box<CapsuleClusteringModel>),
    Other(Box<dyn ClusterModel>),
}

impl FittedModel {
    fn as_cluster_model(&self) -> &dyn ClusterModel {
        match self {
            Self::Capsules(model) => model.as_ref(),
            Self::Other(model) => model.as_ref(),
        }
    }

    /// `clusters.png` and `cluster_sizes.png`; for capsules also `templates.png` and
    /// `reconstructions.png`.
    fn save_pictures(
        &self,
        dir: &Path,
        eval: &ImageDataset,
        assignments: &Assignments,
    ) -> anyhow::Result<()> {
        match self {
            Self::Capsules(model) => save_capsule_pictures(dir, model, eval, assignments)?,
            Self::Other(model) => {
                save_cluster_pictures(dir, model.as_ref(), eval, assignments, MEMBERS_SHOWN)?
            }
        }
        Ok(())
    }
}

/// A fitted model, its training time and what else it reports.
struct Fitted {
    model: FittedModel,
    train_seconds: f64,
    train_images_per_second: f64,
    extra: Map<String, Value>,
}

/// Epochs of the MLP clustering autoencoders.
const MLP_EPOCHS: usize = 10;
/// Epochs of the capsule flagship (chosen on a validation split of the training set).
const CAPSULE_EPOCHS: usize = 6;
/// Test images shown per cluster in `clusters.png`.
const MEMBERS_SHOWN: usize = 8;
/// Classes of MNIST.
const CLASSES: usize = 10;

fn main() -> std::process::ExitCode {
    finish(run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let device = args.run.prepare()?;
    if args.clusters < 2 {
        anyhow::bail!("--clusters {}: needs at least 2 clusters", args.clusters);
    }
    let resumable = matches!(
        args.generator,
        GeneratorChoice::Mlp | GeneratorChoice::Capsules
    );
    if args.run.resume.is_some() && !resumable {
        anyhow::bail!(
            "--resume is supported for --generator mlp and capsules only; the others refit in minutes"
        );
    }
    let RunSplits {
        train,
        eval,
        eval_name,
    } = args.run.load_splits(device)?;
    eprintln!(
        "clustering {} training images into {} clusters with the {:?} generator on {device:?}",
        train.len(),
        args.clusters,
        args.generator
    );

    let fitted = match args.generator {
        GeneratorChoice::Constant => fit_constant(&args, &train, device)?,
        GeneratorChoice::Gaussian => fit_gaussian(&args, &train, &eval, device)?,
        GeneratorChoice::Mlp => fit_mlp(&args, &train, device)?,
        GeneratorChoice::Capsules => fit_capsules(&args, &train, eval_name, &eval)?,
    };

    let model = fitted.model.as_cluster_model();
    let train_assignments = model.assign(&train)?;
    let eval_assignments = model.assign(&eval)?;
    let scores = clustering_metrics(
        &train_assignments,
        &train.label_vec("one_label_accuracy")?,
        &eval_assignments,
        &eval.label_vec("clustering metrics")?,
        model.clusters(),
        CLASSES,
    )?;
    let mut metrics = json!({
        "generator": args.generator,
        "variant": (args.generator == GeneratorChoice::Mlp).then(|| variant(&args)),
        "clusters": args.clusters,
        "train_seconds": fitted.train_seconds,
        "train_images_per_second": fitted.train_images_per_second,
        "train_images": train.len(),
        "evaluated_on": eval_name,
        "seed": args.run.seed,
    });
    let object = metrics.as_object_mut().context("metrics are an object")?;
    if let Value::Object(scores) = serde_json::to_value(&scores)? {
        object.extend(scores);
    }
    object.extend(fitted.extra);
    atomic::write_json(&args.run.out_path("metrics.json"), &metrics)?;
    fitted
        .model
        .save_pictures(&args.run.out, &eval, &eval_assignments)?;
    print_table(&metrics);
    Ok(())
}

/// Prints the headline metrics as a table (all of them are in `metrics.json`).
fn print_table(metrics: &Value) {
    const ROWS: [&str; 8] = [
        "one_label_accuracy",
        "majority_accuracy",
        "nmi",
        "ari",
        "clusters_used",
        "labels_revealed",
        "train_seconds",
        "train_images_per_second",
    ];
    println!("{:<26} {:>12}", "metric", "value");
    for key in ROWS {
        match (metrics[key].as_u64(), metrics[key].as_f64()) {
            (Some(count), _) => println!("{key:<26} {count:>12}"),
            (None, Some(value)) => println!("{key:<26} {value:>12.4}"),
            (None, None) => println!("{key:<26} {:>12}", metrics[key]),
        }
    }
}

fn variant(args: &Args) -> ClusterVariant {
    match args.variant {
        VariantChoice::Naive => ClusterVariant::Naive,
        VariantChoice::Free => ClusterVariant::Free,
        VariantChoice::Discrete => ClusterVariant::Discrete,
    }
}

fn kmeans_config(args: &Args) -> KMeansConfig {
    KMeansConfig {
        clusters: args.clusters,
        restarts: args.restarts,
        ..Default::default()
    }
}

/// Times `fit`, returning its value and the seconds it took.
fn timed<T>(fit: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, f64)> {
    let started = Instant::now();
    let value = fit()?;
    Ok((value, started.elapsed().as_secs_f64()))
}

/// k-means on raw pixels.
fn fit_constant(args: &Args, train: &ImageDataset, device: Device) -> anyhow::Result<Fitted> {
    let config = kmeans_config(args);
    let model = KMeansModel::new(&config, train.pixels(), device)?;
    let (report, seconds) = timed(|| Ok(model.fit(train)?))?;
    let checkpoint = Checkpoint::new(args.run.out_path(CHECKPOINT_DIR));
    atomic::write_json(
        &args.run.out_path(CONFIG_FILE),
        &RunConfig::Constant { kmeans: config },
    )?;
    checkpoint.save_weights(model.var_store())?;
    let mut extra = Map::new();
    extra.insert("train_inertia".into(), json!(report.inertia));
    extra.insert("kmeans".into(), serde_json::to_value(&report)?);
    Ok(Fitted {
        model: FittedModel::Other(Box::new(model)),
        train_seconds: seconds,
        train_images_per_second: train.len() as f64 / seconds,
        extra,
    })
}

/// PCA, k-means, then EM for the mixture of factor analyzers.
fn fit_gaussian(
    args: &Args,
    train: &ImageDataset,
    eval: &ImageDataset,
    device: Device,
) -> anyhow::Result<Fitted> {
    let config = GaussianMixtureConfig {
        pca_dims: args.pca_dims,
        kmeans: kmeans_config(args),
        mixture: MixtureConfig {
            clusters: args.clusters,
            rank: args.rank,
            iterations: args.em_iterations,
            ..Default::default()
        },
    };
    let model = GaussianMixtureModel::new(&config, train.pixels(), device)?;
    let (report, seconds) = timed(|| Ok(model.fit(train)?))?;
    let checkpoint = Checkpoint::new(args.run.out_path(CHECKPOINT_DIR));
    atomic::write_json(
        &args.run.out_path(CONFIG_FILE),
        &RunConfig::Gaussian { gaussian: config },
    )?;
    checkpoint.save_weights(model.var_store())?;
    let mut extra = Map::new();
    extra.insert(
        "test_log_likelihood".into(),
        json!(model.mean_log_likelihood(eval)?),
    );
    extra.insert(
        "train_log_likelihood".into(),
        json!(model.mean_log_likelihood(train)?),
    );
    extra.insert("rank".into(), json!(args.rank));
    extra.insert("pca_dims".into(), json!(args.pca_dims));
    extra.insert("em_iterations".into(), json!(report.em.iterations));
    Ok(Fitted {
        model: FittedModel::Other(Box::new(model)),
        train_seconds: seconds,
        train_images_per_second: train.len() as f64 / seconds,
        extra,
    })
}

/// The MLP clustering autoencoder, trained by the [`Trainer`] (resumable).
fn fit_mlp(args: &Args, train: &ImageDataset, device: Device) -> anyhow::Result<Fitted> {
    let (model_config, train_config) = match &args.run.resume {
        Some(dir) => {
            let config: RunConfig =
                read_config(dir).with_context(|| format!("resuming from {}", dir.display()))?;
            let RunConfig::Mlp { model, mut train } = config else {
                anyhow::bail!("{} does not hold an mlp clustering run", dir.display());
            };
            train.epochs = args.run.epochs_or(train.epochs);
            (model, train)
        }
        None => mlp_configs(args, train.pixels())?,
    };
    let mut model = ClusterAutoencoder::new(&model_config, device)?;
    let checkpoint = Checkpoint::new(args.run.out_path(CHECKPOINT_DIR));
    let trainer = Trainer::new(train_config.clone())?
        .with_checkpoint(checkpoint.clone())
        .with_log(args.run.out_path("log.jsonl"));
    let resume = args.run.resume.as_deref().map(checkpoint_in);
    let (mut optimizer, state) = trainer.start(&mut model, train, resume.as_deref())?;
    atomic::write_json(
        &args.run.out_path(CONFIG_FILE),
        &RunConfig::Mlp {
            model: model_config.clone(),
            train: train_config,
        },
    )?;
    let report = trainer.fit(&mut model, &mut optimizer, train, None, state)?;
    let mut extra = Map::new();
    extra.insert("free_units".into(), json!(model_config.free));
    extra.insert("usage_weight".into(), json!(model_config.usage_weight));
    if model_config.variant == ClusterVariant::Discrete {
        extra.insert("noise_std".into(), json!(model_config.noise_std));
    }
    extra.insert("epochs".into(), json!(report.state.epochs_done));
    Ok(Fitted {
        train_seconds: report.state.train_seconds,
        train_images_per_second: report.images_per_second(),
        model: FittedModel::Other(Box::new(model)),
        extra,
    })
}

fn mlp_configs(
    args: &Args,
    pixels: i64,
) -> anyhow::Result<(ClusterAutoencoderConfig, TrainConfig)> {
    let hidden = parse_widths("--hidden", &args.hidden)?;
    let variant = variant(args);
    let free = args.free.unwrap_or(match variant {
        ClusterVariant::Free => 3,
        ClusterVariant::Naive | ClusterVariant::Discrete => 0,
    });
    let model = ClusterAutoencoderConfig {
        input: pixels,
        hidden,
        clusters: args.clusters,
        free,
        variant,
        noise_std: args.noise_std,
        usage_weight: args.usage_weight,
    };
    model.autoencoder()?.validate()?;
    let train = args.run.train_config(MLP_EPOCHS, args.batch, args.lr)?;
    Ok((model, train))
}

/// The checkpoint folder inside `--out`.
const CHECKPOINT_DIR: &str = "checkpoint";

/// The checkpoint folder of a run: `dir/checkpoint` when `dir` is a run's `--out`, else `dir`.
fn checkpoint_in(dir: &Path) -> PathBuf {
    let inner = dir.join(CHECKPOINT_DIR);
    if inner.is_dir() {
        inner
    } else {
        dir.to_owned()
    }
}

/// The flagship: clustering with the capsule generator, the cluster chosen by reconstruction
/// (hard EM), templates initialized from k-means; see `docs/capsules.md`.
fn fit_capsules(
    args: &Args,
    train: &ImageDataset,
    eval_name: &str,
    eval: &ImageDataset,
) -> anyhow::Result<Fitted> {
    let run = match &args.run.resume {
        Some(dir) => {
            let mut run: CapsuleRun =
                read_config(dir).with_context(|| format!("resuming from {}", dir.display()))?;
            run.train.epochs = args.run.epochs_or(run.train.epochs);
            run
        }
        None => capsule_run(args, train.pixels())?,
    };
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let resume = args.run.resume.as_deref().map(checkpoint_in);
    let (model, report) = train_capsule_clustering(
        &run,
        train,
        Some(evaluation),
        &args.run.out,
        resume.as_deref(),
    )
    .context("training the capsule clustering model")?;
    let mut extra = Map::new();
    extra.insert("capsules".into(), json!(run.model.generator.capsules));
    extra.insert("candidates".into(), json!(run.model.candidates));
    extra.insert("epochs".into(), json!(report.state.epochs_done));
    extra.insert(
        "train_reconstruction".into(),
        json!(report.epochs.last().map(|e| e.train["reconstruction"])),
    );
    Ok(Fitted {
        train_seconds: report.state.train_seconds,
        train_images_per_second: report.images_per_second(),
        model: FittedModel::Capsules(Box::new(model)),
        extra,
    })
}

fn capsule_run(args: &Args, pixels: i64) -> anyhow::Result<CapsuleRun> {
    let run = CapsuleRun {
        model: CapsuleClusteringConfig {
            input: pixels,
            generator: CapsuleGeneratorConfig {
                clusters: args.clusters,
                capsules: args.capsules,
                template_height: args.template,
                template_width: args.template,
                ..Default::default()
            },
            pose_alignment: args.pose_alignment,
            candidates: args.candidates,
            ..Default::default()
        },
        train: args.run.train_config(CAPSULE_EPOCHS, args.batch, args.lr)?,
    };
    run.model.validate()?;
    Ok(run)
}
