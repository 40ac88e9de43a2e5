//! The clustering models that are fitted in closed form rather than by the [`aecraft_train::Trainer`]:
//! k-means ([`KMeansModel`]) and the Gaussian mixture ([`GaussianMixtureModel`]), each with
//! its variables in a `VarStore` (saved by [`aecraft_train::Checkpoint::save_weights`]) and
//! implementing [`ClusterModel`].

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use aecraft_generators::{
    KMeans, KMeansConfig, KMeansReport, Mixture, MixtureConfig, MixtureReport, Pca,
};

use crate::clustering::{Assignments, ClusterModel};
use aecraft_data::ImageDataset;
use aecraft_train::TrainError;

/// k-means on raw pixels, with its variables.
#[derive(Debug)]
pub struct KMeansModel {
    vs: VarStore,
    kmeans: KMeans,
}

impl KMeansModel {
    /// An unfitted model for `pixels`-feature images on `device`.
    pub fn new(config: &KMeansConfig, pixels: i64, device: Device) -> Result<Self, TrainError> {
        let vs = VarStore::new(device);
        let kmeans = config.build(&(vs.root() / "kmeans"), pixels)?;
        Ok(Self { vs, kmeans })
    }

    /// Fits the training images (labels unused).
    pub fn fit(&self, train: &ImageDataset) -> Result<KMeansReport, TrainError> {
        Ok(self.kmeans.fit(train.images())?)
    }

    /// The variables (the centroids).
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The variables, mutably (for loading saved weights).
    pub fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
}

impl ClusterModel for KMeansModel {
    fn clusters(&self) -> usize {
        self.kmeans.centroids().size()[0] as usize
    }

    /// The nearest centroid; confidence is the negative squared distance to it.
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError> {
        let (clusters, distances) = self.kmeans.nearest(data.images())?;
        Assignments::from_tensors(&clusters, &-distances)
    }

    /// The centroids.
    fn prototypes(&self) -> Result<Tensor, TrainError> {
        Ok(self.kmeans.centroids().clamp(0.0, 1.0))
    }
}

/// Configuration of a [`GaussianMixtureModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianMixtureConfig {
    /// Principal components the mixture models (the pixels are projected onto them first).
    pub pca_dims: i64,
    /// The k-means run that gives the starting assignments (on the projected images).
    pub kmeans: KMeansConfig,
    /// The mixture (its `clusters` must equal `kmeans.clusters`).
    pub mixture: MixtureConfig,
}

impl Default for GaussianMixtureConfig {
    fn default() -> Self {
        Self {
            pca_dims: 50,
            kmeans: KMeansConfig::default(),
            mixture: MixtureConfig::default(),
        }
    }
}

/// What [`GaussianMixtureModel::fit`] reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GaussianMixtureReport {
    /// The initializing k-means.
    pub kmeans: KMeansReport,
    /// EM.
    pub em: MixtureReport,
}

/// PCA, then a mixture of factor analyzers initialized from k-means, fitted by EM.
#[derive(Debug)]
pub struct GaussianMixtureModel {
    vs: VarStore,
    pca: Pca,
    kmeans: KMeans,
    mixture: Mixture,
}

impl GaussianMixtureModel {
    /// An unfitted model for `pixels`-feature images on `device`.
    pub fn new(
        config: &GaussianMixtureConfig,
        pixels: i64,
        device: Device,
    ) -> Result<Self, TrainError> {
        if config.kmeans.clusters != config.mixture.clusters {
            return Err(TrainError::invalid(
                "gaussian.mixture.clusters",
                config.mixture.clusters,
                format!(
                    "must equal kmeans.clusters ({}), which initializes it",
                    config.kmeans.clusters
                ),
            ));
        }
        let vs = VarStore::new(device);
        let root = vs.root();
        let pca = Pca::new(&(&root / "pca"), pixels, config.pca_dims)?;
        let kmeans = config.kmeans.build(&(&root / "kmeans"), config.pca_dims)?;
        let mixture = config
            .mixture
            .build(&(&root / "mixture"), config.pca_dims)?;
        Ok(Self {
            vs,
            pca,
            kmeans,
            mixture,
        })
    }

