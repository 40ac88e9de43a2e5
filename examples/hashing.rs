//! The binarizing autoencoder (semantic hashing and extreme compression): trains on the
//! MNIST training images without labels, then retrieves by Hamming distance.
//!
//! ```text
//! cargo run --release --example hashing -- --out runs/hashing --bits 32 [--epochs 4]
//! ```
//!
//! The model ([`aecraft::models::hashing`]): logistic units with discretization noise, pushed
//! toward balanced and uncorrelated bits, plus a neighbour-agreement term that makes the bits
//! of each training image agree with those of one of its nearest neighbours (cosine
//! similarity on `--pca` PCA dimensions of the training images).
//!
//! Retrieval protocol ([`RetrievalProtocol`]): 1,000 queries (100 per class, a fixed seed)
//! from the test set, the training images as database, relevance = same label, ranking by
//! Hamming distance with ties by database index. With `--validation N` the last N training
//! images are held out: queries come from them and the database is the rest.
//!
//! It trains the shipped preset `configs/hashing.toml` (what `aecraft train --preset
//! hashing` trains), changed by the flags given.
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (test inputs over their reconstructions from the binary code
//! alone), `config.json`, `config.toml`, `log.jsonl` and the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{finite_f64, run_main, set_if_given, PresetFlags};
use aecraft::cli::{RunArgs, MNIST_CLASSES};
use aecraft::codes::{BinarizeConfig, DecorrelationConfig, LinearSchedule, SparsityPriorConfig};
use aecraft::experiment::{train_and_score, Experiment};
use aecraft::train::TrainError;

#[derive(Debug, Parser)]
#[command(about = "Binarizing autoencoder on MNIST: semantic hashing and compression")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    preset: PresetFlags,
    /// Bits per code [preset: 32].
    #[arg(long)]
    bits: Option<i64>,
    /// Standard deviation of the discretization noise at the start and end of training
    /// [preset: 2 4].
    #[arg(long, num_args = 2, value_parser = finite_f64)]
    noise: Option<Vec<f64>>,
    /// Weight of the bit-balance prior (a sparsity prior with target 0.5) [preset: 1].
    #[arg(long, value_parser = finite_f64)]
    balance: Option<f64>,
    /// Weight of the decorrelation penalty [preset: 10].
    #[arg(long, value_parser = finite_f64)]
    decorrelation: Option<f64>,
    /// Weight of the neighbour-agreement term (0 for a plain binarizing autoencoder)
    /// [preset: 20].
    #[arg(long, value_parser = finite_f64)]
    agreement: Option<f64>,
    /// Neighbours per image in the similarity graph [preset: 10].
    #[arg(long)]
    neighbors: Option<i64>,
    /// PCA dimensions of the similarity graph [preset: 50].
    #[arg(long)]
    pca: Option<i64>,
}

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(MNIST_CLASSES))?;
    let run = args
        .run
        .start_preset_run("hashing", &splits.train, |experiment| {
            edit(&args, experiment)
        })?;
    let metrics = train_and_score(&run, &splits.train, &splits.eval, splits.eval_name)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}

/// The preset as the flags change it.
fn edit(args: &Args, experiment: &mut Experiment) -> Result<(), TrainError> {
    let run = experiment.hashing_mut()?;
    let model = &mut run.model;
    if let Some(bits) = args.bits {
        if bits <= 1 {
            return Err(TrainError::invalid(
                "--bits",
                bits,
                "a hash needs at least 2 bits",
            ));
        }
        model.set_code_units("--bits", "logits", bits)?;
    }
    if let Some(hidden) = args.preset.hidden()? {
        model.set_hidden(&hidden);
    }
    if let Some(noise) = &args.noise {
        for binarize in model.transforms_mut::<BinarizeConfig>() {
            binarize.noise_std = LinearSchedule {
                start: noise[0],
                end: noise[1],
            };
        }
    }
    for prior in model.transforms_mut::<SparsityPriorConfig>() {
        set_if_given(&mut prior.weight, args.balance);
    }
    for penalty in model.transforms_mut::<DecorrelationConfig>() {
        set_if_given(&mut penalty.weight, args.decorrelation);
    }
    set_if_given(&mut run.agreement, args.agreement);
    set_if_given(&mut run.neighbors, args.neighbors);
    set_if_given(&mut run.pca, args.pca);
    args.preset.set_training(&mut run.train);
    Ok(())
}
