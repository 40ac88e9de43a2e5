//! The command-line flags every example shares (`--out`, `--data-dir`, `--epochs`, `--seed`,
//! `--limit`, `--device`, `--threads`, `--resume`) and the setup they imply, in the order
//! every example follows: flags checked ([`RunArgs::check`]), data loaded and checked
//! ([`RunArgs::load_checked_splits`]), the configuration built from the data, and only then
//! anything written ([`RunArgs::start_run`], or [`RunArgs::prepare_out`]).

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, ValueEnum};

use aecraft_data::sprites::{train_test_sprites, SpritesConfig, SpritesDataset};
use aecraft_data::{load_mnist, Splits, MNIST_FILES};
use aecraft_tensor::DeviceChoice;
use aecraft_train::run::CHECKPOINT_DIR;
use aecraft_train::run_folder::prepare_fresh;
use aecraft_train::{atomic, Checkpoint, Run, RunConfig, TrainError};

use aecraft_train::{AdamConfig, Evaluation, ImageDataset, LrSchedule, TrainConfig};

use crate::experiment::{self, Experiment};

/// The classes of the labels of the data sets in MNIST's layout (MNIST, Fashion-MNIST,
/// KMNIST): the examples that read labels refuse others.
pub const MNIST_CLASSES: i64 = 10;

/// Flags shared by the examples.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Folder for metrics.json, pictures, the log and the checkpoint.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with the four uncompressed IDX files of MNIST (or a data set in its layout).
    #[arg(long, default_value = "data/mnist")]
    pub data_dir: PathBuf,
    /// Training epochs (the example's default when absent).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of initialization, noise and data order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Train on the first N training images only (for smoke runs).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Where to train: cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// libtorch's intra-op threads (libtorch's default when absent).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Continue the run whose checkpoint is in this folder.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Replace the run that --out holds (without it, a folder holding a run is refused).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Hold out the last N training images and score on them instead of the test set (for
    /// choosing hyperparameters without the test set).
    #[arg(long)]
    pub validation: Option<usize>,
}

/// The images a run trains on and the split it is scored on.
#[derive(Debug)]
pub struct RunSplits {
    /// The training images (without the held-out ones).
    pub train: ImageDataset,
    /// The test images, or the held-out training images with `--validation`.
    pub eval: ImageDataset,
    /// `test` or `validation`.
    pub eval_name: &'static str,
}

impl RunSplits {
    /// The test images as the scored split, or with `validation` `Some(N)` the last N
    /// training images held out of training and scored instead. 0, or not fewer than the
    /// training images, is an error naming `--validation`.
    pub fn held_out(
        train: ImageDataset,
        test: ImageDataset,
        validation: Option<usize>,
    ) -> Result<Self, TrainError> {
        match validation {
            None => Ok(RunSplits {
                train,
                eval: test,
                eval_name: "test",
            }),
            Some(n) if n == 0 || n >= train.len() => {
                let reason = format!(
                    "must leave training images: the training split has {}",
                    train.len()
                );
                Err(TrainError::invalid("--validation", n, reason))
            }
            Some(n) => {
                let cut = train.len() - n;
                Ok(RunSplits {
                    eval: train.slice(cut, n),
                    train: train.take(cut),
                    eval_name: "validation",
                })
            }
        }
    }

    /// The split scored after every epoch.
    pub fn evaluation(&self) -> Evaluation<'_> {
        Evaluation {
            name: self.eval_name,
            data: &self.eval,
        }
    }
}

/// Random sprites for a run: the training set and a held-out test set.
#[derive(Debug)]
pub struct SpriteSplits {
    /// How the training set was drawn.
    pub config: SpritesConfig,
    /// The training sprites.
    pub train: SpritesDataset,
    /// The test sprites, drawn with another seed.
    pub test: SpritesDataset,
}

/// Random sprites for a run scored on one split: the test sprites, or with `--validation N`
/// the last N training sprites, held out of training (see [`SpriteSplits::scored`]).
#[derive(Debug)]
pub struct ScoredSprites {
    /// How the training sprites were drawn (before any were held out).
    pub config: SpritesConfig,
    /// The training sprites (without the held-out ones).
    pub train: SpritesDataset,
    /// The test sprites, or the held-out training sprites with `--validation`.
    pub eval: SpritesDataset,
    /// `test` or `validation`.
    pub eval_name: &'static str,
}

