//! A Gaussian generator per cluster: a mixture of factor analyzers (Ghahramani & Hinton,
//! 1996), the clustering autoencoder whose generator has a non-trivial covariance.
//!
//! Cluster k generates `x ~ N(mean_k, W_k W_kᵀ + diag(psi_k))`: a low-rank part (`rank`
//! factors, the directions each cluster varies along) plus a diagonal. Rank 0 is the
//! diagonal-covariance mixture; rank `D` can express any full covariance.
//!
//! It is fitted by maximum likelihood with **EM** (closed-form E- and M-steps, computed in
//! double precision from per-cluster sufficient statistics). Densities use the Woodbury
//! identity and the matrix determinant lemma, so they cost `O(D r²)` per image and cluster,
//! never a `D × D` inverse.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::GeneratorsError;

/// Configuration of a [`Mixture`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureConfig {
    /// The number of clusters K.
    pub clusters: i64,
    /// Factors per cluster (0: diagonal covariance).
    pub rank: i64,
    /// The most EM iterations.
    pub iterations: usize,
    /// EM stops when the mean training log-likelihood gains less than this (nats per image).
    pub tolerance: f64,
    /// The smallest diagonal variance (regularization, as scikit-learn's `reg_covar`).
    pub variance_floor: f64,
    /// Images per density computation (memory, not results).
    pub batch_size: i64,
}

impl Default for MixtureConfig {
    fn default() -> Self {
        Self {
            clusters: 25,
            rank: 10,
            iterations: 100,
            tolerance: 1e-3,
            variance_floor: 1e-4,
            batch_size: 8192,
        }
    }
}

impl MixtureConfig {
    /// Checks every field for `dims`-feature data, naming the first bad one.
    pub fn validate(&self, dims: i64) -> Result<(), GeneratorsError> {
        if self.clusters < 1 {
            return Err(GeneratorsError::config(
                "mixture.clusters",
                self.clusters,
                "must be >= 1",
            ));
        }
        if !(0..=dims).contains(&self.rank) {
            return Err(GeneratorsError::config(
                "mixture.rank",
                self.rank,
                &format!("must be between 0 (diagonal) and the data's {dims} dimensions"),
            ));
        }
        if self.iterations < 1 {
            return Err(GeneratorsError::config(
                "mixture.iterations",
                0,
                "must be >= 1",
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(GeneratorsError::config(
                "mixture.tolerance",
                self.tolerance,
                "must be >= 0",
            ));
        }
        if !(self.variance_floor.is_finite() && self.variance_floor > 0.0) {
            return Err(GeneratorsError::config(
                "mixture.variance_floor",
                self.variance_floor,
                "must be > 0",
            ));
        }
        if self.batch_size < 1 {
            return Err(GeneratorsError::config(
                "mixture.batch_size",
                self.batch_size,
                "must be >= 1",
            ));
        }
        Ok(())
    }

    /// Builds an unfitted mixture for `dims`-feature data, its parameters (double precision)
    /// under `path`: `means` `[K, D]`, `factors` `[K, D, rank]`, `variances` `[K, D]`,
    /// `log_weights` `[K]`.
    pub fn build(&self, path: &nn::Path, dims: i64) -> Result<Mixture, GeneratorsError> {
        self.validate(dims)?;
        let (k, r) = (self.clusters, self.rank);
        let device = path.device();
        let var = |name: &str, shape: &[i64], value: f64| {
            path.add(
                name,
                Tensor::full(shape, value, (Kind::Double, device)),
                false,
            )
        };
        Ok(Mixture {
            config: self.clone(),
            means: var("means", &[k, dims], 0.0),
            factors: var("factors", &[k, dims, r], 0.0),
            variances: var("variances", &[k, dims], 1.0),
            log_weights: var("log_weights", &[k], -(k as f64).ln()),
        })
    }
}

/// Per-cluster sufficient statistics of weighted data: counts `[K]`, sums `[K, D]`, and
/// second moments `[K, D, D]`.
#[derive(Debug)]
struct Statistics {
    counts: Tensor,
    sums: Tensor,
    squares: Tensor,
}

/// The outcome of [`Mixture::fit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixtureReport {
    /// EM iterations run.
    pub iterations: usize,
    /// Mean training log-likelihood per image (nats): at the start, then after each
    /// iteration.
    pub log_likelihoods: Vec<f64>,
}

/// A mixture of factor analyzers; see the module docs.
#[derive(Debug)]
pub struct Mixture {
    config: MixtureConfig,
    means: Tensor,
    factors: Tensor,
    variances: Tensor,
    log_weights: Tensor,
}

impl Mixture {
    /// The means, `[K, D]`: each cluster's generated prototype.
    pub fn means(&self) -> &Tensor {
        &self.means
    }

