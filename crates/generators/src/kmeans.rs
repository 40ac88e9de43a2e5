//! k-means as an (odd) autoencoder: the encoder is no neural network but the nearest
//! centroid, written as a one-hot `cluster` code; the generator is the
//! [`ConstantGenerator`], one constant image per cluster. Training alternates the two exact
//! minimizations of the squared reconstruction error: re-encode every image (best code for
//! the generator), then refit the generator in closed form (best generator for the codes).
//! That alternation is Lloyd's algorithm, step for step.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use aecraft_codes::{Code, GroupWidths, CLUSTER_GROUP};

use crate::{ConstantGenerator, ConstantGeneratorConfig, Generator, GeneratorsError};

/// How the centroids start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KMeansInit {
    /// Greedy k-means++ (Arthur & Vassilvitskii, 2007, with 2 + ln K candidates per step as
    /// in scikit-learn).
    PlusPlus,
    /// K distinct training images drawn uniformly.
    Random,
}

/// Configuration of [`KMeans`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KMeansConfig {
    /// The number of clusters K.
    pub clusters: i64,
    /// How the centroids start.
    pub init: KMeansInit,
    /// Independent starts; the one with the lowest training inertia is kept.
    pub restarts: usize,
    /// The most Lloyd iterations per start.
    pub max_iterations: usize,
    /// Images per distance computation (memory, not results).
    pub batch_size: i64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            clusters: 25,
            init: KMeansInit::PlusPlus,
            restarts: 3,
            max_iterations: 300,
            batch_size: 8192,
        }
    }
}

impl KMeansConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), GeneratorsError> {
        let checks = [
            ("kmeans.clusters", self.clusters, self.clusters >= 1),
            ("kmeans.restarts", self.restarts as i64, self.restarts >= 1),
            (
                "kmeans.max_iterations",
                self.max_iterations as i64,
                self.max_iterations >= 1,
            ),
            ("kmeans.batch_size", self.batch_size, self.batch_size >= 1),
        ];
        match checks.into_iter().find(|(_, _, ok)| !ok) {
            Some((field, value, _)) => Err(GeneratorsError::config(field, value, "must be >= 1")),
            None => Ok(()),
        }
    }

    /// Builds the model for `dims`-feature inputs, its centroids under `path`.
    pub fn build(&self, path: &nn::Path, dims: i64) -> Result<KMeans, GeneratorsError> {
        self.validate()?;
        let widths = GroupWidths::from([(CLUSTER_GROUP.to_owned(), self.clusters)]);
        Ok(KMeans {
            config: self.clone(),
            generator: ConstantGeneratorConfig::default().build(path, &widths, dims)?,
        })
    }
}

/// The outcome of [`KMeans::fit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KMeansReport {
    /// Sum of squared distances of the training images to their centroids.
    pub inertia: f64,
    /// Lloyd iterations of the kept start.
    pub iterations: usize,
    /// Which start was kept (from 0).
    pub restart: usize,
    /// Training inertia of every start.
    pub inertias: Vec<f64>,
}

/// k-means, written as a nearest-centroid encoder and a constant-per-cluster generator.
#[derive(Debug)]
pub struct KMeans {
    config: KMeansConfig,
    generator: ConstantGenerator,
}

/// Squared Euclidean distances between rows of `x` (`[N, D]`) and `centroids` (`[K, D]`):
/// `[N, K]`, clamped at 0 against rounding.
pub fn squared_distances(x: &Tensor, centroids: &Tensor) -> Result<Tensor, GeneratorsError> {
    let x_norms = x.square().sum_dim_intlist(1, true, None::<Kind>);
    let c_norms = centroids.square().sum_dim_intlist(1, false, None::<Kind>);
    let cross = x.f_matmul(&centroids.tr())?;
    Ok((x_norms - cross * 2.0 + c_norms.unsqueeze(0)).clamp_min(0.0))
}

impl KMeans {
    /// The centroids, `[K, D]` (the generator's constants).
    pub fn centroids(&self) -> &Tensor {
        self.generator.table()
    }

    /// The generator.
    pub fn generator(&self) -> &ConstantGenerator {
        &self.generator
    }

