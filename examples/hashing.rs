//! The binarizing autoencoder (semantic hashing and extreme compression): trains on the
//! MNIST training images without labels, then retrieves by Hamming distance.
//!
//! ```text
//! cargo run --release --example hashing -- --out runs/hashing --bits 32 [--epochs 4]
//! ```
//!
//! The model ([`aecraft::train::hashing`]): logistic units with discretization noise, pushed
//! toward balanced and uncorrelated bits, plus a neighbour-agreement term that makes the bits
//! of each training image agree with those of one of its nearest neighbours (cosine
//! similarity on `--pca` PCA dimensions of the training images).
//!
//! Retrieval protocol ([`RetrievalProtocol`]): 1,000 queries (100 per class, a fixed seed)
//! from the test set, the training images as database, relevance = same label, ranking by
//! Hamming distance with ties by database index. With `--validation N` the last N training
//! images are held out: queries come from them and the database is the rest.
//!
//! Writes into the run folder (`--out`, or the `--resume` folder): `metrics.json`,
//! `reconstructions.png` (test inputs over their reconstructions from the binary code
//! alone), `config.json`, `log.jsonl` and the checkpoint (`checkpoint/`).

use clap::Parser;

use aecraft::cli::{finite_f64, parse_widths, run_main, RunArgs, MNIST_CLASSES};
use aecraft::codes::LinearSchedule;
use aecraft::experiment::score_hashing_run;
use aecraft::train::hashing::{binarizing_autoencoder, HashingRun};

#[derive(Debug, Parser)]
#[command(about = "Binarizing autoencoder on MNIST: semantic hashing and compression")]
pub(crate) struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Bits per code.
    #[arg(long, default_value_t = 32)]
    bits: i64,
    /// Hidden widths of the encoder (mirrored in the generator).
    #[arg(long, default_value = "512,256")]
    hidden: String,
    /// Images per training step (each with its neighbour).
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = finite_f64)]
    lr: f64,
    /// Standard deviation of the discretization noise at the start and end of training.
    #[arg(long, num_args = 2, default_values_t = [2.0, 4.0], value_parser = finite_f64)]
    noise: Vec<f64>,
    /// Weight of the bit-balance prior (a sparsity prior with target 0.5).
    #[arg(long, default_value_t = 1.0, value_parser = finite_f64)]
    balance: f64,
    /// Weight of the decorrelation penalty.
    #[arg(long, default_value_t = 10.0, value_parser = finite_f64)]
    decorrelation: f64,
    /// Weight of the neighbour-agreement term (0 for a plain binarizing autoencoder).
    #[arg(long, default_value_t = 20.0, value_parser = finite_f64)]
    agreement: f64,
    /// Neighbours per image in the similarity graph.
    #[arg(long, default_value_t = 10)]
    neighbors: i64,
    /// PCA dimensions of the similarity graph.
    #[arg(long, default_value_t = 50)]
    pca: i64,
}

const DEFAULT_EPOCHS: usize = 4;

fn main() -> std::process::ExitCode {
    run_main(run)
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (_, splits) = args.run.load_checked_splits(Some(MNIST_CLASSES))?;
    let run = args.run.start_run(|| {
        let hidden = parse_widths("--hidden", &args.hidden)?;
        let noise = LinearSchedule {
            start: args.noise[0],
            end: args.noise[1],
        };
        let (balance, decorrelation) = (args.balance, args.decorrelation);
        let mut model = binarizing_autoencoder(&hidden, args.bits, noise, balance, decorrelation)?;
        model.input = splits.train.pixels();
        let config = HashingRun {
            model,
            train: args.run.train_config(DEFAULT_EPOCHS, args.batch, args.lr)?,
            agreement: args.agreement,
            neighbors: args.neighbors,
            pca: args.pca,
        };
        config.validate()?;
        Ok(config)
    })?;
    let metrics = score_hashing_run(&run, (&splits.train, &splits.eval, splits.eval_name))?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
