//! `aecraft eval`: a trained run's metrics, recomputed on labelled data.

use std::path::PathBuf;

use clap::Args;

use aecraft::cli::RunSplits;
use aecraft::tensor::DeviceChoice;
use aecraft::trained::TrainedRun;

use crate::data::DataArgs;

/// Recompute a run's metrics on labelled data (the test images scored; the training images
/// are the database of hashing and reveal the labels of clusters) and print the table.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  aecraft eval --run runs/capsules --data mnist")]
pub struct EvalArgs {
    /// The run folder that `aecraft train` wrote.
    #[arg(long)]
    run: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Score the last N training images instead of the test images (they then leave the
    /// training images, which name the clusters); for runs trained with `--validation N`.
    #[arg(long)]
    validation: Option<usize>,
    /// Where to evaluate: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let device = args.device.resolve()?;
    let trained = TrainedRun::open(&args.run, device)?;
    let size = trained.experiment().data;
    let data = args.data.load((size.height, size.width), true)?;
    let (train, test) = (data.train.to_device(device), data.test.to_device(device));
    let splits = RunSplits::held_out(train, test, args.validation)?;
    let mut metrics = trained.evaluate(&splits.train, &splits.eval)?;
    if let Some(map) = metrics.as_object_mut() {
        map.insert("evaluated_on".into(), splits.eval_name.into());
    }
    println!("{:<28} {:>12}", "metric", "value");
    if let Some(map) = metrics.as_object() {
        for (key, value) in map {
            match value.as_f64() {
                Some(number) if value.is_f64() => println!("{key:<28} {number:>12.4}"),
                _ => println!("{key:<28} {value:>12}"),
            }
        }
    }
    Ok(())
}
