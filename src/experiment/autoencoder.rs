//! The `[autoencoder]` experiment: any pipeline of parts, trained and scored by its own loss
//! terms on the evaluation images, with pictures of its reconstructions and, for a Gaussian
//! code, of samples from the prior.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use aecraft_codes::TransformConfig;
use aecraft_data::ImageDataset;
use aecraft_train::generated::save_prior_samples;
use aecraft_train::pictures::save_reconstructions;
use aecraft_train::run::RunConfig;
use aecraft_train::trainer::TrainReport;
use aecraft_train::{evaluate, Autoencoder, AutoencoderConfig, AutoencoderModel, Evaluation};
use aecraft_train::{Run, RunSpec, TrainError, TrainModel};

/// Images shown in `reconstructions.png`.
const SHOWN: i64 = 16;
/// Prior samples in `samples.png`, and per row.
const SAMPLES: (i64, usize) = (64, 8);

/// Trains the pipeline `config` of `run` on `train`, scoring `eval` (named `eval_name`)
/// after each epoch, and returns the model, the report and its loss terms on `eval`.
/// `what` names the model in the opening line.
pub(crate) fn train_pipeline<R: RunConfig>(
    run: &Run<R>,
    config: &AutoencoderConfig,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
    what: &str,
) -> Result<(AutoencoderModel, TrainReport, BTreeMap<String, f64>), TrainError> {
    let device = train.images().device();
    let mut model = AutoencoderModel::new(config, device)?;
    let settings = run.config().train();
    eprintln!(
        "training {what} on {} images for {} epochs on {device:?}",
        train.len(),
        settings.epochs
    );
    let evaluation = Evaluation {
        name: eval_name,
        data: eval,
    };
    let report = run.train(&mut model, train, Some(evaluation))?;
    let losses = evaluate(&model, eval, settings.eval_batch_size)?;
    Ok((model, report, losses))
}

/// Saves `reconstructions.png`-style pictures at `path`: the first [`SHOWN`] images of
/// `eval` over `net`'s reconstructions.
pub(crate) fn save_reconstructions_of(
    path: &Path,
    net: &Autoencoder,
    eval: &ImageDataset,
) -> Result<(), TrainError> {
    let inputs = eval.images().narrow(0, 0, SHOWN.min(eval.len() as i64));
    let size = (eval.height(), eval.width());
    save_reconstructions(path, &inputs, &net.reconstruct(&inputs)?, size)
}

/// Trains `run`'s pipeline on `train`, scores it on `eval` (named `eval_name`), and writes
/// `metrics.json`, `reconstructions.png` and, for a Gaussian code, `samples.png`.
///
/// Metrics: `test_neg_elbo_nats` (the mean total loss per image: the negative ELBO of a
/// VAE), `test_reconstruction_bce`, `test_kl_nats` (0 without a Gaussian code),
/// `test_<term>` for every other loss term, `epochs`, `train_images`, `train_seconds`,
/// `train_images_per_second`, `seed` and `evaluated_on`. The `test_` keys measure the
/// split `evaluated_on` names.
pub fn score_autoencoder(
    run: &Run<RunSpec<AutoencoderConfig>>,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
) -> Result<Value, TrainError> {
    let config = run.config();
    let what = format!("an autoencoder ({})", config.model.code_group());
    let (model, report, losses) =
        train_pipeline(run, &config.model, (train, eval, eval_name), &what)?;
    let mut metrics = Map::new();
    for (term, value) in &losses {
        let key = match term.as_str() {
            "loss" => "test_neg_elbo_nats".to_owned(),
            "kl" => "test_kl_nats".to_owned(),
            term => format!("test_{term}"),
        };
        metrics.insert(key, json!(value));
    }
    metrics.entry("test_kl_nats").or_insert(json!(0.0));
    metrics.insert(
        "test_reconstruction_bce".into(),
        json!(losses["reconstruction"]),
    );
    metrics.remove("test_reconstruction");
    metrics.insert("epochs".into(), json!(report.state.epochs_done));
    metrics.insert("train_images".into(), json!(train.len()));
    metrics.insert("train_seconds".into(), json!(report.state.train_seconds));
    let speed = report.images_per_second();
    metrics.insert("train_images_per_second".into(), json!(speed));
    metrics.insert("seed".into(), json!(config.train.seed));
    metrics.insert("evaluated_on".into(), json!(eval_name));
    let metrics = Value::Object(metrics);
    run.save_metrics(&metrics)?;

    let net = model.net();
    save_reconstructions_of(&run.path("reconstructions.png"), net, eval)?;
    let size = (eval.height(), eval.width());
    if let Some(gaussian) = config.model.transforms.iter().find_map(|t| match t {
        TransformConfig::Gaussian(gaussian) => Some(gaussian),
        _ => None,
    }) {
        let widths = config.model.validate()?;
        let units = widths.get(&gaussian.output).copied().unwrap_or_default();
        let path = run.path("samples.png");
        let device = model.var_store().device();
        save_prior_samples(&path, net, (&gaussian.output, units), SAMPLES, size, device)?;
    }
    Ok(metrics)
}
