//! TEMPORARY development driver of the capsule clustering flagship (the lead wires it into
//! `examples/clustering.rs` as `--generator capsules` and then deletes this file).
//!
//! ```text
//! cargo run --release --example capsules_dev -- --out runs/capsules [--epochs 4]
//!     [--clusters 25] [--capsules 1] [--template 28] [--validation N] [--limit N]
//! ```
//!
//! Writes `metrics.json` (`one_label_accuracy`, `majority_accuracy`, `nmi`, `ari`,
//! `clusters_used`, `train_seconds`, `train_images_per_second`, ...), `templates.png`,
//! `clusters.png`, `cluster_sizes.png`, `reconstructions.png`, `log.jsonl` and `checkpoint/`
//! into `--out`.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use aecraft::cli::RunArgs;
use aecraft::generators::CapsuleGeneratorConfig;
use aecraft::prelude::*;
use aecraft::train::atomic;
use aecraft::train::capsule_clustering::{
    save_capsule_pictures, train_capsule_clustering, CapsuleClusteringConfig, CapsuleRun,
};
use aecraft::train::clustering::{clustering_metrics, ClusterModel};
use aecraft::train::LrSchedule;

#[derive(Debug, Parser)]
#[command(about = "Cluster MNIST with the capsule (computer-graphics) generator")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Clusters K.
    #[arg(long, default_value_t = 25)]
    clusters: i64,
    /// Capsules per cluster C.
    #[arg(long, default_value_t = 1)]
    capsules: i64,
    /// Template height and width in pixels.
    #[arg(long, default_value_t = 28)]
    template: i64,
    /// Images per training step.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Candidate clusters per criterion when choosing by reconstruction in training (0: all).
    #[arg(long, default_value_t = 4)]
    candidates: usize,
    /// Weight of the pose-alignment term (0: off); see `CapsuleClusteringConfig`.
    #[arg(long, default_value_t = 0.0)]
    pose_alignment: f64,
    /// Hold out the last N training images and score the clustering on them (with their
    /// training labels) instead of on the test set.
    #[arg(long)]
    validation: Option<usize>,
}

const DEFAULT_EPOCHS: usize = 6;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = args.run.prepare()?;
    let run = run_config(&args)?;
    let splits = args.run.load_data()?;
    let (train, eval_name, eval) = match args.validation {
        Some(n) if n >= splits.train.len() => anyhow::bail!(
            "--validation {n} leaves no training images (the training split has {})",
            splits.train.len()
        ),
        Some(n) => {
            let cut = splits.train.len() - n;
            (
                splits.train.take(cut),
                "validation",
                splits.train.slice(cut, n),
            )
        }
        None => (splits.train, "test", splits.test),
    };
    let (train, eval) = (train.to_device(device), eval.to_device(device));
    eprintln!(
        "capsule clustering: {} clusters x {} capsules of {}x{}, {} training images, {} epochs",
        args.clusters,
        args.capsules,
        args.template,
        args.template,
        train.len(),
        run.train.epochs
    );
    let evaluation = Evaluation {
        name: eval_name,
        data: &eval,
    };
    let (model, report) = train_capsule_clustering(
        &run,
        &train,
        Some(evaluation),
        &args.run.out,
        args.run.resume.as_deref(),
    )
    .context("training")?;

    let started = Instant::now();
    let train_assignments = model.assign(&train)?;
    let eval_assignments = model.assign(&eval)?;
    let assign_seconds = started.elapsed().as_secs_f64();
    let metrics = clustering_metrics(
        &train_assignments,
        &train.label_vec("one-label and majority accuracy")?,
        &eval_assignments,
        &eval.label_vec("scoring")?,
        model.clusters(),
        10,
    )?;
    let json = serde_json::json!({
        "generator": "capsules",
        "eval_split": eval_name,
        "one_label_accuracy": metrics.one_label_accuracy,
        "majority_accuracy": metrics.majority_accuracy,
        "nmi": metrics.nmi,
        "ari": metrics.ari,
        "clusters_used": metrics.clusters_used,
        "labels_revealed": metrics.labels_revealed,
        "train_seconds": report.state.train_seconds,
        "train_images_per_second": report.images_per_second(),
        "train_reconstruction": report.epochs.last().map(|e| e.train["reconstruction"]),
        "assign_seconds": assign_seconds,
        "clusters": args.clusters,
        "capsules": args.capsules,
        "epochs": report.state.epochs_done,
        "train_images": train.len(),
        "seed": args.run.seed,
    });
    atomic::write_json(&args.run.out_path("metrics.json"), &json)?;
    save_capsule_pictures(&args.run.out, &model, &eval, &eval_assignments)?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

/// The run's configuration: from the checkpoint when resuming (with `--epochs` applied),
/// else from the flags.
fn run_config(args: &Args) -> anyhow::Result<CapsuleRun> {
    if let Some(dir) = &args.run.resume {
        let mut run: CapsuleRun = Checkpoint::new(dir)
            .load_config()
            .with_context(|| format!("resuming from {}", dir.display()))?;
        run.train.epochs = args.run.epochs_or(run.train.epochs);
        return Ok(run);
    }
    let run = CapsuleRun {
        model: CapsuleClusteringConfig {
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
        train: TrainConfig {
            epochs: args.run.epochs_or(DEFAULT_EPOCHS),
            batch_size: args.batch,
            seed: args.run.seed,
            optimizer: AdamConfig {
                lr: args.lr,
                ..Default::default()
            },
            lr_schedule: LrSchedule::Cosine {
                final_fraction: 0.1,
            },
            ..Default::default()
        },
    };
    run.model.validate()?;
    run.train.validate()?;
    Ok(run)
}
