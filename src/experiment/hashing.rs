//! The `[hashing]` experiment: a binarizing autoencoder trained with neighbour agreement,
//! scored by Hamming search of the evaluation images (queries) among the training images
//! (the database).

use serde_json::{json, Value};

use aecraft_data::ImageDataset;
use aecraft_models::hashing::{score_hashing, train_hashing, HashingRun, RetrievalProtocol};
use aecraft_train::mse::mse;
use aecraft_train::pictures::save_reconstructions;
use aecraft_train::{Run, TrainError};

/// Trains `run`'s binarizing autoencoder on `train`, searches `eval`'s codes (named
/// `eval_name`) among `train`'s, and writes `metrics.json` and `reconstructions.png`.
///
/// The retrieval protocol is the default one (100 queries per class, precision at 1,000)
/// shrunk to fit small data ([`RetrievalProtocol::fitted`]; `precision_depth` and
/// `queries_per_class` record it).
///
/// Metrics: `bits`, `map`, `precision_at_1000`, `precision_depth`, `queries_per_class`,
/// `bit_balance_error`,
/// `search_queries_per_second`, `test_reconstruction_mse`, `train_seconds` (with the
/// similarity graph's), `graph_seconds`, `queries_from` and `evaluated_on` (both
/// `eval_name`), `database_size`, `epochs` and `seed`.
pub fn score_hashing_run(
    run: &Run<HashingRun>,
    (train, eval, eval_name): (&ImageDataset, &ImageDataset, &str),
) -> Result<Value, TrainError> {
    let config = run.config();
    let bits = config.model.code.total_width();
    eprintln!(
        "training a {bits}-bit binarizing autoencoder on {} images for {} epochs on {:?}",
        train.len(),
        config.train.epochs,
        train.images().device()
    );
    let outcome = train_hashing(run, train)?;
    let net = outcome.model.net();
    let protocol = RetrievalProtocol::fitted(train.len(), &eval.label_vec("hashing")?);
    let scores = score_hashing(net, train, eval, &protocol)?;
    let reconstructions = net.reconstruct(eval.images())?;
    let metrics = json!({
        "bits": bits,
        "map": scores.map,
        "precision_at_1000": scores.precision,
        "precision_depth": protocol.depth,
        "queries_per_class": protocol.per_class,
        "bit_balance_error": scores.bit_balance_error,
        "search_queries_per_second": scores.queries_per_second,
        "test_reconstruction_mse": mse(&reconstructions, eval.images()),
        "train_seconds": outcome.report.state.train_seconds + outcome.graph_seconds,
        "graph_seconds": outcome.graph_seconds,
        "queries_from": eval_name,
        "evaluated_on": eval_name,
        "database_size": train.len(),
        "epochs": outcome.report.state.epochs_done,
        "seed": config.train.seed,
    });
    run.save_metrics(&metrics)?;
    let size = (eval.height(), eval.width());
    let path = run.path("reconstructions.png");
    save_reconstructions(&path, eval.images(), &reconstructions, size)?;
    Ok(metrics)
}
