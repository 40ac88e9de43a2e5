//! `aecraft`: compose an autoencoder in a config file, train it on your own images, and use
//! it afterwards: encode images to numpy arrays, index and search binary codes, evaluate.
//! Every failure is one line on stderr with exit status 1 (see `docs/cli.md`).

mod data;
mod encode;
mod eval;
mod search;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "aecraft",
    version,
    about = "Craft specialized autoencoders from small parts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Train(train::TrainArgs),
    Presets,
    Encode(encode::EncodeArgs),
    Index(search::IndexArgs),
    Search(search::SearchArgs),
    Eval(eval::EvalArgs),
}

fn main() -> ExitCode {
    // Flag errors are one line with exit status 1, like every other error.
    aecraft::cli::run_main(|cli: Cli| match cli.command {
        Command::Train(args) => train::run(args),
        Command::Presets => {
            presets();
            Ok(())
        }
        Command::Encode(args) => encode::run(args),
        Command::Index(args) => search::index(args),
        Command::Search(args) => search::search(args),
        Command::Eval(args) => eval::run(args),
    })
}

/// Lists the shipped configs, one line each.
fn presets() {
    for preset in aecraft::experiment::PRESETS {
        let description = match preset.experiment() {
            Ok(experiment) => experiment.description,
            Err(error) => format!("(broken: {error})"),
        };
        println!("{:<18} {description}", preset.name);
    }
}
