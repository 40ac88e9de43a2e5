//! What every clustering model shares: its [`Assignments`] of images to clusters, the
//! [`ClusterModel`] trait, the metrics computed from assignments ([`ClusteringMetrics`]),
//! and the pictures (`clusters.png`, `cluster_sizes.png`).
//!
//! Confidence, used to pick the one revealed label per cluster for `one_label_accuracy`, is
//! defined by each model and documented there: for models with a cluster posterior q(k|x)
//! (a softmax, or a mixture's responsibilities) it is the log-odds of the chosen cluster,
//! log q/(1 − q) ([`Assignments::from_scores`]), which orders members as q(k|x) does but
//! does not saturate, so that confident members do not tie at q = 1 and fall back to the
//! lowest index; the negative squared distance to the centroid for k-means; the relative
//! reconstruction margin for a choice by reconstruction. Exact ties go to the lowest index.
//!
//! The revealed member is not simply the most confident one: among a cluster's
//! [`REVEAL_CANDIDATES`] most confident training members, it is the one nearest in pixels
//! (squared distance) to the mean image of all the cluster's training members. The most
//! confident member alone is sometimes an atypical one (a 7 that its 4-cluster draws far
//! better than any other cluster does); the typical one among the confident is label-blind
//! too, and over 14 validation runs of the flagship it gained 0.15 points of
//! `one_label_accuracy` on the mean and lost once (`docs/capsules.md`).

use std::path::Path;

use serde::Serialize;
use tch::{Device, Kind, Tensor};

use aecraft_data::ImageDataset;
use aecraft_eval::clustering::{
    ari, cluster_sizes, clusters_used, hungarian_accuracy, majority_accuracy, nmi,
    one_label_accuracy_picking,
};
use aecraft_generators::constant::cluster_sums;
use aecraft_train::pictures::{save_bar_chart, save_labelled_image_grid, BarChart, GridLabels};
use aecraft_train::TrainError;

/// How many of a cluster's most confident training members the revealed one is chosen
/// among (see the module docs).
pub const REVEAL_CANDIDATES: usize = 10;

/// Each image's cluster, and how confident the model is in it (higher is more confident).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assignments {
    /// The cluster of each image.
    pub clusters: Vec<usize>,
    /// The model's confidence in that cluster.
    pub confidence: Vec<f64>,
}

impl Assignments {
    /// Assignments from `[N]` cluster indices and `[N]` confidences.
    pub fn from_tensors(clusters: &Tensor, confidence: &Tensor) -> Result<Self, TrainError> {
        let clusters = Vec::<i64>::try_from(clusters.to_device(Device::Cpu).to_kind(Kind::Int64))?;
        let confidence =
            Vec::<f64>::try_from(confidence.to_device(Device::Cpu).to_kind(Kind::Double))?;
        Ok(Self {
            clusters: clusters.into_iter().map(|c| c as usize).collect(),
            confidence,
        })
    }

    /// Assignments from `[N, K]` unnormalized log-probabilities of the clusters (logits, or
    /// a mixture's log-joints): the best cluster of each image, with its log-odds against
    /// the others, `s_k − logsumexp_{j≠k} s_j` = log q/(1 − q) for q = softmax(s)_k, computed
    /// in f64 without forming q.
    pub fn from_scores(scores: &Tensor) -> Result<Self, TrainError> {
        let scores = scores.to_kind(Kind::Double);
        let (best, clusters) = scores.f_max_dim(1, false)?;
        let others = scores.f_scatter_value(1, &clusters.unsqueeze(1), f64::NEG_INFINITY)?;
        let log_odds = best.f_sub(&others.f_logsumexp([1], false)?)?;
        Self::from_tensors(&clusters, &log_odds)
    }
}

/// A trained model that assigns images to clusters.
pub trait ClusterModel {
    /// The number of clusters K.
    fn clusters(&self) -> usize;

    /// Assigns every image of `data` to a cluster.
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError>;

    /// One prototype image per cluster, `[K, H*W]`, values in `[0, 1]`.
    fn prototypes(&self) -> Result<Tensor, TrainError>;
}

/// The clustering metrics, all scored on the test split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusteringMetrics {
    /// One revealed training label per cluster (the typical member among its most confident,
    /// see the module docs), scored on test.
    pub one_label_accuracy: f64,
    /// Clusters labeled by the majority of their training members (uses all training labels).
    pub majority_accuracy: f64,
    /// Best one-to-one cluster-to-class mapping; only when K equals the number of classes.
    pub hungarian_accuracy: Option<f64>,
    /// Normalized mutual information between test clusters and labels.
    pub nmi: f64,
    /// Adjusted Rand index between test clusters and labels.
    pub ari: f64,
    /// Clusters that receive at least one test image.
    pub clusters_used: usize,
    /// Training labels revealed for `one_label_accuracy`.
    pub labels_revealed: usize,
}