impl ScoredSprites {
    /// Checks that the scored split holds at least `at_least` sprites, which `what` needs;
    /// the error names `--test-images`, or `--validation` when it set the split.
    pub fn require_eval(&self, at_least: usize, what: &str) -> Result<(), TrainError> {
        if self.eval.len() >= at_least {
            return Ok(());
        }
        let flag = match self.eval_name {
            "validation" => "--validation",
            _ => "--test-images",
        };
        let reason = format!("{what} need at least {at_least} sprites to score");
        Err(TrainError::invalid(flag, self.eval.len(), reason))
    }
}

impl SpriteSplits {
    /// The split to score: the test sprites when `validation` is `None`, else the last
    /// `validation` training sprites, held out of training. 0, or not fewer than the
    /// training sprites, is an error naming `--validation`.
    pub fn scored(self, validation: Option<usize>) -> Result<ScoredSprites, TrainError> {
        let SpriteSplits {
            config,
            mut train,
            test,
        } = self;
        let Some(n) = validation else {
            return Ok(ScoredSprites {
                config,
                train,
                eval: test,
                eval_name: "test",
            });
        };
        if n == 0 || n >= train.len() {
            let reason = format!(
                "must leave training sprites: the training split has {}",
                train.len()
            );
            return Err(TrainError::invalid("--validation", n, reason));
        }
        let cut = train.len() - n;
        let eval = SpritesDataset {
            size: train.size,
            images: train.images.split_off(cut * train.size * train.size),
            params: train.params.split_off(cut),
        };
        Ok(ScoredSprites {
            config,
            train,
            eval,
            eval_name: "validation",
        })
    }
}

impl RunArgs {
    /// Checks the flags that need no data and applies them: seeds libtorch, sets its threads
    /// (at most the machine's cores, with a warning when clamped), checks `--limit` and
    /// resolves the device. Writes nothing.
    pub fn check(&self) -> Result<tch::Device, TrainError> {
        tch::manual_seed(self.seed as i64);
        if let Some(requested) = self.threads {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let (threads, warning) = bounded_threads(requested, cores)?;
            if let Some(warning) = warning {
                eprintln!("{warning}");
            }
            tch::set_num_threads(threads as i32);
        }
        if self.limit == Some(0) {
            return Err(TrainError::invalid("--limit", 0, "must be at least 1"));
        }
        Ok(self.device.resolve()?)
    }

    /// Readies `--out` for a fresh run: refuses a folder that holds a run unless
    /// `--overwrite` (which clears it), and creates it; with `--resume`, writes nothing. For
    /// examples that write without [`RunArgs::start_run`]: call it after [`RunArgs::check`],
    /// once data and configuration are checked.
    pub fn prepare_out(&self) -> Result<(), TrainError> {
        if self.resume.is_none() {
            prepare_fresh(&self.out, "--out", self.overwrite)?;
            atomic::create_dir(&self.out)?;
        }
        Ok(())
    }

    /// Loads the data set from `--data-dir`, keeping the first `--limit` training images.
    pub fn load_data(&self) -> Result<Splits, TrainError> {
        let splits = load_mnist(&self.data_dir)?;
        Ok(Splits {
            train: self
                .limit
                .map_or(splits.train.take(usize::MAX), |n| splits.train.take(n)),
            test: splits.test,
        })
    }

    /// [`RunArgs::check`], then loads the data set: the first `--limit` training images,
    /// refusing splits without images and, with `classes`, labels outside `0..classes`; onto
    /// the device, and with `--validation N` the last N training images held out as the split
    /// to score instead of the test set. Writes nothing.
    pub fn load_checked_splits(
        &self,
        classes: Option<i64>,
    ) -> Result<(tch::Device, RunSplits), TrainError> {
        let device = self.check()?;
        let Splits { train, test } = self.load_data()?;
        let dir = self.data_dir.display();
        for (data, file) in [(&train, MNIST_FILES[0]), (&test, MNIST_FILES[2])] {
            if data.is_empty() {
                let reason = format!("{file} holds no images");
                return Err(TrainError::invalid("--data-dir", dir, reason));
            }
        }
        if let Some(classes) = classes {
            for (data, file) in [(&train, MNIST_FILES[1]), (&test, MNIST_FILES[3])] {
                check_labels(data, classes, file)
                    .map_err(|reason| TrainError::invalid("--data-dir", &dir, reason))?;
            }
        }
        let (train, test) = (train.to_device(device), test.to_device(device));
        let splits = RunSplits::held_out(train, test, self.validation)?;
        Ok((device, splits))
    }

