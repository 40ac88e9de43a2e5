//! The capsule clustering procedure, from unlabeled images to a trained model: k-means
//! centroids initialize the templates, then the [`Trainer`] runs hard-EM training with a
//! checkpoint and a log; plus the pictures of a trained model.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::kmeans_init::kmeans_centroids;
use super::CapsuleClusteringConfig;
use super::CapsuleClusteringModel;
use crate::clustering::{save_cluster_pictures, Assignments, ClusterModel};
use crate::model::TrainModel;
use crate::pictures::save_image_grid;
use crate::{Checkpoint, Evaluation, TrainConfig, TrainError, TrainReport, Trainer};
use aecraft_data::ImageDataset;

/// Everything that defines a run, saved as the checkpoint's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CapsuleRun {
    /// The model.
    pub model: CapsuleClusteringConfig,
    /// The training loop.
    pub train: TrainConfig,
}

/// Trains a capsule clustering model on `train` and returns it with the training report.
///
/// A fresh run initializes the templates from k-means centroids of `train` (seeded with
/// `run.train.seed`); its seconds are counted in the report's `train_seconds`. With `resume`,
/// the weights, optimizer and progress come from that checkpoint instead. Writes the
/// checkpoint into `out/checkpoint/` after every epoch and one JSON line per epoch into
/// `out/log.jsonl`; `eval` (if any) is scored after every epoch.
pub fn train_capsule_clustering(
    run: &CapsuleRun,
    train: &ImageDataset,
    eval: Option<Evaluation<'_>>,
    out: &Path,
    resume: Option<&Path>,
) -> Result<(CapsuleClusteringModel, TrainReport), TrainError> {
    run.model.validate()?;
    let device = train.images().device();
    let mut model = CapsuleClusteringModel::new(&run.model, device)?;
    let checkpoint = Checkpoint::new(out.join("checkpoint"));
    let trainer = Trainer::new(run.train.clone())?
        .with_checkpoint(checkpoint.clone())
        .with_log(out.join("log.jsonl"));
    let mut optimizer = trainer.optimizer(&model)?;
    let state = match resume {
        Some(dir) => Checkpoint::new(dir).load(model.var_store_mut(), &mut optimizer)?,
        None => {
            let started = Instant::now();
            if run.model.kmeans_iterations > 0 {
                eprintln!(
                    "initializing {} templates from k-means ({} iterations) on {} images",
                    run.model.generator.clusters,
                    run.model.kmeans_iterations,
                    train.len()
                );
                let centroids = kmeans_centroids(
                    train.images(),
                    run.model.generator.clusters as usize,
                    run.model.kmeans_iterations,
                    run.train.seed,
                )?;
                model.set_templates(&spread_over_capsules(&centroids, &run.model)?)?;
            }
            crate::TrainState {
                train_seconds: started.elapsed().as_secs_f64(),
                ..Default::default()
            }
        }
    };
    crate::atomic::write_json(&out.join(crate::run::CONFIG_FILE), run)?;
    let report = trainer.fit(&mut model, &mut optimizer, train, eval, state)?;
    Ok((model, report))
}

/// The templates that draw `centroids` (`[K, H*W]`) at the default poses: with one capsule of
/// the canvas' size, the centroids themselves; otherwise each capsule gets the centroid
/// resized to the template size and divided by C, so that the capsules sum to about it.
fn spread_over_capsules(
    centroids: &Tensor,
    config: &CapsuleClusteringConfig,
) -> Result<Tensor, TrainError> {
    let g = &config.generator;
    let images = centroids.view([g.clusters, 1, g.canvas_height, g.canvas_width]);
    let resized =
        images.f_upsample_bilinear2d([g.template_height, g.template_width], false, None, None)?;
    Ok(resized.repeat([1, g.capsules, 1, 1]) / g.capsules as f64)
}

