//! The `[ignoring]` experiment: an autoencoder whose code leaves out the label, trained with
//! a plain autoencoder of the same code size and budget beside it, both probed for the
//! label after training (see [`aecraft_models::ignoring`]); and the trade-off of a sweep of
//! such runs ([`save_tradeoff`]).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use aecraft_codes::TransformConfig;
use aecraft_data::ImageDataset;
use aecraft_models::ignoring::{
    save_label_swap, score_ignoring, train_ignoring, IgnoringConfig, IgnoringRun,
};
use aecraft_train::pictures::{save_line_chart, LineChart};
use aecraft_train::{AutoencoderConfig, Evaluation, Run, TrainError};

use crate::cli::merge_metrics;

/// Rows of `swap.png`.
const SWAP_ROWS: i64 = 10;

/// The number of classes of the label that `config` reads (its label input, else its
/// encoder's label, else its adversary's target).
pub fn label_classes(config: &AutoencoderConfig) -> Option<i64> {
    let from_transforms = config.transforms.iter().find_map(|t| match t {
        TransformConfig::LabelInput(label) => Some(label.classes),
        TransformConfig::Adversary(adversary) => Some(adversary.classes),
        _ => None,
    });
    from_transforms.or_else(|| config.encoder_label.as_ref().map(|l| l.classes))
}

/// Trains `run`'s ignoring and plain autoencoders on `train`, probes both codes of `eval`
/// (named `eval_name`) for the label, and writes `metrics.json` and `swap.png`.
///
/// Metrics: the probes' scores ([`aecraft_models::ignoring::IgnoringScores`]), `method`,
/// `probe`, `posthoc_probe`, `conditional_encoder` (the encoder reads the label),
/// `label_guess` (it reads its own guess of the label), `train_seconds`,
/// `plain_train_seconds`, `evaluated_on`, `code_size`, `epochs` and `seed`.
pub fn score_ignoring_run(
    run: &Run<IgnoringRun>,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
) -> Result<Value, TrainError> {
    let config = run.config();
    let classes = label_classes(&config.model).ok_or_else(|| {
        let reason = "the ignoring model needs a label input, an encoder label or an adversary";
        TrainError::invalid("ignoring.model.transforms", "no label", reason)
    })?;
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let outcome = train_ignoring(run, train, Some(evaluation))?;
    let batch = config.train.eval_batch_size;
    let scores = score_ignoring(config, &outcome, (train, eval), classes, batch)?;
    let scores = serde_json::to_value(&scores)
        .map_err(|error| TrainError::invalid("metrics", "JSON", error.to_string()))?;
    let knobs = IgnoringConfig::of_run(config);
    let metrics = merge_metrics(&[
        scores,
        json!({
            "method": config.method,
            "conditional_encoder": knobs.conditional_encoder,
            "label_guess": knobs.label_guess,
            "probe": "multinomial logistic regression on standardized codes",
            "posthoc_probe": "MLP 256-256 trained to convergence on the encoder's standardized code (a Gaussian code's means and log-variances)",
            "train_seconds": outcome.report.state.train_seconds,
            "plain_train_seconds": outcome.plain_report.state.train_seconds,
            "evaluated_on": eval_name,
            "code_size": config.plain.code.total_width(),
            "epochs": outcome.report.state.epochs_done,
            "seed": config.train.seed,
        }),
    ]);
    run.save_metrics(&metrics)?;
    let (net, relabel) = (outcome.model.net(), config.method.decoder_input());
    let path = run.path("swap.png");
    save_label_swap(&path, net, eval, SWAP_ROWS, classes, relabel)?;
    Ok(metrics)
}

/// One run of a sweep, as [`save_tradeoff`] reads it from its `metrics.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeoffPoint {
    /// The run folder's name (e.g. the weight it was trained with).
    pub name: String,
    /// `posthoc_probe_accuracy`.
    pub posthoc_probe_accuracy: f64,
    /// `probe_accuracy`.
    pub probe_accuracy: f64,
    /// `test_reconstruction_bce`.
    pub test_reconstruction_bce: f64,
    /// `plain_test_reconstruction_bce`.
    pub plain_test_reconstruction_bce: f64,
    /// `evaluated_on`: `test` or `validation`.
    pub evaluated_on: String,
}

