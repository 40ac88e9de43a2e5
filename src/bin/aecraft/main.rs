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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            print!("{error}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // clap's usage errors are one line and exit with 1, like every other error.
            let text = error.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
                .collect();
            eprintln!("{} (see --help)", lines.join(" "));
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Presets => {
            presets();
            Ok(())
        }
        Command::Encode(args) => encode::run(args),
        Command::Index(args) => search::index(args),
        Command::Search(args) => search::search(args),
        Command::Eval(args) => eval::run(args),
    };
    aecraft::cli::finish(result)
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
