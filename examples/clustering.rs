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
//! `capsules` `templates.png` (see `aecraft_models::cluster_run`).

use clap::Parser;

use aecraft::cli::{run_main, PresetFlags, RunArgs, MNIST_CLASSES};
use aecraft::clustering_flags::ClusteringFlags;
use aecraft::experiment::train_and_score;
use aecraft::models::cluster_run::metrics_table;

#[derive(Debug, Parser)]
#[command(about = "Cluster MNIST with the talk's clustering autoencoders")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    #[command(flatten)]
    model: ClusteringFlags,
}

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(MNIST_CLASSES))?;
    let run = args
        .run
        .start_preset_run(&args.model.preset(), &splits.train, |experiment| {
            args.model.edit(&args.preset, experiment)
        })?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    print!("{}", metrics_table(&metrics));
    Ok(())
}
