//! aecraft's task runner, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `setup`: installs libtorch (PyPI torch 2.11.0) into a cached venv and links `.libtorch`.
//! - `doctor`: reports what is installed and how to fix what is missing.
//! - `fetch-mnist`: downloads and checks MNIST.
//! - `bench-compare vae`: aecraft against PyTorch eager on the same VAE.
//! - `downstream-config`: the `.cargo/config.toml` of a project outside this repository.
//! - `results`: every headline configuration once per seed on the test split, into
//!   `docs/results.md`.

mod bench;
mod cmd;
mod doctor;
mod downstream;
mod mnist;
mod paths;
mod results;
mod setup;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "aecraft's task runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install torch 2.11.0 in a venv under the cache folder and link `.libtorch` to it.
    Setup,
    /// Check the libtorch install, the `.libtorch` link, CUDA and MNIST.
    Doctor {
        /// Folder that should hold the uncompressed MNIST files.
        #[arg(long, default_value = paths::DEFAULT_MNIST_DIR)]
        data_dir: PathBuf,
    },
    /// Download MNIST, check its SHA-256 sums and store it uncompressed.
    FetchMnist {
        /// Folder for the uncompressed files (created if missing).
        #[arg(long, default_value = paths::DEFAULT_MNIST_DIR)]
        dir: PathBuf,
        /// Mirror to use instead of the public ones: an http(s) base URL, a file:// URL or a
        /// folder holding the `.gz` files; repeat to try several in turn. A blank value (an
        /// empty AECRAFT_MNIST_MIRROR) is ignored.
        #[arg(long = "mirror", env = "AECRAFT_MNIST_MIRROR")]
        mirrors: Vec<String>,
    },
    /// Compare aecraft's training speed with PyTorch's.
    BenchCompare {
        #[command(subcommand)]
        model: bench::Model,
    },
    /// Print the `.cargo/config.toml` for a project outside this repository that uses the
    /// aecraft crates: it then needs no LIBTORCH or LD_LIBRARY_PATH.
    DownstreamConfig,
    /// Run every headline configuration once per seed on the test split (release examples)
    /// and write the table of every seed, mean, standard deviation and worst.
    Results {
        /// Only these configurations (flagship, hashing, ignoring, biased-softmax, vae,
        /// surrogate, independent); all when absent. The page keeps the other
        /// configurations' sections from its last run.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Folder for the run folders.
        #[arg(long, default_value = "runs/results")]
        runs: PathBuf,
        /// The Markdown file to write.
        #[arg(long, default_value = "docs/results.md")]
        out: PathBuf,
    },
}

/// Prints errors as one `error: ...` line holding the chain of causes (no backtrace).
fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::Doctor { data_dir } => doctor::run(&data_dir),
        Command::FetchMnist { dir, mirrors } => mnist::run(&dir, &mirrors),
        Command::BenchCompare { model } => bench::run(&model),
        Command::DownstreamConfig => downstream::run(),
        Command::Results { only, runs, out } => results::run(&only, &runs, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