    /// Training settings for `epochs` epochs with `--seed`: batches of `batch_size`, Adam at
    /// `lr` decaying along a cosine to `final_fraction` of it; validated.
    pub fn cosine_config(
        &self,
        epochs: usize,
        batch_size: usize,
        lr: f64,
        final_fraction: f64,
    ) -> Result<TrainConfig, TrainError> {
        let config = TrainConfig {
            epochs,
            batch_size,
            seed: self.seed,
            optimizer: AdamConfig {
                lr,
                ..Default::default()
            },
            lr_schedule: LrSchedule::Cosine { final_fraction },
            ..Default::default()
        };
        config.validate()?;
        Ok(config)
    }

    /// The run in `--resume` when given (its epochs replaced by `--epochs`), else a fresh
    /// run of `config()` in `--out`, the folder readied only once
    /// `config()` succeeded (see [`RunArgs::prepare_out`]). A resumed run whose checkpoint
    /// is past `--epochs` is refused before anything is written.
    pub fn start_run<C: RunConfig>(
        &self,
        config: impl FnOnce() -> Result<C, TrainError>,
    ) -> Result<Run<C>, TrainError> {
        if let (Some(dir), Some(epochs)) = (&self.resume, self.epochs) {
            // Before `Run::resume` writes the new epochs into its config.json.
            let checkpoint = Checkpoint::new(dir.join(CHECKPOINT_DIR));
            if checkpoint.exists()? {
                let state = checkpoint.state()?;
                state.check(&checkpoint.state_path(), Some(epochs))?;
            }
        }
        let config = || {
            let config = config()?;
            self.prepare_out()?;
            Ok(config)
        };
        Run::create_or_resume(&self.out, self.resume.as_deref(), self.epochs, config)
    }

    /// The shipped preset `name` (`configs/NAME.toml`) as an example trains it by default:
    /// fitted to images of `height` × `width`, with `--epochs` (when given) and `--seed`.
    pub fn preset(
        &self,
        name: &str,
        (height, width): (i64, i64),
    ) -> Result<Experiment, TrainError> {
        let preset = experiment::preset(name)
            .ok_or_else(|| TrainError::invalid("preset", name, "no such shipped config"))?;
        let mut experiment = preset
            .experiment()
            .map_err(|e| TrainError::invalid("preset", name, e.to_string()))?;
        experiment.fit_to_images(height, width);
        if let Some(epochs) = self.epochs {
            experiment.train_mut().epochs = epochs;
        }
        experiment.set_seed(self.seed);
        Ok(experiment)
    }

    /// An example's run: with `--resume`, the run in that folder; else the preset `name`
    /// ([`RunArgs::preset`]) with `edit` applied (the example's own flags) and validated,
    /// and only then `--out` readied (see [`RunArgs::start_run`]).
    pub fn start_preset_run(
        &self,
        name: &str,
        train: &ImageDataset,
        edit: impl FnOnce(&mut Experiment) -> Result<(), TrainError>,
    ) -> Result<Run<Experiment>, TrainError> {
        self.start_run(|| {
            let mut experiment = self.preset(name, (train.height(), train.width()))?;
            edit(&mut experiment)?;
            experiment.validate()?;
            Ok(experiment)
        })
    }

    /// Random sprites on `size`×`size` canvases: `train` training sprites (capped by
    /// `--limit`) drawn with `--seed`, and `test` test sprites drawn with another seed (see
    /// [`train_test_sprites`]); with `vary_intensity`, grey levels vary too. No sprites in
    /// either split is an error naming `--train-images` or `--test-images`.
    pub fn sprites(
        &self,
        size: usize,
        (train, test): (usize, usize),
        vary_intensity: bool,
    ) -> Result<SpriteSplits, TrainError> {
        for (flag, count) in [("--train-images", train), ("--test-images", test)] {
            if count == 0 {
                return Err(TrainError::invalid(flag, 0, "must be at least 1"));
            }
        }
        let config = SpritesConfig {
            size,
            count: self.limit.map_or(train, |n| n.min(train)),
            seed: self.seed,
            vary_intensity,
        };
        let (train, test) = train_test_sprites(&config, test)?;
        Ok(SpriteSplits {
            config,
            train,
            test,
        })
    }