/// Scores `test` assignments against labels; `train` assignments and labels decide the
/// cluster labels, and `train_images` (`[N, D]`, the images `train` assigns) the one
/// revealed member of each cluster (see the module docs).
pub fn clustering_metrics(
    train: &Assignments,
    train_labels: &[usize],
    train_images: &Tensor,
    test: &Assignments,
    test_labels: &[usize],
    k: usize,
    classes: usize,
) -> Result<ClusteringMetrics, TrainError> {
    let n = train.clusters.len();
    let images = train_images.f_reshape([n as i64, -1]).map_err(|_| {
        TrainError::invalid(
            "train_images",
            format!("{:?}", train_images.size()),
            format!("expected the {n} images that the training assignments assign"),
        )
    })?;
    let means = cluster_means(&train.clusters, &images, k)?;
    let one_label = one_label_accuracy_picking(
        (&train.clusters, &train.confidence, train_labels),
        (&test.clusters, test_labels),
        k,
        REVEAL_CANDIDATES,
        |cluster, members| nearest_member(&images, &means.get(cluster as i64), members),
    )?;
    Ok(ClusteringMetrics {
        one_label_accuracy: one_label.accuracy,
        majority_accuracy: majority_accuracy(
            &train.clusters,
            train_labels,
            &test.clusters,
            test_labels,
            k,
            classes,
        )?,
        hungarian_accuracy: hungarian_accuracy(&test.clusters, test_labels, k, classes)?,
        nmi: nmi(&test.clusters, test_labels)?,
        ari: ari(&test.clusters, test_labels)?,
        clusters_used: clusters_used(&test.clusters, k)?,
        labels_revealed: one_label.labels_used,
    })
}

/// The mean image of each cluster's members, `[K, D]` (zeros for an empty cluster).
fn cluster_means(clusters: &[usize], images: &Tensor, k: usize) -> Result<Tensor, TrainError> {
    let images = images.to_kind(Kind::Float);
    let members = index_tensor(clusters, images.device()).one_hot(k as i64);
    let (sums, counts) = cluster_sums(&members, &images)?;
    Ok(sums / counts.clamp_min(1.0).unsqueeze(1))
}

/// The member of `members` (indices into `images`, `[N, D]`) nearest to `mean` (`[D]`) by
/// squared distance; the earlier one on ties.
fn nearest_member(images: &Tensor, mean: &Tensor, members: &[usize]) -> usize {
    let index = index_tensor(members, images.device());
    let distances = (images.index_select(0, &index).to_kind(Kind::Float) - mean.unsqueeze(0))
        .square()
        .sum_dim_intlist(1, false, Kind::Float);
    members[distances.argmin(0, false).int64_value(&[]) as usize]
}

/// `indices` as an int64 tensor on `device`.
fn index_tensor(indices: &[usize], device: Device) -> Tensor {
    let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_slice(&indices).to_device(device)
}