    /// The full covariance of cluster `k`, `[D, D]` (for tests and inspection).
    pub fn covariance(&self, k: i64) -> Tensor {
        let w = self.factors.get(k);
        w.matmul(&w.tr()) + self.variances.get(k).diag(0)
    }

    /// `log N(x_n; mean_k, W_k W_kᵀ + diag(psi_k))` for rows of `x` (`[N, D]`): `[N, K]`.
    pub fn component_log_densities(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        self.in_batches(x, |x| {
            let dims = x.size()[1] as f64;
            let columns = (0..self.config.clusters)
                .map(|k| {
                    let diff = x - self.means.get(k);
                    let psi = self.variances.get(k);
                    let scaled = &diff / &psi;
                    let mut quadratic = (&diff * &scaled).sum_dim_intlist(1, false, None::<Kind>);
                    let mut log_det = psi.log().sum(Kind::Double);
                    if self.config.rank > 0 {
                        let w = self.factors.get(k);
                        let chol = self.inner_matrix(k).f_linalg_cholesky(false)?;
                        let projected = scaled.matmul(&w);
                        let solved = projected.tr().f_cholesky_solve(&chol, false)?;
                        quadratic -=
                            (&projected * solved.tr()).sum_dim_intlist(1, false, None::<Kind>);
                        log_det += chol.diagonal(0, 0, 1).log().sum(Kind::Double) * 2.0;
                    }
                    Ok((quadratic + log_det + dims * (2.0 * PI).ln()) * -0.5)
                })
                .collect::<Result<Vec<_>, GeneratorsError>>()?;
            Ok(Tensor::f_stack(&columns, 1)?)
        })
    }

    /// `log p(x_n, k)`: the component densities plus the log mixing weights, `[N, K]`.
    pub fn log_joint(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok(self.component_log_densities(x)? + self.log_weights.unsqueeze(0))
    }

    /// The log-likelihood of each row of `x`, `[N]` (nats).
    pub fn log_likelihood(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok(self.log_joint(x)?.logsumexp([1], false))
    }

    /// The posterior q(k|x) of each row, `[N, K]`.
    pub fn responsibilities(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok(self.log_joint(x)?.softmax(1, Kind::Double))
    }

    /// Starts from hard assignments (`[N]` cluster indices, e.g. from k-means): per cluster,
    /// the mean, and the probabilistic-PCA fit of its covariance (the top `rank` eigen-
    /// directions for the factors, the rest on the diagonal).
    pub fn init_from_assignments(
        &self,
        x: &Tensor,
        clusters: &Tensor,
    ) -> Result<(), GeneratorsError> {
        let x = x.to_kind(Kind::Double);
        let onehot = clusters.one_hot(self.config.clusters).to_kind(Kind::Double);
        let stats = statistics(&x, &onehot);
        let r = self.config.rank;
        let floor = self.config.variance_floor;
        for k in 0..self.config.clusters {
            let count = stats.counts.double_value(&[k]);
            if count < 1.0 {
                continue;
            }
            let mean = stats.sums.get(k) / count;
            let cov = stats.squares.get(k) / count - mean.outer(&mean);
            let diag = cov.diagonal(0, 0, 1);
            let (factors, rest) = if r > 0 {
                let (values, vectors) = cov.f_linalg_eigh("L")?;
                let d = values.size()[0];
                let top = values.narrow(0, d - r, r);
                let noise = if d > r {
                    values.narrow(0, 0, d - r).clamp_min(0.0).mean(Kind::Double)
                } else {
                    Tensor::from(0.0f64)
                };
                let scale = (top - &noise).clamp_min(0.0).sqrt();
                let w = vectors.narrow(1, d - r, r) * scale.unsqueeze(0);
                let explained = w.square().sum_dim_intlist(1, false, None::<Kind>);
                (w, &diag - explained)
            } else {
                (self.factors.get(k).zeros_like(), diag.shallow_clone())
            };
            self.set_cluster(
                k,
                &mean,
                &factors,
                &rest.clamp_min(floor),
                (count / stats_total(&stats)).ln(),
            );
        }
        Ok(())
    }