    /// [`RunArgs::sprites`], scored on the test sprites or, with `--validation N`, on the
    /// last N training sprites held out of training (see [`SpriteSplits::scored`]).
    pub fn scored_sprites(
        &self,
        size: usize,
        counts: (usize, usize),
        vary_intensity: bool,
    ) -> Result<ScoredSprites, TrainError> {
        self.sprites(size, counts, vary_intensity)?
            .scored(self.validation)
    }

    /// A path inside `--out`.
    pub fn out_path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// The epochs to train: `--epochs`, else `default`.
    pub fn epochs_or(&self, default: usize) -> usize {
        self.epochs.unwrap_or(default)
    }
}

/// The generated data sets the sprites examples know (the `--dataset` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpritesChoice {
    /// The built-in sprites renderer (no download), whose factors are known.
    Sprites,
}

/// The flags that change a preset's networks and training, shared by the examples; absent,
/// the preset's values hold (`configs/NAME.toml`).
#[derive(Debug, Clone, Args)]
pub struct PresetFlags {
    /// Hidden widths of the encoder (mirrored in an MLP generator), e.g. 512,256 [default:
    /// the preset's].
    #[arg(long)]
    pub hidden: Option<String>,
    /// Images per training step [default: the preset's].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Adam's learning rate [default: the preset's].
    #[arg(long, value_parser = finite_f64)]
    pub lr: Option<f64>,
}

impl PresetFlags {
    /// The widths `--hidden` gives, when given.
    pub fn hidden(&self) -> Result<Option<Vec<i64>>, TrainError> {
        self.hidden
            .as_deref()
            .map(|text| parse_widths("--hidden", text))
            .transpose()
    }

    /// Sets the batch size and Adam's learning rate that `--batch` and `--lr` give.
    pub fn set_training(&self, train: &mut TrainConfig) {
        set_if_given(&mut train.batch_size, self.batch);
        set_if_given(&mut train.optimizer.lr, self.lr);
    }
}

/// Replaces `value` with a flag's, when the flag is given.
pub fn set_if_given<T>(value: &mut T, flag: Option<T>) {
    if let Some(flag) = flag {
        *value = flag;
    }
}

/// One JSON object with the fields of every part (objects, or anything that serializes to
/// one, such as a struct of scores; other values are skipped); a later part's field
/// replaces an earlier one's.
pub fn merge_metrics(parts: &[serde_json::Value]) -> serde_json::Value {
    let mut merged = serde_json::Map::new();
    for part in parts {
        if let serde_json::Value::Object(fields) = part {
            merged.extend(fields.clone());
        }
    }
    serde_json::Value::Object(merged)
}

/// `requested` libtorch threads bounded by the machine's `cores`, with the warning to print
/// when clamped; 0 is an error naming `--threads`.
fn bounded_threads(requested: usize, cores: usize) -> Result<(usize, Option<String>), TrainError> {
    if requested == 0 {
        return Err(TrainError::invalid("--threads", 0, "must be at least 1"));
    }
    if requested > cores {
        let warning = format!(
            "warning: --threads {requested} is more than the {cores} cores of this machine; using {cores}"
        );
        return Ok((cores, Some(warning)));
    }
    Ok((requested, None))
}

/// Checks that the labels of `data` (read from `file`) lie in `0..classes`; the error is the
/// reason, naming the file.
fn check_labels(data: &ImageDataset, classes: i64, file: &str) -> Result<(), String> {
    let Some(labels) = data.labels().filter(|l| l.numel() > 0) else {
        return Ok(());
    };
    let (low, high) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
    match [low, high].into_iter().find(|l| !(0..classes).contains(l)) {
        Some(label) => Err(format!(
            "{file} holds label {label}, out of range: the example knows {classes} classes (0 to {})",
            classes - 1
        )),
        None => Ok(()),
    }
}

/// Clap value parser for a float flag: a finite number (NaN and infinities are refused; the
/// error names the flag).
pub fn finite_f64(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err("must be a finite number".to_owned())
    }
}

