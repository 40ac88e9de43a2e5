//! Nearest neighbours in a PCA projection: the similarity graph that graph-based hashing
//! (and the `hashing` example's neighbour-agreement term) builds on.

use tch::{Kind, Tensor};

use crate::TrainError;

/// Projects `data` (`[N, D]`) on its first `dims` principal components: `[N, dims]`.
pub fn pca_project(data: &Tensor, dims: i64) -> Result<Tensor, TrainError> {
    let (n, d) = match data.size()[..] {
        [n, d] => (n, d),
        _ => {
            return Err(TrainError::invalid(
                "data",
                format!("{:?}", data.size()),
                "must be [N, D]",
            ))
        }
    };
    if !(1..=d).contains(&dims) || n < 2 {
        return Err(TrainError::invalid(
            "dims",
            dims,
            format!("needs 1 <= dims <= D = {d} and at least 2 rows (got {n})"),
        ));
    }
    let data = data.to_kind(Kind::Double);
    let centered = &data - data.mean_dim(0, true, Kind::Double);
    let covariance = centered.transpose(0, 1).matmul(&centered) / n as f64;
    // Eigenvalues come in ascending order: the last `dims` vectors are the principal ones.
    let (_, vectors) = covariance.f_linalg_eigh("L")?;
    let principal = vectors.narrow(1, d - dims, dims).flip([1]);
    Ok(centered.matmul(&principal).to_kind(Kind::Float))
}

/// The `k` nearest neighbours of every row of `features` (`[N, F]`) by cosine similarity,
/// the row itself excluded: `[N, k]` int64 indices, nearest first. Queries run `chunk` rows
/// at a time, so memory is `chunk × N`.
pub fn cosine_neighbors(features: &Tensor, k: i64, chunk: i64) -> Result<Tensor, TrainError> {
    let n = features.size()[0];
    if !(1..n).contains(&k) || chunk < 1 {
        return Err(TrainError::invalid(
            "k",
            k,
            format!("needs 1 <= k < N = {n} and a positive chunk"),
        ));
    }
    let norms = features.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
    let unit = features / norms;
    let mut parts = Vec::new();
    for start in (0..n).step_by(chunk as usize) {
        let len = chunk.min(n - start);
        let mut similarity = unit.narrow(0, start, len).matmul(&unit.transpose(0, 1));
        let own = Tensor::arange_start(start, start + len, (Kind::Int64, features.device()));
        let _ = similarity.index_put_(
            &[
                Some(Tensor::arange(len, (Kind::Int64, features.device()))),
                Some(own),
            ],
            &Tensor::from(f32::NEG_INFINITY).to_device(features.device()),
            false,
        );
        parts.push(similarity.topk(k, 1, true, true).1);
    }
    Ok(Tensor::cat(&parts, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn pca_keeps_the_direction_of_largest_variance() {
        tch::manual_seed(0);
        let t = Tensor::randn([200, 1], (Kind::Float, Device::Cpu));
        let noise = Tensor::randn([200, 3], (Kind::Float, Device::Cpu)) * 0.01;
        let data = Tensor::cat(&[&t * 3.0, &t * 4.0, &t * 0.0], 1) + noise;
        let projected = pca_project(&data, 1).unwrap();
        let (p, t) = (projected.view([-1]), t.view([-1]));
        let covariance =
            ((&p - p.mean(Kind::Float)) * (&t - t.mean(Kind::Float))).mean(Kind::Float);
        let correlation = covariance.abs() / (p.std(false) * t.std(false));
        assert!(correlation.double_value(&[]) > 0.99);
        assert!(pca_project(&data, 4).is_err());
    }

    #[test]
    fn neighbours_exclude_self_and_come_nearest_first() {
        let features =
            Tensor::from_slice(&[1.0f32, 0.0, 0.9, 0.1, 0.0, 1.0, 0.5, 0.5]).view([4, 2]);
        let neighbors = cosine_neighbors(&features, 2, 3).unwrap();
        let rows: Vec<Vec<i64>> = (0..4)
            .map(|i| Vec::<i64>::try_from(neighbors.get(i)).unwrap())
            .collect();
        assert_eq!(rows[0], [1, 3]);
        assert_eq!(rows[2], [3, 1]);
        assert!(cosine_neighbors(&features, 4, 3).is_err());
    }
}
