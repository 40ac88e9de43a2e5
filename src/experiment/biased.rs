//! The `[biased]` experiment: a code pushed toward a chosen kind by the objective alone
//! (see [`aecraft_models::biased`]), scored by how well the evaluation images' codes follow
//! the prior.

use serde_json::{json, Value};

use aecraft_data::ImageDataset;
use aecraft_models::biased::{save_usage_picture, score_bias, BiasedRun, Mode};
use aecraft_train::{Run, TrainError};

use super::autoencoder::{save_reconstructions_of, train_pipeline};

use crate::cli::merge_metrics;

/// Images per unit in `usage.png`.
const PER_UNIT: i64 = 12;

/// Trains `run`'s biased autoencoder on `train`, scores it on `eval` (named `eval_name`),
/// and writes `metrics.json`, `reconstructions.png` and, for `softmax`, `usage.png`.
///
/// Metrics: `mode`, `test_reconstruction_bce`, `train_seconds`, `evaluated_on`, `epochs`,
/// `seed`, and the mode's scores ([`aecraft_models::biased::BiasScores`]).
pub fn score_biased(
    run: &Run<BiasedRun>,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
) -> Result<Value, TrainError> {
    let config = run.config();
    let what = format!("a biased autoencoder ({:?})", config.mode);
    let (model, report, losses) =
        train_pipeline(run, &config.model, (train, eval, eval_name), &what)?;
    let (scores, code) = score_bias(model.net(), config.mode, eval)?;
    let scores = serde_json::to_value(&scores)
        .map_err(|error| TrainError::invalid("metrics", "JSON", error.to_string()))?;
    let metrics = merge_metrics(&[
        json!({
            "mode": config.mode,
            "test_reconstruction_bce": losses["reconstruction"],
            "train_seconds": report.state.train_seconds,
            "evaluated_on": eval_name,
            "epochs": report.state.epochs_done,
            "seed": config.train.seed,
        }),
        scores,
    ]);
    if config.mode == Mode::Softmax {
        save_usage_picture(&run.path("usage.png"), eval, &code, PER_UNIT)?;
    }
    run.save_metrics(&metrics)?;
    save_reconstructions_of(&run.path("reconstructions.png"), model.net(), eval)?;
    Ok(metrics)
}