/// Clap value parser for a count that must be at least 1 (the error names the flag).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// An example's `main`: parses its flags with `A` and runs `run`, ending as [`finish`] does;
/// a flag error is one line and exit status 1 too (`--help` and `--version` print as usual).
pub fn run_main<A: Parser, E: Display>(run: impl FnOnce(A) -> Result<(), E>) -> ExitCode {
    match A::try_parse() {
        Ok(args) => finish(run(args)),
        Err(error) if !error.use_stderr() => {
            // Help or version, for stdout; nothing to do if stdout is closed.
            let _ = error.print();
            ExitCode::SUCCESS
        }
        Err(error) => finish::<String>(Err(one_line(&error))),
    }
}

/// A clap error on one line: its first paragraph (the problem, without the usage and tips),
/// without clap's `error: ` prefix.
pub fn one_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|line| !line.is_empty())
        .collect();
    let line = lines.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// Ends an example: on error, prints [`error_line`] and exits with status 1.
pub fn finish<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// `error` with its whole chain of causes on one line (no backtrace, whatever
/// `RUST_BACKTRACE` says): libtorch's messages carry a C++ stack trace after their first
/// line, which is left out, as are the further lines of any message.
pub fn error_line(error: &impl Display) -> String {
    let text = format!("{error:#}");
    let first = text.lines().next().unwrap_or_default().trim_end();
    if text.trim_end().contains('\n') {
        format!("{first} (further lines left out)")
    } else {
        first.to_owned()
    }
}

/// Parses the value of `flag`, a comma-separated list of layer widths such as `512,256`.
pub fn parse_widths(flag: &str, text: &str) -> Result<Vec<i64>, TrainError> {
    text.split(',')
        .map(|w| match w.trim().parse::<i64>() {
            Ok(w) if w > 0 => Ok(w),
            _ => Err(TrainError::invalid(
                flag,
                text,
                format!("{w:?} is not a positive width (expected e.g. 512 or 512,256)"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_merge_objects_later_ones_winning() {
        let merged = merge_metrics(&[
            serde_json::json!({"a": 1, "b": 2}),
            serde_json::json!(null),
            serde_json::json!({"b": 3, "c": [4]}),
        ]);
        assert_eq!(merged, serde_json::json!({"a": 1, "b": 3, "c": [4]}));
    }

    #[test]
    fn parses_width_lists() {
        assert_eq!(parse_widths("--hidden", "400").unwrap(), vec![400]);
        assert_eq!(
            parse_widths("--hidden", "512, 256").unwrap(),
            vec![512, 256]
        );
        assert!(parse_widths("--hidden", "512,0").is_err());
        let error = parse_widths("--hidden", "wide").unwrap_err().to_string();
        assert!(
            error.contains("--hidden") && error.contains("wide"),
            "{error}"
        );
    }

    #[test]
    fn defect_10_threads_are_bounded_by_the_cores() {
        assert_eq!(bounded_threads(2, 4).unwrap(), (2, None));
        let (threads, warning) = bounded_threads(64, 4).unwrap();
        assert_eq!(threads, 4);
        let warning = warning.unwrap();
        assert!(
            warning.contains("--threads 64") && !warning.contains('\n'),
            "{warning}"
        );
        let error = bounded_threads(0, 4).unwrap_err().to_string();
        assert!(error.contains("--threads"), "{error}");
    }

    #[test]
    fn defect_10_float_flags_must_be_finite() {
        for text in ["NaN", "nan", "inf", "-inf", "infinity", "1e999"] {
            assert!(finite_f64(text).is_err(), "{text}");
        }
        assert!(finite_f64("ten").unwrap_err().contains("ten"));
        assert_eq!(finite_f64("1e-3").unwrap(), 1e-3);
        assert_eq!(finite_f64("-2").unwrap(), -2.0);
    }

    #[test]
    fn defect_5_a_libtorch_error_is_one_line_naming_the_file() {
        // Resuming after a width edit: the saved weights no longer fit the model.
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint::new(dir.path().join("checkpoint"));
        let saved = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = saved.root().zeros("w", &[2]);
        checkpoint.save_weights(&saved).unwrap();
        let mut edited = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = edited.root().zeros("w", &[3]);
        let error = checkpoint.load_weights(&mut edited).unwrap_err();
        assert!(
            error.to_string().contains('\n'),
            "libtorch's message has a trace"
        );
        let line = error_line(&error);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("model.safetensors"), "{line}");
    }
}