    /// Fits PCA, k-means and then EM on the training images (labels unused).
    pub fn fit(&self, train: &ImageDataset) -> Result<GaussianMixtureReport, TrainError> {
        self.pca.fit(train.images())?;
        let projected = self.pca.project(train.images())?;
        let kmeans = self.kmeans.fit(&projected.to_kind(Kind::Float))?;
        let (clusters, _) = self.kmeans.nearest(&projected.to_kind(Kind::Float))?;
        self.mixture.init_from_assignments(&projected, &clusters)?;
        let em = self.mixture.fit(&projected)?;
        Ok(GaussianMixtureReport { kmeans, em })
    }

    /// The mean log-likelihood per image of `data` under the mixture, in nats, as a density
    /// over the projected (PCA) coordinates.
    pub fn mean_log_likelihood(&self, data: &ImageDataset) -> Result<f64, TrainError> {
        let projected = self.pca.project(data.images())?;
        Ok(self
            .mixture
            .log_likelihood(&projected)?
            .mean(Kind::Double)
            .double_value(&[]))
    }

    /// The variables (PCA, k-means centroids, mixture).
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The variables, mutably (for loading saved weights).
    pub fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
}

impl ClusterModel for GaussianMixtureModel {
    fn clusters(&self) -> usize {
        self.mixture.means().size()[0] as usize
    }

    /// The most probable cluster; confidence is the log-odds of its posterior q(k|x)
    /// ([`Assignments::from_scores`] of the log-joints).
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError> {
        Assignments::from_scores(&self.mixture.log_joint(&self.pca.project(data.images())?)?)
    }

    /// Each cluster's mean, mapped back to pixels.
    fn prototypes(&self) -> Result<Tensor, TrainError> {
        let pixels = self.pca.reconstruct(self.mixture.means())?;
        Ok(pixels.clamp(0.0, 1.0).to_kind(Kind::Float))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two kinds of 2x2 "images": top row lit or bottom row lit, with noise; 40 each.
    fn two_kinds() -> ImageDataset {
        tch::manual_seed(0);
        let top = Tensor::from_slice(&[0.9f32, 0.9, 0.1, 0.1]).view([1, 4]);
        let bottom = Tensor::from_slice(&[0.1f32, 0.1, 0.9, 0.9]).view([1, 4]);
        let clean = Tensor::cat(&[top.repeat([40, 1]), bottom.repeat([40, 1])], 0);
        let images =
            (clean + Tensor::randn([80, 4], (Kind::Float, Device::Cpu)) * 0.05).clamp(0.0, 1.0);
        let labels = Tensor::cat(
            &[
                Tensor::zeros([40], (Kind::Int64, Device::Cpu)),
                Tensor::ones([40], (Kind::Int64, Device::Cpu)),
            ],
            0,
        );
        ImageDataset::new(images, Some(labels), 2, 2).unwrap()
    }

    fn assert_separates(model: &dyn ClusterModel, data: &ImageDataset) {
        let assignments = model.assign(data).unwrap();
        let first = assignments.clusters[0];
        assert!(assignments.clusters[..40].iter().all(|&c| c == first));
        assert!(assignments.clusters[40..].iter().all(|&c| c != first));
        assert_eq!(model.prototypes().unwrap().size(), vec![2, 4]);
    }

    #[test]
    fn kmeans_separates_two_kinds() {
        let data = two_kinds();
        let config = KMeansConfig {
            clusters: 2,
            ..Default::default()
        };
        let model = KMeansModel::new(&config, 4, Device::Cpu).unwrap();
        model.fit(&data).unwrap();
        assert_separates(&model, &data);
    }

    #[test]
    fn the_mixture_separates_two_kinds_and_reports_a_likelihood() {
        let data = two_kinds();
        let config = GaussianMixtureConfig {
            pca_dims: 3,
            kmeans: KMeansConfig {
                clusters: 2,
                ..Default::default()
            },
            mixture: MixtureConfig {
                clusters: 2,
                rank: 1,
                ..Default::default()
            },
        };
        let model = GaussianMixtureModel::new(&config, 4, Device::Cpu).unwrap();
        let report = model.fit(&data).unwrap();
        assert!(report.em.iterations >= 1);
        assert!(model.mean_log_likelihood(&data).unwrap().is_finite());
        assert_separates(&model, &data);
    }

    #[test]
    fn mismatched_cluster_counts_are_rejected() {
        let config = GaussianMixtureConfig {
            kmeans: KMeansConfig {
                clusters: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = GaussianMixtureModel::new(&config, 784, Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("mixture.clusters"), "{err}");
    }
}