    /// The encoder: each row of `x` (`[N, D]`) goes to its nearest centroid. Returns the
    /// clusters (`[N]`, int64) and the squared distances to them (`[N]`), in batches.
    pub fn nearest(&self, x: &Tensor) -> Result<(Tensor, Tensor), GeneratorsError> {
        tch::no_grad(|| {
            let mut clusters = Vec::new();
            let mut distances = Vec::new();
            let n = x.size()[0];
            let mut start = 0;
            while start < n {
                let len = self.config.batch_size.min(n - start);
                let d = squared_distances(&x.narrow(0, start, len), self.centroids())?;
                let (min, argmin) = d.min_dim(1, false);
                clusters.push(argmin);
                distances.push(min);
                start += len;
            }
            Ok((Tensor::f_cat(&clusters, 0)?, Tensor::f_cat(&distances, 0)?))
        })
    }

    /// The code of `x`: the group `cluster`, one-hot `[N, K]`.
    pub fn encode(&self, x: &Tensor) -> Result<Code, GeneratorsError> {
        let (clusters, _) = self.nearest(x)?;
        let mut code = Code::new();
        code.insert(
            CLUSTER_GROUP,
            clusters.one_hot(self.config.clusters).to_kind(x.kind()),
        );
        Ok(code)
    }

    /// Reconstructions of `x`: each image replaced by its centroid, `[N, D]`.
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        tch::no_grad(|| self.generator.generate(&self.encode(x)?, false))
    }

    /// The training objective: the summed squared reconstruction error (inertia).
    pub fn inertia(&self, x: &Tensor) -> Result<f64, GeneratorsError> {
        let (_, distances) = self.nearest(x)?;
        Ok(distances.sum(Kind::Double).double_value(&[]))
    }

    /// One Lloyd iteration as autoencoder training: encode every image, then refit the
    /// generator exactly. Returns the clusters the images were encoded to.
    pub fn step(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        let (clusters, _) = self.nearest(x)?;
        tch::no_grad(|| {
            // The closed form of the generator's least-squares fit to one-hot codes: each
            // cluster's sum over its count, accumulated without materializing the codes.
            let k = self.config.clusters;
            let sums = Tensor::zeros([k, x.size()[1]], (x.kind(), x.device()))
                .f_index_add(0, &clusters, x)?;
            let counts = clusters.bincount::<Tensor>(None, k).to_kind(x.kind());
            self.generator.set_from_sums(&sums, &counts);
            Ok(clusters)
        })
    }

    /// Runs Lloyd iterations from `init` (`[K, D]`) until no image changes cluster or
    /// `max_iterations`; returns the iterations run.
    pub fn fit_from(&self, x: &Tensor, init: &Tensor) -> Result<usize, GeneratorsError> {
        self.generator.set_table(init)?;
        let mut previous: Option<Tensor> = None;
        for iteration in 1..=self.config.max_iterations {
            let clusters = self.step(x)?;
            if previous.is_some_and(|p| p.equal(&clusters)) {
                return Ok(iteration);
            }
            previous = Some(clusters);
        }
        Ok(self.config.max_iterations)
    }

    /// Fits `x` (`[N, D]`, N >= K): `restarts` starts from the configured initialization
    /// (drawn from libtorch's seeded generator), keeping the lowest training inertia.
    pub fn fit(&self, x: &Tensor) -> Result<KMeansReport, GeneratorsError> {
        let n = x.size()[0];
        if n < self.config.clusters {
            return Err(GeneratorsError::config(
                "kmeans.clusters",
                self.config.clusters,
                &format!("needs at least as many images, got {n}"),
            ));
        }
        let mut best: Option<(f64, usize, Tensor, usize)> = None;
        let mut inertias = Vec::with_capacity(self.config.restarts);
        for restart in 0..self.config.restarts {
            let init = match self.config.init {
                KMeansInit::PlusPlus => plus_plus_init(x, self.config.clusters)?,
                KMeansInit::Random => x.index_select(
                    0,
                    &Tensor::randperm(n, (Kind::Int64, x.device())).narrow(
                        0,
                        0,
                        self.config.clusters,
                    ),
                ),
            };
            let iterations = self.fit_from(x, &init)?;
            let inertia = self.inertia(x)?;
            inertias.push(inertia);
            if best.as_ref().is_none_or(|b| inertia < b.0) {
                best = Some((inertia, iterations, self.centroids().copy(), restart));
            }
        }
        let (inertia, iterations, centroids, restart) = best.expect("restarts >= 1 is validated");
        self.generator.set_table(&centroids)?;
        Ok(KMeansReport {
            inertia,
            iterations,
            restart,
            inertias,
        })
    }
}

