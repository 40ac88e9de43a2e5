//! aecraft's task runner, run as `cargo xtask <command>` (an alias in `.cargo/config.toml`).
//!
//! - `setup`: installs libtorch (PyPI torch 2.11.0) into a cached venv and links `.libtorch`.
//! - `doctor`: reports what is installed and how to fix what is missing.
//! - `fetch-mnist`: downloads and checks MNIST.
//! - `bench-compare vae`: aecraft against PyTorch eager on the same VAE.
//! - `downstream-config`: the `.cargo/config.toml` of a project outside this repository.

mod bench;
mod cmd;
mod doctor;
mod downstream;
mod mnist;
mod paths;
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
        /// folder holding the `.gz` files; repeat to try several in turn.
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
}

/// Prints errors as one `error: ...` line holding the chain of causes (no backtrace).
fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::Doctor { data_dir } => doctor::run(&data_dir),
        Command::FetchMnist { dir, mirrors } => mnist::run(&dir, &mirrors),
        Command::BenchCompare { model } => bench::run(&model),
        Command::DownstreamConfig => downstream::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
