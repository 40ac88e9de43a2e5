//! The clustering section end to end on synthetic images: each model fits unlabelled
//! training images, is scored with labels revealed only for the metrics, and writes its
//! pictures and weights, as the `clustering` example does on MNIST.

use aecraft::generators::{KMeansConfig, MixtureConfig};
use aecraft::prelude::*;
use aecraft::train::clustering::{clustering_metrics, save_cluster_pictures, ClusterModel};
use aecraft::train::{
    ClusterAutoencoder, ClusterAutoencoderConfig, ClusterVariant, GaussianMixtureConfig,
    GaussianMixtureModel, KMeansModel,
};
use tch::{Device, Kind, Tensor};

/// Three kinds of 4x4 images (a lit top row, left column or diagonal), with noise: `n` each.
fn three_kinds(n: i64, seed: i64) -> ImageDataset {
    tch::manual_seed(seed);
    let templates = Tensor::zeros([3, 4, 4], (Kind::Float, Device::Cpu));
    let _ = templates.get(0).get(0).fill_(1.0);
    let _ = templates.get(1).select(1, 0).fill_(1.0);
    let _ = templates.get(2).diagonal(0, 0, 1).fill_(1.0);
    let labels =
        Tensor::arange(3, (Kind::Int64, Device::Cpu)).repeat_interleave_self_int(n, 0, None);
    let clean = templates.view([3, 16]).index_select(0, &labels);
    let noise = Tensor::rand([3 * n, 16], (Kind::Float, Device::Cpu)) * 0.2;
    let images = (clean * 0.8 + noise).clamp(0.0, 1.0);
    ImageDataset::new(images, Some(labels), 4, 4).unwrap()
}

/// Scores `model` on a fresh test set and writes its pictures; returns the majority accuracy.
fn score(model: &dyn ClusterModel, train: &ImageDataset) -> f64 {
    let test = three_kinds(20, 99);
    let dir = tempfile::tempdir().unwrap();
    let test_assignments = model.assign(&test).unwrap();
    let metrics = clustering_metrics(
        &model.assign(train).unwrap(),
        &train.label_vec("test").unwrap(),
        &test_assignments,
        &test.label_vec("test").unwrap(),
        model.clusters(),
        3,
    )
    .unwrap();
    save_cluster_pictures(dir.path(), model, &test, &test_assignments, 4).unwrap();
    assert!(dir.path().join("clusters.png").is_file());
    assert!(dir.path().join("cluster_sizes.png").is_file());
    metrics.majority_accuracy
}

#[test]
fn kmeans_and_the_mixture_recover_three_kinds_and_save_their_weights() {
    let train = three_kinds(30, 1);
    let kmeans = KMeansConfig {
        clusters: 3,
        ..Default::default()
    };
    let model = KMeansModel::new(&kmeans, 16, Device::Cpu).unwrap();
    model.fit(&train).unwrap();
    assert_eq!(score(&model, &train), 1.0);

    let config = GaussianMixtureConfig {
        pca_dims: 6,
        kmeans,
        mixture: MixtureConfig {
            clusters: 3,
            rank: 2,
            ..Default::default()
        },
    };
    let mixture = GaussianMixtureModel::new(&config, 16, Device::Cpu).unwrap();
    mixture.fit(&train).unwrap();
    assert_eq!(score(&mixture, &train), 1.0);
    // The weights (PCA, centroids, mixture) reload into a fresh model.
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = Checkpoint::new(dir.path());
    checkpoint.save_weights(mixture.var_store()).unwrap();
    let mut restored = GaussianMixtureModel::new(&config, 16, Device::Cpu).unwrap();
    checkpoint.load_weights(restored.var_store_mut()).unwrap();
    assert_eq!(
        mixture.mean_log_likelihood(&train).unwrap(),
        restored.mean_log_likelihood(&train).unwrap()
    );
}

#[test]
fn the_discrete_clustering_autoencoder_recovers_three_kinds() {
    let train = three_kinds(64, 1);
    tch::manual_seed(0);
    let config = ClusterAutoencoderConfig {
        input: 16,
        hidden: vec![32],
        clusters: 3,
        variant: ClusterVariant::Discrete,
        usage_weight: 5.0,
        ..Default::default()
    };
    let mut model = ClusterAutoencoder::new(&config, Device::Cpu).unwrap();
    let trainer = Trainer::new(TrainConfig {
        epochs: 30,
        batch_size: 32,
        optimizer: AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let mut optimizer = trainer.optimizer(&model).unwrap();
    trainer
        .fit(&mut model, &mut optimizer, &train, None, Default::default())
        .unwrap();
    assert_eq!(score(&model, &train), 1.0);
}
