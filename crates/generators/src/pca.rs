//! Principal component analysis: the linear projection the Gaussian mixture can work in
//! (MNIST's border pixels never vary, so a density in raw pixels is degenerate).

use tch::{nn, Kind, Tensor};

use crate::GeneratorsError;

/// A fitted projection onto the top principal directions, stored (double precision) under
/// an `nn::Path` so that it is saved with the model.
#[derive(Debug)]
pub struct Pca {
    mean: Tensor,
    basis: Tensor,
}

impl Pca {
    /// An unfitted projection from `inputs` to `dims` features, its `mean` (`[inputs]`) and
    /// `basis` (`[inputs, dims]`) under `path`.
    pub fn new(path: &nn::Path, inputs: i64, dims: i64) -> Result<Self, GeneratorsError> {
        if !(1..=inputs).contains(&dims) {
            return Err(GeneratorsError::config(
                "pca.dims",
                dims,
                &format!("must be between 1 and the {inputs} input features"),
            ));
        }
        let device = path.device();
        let zeros = |name: &str, shape: &[i64]| {
            path.add(name, Tensor::zeros(shape, (Kind::Double, device)), false)
        };
        Ok(Self {
            mean: zeros("mean", &[inputs]),
            basis: zeros("basis", &[inputs, dims]),
        })
    }

    /// Fits the mean and the top principal directions of `x` (`[N, inputs]`), from the
    /// eigendecomposition of its covariance; directions come in order of decreasing variance.
    pub fn fit(&self, x: &Tensor) -> Result<(), GeneratorsError> {
        tch::no_grad(|| {
            let x = x.to_kind(Kind::Double);
            let mean = x.mean_dim(0, false, Kind::Double);
            let centered = &x - &mean;
            let covariance = centered.tr().f_matmul(&centered)? / x.size()[0] as f64;
            let (_, vectors) = covariance.f_linalg_eigh("L")?;
            let dims = self.basis.size()[1];
            let top = vectors.narrow(1, vectors.size()[1] - dims, dims).flip([1]);
            self.mean.shallow_clone().copy_(&mean);
            self.basis.shallow_clone().copy_(&top);
            Ok(())
        })
    }

    /// Projects `x` (`[N, inputs]`) to `[N, dims]`, double precision.
    pub fn project(&self, x: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok((x.to_kind(Kind::Double) - &self.mean).f_matmul(&self.basis)?)
    }

    /// Maps projected points (`[N, dims]`) back to input space, `[N, inputs]`.
    pub fn reconstruct(&self, z: &Tensor) -> Result<Tensor, GeneratorsError> {
        Ok(z.to_kind(Kind::Double).f_matmul(&self.basis.tr())? + &self.mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    #[test]
    fn finds_the_direction_of_largest_variance_and_round_trips_it() {
        tch::manual_seed(0);
        let t = Tensor::randn([100, 1], (Kind::Double, Device::Cpu));
        let direction = Tensor::from_slice(&[0.6f64, 0.8, 0.0]).view([1, 3]);
        let x = &t * &direction * 3.0 + 1.0;
        let vs = VarStore::new(Device::Cpu);
        let pca = Pca::new(&vs.root(), 3, 1).unwrap();
        pca.fit(&x).unwrap();
        let back = pca.reconstruct(&pca.project(&x).unwrap()).unwrap();
        assert!(back.allclose(&x, 1e-9, 1e-9, false));
        assert!(Pca::new(&(vs.root() / "other"), 3, 4).is_err());
    }
}