impl TradeoffPoint {
    /// Reads the `metrics.json` of the ignoring run in `run`.
    pub fn read(run: &Path) -> Result<Self, TrainError> {
        let path = run.join("metrics.json");
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        let metrics: Value = serde_json::from_str(&text).map_err(|e| TrainError::json(&path, e))?;
        let number = |key: &str| {
            metrics[key].as_f64().ok_or_else(|| {
                TrainError::format(&path, key, "an ignoring run's metric, a number, is missing")
            })
        };
        let evaluated_on = metrics["evaluated_on"].as_str().ok_or_else(|| {
            TrainError::format(&path, "evaluated_on", "an ignoring run's split is missing")
        })?;
        Ok(Self {
            name: run
                .file_name()
                .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into()),
            posthoc_probe_accuracy: number("posthoc_probe_accuracy")?,
            probe_accuracy: number("probe_accuracy")?,
            test_reconstruction_bce: number("test_reconstruction_bce")?,
            plain_test_reconstruction_bce: number("plain_test_reconstruction_bce")?,
            evaluated_on: evaluated_on.to_owned(),
        })
    }
}

/// Reads the ignoring runs `runs` (a sweep, in the order of its weight) and draws their
/// trade-off at `path`: the post-hoc probe's accuracy against the reconstruction
/// cross-entropy, each point named by its run folder. The runs must all be scored on the
/// same split.
pub fn save_tradeoff(path: &Path, runs: &[PathBuf]) -> Result<Vec<TradeoffPoint>, TrainError> {
    let points = runs
        .iter()
        .map(|run| TradeoffPoint::read(run))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(odd) = points
        .iter()
        .find(|p| p.evaluated_on != points[0].evaluated_on)
    {
        return Err(TrainError::invalid(
            "trade-off runs",
            &odd.name,
            format!(
                "was scored on {}, the first run on {}",
                odd.evaluated_on, points[0].evaluated_on
            ),
        ));
    }
    let split = points.first().map_or("", |p| p.evaluated_on.as_str());
    let coordinates: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.test_reconstruction_bce, p.posthoc_probe_accuracy))
        .collect();
    let labels: Vec<String> = points.iter().map(|p| p.name.clone()).collect();
    save_line_chart(
        path,
        &LineChart {
            title: "Ignoring: post-hoc probe against reconstruction",
            x_label: &format!("reconstruction cross-entropy on the {split} images (nats)"),
            y_label: "post-hoc MLP probe accuracy",
            points: &coordinates,
            labels: &labels,
        },
    )?;
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(root: &Path, name: &str, split: &str, posthoc: f64) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let metrics = json!({
            "posthoc_probe_accuracy": posthoc,
            "probe_accuracy": 0.2,
            "test_reconstruction_bce": 100.0 + 20.0 * (1.0 - posthoc),
            "plain_test_reconstruction_bce": 80.0,
            "evaluated_on": split,
        });
        std::fs::write(dir.join("metrics.json"), metrics.to_string()).unwrap();
        dir
    }

    #[test]
    fn a_sweep_is_read_in_order_and_drawn_and_mixed_splits_or_missing_metrics_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let runs = [
            run(root.path(), "w10", "validation", 0.7),
            run(root.path(), "w100", "validation", 0.2),
        ];
        let path = root.path().join("tradeoff.png");
        let points = save_tradeoff(&path, &runs).unwrap();
        assert!(path.is_file());
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["w10", "w100"]);
        assert_eq!(points[1].posthoc_probe_accuracy, 0.2);
        assert_eq!(points[1].test_reconstruction_bce, 116.0);
        let test = run(root.path(), "final", "test", 0.5);
        let mixed = save_tradeoff(&path, &[runs[0].clone(), test]).unwrap_err();
        assert!(mixed.to_string().contains("final"), "{mixed}");
        std::fs::write(runs[0].join("metrics.json"), "{}").unwrap();
        let missing = save_tradeoff(&path, &runs).unwrap_err();
        assert!(missing.to_string().contains("is missing"), "{missing}");
    }
}