    /// One EM iteration on `x` (`[N, D]`); returns the mean log-likelihood per image before
    /// the update (that is, of the current parameters).
    pub fn em_step(&self, x: &Tensor) -> Result<f64, GeneratorsError> {
        let x = x.to_kind(Kind::Double);
        let joint = self.log_joint(&x)?;
        let log_likelihood = joint
            .logsumexp([1], false)
            .mean(Kind::Double)
            .double_value(&[]);
        let posterior = joint.softmax(1, Kind::Double);
        let counts = posterior.sum_dim_intlist(0, false, None::<Kind>);
        let total = counts.sum(Kind::Double).double_value(&[]);
        for k in 0..self.config.clusters {
            let count = counts.double_value(&[k]);
            if count <= (self.config.rank + 1) as f64 {
                continue;
            }
            let weights = posterior.select(1, k).unsqueeze(1); // [N, 1]
            let weighted = &x * &weights;
            let sum = weighted.sum_dim_intlist(0, false, None::<Kind>);
            let squares = (&weighted * &x).sum_dim_intlist(0, false, None::<Kind>); // diagonal
            let (mean, factors, variances) = if self.config.rank > 0 {
                self.factor_update(k, count, &x, &weights, &sum, &squares)?
            } else {
                let mean = &sum / count;
                let variances = squares / count - mean.square();
                (mean, self.factors.get(k).zeros_like(), variances)
            };
            let variances = variances.clamp_min(self.config.variance_floor);
            self.set_cluster(k, &mean, &factors, &variances, (count / total).ln());
        }
        Ok(log_likelihood)
    }

    /// Runs EM on `x` until the gain falls under `tolerance` or `iterations` is reached.
    pub fn fit(&self, x: &Tensor) -> Result<MixtureReport, GeneratorsError> {
        let mut log_likelihoods: Vec<f64> = Vec::new();
        for _ in 0..self.config.iterations {
            let before = self.em_step(x)?;
            let converged = log_likelihoods
                .last()
                .is_some_and(|&last| before - last < self.config.tolerance);
            log_likelihoods.push(before);
            if converged {
                break;
            }
        }
        let x = x.to_kind(Kind::Double);
        log_likelihoods.push(
            self.log_likelihood(&x)?
                .mean(Kind::Double)
                .double_value(&[]),
        );
        Ok(MixtureReport {
            iterations: log_likelihoods.len() - 1,
            log_likelihoods,
        })
    }

    /// `I + Wᵀ diag(1/psi) W` of cluster `k`, `[r, r]`.
    fn inner_matrix(&self, k: i64) -> Tensor {
        let w = self.factors.get(k);
        let scaled = &w / self.variances.get(k).unsqueeze(1);
        w.tr().matmul(&scaled) + Tensor::eye(self.config.rank, (Kind::Double, w.device()))
    }