/// Writes `clusters.png` (a row per cluster, labelled with its size: its prototype, then its
/// `members` most confident test images) and `cluster_sizes.png` (test images per cluster)
/// into `dir`.
pub fn save_cluster_pictures(
    dir: &Path,
    model: &dyn ClusterModel,
    test: &ImageDataset,
    assignments: &Assignments,
    members: usize,
) -> Result<(), TrainError> {
    let k = model.clusters();
    let prototypes = model
        .prototypes()?
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
    let images = test.images().to_device(Device::Cpu);
    let blank = Tensor::zeros([1, test.pixels()], (Kind::Float, Device::Cpu));
    let mut rows = Vec::with_capacity(k * (members + 1));
    for cluster in 0..k {
        rows.push(prototypes.get(cluster as i64).unsqueeze(0));
        let mut order: Vec<usize> = (0..assignments.clusters.len())
            .filter(|&i| assignments.clusters[i] == cluster)
            .collect();
        order.sort_by(|&a, &b| assignments.confidence[b].total_cmp(&assignments.confidence[a]));
        for slot in 0..members {
            rows.push(match order.get(slot) {
                Some(&i) => images.get(i as i64).unsqueeze(0),
                None => blank.shallow_clone(),
            });
        }
    }
    let size = (test.height(), test.width());
    let sizes: Vec<f64> = cluster_sizes(&assignments.clusters, k)?
        .into_iter()
        .map(|s| s as f64)
        .collect();
    let row_labels: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(cluster, size)| format!("cluster {cluster} ({size} images)"))
        .collect();
    let column_labels: Vec<String> = std::iter::once("prototype".to_string())
        .chain((1..=members).map(|rank| rank.to_string()))
        .collect();
    save_labelled_image_grid(
        &dir.join("clusters.png"),
        &Tensor::cat(&rows, 0),
        size,
        members + 1,
        2,
        &GridLabels {
            title: "Each cluster's prototype and its most confident test images",
            columns_label: "test images by confidence, most confident first",
            columns: &column_labels,
            rows: &row_labels,
        },
    )?;
    save_bar_chart(
        &dir.join("cluster_sizes.png"),
        &BarChart {
            title: "Test images per cluster",
            x_label: "cluster",
            y_label: "images",
            values: &sizes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_odds_order_members_like_the_posterior_without_saturating() {
        // Rows 0 and 1 both have q(k|x) = 1 in f32; row 1 is the more confident one.
        let scores = Tensor::from_slice2(&[[40.0f32, 0.0, 1.0], [60.0, 0.0, 1.0], [0.0, 2.0, 1.0]]);
        let saturated = scores.softmax(1, Kind::Float).max_dim(1, false).0;
        assert_eq!(
            Vec::<f32>::try_from(saturated.narrow(0, 0, 2)).unwrap(),
            [1.0, 1.0]
        );
        let a = Assignments::from_scores(&scores).unwrap();
        assert_eq!(a.clusters, [0, 0, 1]);
        assert!(a.confidence[1] > a.confidence[0], "{:?}", a.confidence);
        // Against the closed form log q/(1 − q) for the unsaturated row.
        let q = (2f64.exp()) / (1.0 + 2f64.exp() + 1f64.exp());
        assert!((a.confidence[2] - (q / (1.0 - q)).ln()).abs() < 1e-9);
    }

    #[test]
    fn perfect_clusters_score_one() {
        let labels = vec![0, 0, 1, 1, 2, 2];
        let assignments = Assignments {
            clusters: vec![2, 2, 0, 0, 1, 1],
            confidence: vec![1.0; 6],
        };
        let images = Tensor::rand([6, 4], (Kind::Float, Device::Cpu));
        let metrics =
            clustering_metrics(&assignments, &labels, &images, &assignments, &labels, 3, 3)
                .unwrap();
        assert_eq!(metrics.one_label_accuracy, 1.0);
        assert_eq!(metrics.hungarian_accuracy, Some(1.0));
        assert_eq!(metrics.clusters_used, 3);
        assert_eq!(metrics.labels_revealed, 3);
        assert!((metrics.nmi - 1.0).abs() < 1e-12 && (metrics.ari - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_revealed_member_is_the_typical_one_among_the_most_confident() {
        // Cluster 0: four images near 0 labelled 4 and one far image labelled 7 that is the
        // most confident; the typical confident member reveals 4.
        let images = Tensor::from_slice(&[0.0f32, 0.1, 0.2, 0.1, 5.0]).view([5, 1]);
        let train = Assignments {
            clusters: vec![0; 5],
            confidence: vec![0.5, 0.6, 0.4, 0.7, 0.9],
        };
        let labels = vec![4, 4, 4, 4, 7];
        let test = Assignments {
            clusters: vec![0, 0],
            confidence: vec![1.0; 2],
        };
        let metrics = clustering_metrics(&train, &labels, &images, &test, &[4, 4], 1, 10).unwrap();
        assert_eq!(metrics.one_label_accuracy, 1.0);
        assert_eq!(metrics.labels_revealed, 1);
        // Images that are not the ones assigned are an error naming them.
        let wrong = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
        let error = clustering_metrics(&train, &labels, &wrong, &test, &[4, 4], 1, 10)
            .unwrap_err()
            .to_string();
        assert!(error.contains("train_images"), "{error}");
    }

    #[test]
    fn converts_tensors() {
        let a = Assignments::from_tensors(
            &Tensor::from_slice(&[2i64, 0]),
            &Tensor::from_slice(&[0.5f32, 0.25]),
        )
        .unwrap();
        assert_eq!(a.clusters, vec![2, 0]);
        assert_eq!(a.confidence, vec![0.5, 0.25]);
    }
}
