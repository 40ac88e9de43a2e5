//! k-means centroids (k-means++ seeding, then Lloyd iterations) for initializing the capsule
//! templates from unlabeled training images.
//!
//! STAND-IN: the clustering branch brings the library's k-means
//! (`aecraft_generators::kmeans`); once it is merged, this file goes and the templates are
//! initialized from that k-means instead.

use tch::{Kind, Tensor};

use crate::data::shuffle::SplitMix64;
use crate::TrainError;

/// `k` centroids of `images` (`[N, D]`) after `iterations` Lloyd steps from k-means++ seeds
/// drawn with `seed`: `[k, D]`. An empty cluster keeps its previous centroid.
pub fn kmeans_centroids(
    images: &Tensor,
    k: usize,
    iterations: usize,
    seed: u64,
) -> Result<Tensor, TrainError> {
    let n = images.size()[0] as usize;
    if k == 0 || n < k {
        return Err(TrainError::invalid(
            "clusters",
            k,
            format!("k-means needs between 1 and the number of images ({n}) clusters"),
        ));
    }
    tch::no_grad(|| {
        let x = images.to_kind(Kind::Float);
        let norms = x.square().sum_dim_intlist(1, true, None::<Kind>);
        let mut centroids = plus_plus_seeds(&x, &norms, k, seed)?;
        for _ in 0..iterations {
            let nearest = squared_distances(&x, &norms, &centroids).argmin(1, false);
            let sums = Tensor::zeros_like(&centroids).index_add(0, &nearest, &x);
            let counts = nearest
                .bincount::<Tensor>(None, k as i64)
                .to_kind(Kind::Float);
            let means = sums / counts.clamp_min(1.0).unsqueeze(1);
            let empty = counts.eq(0.0).unsqueeze(1);
            centroids = centroids.where_self(&empty, &means);
        }
        Ok(centroids)
    })
}

/// `[N, k]` squared distances from every image to every centroid.
fn squared_distances(x: &Tensor, norms: &Tensor, centroids: &Tensor) -> Tensor {
    let centroid_norms = centroids.square().sum_dim_intlist(1, false, None::<Kind>);
    (norms - x.matmul(&centroids.tr()) * 2.0 + centroid_norms.unsqueeze(0)).clamp_min(0.0)
}

/// k-means++ (Arthur & Vassilvitskii, 2007): each seed is drawn with probability proportional
/// to its squared distance from the nearest seed so far.
fn plus_plus_seeds(x: &Tensor, norms: &Tensor, k: usize, seed: u64) -> Result<Tensor, TrainError> {
    let n = x.size()[0] as u64;
    let mut rng = SplitMix64::new(seed);
    let mut chosen = vec![rng.below(n) as i64];
    let mut nearest = squared_distances(x, norms, &x.get(chosen[0]).unsqueeze(0)).squeeze_dim(1);
    while chosen.len() < k {
        let weights = Vec::<f64>::try_from(nearest.to_kind(Kind::Double))?;
        let total: f64 = weights.iter().sum();
        let next = if total > 0.0 {
            let mut target = rng.next_u64() as f64 / u64::MAX as f64 * total;
            weights
                .iter()
                .position(|&w| {
                    target -= w;
                    target <= 0.0
                })
                .unwrap_or(weights.len() - 1)
        } else {
            rng.below(n) as usize
        };
        chosen.push(next as i64);
        let distances = squared_distances(x, norms, &x.get(next as i64).unsqueeze(0));
        nearest = nearest.minimum(&distances.squeeze_dim(1));
    }
    Ok(x.index_select(0, &Tensor::from_slice(&chosen).to_device(x.device())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn finds_well_separated_blobs() {
        tch::manual_seed(0);
        let centres = Tensor::from_slice(&[0.0f32, 0.0, 10.0, 0.0, 0.0, 10.0]).view([3, 2]);
        let noise = Tensor::randn([300, 2], (Kind::Float, Device::Cpu)) * 0.1;
        let labels = Tensor::arange(300, (Kind::Int64, Device::Cpu)).remainder(3);
        let images = centres.index_select(0, &labels) + noise;
        let found = kmeans_centroids(&images, 3, 10, 7).unwrap();
        for c in 0..3 {
            let distances = (&found - centres.get(c).unsqueeze(0))
                .square()
                .sum_dim_intlist(1, false, None::<Kind>);
            assert!(
                distances.min().double_value(&[]) < 0.01,
                "centre {c} not found"
            );
        }
    }

    #[test]
    fn too_many_clusters_is_an_error() {
        let images = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        assert!(kmeans_centroids(&images, 3, 1, 0).is_err());
    }
}