    /// The M-step of cluster `k` with factors: the joint update of the mean and the factors
    /// (regressing x on the augmented posterior factors `[z; 1]`), then the diagonal. `x` is
    /// `[N, D]`, `weights` the posterior of `k`, `[N, 1]`, with their `count`, weighted `sum`
    /// (`[D]`) and weighted sum of squares (`[D]`).
    fn factor_update(
        &self,
        k: i64,
        count: f64,
        x: &Tensor,
        weights: &Tensor,
        sum: &Tensor,
        squares: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor), GeneratorsError> {
        let r = self.config.rank;
        let w = self.factors.get(k);
        let inner_inverse = self.inner_matrix(k).f_inverse()?;
        // E[z | x] = beta (x - mean), with Cov[z | x] = inner_inverse.
        let beta = inner_inverse.matmul(&(w.tr() / self.variances.get(k).unsqueeze(0)));
        let z = (x - self.means.get(k)).f_matmul(&beta.tr())?; // [N, r]
        let weighted_z = &z * weights;
        let x_z = x.tr().f_matmul(&weighted_z)?; // sum of x E[z]ᵀ, [D, r]
        let z_sum = weighted_z.sum_dim_intlist(0, false, None::<Kind>); // [r]
        let z_z = &inner_inverse * count + weighted_z.tr().f_matmul(&z)?; // sum of E[z zᵀ]
        let top = Tensor::f_cat(&[z_z, z_sum.unsqueeze(1)], 1)?;
        let corner = Tensor::from_slice(&[count])
            .to_device(sum.device())
            .view([1, 1]);
        let bottom = Tensor::f_cat(&[z_sum.unsqueeze(0), corner], 1)?;
        let moments = Tensor::f_cat(&[top, bottom], 0)?; // [r + 1, r + 1]
        let regression = Tensor::f_cat(&[x_z, sum.unsqueeze(1)], 1)?; // [D, r + 1]
        let loadings = Tensor::f_linalg_solve(&moments, &regression.tr(), true)?.tr(); // [D, r + 1]
        let variances =
            (squares - (&loadings * &regression).sum_dim_intlist(1, false, None::<Kind>)) / count;
        Ok((loadings.select(1, r), loadings.narrow(1, 0, r), variances))
    }

    fn set_cluster(
        &self,
        k: i64,
        mean: &Tensor,
        factors: &Tensor,
        variances: &Tensor,
        log_weight: f64,
    ) {
        tch::no_grad(|| {
            self.means.get(k).copy_(mean);
            self.factors.get(k).copy_(factors);
            self.variances.get(k).copy_(variances);
            let _ = self.log_weights.get(k).fill_(log_weight);
        });
    }