/// Writes `templates.png`: one row per cluster with its C templates side by side, or, with one
/// capsule per cluster, the K templates in a square grid.
pub fn save_templates_png(path: &Path, model: &CapsuleClusteringModel) -> Result<(), TrainError> {
    let config = &model.config().generator;
    let templates = model
        .generator()
        .templates()
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
    let flat = templates.reshape([config.clusters * config.capsules, -1]);
    let size = (config.template_height, config.template_width);
    let columns = match config.capsules {
        1 => (config.clusters as f64).sqrt().ceil() as usize,
        c => c as usize,
    };
    save_image_grid(path, &flat, size, columns, 2)
}

/// Writes into `dir`: `templates.png` (every cluster's templates), `clusters.png` (each
/// cluster's prototype and its most confident test members) with `cluster_sizes.png`, and
/// `reconstructions.png` (the first 16 test images over their reconstructions).
pub fn save_capsule_pictures(
    dir: &Path,
    model: &CapsuleClusteringModel,
    test: &ImageDataset,
    test_assignments: &Assignments,
) -> Result<(), TrainError> {
    save_templates_png(&dir.join("templates.png"), model)?;
    save_cluster_pictures(dir, model as &dyn ClusterModel, test, test_assignments, 12)?;
    let inputs = test.images().narrow(0, 0, 16.min(test.len() as i64));
    let reconstructions = model.reconstruct(&inputs)?.to_device(inputs.device());
    save_image_grid(
        &dir.join("reconstructions.png"),
        &Tensor::cat(&[&inputs, &reconstructions], 0),
        (test.height(), test.width()),
        inputs.size()[0] as usize,
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_generators::CapsuleGeneratorConfig;

    fn blobs() -> ImageDataset {
        // Three 6×6 "digits": a bar in three places, with noise.
        let mut images = Vec::new();
        for i in 0..60 {
            let mut image = [0.0f32; 36];
            let row = (i % 3) * 2;
            for x in 0..6 {
                image[row * 6 + x] = 1.0;
            }
            images.extend_from_slice(&image);
        }
        let images = Tensor::from_slice(&images).view([60, 36])
            + Tensor::rand([60, 36], (Kind::Float, Device::Cpu)) * 0.05;
        let labels = Tensor::arange(60, (Kind::Int64, Device::Cpu)).remainder(3);
        ImageDataset::new(images, Some(labels), 6, 6).unwrap()
    }

    #[test]
    fn trains_saves_and_draws() {
        tch::manual_seed(0);
        let dir = tempfile::tempdir().unwrap();
        let run = CapsuleRun {
            model: CapsuleClusteringConfig {
                input: 36,
                encoder_hidden: vec![16],
                generator: CapsuleGeneratorConfig {
                    clusters: 3,
                    capsules: 2,
                    template_height: 4,
                    template_width: 4,
                    canvas_height: 6,
                    canvas_width: 6,
                    ..Default::default()
                },
                kmeans_iterations: 5,
                ..Default::default()
            },
            train: TrainConfig {
                epochs: 2,
                batch_size: 20,
                ..Default::default()
            },
        };
        let data = blobs();
        let (model, report) =
            train_capsule_clustering(&run, &data, None, dir.path(), None).unwrap();
        assert_eq!(report.state.epochs_done, 2);
        assert!(dir.path().join("checkpoint").join("state.json").is_file());
        let assignments = model.assign(&data).unwrap();
        save_capsule_pictures(dir.path(), &model, &data, &assignments).unwrap();
        for picture in ["templates.png", "clusters.png", "reconstructions.png"] {
            assert!(dir.path().join(picture).is_file(), "{picture}");
        }
        let (_, resumed) = train_capsule_clustering(
            &CapsuleRun {
                train: TrainConfig {
                    epochs: 3,
                    ..run.train.clone()
                },
                ..run.clone()
            },
            &data,
            None,
            dir.path(),
            Some(&dir.path().join("checkpoint")),
        )
        .unwrap();
        assert_eq!(resumed.state.epochs_done, 3);
    }
}
