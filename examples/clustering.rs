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
//! Each generator trains its shipped preset (`configs/*.toml`, the same as `aecraft train
//! --preset NAME`), changed by the flags given.
//!
//! Writes the run folder `--out`: `config.json`, `config.toml`, `checkpoint/`, `metrics.json`, `clusters.png`,
//! `cluster_sizes.png`; `mlp` and `capsules` also `log.jsonl` and `reconstructions.png`,
//! `capsules` `templates.png` (see `aecraft_train::cluster_run`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, set_if_given, PresetFlags};
use aecraft::cli::{RunArgs, MNIST_CLASSES};
use aecraft::experiment::{train_and_score, Experiment};
use aecraft::train::cluster_run::{metrics_table, ClusteringConfig};
use aecraft::train::{ClusterGenerator, ClusterVariant, TrainError};

#[derive(Debug, Parser)]
#[command(about = "Cluster MNIST with the talk's clustering autoencoders")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    /// The generator: capsules (the flagship, preset `capsules`), constant (k-means, preset
    /// `kmeans`), gaussian (preset `gaussian-mixture`), or mlp (preset `cluster-VARIANT`).
    #[arg(long, default_value = "capsules", value_parser = ["capsules", "constant", "gaussian", "mlp"])]
    generator: String,
    /// The MLP clustering autoencoder's version: naive, free or discrete (mlp).
    #[arg(long, value_parser = parse_variant, default_value = "discrete")]
    variant: ClusterVariant,
    /// The number of clusters K [preset: 25].
    #[arg(long)]
    clusters: Option<i64>,
    /// Output channels of conv layers (kernel 4, stride 2) that the encoder runs before its
    /// hidden layers, e.g. 32,64, or none for an MLP encoder on the flat pixels (mlp,
    /// capsules) [preset: 32,64 for capsules, none for mlp].
    #[arg(long)]
    conv_channels: Option<String>,
    /// Free code units beside the cluster choice (mlp) [preset: 3 for `free`, else 0].
    #[arg(long)]
    free: Option<i64>,
    /// Standard deviation of the noise on the logits (mlp, variant discrete) [preset: 2].
    #[arg(long, value_parser = finite_f64)]
    noise_std: Option<f64>,
    /// Weight of the usage prior that keeps all clusters in use (mlp) [preset: 10].
    #[arg(long, value_parser = finite_f64)]
    usage_weight: Option<f64>,
    /// Capsules per cluster (capsules) [preset: 1].
    #[arg(long)]
    capsules: Option<i64>,
    /// Template height and width in pixels (capsules) [preset: 28].
    #[arg(long)]
    template: Option<i64>,
    /// Control points per side of the bounded displacement grid that bends each cluster's
    /// drawing (capsules; 0: none) [preset: 4].
    #[arg(long)]
    deform_grid: Option<i64>,
    /// The most a control point of that grid moves, in pixels (capsules) [preset: 2.5].
    #[arg(long, value_parser = finite_f64)]
    deform_pixels: Option<f64>,
    /// The fraction of training over which that bound grows from 0 (capsules; 0: whole from
    /// the start) [preset: 0.5].
    #[arg(long, value_parser = finite_f64)]
    deform_warmup: Option<f64>,
    /// Clusters rendered per image and side (top logits, nearest in pixels) to choose one in
    /// training (capsules; 0 renders all) [preset: 4].
    #[arg(long)]
    candidates: Option<usize>,
    /// Independent k-means starts, the lowest training inertia kept (constant, gaussian;
    /// capsules: of the templates' initialization) [preset: 3; capsules 1].
    #[arg(long)]
    restarts: Option<usize>,
    /// Factors per cluster of the Gaussian's covariance (0: diagonal) (gaussian) [preset: 10].
    #[arg(long)]
    rank: Option<i64>,
    /// Principal components the Gaussian mixture models (gaussian) [preset: 50].
    #[arg(long)]
    pca_dims: Option<i64>,
    /// The most EM iterations (gaussian) [preset: 100].
    #[arg(long)]
    em_iterations: Option<usize>,
}

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(MNIST_CLASSES))?;
    let preset = match args.generator.as_str() {
        "constant" => "kmeans".to_owned(),
        "gaussian" => "gaussian-mixture".to_owned(),
        "mlp" => format!("cluster-{}", variant_name(args.variant)),
        _ => "capsules".to_owned(),
    };
    let run = args
        .run
        .start_preset_run(&preset, &splits.train, |experiment| edit(&args, experiment))?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    print!("{}", metrics_table(&metrics));
    Ok(())
}

