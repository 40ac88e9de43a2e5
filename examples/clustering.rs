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
//! Writes the run folder `--out`: `config.json`, `checkpoint/`, `metrics.json`, `clusters.png`,
//! `cluster_sizes.png`; `mlp` and `capsules` also `log.jsonl` and `reconstructions.png`,
//! `capsules` `templates.png` (see `aecraft_train::cluster_run`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, RunArgs, MNIST_CLASSES};
use aecraft::generators::{CapsuleGeneratorConfig, KMeansConfig, MixtureConfig};
use aecraft::train::cluster_run::{cluster_and_score, metrics_table, ClusteringConfig};
use aecraft::train::{ClusterAutoencoderConfig, ClusterVariant, GaussianMixtureConfig};
use aecraft::train::{ImageDataset, RunSpec, TrainError};

#[derive(Debug, Parser)]
#[command(about = "Cluster MNIST with the talk's clustering autoencoders")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// The generator: capsules (the flagship), constant (k-means), gaussian, or mlp.
    #[arg(long, default_value = "capsules", value_parser = ["capsules", "constant", "gaussian", "mlp"])]
    generator: String,
    /// The MLP clustering autoencoder's version: naive, free or discrete (mlp).
    #[arg(long, value_parser = parse_variant, default_value = "discrete")]
    variant: ClusterVariant,
    /// The number of clusters K.
    #[arg(long, default_value_t = 25)]
    clusters: i64,
    /// Free code units beside the cluster choice (mlp; default 3 for `free`, else 0).
    #[arg(long)]
    free: Option<i64>,
    /// Standard deviation of the noise on the logits (mlp, variant discrete).
    #[arg(long, default_value_t = 2.0, value_parser = finite_f64)]
    noise_std: f64,
    /// Weight of the usage prior that keeps all clusters in use (mlp).
    #[arg(long, default_value_t = 10.0, value_parser = finite_f64)]
    usage_weight: f64,
    /// Hidden widths of the encoder, mirrored in the generator (mlp).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Images per training step (mlp, capsules).
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate (mlp, capsules).
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
    lr: f64,
    /// Capsules per cluster (capsules).
    #[arg(long, default_value_t = 1)]
    capsules: i64,
    /// Template height and width in pixels (capsules).
    #[arg(long, default_value_t = 28)]
    template: i64,
    /// Clusters rendered per image and side (top logits, nearest in pixels) to choose one in
    /// training (capsules; 0 renders all).
    #[arg(long, default_value_t = 4)]
    candidates: usize,
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

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(MNIST_CLASSES))?;
    let run = args.run.start_run(|| configure(&args, &splits.train))?;
    let metrics = cluster_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    print!("{}", metrics_table(&metrics));
    Ok(())
}

/// The run's configuration from the flags: a preset of the chosen model, adjusted.
fn configure(args: &Args, data: &ImageDataset) -> Result<RunSpec<ClusteringConfig>, TrainError> {
    let (clusters, restarts) = (args.clusters, args.restarts);
    let kmeans = KMeansConfig {
        clusters,
        restarts,
        ..Default::default()
    };
    let model = match args.generator.as_str() {
        "constant" => ClusteringConfig::Constant(kmeans),
        "gaussian" => ClusteringConfig::Gaussian(GaussianMixtureConfig {
            pca_dims: args.pca_dims,
            kmeans,
            mixture: MixtureConfig {
                clusters,
                rank: args.rank,
                iterations: args.em_iterations,
                ..Default::default()
            },
        }),
        "mlp" => {
            let mut mlp = ClusterAutoencoderConfig::mlp(args.variant, clusters);
            mlp.input = data.pixels();
            mlp.hidden = parse_widths("--hidden", &args.hidden)?;
            mlp.free = args.free.unwrap_or(mlp.free);
            (mlp.noise_std, mlp.usage_weight) = (args.noise_std, args.usage_weight);
            ClusteringConfig::Autoencoder(mlp)
        }
        _ => {
            let (capsules, size) = (args.capsules, args.template);
            let generator = CapsuleGeneratorConfig {
                clusters,
                capsules,
                template_height: size,
                template_width: size,
                canvas_height: data.height(),
                canvas_width: data.width(),
                ..Default::default()
            };
            let seed = args.run.seed;
            let flagship = ClusterAutoencoderConfig::flagship(generator, args.candidates, seed);
            ClusteringConfig::Autoencoder(flagship)
        }
    };
    model.validate()?;
    let epochs = model.default_epochs();
    let train = args.run.train_config(epochs, args.batch, args.lr)?;
    Ok(RunSpec { model, train })
}

fn parse_variant(text: &str) -> Result<ClusterVariant, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?}: expected naive, free or discrete"))
}