/// Greedy k-means++: the first centroid is a uniformly drawn image; each next one is the
/// best (lowest resulting inertia) of `2 + ln K` candidates drawn with probability
/// proportional to the squared distance to the nearest centroid so far. `[K, D]`.
pub fn plus_plus_init(x: &Tensor, k: i64) -> Result<Tensor, GeneratorsError> {
    tch::no_grad(|| {
        let n = x.size()[0];
        let trials = 2 + (k as f64).ln() as i64;
        let first = Tensor::randint(n, [1], (Kind::Int64, x.device()));
        let mut centroids = x.index_select(0, &first);
        let mut closest = squared_distances(x, &centroids)?.squeeze_dim(1);
        for _ in 1..k {
            let weights = closest.to_kind(Kind::Double);
            let weights = if weights.sum(Kind::Double).double_value(&[]) > 0.0 {
                weights
            } else {
                weights.ones_like()
            };
            let candidates = weights.f_multinomial(trials, true)?;
            let candidate_rows = x.index_select(0, &candidates);
            let d = squared_distances(x, &candidate_rows)?;
            let potentials = d.minimum(&closest.unsqueeze(1));
            let best = potentials
                .sum_dim_intlist(0, false, Kind::Double)
                .argmin(0, false);
            closest = potentials
                .index_select(1, &best.unsqueeze(0))
                .squeeze_dim(1);
            centroids = Tensor::f_cat(
                &[
                    &centroids,
                    &candidate_rows.index_select(0, &best.unsqueeze(0)),
                ],
                0,
            )?;
        }
        Ok(centroids)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    /// Three well-separated Gaussian blobs in 2D, 30 points each.
    fn blobs() -> Tensor {
        tch::manual_seed(0);
        let centers = Tensor::from_slice(&[0.0f32, 0.0, 20.0, 20.0, -20.0, 20.0]).view([3, 2]);
        centers.repeat_interleave_self_int(30, 0, None)
            + Tensor::randn([90, 2], (Kind::Float, Device::Cpu))
    }

    #[test]
    fn recovers_blobs_with_plus_plus_and_the_code_is_one_hot() {
        let x = blobs();
        let vs = VarStore::new(Device::Cpu);
        let config = KMeansConfig {
            clusters: 3,
            restarts: 2,
            ..Default::default()
        };
        let model = config.build(&vs.root(), 2).unwrap();
        let report = model.fit(&x).unwrap();
        assert_eq!(report.inertias.len(), 2);
        assert!(report.inertia <= report.inertias.iter().cloned().fold(f64::MAX, f64::min));
        let (clusters, _) = model.nearest(&x).unwrap();
        let clusters = Vec::<i64>::try_from(clusters).unwrap();
        for blob in clusters.chunks(30) {
            assert!(blob.iter().all(|&c| c == blob[0]), "{blob:?}");
        }
        let code = model.encode(&x).unwrap();
        let onehot = code.get("cluster").unwrap();
        assert!(
            onehot
                .sum_dim_intlist(1, false, None::<Kind>)
                .eq(1.0)
                .all()
                .int64_value(&[])
                == 1
        );
        let error = (model.reconstruct(&x).unwrap() - &x)
            .square()
            .sum(Kind::Double);
        assert!((error.double_value(&[]) - report.inertia).abs() < 1e-3 * report.inertia);
    }

    #[test]
    fn rejects_bad_configs_and_too_few_images() {
        let config = KMeansConfig {
            restarts: 0,
            ..Default::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("kmeans.restarts"), "{err}");
        let vs = VarStore::new(Device::Cpu);
        let model = KMeansConfig::default().build(&vs.root(), 2).unwrap();
        let err = model
            .fit(&Tensor::zeros([3, 2], (Kind::Float, Device::Cpu)))
            .unwrap_err();
        assert!(err.to_string().contains("kmeans.clusters"), "{err}");
    }

    #[test]
    fn plus_plus_picks_distinct_far_apart_points() {
        let x = Tensor::from_slice(&[0.0f32, 0.0, 0.1, 0.0, 100.0, 0.0]).view([3, 2]);
        tch::manual_seed(1);
        let init = plus_plus_init(&x, 2).unwrap();
        let spread = (init.get(0) - init.get(1))
            .abs()
            .sum(Kind::Float)
            .double_value(&[]);
        assert!(spread > 99.0, "{init}");
    }
}
