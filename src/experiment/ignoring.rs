//! The `[ignoring]` experiment: an autoencoder whose code leaves out the label, trained with
//! a plain autoencoder of the same code size and budget beside it, both probed for the
//! label after training (see [`aecraft_train::ignoring`]).

use serde_json::{json, Value};

use aecraft_codes::TransformConfig;
use aecraft_data::ImageDataset;
use aecraft_train::ignoring::{save_label_swap, score_ignoring, train_ignoring, IgnoringRun};
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
/// Metrics: the probes' scores ([`aecraft_train::ignoring::IgnoringScores`]), `method`,
/// `probe`, `train_seconds`, `plain_train_seconds`, `evaluated_on`, `code_size`, `epochs`
/// and `seed`.
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
    let metrics = merge_metrics(&[
        scores,
        json!({
            "method": config.method,
            "probe": "multinomial logistic regression on standardized codes",
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
