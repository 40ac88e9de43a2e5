//! The trade-off of a sweep of ignoring runs (see `examples/ignoring.rs`): how much of the
//! label the post-hoc MLP probe still reads against the reconstruction, one point per run,
//! named by its folder. Draws `tradeoff.png` into `--out` and prints the runs as a Markdown
//! table.
//!
//! ```text
//! for w in 10 30 100; do
//!   cargo run --release --example ignoring -- --validation 10000 --encoder-weight $w --out runs/sweep/w$w
//! done
//! cargo run --release --example ignoring_tradeoff -- --out runs/sweep runs/sweep/w10 runs/sweep/w30 runs/sweep/w100
//! ```

use std::path::PathBuf;

use clap::Parser;

use aecraft::cli::run_main;
use aecraft::experiment::save_tradeoff;

#[derive(Debug, Parser)]
#[command(about = "Draws the trade-off of a sweep of ignoring runs as tradeoff.png")]
struct Args {
    /// The folder to write `tradeoff.png` into.
    #[arg(long)]
    out: PathBuf,
    /// The sweep's run folders, in the order of the swept weight.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    run_main(run)
}

fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let points = save_tradeoff(&args.out.join("tradeoff.png"), &args.runs)?;
    println!("| run | posthoc_probe_accuracy | probe_accuracy | test_reconstruction_bce | plain_test_reconstruction_bce | split |");
    println!("|---|---|---|---|---|---|");
    for p in points {
        println!(
            "| {} | {:.3} | {:.3} | {:.1} | {:.1} | {} |",
            p.name,
            p.posthoc_probe_accuracy,
            p.probe_accuracy,
            p.test_reconstruction_bce,
            p.plain_test_reconstruction_bce,
            p.evaluated_on
        );
    }
    Ok(())
}