    fn in_batches(
        &self,
        x: &Tensor,
        f: impl Fn(&Tensor) -> Result<Tensor, GeneratorsError>,
    ) -> Result<Tensor, GeneratorsError> {
        tch::no_grad(|| {
            let x = x.to_kind(Kind::Double);
            let n = x.size()[0];
            let mut parts = Vec::new();
            let mut start = 0;
            while start < n {
                let len = self.config.batch_size.min(n - start);
                parts.push(f(&x.narrow(0, start, len))?);
                start += len;
            }
            Ok(Tensor::f_cat(&parts, 0)?)
        })
    }
}

fn statistics(x: &Tensor, weights: &Tensor) -> Statistics {
    let counts = weights.sum_dim_intlist(0, false, None::<Kind>);
    let sums = weights.tr().matmul(x);
    // One cluster at a time: a single einsum would build an [N, K, D] intermediate.
    let squares: Vec<Tensor> = (0..weights.size()[1])
        .map(|k| (x * weights.select(1, k).unsqueeze(1)).tr().matmul(x))
        .collect();
    let squares = Tensor::stack(&squares, 0);
    Statistics {
        counts,
        sums,
        squares,
    }
}

fn stats_total(stats: &Statistics) -> f64 {
    stats.counts.sum(Kind::Double).double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    fn mixture(rank: i64, dims: i64) -> (VarStore, Mixture) {
        let vs = VarStore::new(Device::Cpu);
        let config = MixtureConfig {
            clusters: 2,
            rank,
            ..Default::default()
        };
        let model = config.build(&vs.root(), dims).unwrap();
        (vs, model)
    }

    /// log N(x; mean, cov) computed directly from the full covariance.
    fn direct_log_density(x: &Tensor, mean: &Tensor, cov: &Tensor) -> Tensor {
        let d = x.size()[1] as f64;
        let (_, log_det) = Tensor::linalg_slogdet(cov);
        let diff = x - mean;
        let solved = Tensor::linalg_solve(cov, &diff.tr(), true).tr();
        let quadratic = (&diff * solved).sum_dim_intlist(1, false, None::<Kind>);
        (quadratic + log_det + d * (2.0 * PI).ln()) * -0.5
    }

    #[test]
    fn log_densities_match_a_direct_computation() {
        tch::manual_seed(0);
        for rank in 0..=4 {
            let (_vs, model) = mixture(rank, 4);
            for k in 0..2 {
                let mean = Tensor::randn([4], (Kind::Double, Device::Cpu));
                let factors = Tensor::randn([4, rank], (Kind::Double, Device::Cpu));
                let variances = Tensor::rand([4], (Kind::Double, Device::Cpu)) + 0.1;
                model.set_cluster(k, &mean, &factors, &variances, 0.5f64.ln());
            }
            let x = Tensor::randn([6, 4], (Kind::Double, Device::Cpu)) * 2.0;
            let got = model.component_log_densities(&x).unwrap();
            for k in 0..2 {
                let direct = direct_log_density(&x, &model.means().get(k), &model.covariance(k));
                assert!(
                    got.select(1, k).allclose(&direct, 1e-9, 1e-9, false),
                    "rank {rank}"
                );
            }
            let total = model.log_likelihood(&x).unwrap();
            let expected = (got + 0.5f64.ln()).logsumexp([1], false);
            assert!(total.allclose(&expected, 1e-12, 1e-12, false));
        }
    }

    #[test]
    fn em_never_lowers_the_likelihood_and_finds_the_clusters() {
        tch::manual_seed(1);
        // Two elongated clusters in 3D.
        let base = Tensor::randn([200, 1], (Kind::Double, Device::Cpu));
        let direction = Tensor::from_slice(&[1.0f64, 2.0, 0.0]).view([1, 3]);
        let noise = Tensor::randn([200, 3], (Kind::Double, Device::Cpu)) * 0.1;
        let shift = Tensor::cat(
            &[
                Tensor::zeros([100, 3], (Kind::Double, Device::Cpu)),
                Tensor::full([100, 3], 6.0, (Kind::Double, Device::Cpu)),
            ],
            0,
        );
        let x = base * &direction * 2.0 + noise + shift;
        let (_vs, model) = mixture(1, 3);
        let clusters = Tensor::cat(
            &[
                Tensor::zeros([100], (Kind::Int64, Device::Cpu)),
                Tensor::ones([100], (Kind::Int64, Device::Cpu)),
            ],
            0,
        );
        // A poor start: half of each true cluster in each component.
        let start = Tensor::arange(200, (Kind::Int64, Device::Cpu)).remainder(2);
        model.init_from_assignments(&x, &start).unwrap();
        let report = model.fit(&x).unwrap();
        assert!(
            report
                .log_likelihoods
                .windows(2)
                .all(|w| w[1] >= w[0] - 1e-9),
            "{:?}",
            report.log_likelihoods
        );
        let found = model.responsibilities(&x).unwrap().argmax(1, false);
        let agree = found.eq_tensor(&clusters).sum(Kind::Int64).int64_value(&[]);
        assert!(agree == 200 || agree == 0, "{agree}");
        // The fitted factor follows the clusters' direction.
        let w = model.factors.get(0).squeeze_dim(1);
        let cosine = (w.dot(&direction.squeeze_dim(0)) / (w.norm() * 5f64.sqrt()))
            .abs()
            .double_value(&[]);
        assert!(cosine > 0.99, "{cosine}");
    }

    #[test]
    fn rejects_a_rank_above_the_dimensions() {
        let config = MixtureConfig {
            rank: 5,
            ..Default::default()
        };
        let err = config.validate(4).unwrap_err().to_string();
        assert!(err.contains("mixture.rank"), "{err}");
    }
}
