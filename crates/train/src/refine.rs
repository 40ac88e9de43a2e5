//! Analysis by synthesis: refining a code by gradient descent through the frozen generator.
//!
//! An encoder infers a code in one forward pass (amortized inference); where the generator
//! is differentiable, the code of each image can then be improved by descending that
//! image's reconstruction error with respect to the code while the generator stays fixed —
//! the talk's "backpropagate through the approximation" applied at inference time.
//! [`refine_group`] does this for one code group, with some of its columns held fixed (for
//! example a discrete choice that a search enumerates instead, as
//! `aecraft_models::sprites::search_params` does for the sprites' shape).

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use aecraft_codes::Code;
use aecraft_tensor::shape::expect_shape;

use crate::{AdamConfig, Autoencoder, TrainError};

/// How long and how fast [`refine_group`] descends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefineConfig {
    /// Adam steps per code; 0 leaves the code as it is.
    pub steps: usize,
    /// Adam's learning rate, in the units of the code.
    pub lr: f64,
}

impl Default for RefineConfig {
    fn default() -> Self {
        Self {
            steps: 40,
            lr: 0.05,
        }
    }
}

impl RefineConfig {
    /// Checks the learning rate (any number of steps is valid).
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::invalid(
                "refine.lr",
                self.lr,
                "must be a positive, finite learning rate",
            ));
        }
        Ok(())
    }
}

/// Codes after [`refine_group`] and how well they reconstruct.
#[derive(Debug)]
pub struct Refined {
    /// The refined group `[B, W]`.
    pub group: Tensor,
    /// The reconstruction error of each image under the refined code, `[B]` (as
    /// [`Autoencoder::reconstruction_error`] measures it).
    pub error: Tensor,
}

/// Refines code group `group` of `images` (`[B, D]`), starting from `start` (`[B, W]`), by
/// `config.steps` Adam steps on the summed reconstruction error through `net`'s generator
/// in evaluation mode; columns where `frozen` (`[W]`, boolean) is true keep their start
/// values. The generator reads a code holding only this group. Nothing in `net` changes.
pub fn refine_group(
    net: &Autoencoder,
    group: &str,
    start: &Tensor,
    frozen: &Tensor,
    images: &Tensor,
    config: &RefineConfig,
) -> Result<Refined, TrainError> {
    config.validate()?;
    let [batch, width] = start.size()[..] else {
        return Err(TrainError::invalid(
            "refine start",
            format!("{:?}", start.size()),
            "must be [batch, width]",
        ));
    };
    expect_shape(frozen, &[Some(width)], "refine frozen mask")?;
    expect_shape(images, &[Some(batch), None], "refine images")?;
    let start = start.detach().to_kind(Kind::Float);
    let keep = frozen
        .to_kind(Kind::Float)
        .to_device(start.device())
        .view([1, width]);
    let vs = VarStore::new(start.device());
    let free = vs.root().var_copy("code", &start);
    let mut adam = AdamConfig {
        lr: config.lr,
        ..Default::default()
    }
    .build(&vs)?;
    let code_of = |units: &Tensor| {
        let mut code = Code::new();
        code.insert(group, &start * &keep + units * (1.0 - &keep));
        code
    };
    for _ in 0..config.steps {
        let output = net.generate(&code_of(&free), false)?;
        let error = net.reconstruction_error(&output, images).sum(Kind::Float);
        if !error.double_value(&[]).is_finite() {
            return Err(TrainError::invalid(
                "refine",
                "a non-finite reconstruction error",
                "lower refine.lr",
            ));
        }
        adam.backward_step(&error);
    }
    tch::no_grad(|| {
        let code = code_of(&free);
        let error = net.reconstruction_error(&net.generate(&code, false)?, images);
        Ok(Refined {
            group: code.get(group)?.detach(),
            error,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoencoderConfig;
    use tch::{nn, Device};

    /// A plain autoencoder whose generator is a linear MLP from a 3-unit code.
    fn linear_net(vs: &nn::VarStore) -> Autoencoder {
        let mut config = AutoencoderConfig::plain(&[], 3);
        config.input = 5;
        config.build(&vs.root()).unwrap()
    }

    #[test]
    fn refining_lowers_the_error_and_keeps_frozen_columns() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = linear_net(&vs);
        let images = Tensor::rand([4, 5], (Kind::Float, Device::Cpu));
        let start = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let frozen = Tensor::from_slice(&[true, false, false]);
        let before = tch::no_grad(|| {
            let mut code = Code::new();
            code.insert("z", start.shallow_clone());
            net.reconstruction_error(&net.generate(&code, false).unwrap(), &images)
        });
        let refined = refine_group(
            &net,
            "z",
            &start,
            &frozen,
            &images,
            &RefineConfig {
                steps: 60,
                lr: 0.05,
            },
        )
        .unwrap();
        let lowered = Vec::<bool>::try_from(refined.error.lt_tensor(&before)).unwrap();
        assert!(lowered.iter().all(|&b| b), "{lowered:?}");
        assert_eq!(
            refined.group.select(1, 0).abs().max().double_value(&[]),
            0.0
        );
        assert!(refined.group.narrow(1, 1, 2).abs().max().double_value(&[]) > 0.0);
    }

    #[test]
    fn zero_steps_keep_the_start() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = linear_net(&vs);
        let images = Tensor::rand([2, 5], (Kind::Float, Device::Cpu));
        let start = Tensor::randn([2, 3], (Kind::Float, Device::Cpu));
        let frozen = Tensor::zeros([3], (Kind::Bool, Device::Cpu));
        let config = RefineConfig { steps: 0, lr: 0.1 };
        let refined = refine_group(&net, "z", &start, &frozen, &images, &config).unwrap();
        assert!(refined.group.equal(&start));
    }

    #[test]
    fn bad_shapes_and_rates_are_named() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = linear_net(&vs);
        let images = Tensor::rand([2, 5], (Kind::Float, Device::Cpu));
        let start = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let frozen = Tensor::zeros([2], (Kind::Bool, Device::Cpu));
        let error = refine_group(
            &net,
            "z",
            &start,
            &frozen,
            &images,
            &RefineConfig::default(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("frozen"), "{error}");
        let config = RefineConfig { steps: 1, lr: -1.0 };
        let frozen = Tensor::zeros([3], (Kind::Bool, Device::Cpu));
        let error = refine_group(&net, "z", &start, &frozen, &images, &config).unwrap_err();
        assert!(error.to_string().contains("refine.lr"), "{error}");
    }
}