/// The preset as the flags change it; a flag that the chosen generator has no use for is
/// an error naming it.
fn edit(args: &Args, experiment: &mut Experiment) -> Result<(), TrainError> {
    let run = experiment.clustering_mut()?;
    if let Some(clusters) = args.clusters {
        run.model.set_clusters(clusters);
    }
    match &mut run.model {
        ClusteringConfig::Constant(kmeans) => {
            set_if_given(&mut kmeans.restarts, args.restarts);
        }
        ClusteringConfig::Gaussian(gaussian) => {
            set_if_given(&mut gaussian.kmeans.restarts, args.restarts);
            set_if_given(&mut gaussian.mixture.rank, args.rank);
            set_if_given(&mut gaussian.pca_dims, args.pca_dims);
            set_if_given(&mut gaussian.mixture.iterations, args.em_iterations);
        }
        ClusteringConfig::Autoencoder(config) => {
            set_if_given(&mut config.hidden, args.preset.hidden()?);
            if let Some(text) = &args.conv_channels {
                config.conv_channels = match text.as_str() {
                    "none" => Vec::new(),
                    widths => parse_widths("--conv-channels", widths)?,
                };
            }
            set_if_given(&mut config.free, args.free);
            set_if_given(&mut config.noise_std, args.noise_std);
            set_if_given(&mut config.usage_weight, args.usage_weight);
            if let ClusterGenerator::Capsules(capsules) = &mut config.generator {
                set_if_given(&mut capsules.capsules, args.capsules);
                set_if_given(&mut capsules.template_height, args.template);
                set_if_given(&mut capsules.template_width, args.template);
                set_if_given(&mut capsules.deformation.grid, args.deform_grid);
                set_if_given(&mut capsules.deformation.pixels, args.deform_pixels);
                set_if_given(&mut capsules.deformation.warmup, args.deform_warmup);
            }
            if let Some(driver) = &mut config.driver {
                set_if_given(&mut driver.kmeans_restarts, args.restarts);
            }
            if let Some(choice) = &mut config.by_reconstruction {
                set_if_given(&mut choice.candidates, args.candidates);
            }
        }
    }
    let generator = args.generator.as_str();
    let autoencoder = matches!(run.model, ClusteringConfig::Autoencoder(_));
    let (gaussian, mlp, capsules) = (
        generator == "gaussian",
        generator == "mlp",
        generator == "capsules",
    );
    for (flag, value, used) in [
        (
            "--restarts",
            given(&args.restarts),
            !autoencoder || capsules,
        ),
        ("--rank", given(&args.rank), gaussian),
        ("--pca-dims", given(&args.pca_dims), gaussian),
        ("--em-iterations", given(&args.em_iterations), gaussian),
        ("--hidden", given(&args.preset.hidden), autoencoder),
        ("--batch", given(&args.preset.batch), autoencoder),
        ("--lr", given(&args.preset.lr), autoencoder),
        ("--conv-channels", given(&args.conv_channels), autoencoder),
        ("--free", given(&args.free), mlp),
        ("--noise-std", given(&args.noise_std), mlp),
        ("--usage-weight", given(&args.usage_weight), mlp),
        ("--capsules", given(&args.capsules), capsules),
        ("--template", given(&args.template), capsules),
        ("--deform-grid", given(&args.deform_grid), capsules),
        ("--deform-pixels", given(&args.deform_pixels), capsules),
        ("--deform-warmup", given(&args.deform_warmup), capsules),
        ("--candidates", given(&args.candidates), capsules),
    ] {
        if let (Some(value), false) = (value, used) {
            let reason = format!("--generator {generator} has no use for it");
            return Err(TrainError::invalid(flag, value, reason));
        }
    }
    args.preset.set_training(&mut run.train);
    Ok(())
}

/// A flag's value as text, when given.
fn given<T: ToString>(flag: &Option<T>) -> Option<String> {
    flag.as_ref().map(T::to_string)
}

fn parse_variant(text: &str) -> Result<ClusterVariant, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("{text:?}: expected naive, free or discrete"))
}

fn variant_name(variant: ClusterVariant) -> &'static str {
    match variant {
        ClusterVariant::Naive => "naive",
        ClusterVariant::Free => "free",
        ClusterVariant::Discrete => "discrete",
    }
}
