//! `aecraft train`: one experiment, from a config file or a shipped preset, on the user's
//! data, into a run folder.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use aecraft::cli::RunSplits;
use aecraft::experiment::{preset, read_experiment, train_and_score, Experiment};
use aecraft::tensor::DeviceChoice;
use aecraft::train::run::{read_config, RunConfig};
use aecraft::train::run_folder::prepare_fresh;
use aecraft::train::{atomic, Run};

use crate::data::DataArgs;

/// Train an experiment and write its run folder.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aecraft train --preset capsules --data mnist --out runs/capsules
  aecraft train --config my.toml --data npy:x.npy,y.npy --shape 28x28 --out runs/mine --epochs 3
  aecraft train --config runs/mine/config.toml --data npy:x.npy,y.npy --out runs/again")]
pub struct TrainArgs {
    /// The experiment's config file (TOML; see docs/cli.md).
    #[arg(long, conflicts_with = "preset", required_unless_present_any = ["preset", "resume"])]
    config: Option<PathBuf>,
    /// A shipped config instead of --config (`aecraft presets` lists them).
    #[arg(long)]
    preset: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// The run folder: config.json, config.toml, checkpoint/, log.jsonl, metrics.json and
    /// pictures.
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Training epochs (overrides the file).
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of initialization, noise and data order (overrides the file).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to train: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// libtorch's intra-op threads (its default when absent).
    #[arg(long)]
    threads: Option<usize>,
    /// Hold out the last N training images and score on them instead of the test images.
    #[arg(long)]
    validation: Option<usize>,
    /// Continue the run in this folder (its config.json; --epochs may extend it).
    #[arg(long, conflicts_with_all = ["config", "preset"])]
    resume: Option<PathBuf>,
    /// Replace the run that --out holds (without it, a folder holding a run is refused).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let mut experiment = match (&args.resume, &args.config, &args.preset) {
        (Some(dir), _, _) => read_config::<Experiment>(dir)?,
        (None, Some(path), _) => read_experiment(path)?,
        (None, None, Some(name)) => preset(name)
            .with_context(|| {
                format!("--preset {name}: no such preset (`aecraft presets` lists them)")
            })?
            .experiment()?,
        (None, None, None) => bail!("--config: give --config FILE, --preset NAME or --resume DIR"),
    };
    let size = (experiment.data.height, experiment.data.width);
    let data = args.data.load(size, args.resume.is_some())?;
    let (height, width) = (data.train.height(), data.train.width());
    experiment.fit_to_images(height, width);
    if let Some(epochs) = args.epochs {
        experiment.train_mut().epochs = epochs;
    }
    if let Some(seed) = args.seed {
        experiment.set_seed(seed);
    }
    experiment
        .validate()
        .context("the config, with the flags and the data applied")?;
    let RunSplits {
        train,
        eval,
        eval_name,
    } = RunSplits::held_out(data.train, data.test, args.validation)?;
    if eval.labels().is_none()
        && matches!(
            experiment.model.kind(),
            "clustering" | "hashing" | "ignoring"
        )
    {
        bail!(
            "--data: a {} experiment is scored with labels, and the data has none",
            experiment.model.kind()
        );
    }
    let device = args.device.resolve()?;
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads 0: must be at least 1");
        }
        tch::set_num_threads(threads as i32);
    }
    tch::manual_seed(experiment.train().seed as i64);
    let (train, eval) = (train.to_device(device), eval.to_device(device));
    let run = match (&args.resume, &args.out) {
        (Some(dir), _) => Run::resume(dir, args.epochs)?,
        (None, Some(out)) => {
            prepare_fresh(out, "--out", args.overwrite)?;
            atomic::create_dir(out)?;
            Run::create(out, experiment)?
        }
        (None, None) => bail!("--out: give the run folder"),
    };
    let metrics = train_and_score(&run, &train, &eval, eval_name)?;
    println!("{}", serde_json::to_string_pretty(&metrics)?);
    Ok(())
}
