//! The `[biased]` experiment: a code pushed toward a chosen kind by the objective alone
//! (see [`aecraft_train::biased`]), scored by how well the evaluation images' codes follow
//! the prior.

use serde_json::{json, Value};

use aecraft_data::ImageDataset;
use aecraft_train::biased::{save_usage_picture, score_bias, BiasedRun, Mode};
use aecraft_train::pictures::save_reconstructions;
use aecraft_train::{evaluate, AutoencoderModel, Evaluation, Run, TrainError};

use crate::cli::merge_metrics;

/// Images per unit in `usage.png`.
const PER_UNIT: i64 = 12;
/// Images shown in `reconstructions.png`.
const SHOWN: i64 = 16;

/// Trains `run`'s biased autoencoder on `train`, scores it on `eval` (named `eval_name`),
/// and writes `metrics.json`, `reconstructions.png` and, for `softmax`, `usage.png`.
///
/// Metrics: `mode`, `test_reconstruction_bce`, `train_seconds`, `evaluated_on`, `epochs`,
/// `seed`, and the mode's scores ([`aecraft_train::biased::BiasScores`]).
pub fn score_biased(
    run: &Run<BiasedRun>,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
) -> Result<Value, TrainError> {
    let config = run.config();
    let device = train.images().device();
    let mut model = AutoencoderModel::new(&config.model, device)?;
    eprintln!(
        "training a biased autoencoder ({:?}) on {} images for {} epochs on {device:?}",
        config.mode,
        train.len(),
        config.train.epochs
    );
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let report = run.train(&mut model, train, Some(evaluation))?;
    let losses = evaluate(&model, eval, config.train.eval_batch_size)?;
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
    let inputs = eval.images().narrow(0, 0, SHOWN.min(eval.len() as i64));
    let reconstructions = model.net().reconstruct(&inputs)?;
    let size = (eval.height(), eval.width());
    save_reconstructions(
        &run.path("reconstructions.png"),
        &inputs,
        &reconstructions,
        size,
    )?;
    Ok(metrics)
}
