//! The multi-layer perceptron: linear layers with an activation between them.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};

use crate::TensorError;

/// The nonlinearity between hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// Exponential linear unit.
    Elu,
    /// Hyperbolic tangent.
    Tanh,
}

impl Activation {
    /// The nonlinearity applied elementwise to `x`.
    pub fn apply(self, x: &tch::Tensor) -> tch::Tensor {
        match self {
            Self::Relu => x.relu(),
            Self::Elu => x.elu(),
            Self::Tanh => x.tanh(),
        }
    }
}

/// Configuration of an [`Mlp`]: the widths of its hidden layers and their activation.
///
/// The input and output widths are given to [`MlpConfig::build`], since they follow from the
/// parts the MLP connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Widths of the hidden layers, in order. Empty means a single linear map.
    pub hidden: Vec<i64>,
    /// The activation after each hidden layer (none after the output layer).
    pub activation: Activation,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            hidden: vec![512, 256],
            activation: Activation::Relu,
        }
    }
}

impl MlpConfig {
    /// An MLP with the given hidden widths and ReLU activations.
    pub fn with_hidden(hidden: &[i64]) -> Self {
        Self {
            hidden: hidden.to_vec(),
            activation: Activation::Relu,
        }
    }

    /// Checks that every width is positive.
    pub fn validate(&self, field: &str) -> Result<(), TensorError> {
        match self.hidden.iter().find(|&&w| w <= 0) {
            Some(w) => Err(TensorError::config(
                &format!("{field}.hidden"),
                w,
                "every hidden width must be at least 1",
            )),
            None => Ok(()),
        }
    }

    /// Builds the MLP under `path`, mapping `input` features to `output` features.
    pub fn build(&self, path: &nn::Path, input: i64, output: i64) -> Result<Mlp, TensorError> {
        self.validate("mlp")?;
        for (name, width) in [("input", input), ("output", output)] {
            if width <= 0 {
                return Err(TensorError::config(
                    name,
                    width,
                    "MLP widths must be at least 1",
                ));
            }
        }
        let widths: Vec<i64> = std::iter::once(input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(output))
            .collect();
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| nn::linear(path / format!("layer{i}"), w[0], w[1], Default::default()))
            .collect();
        Ok(Mlp {
            layers,
            activation: self.activation,
        })
    }
}

/// A multi-layer perceptron, built by [`MlpConfig::build`].
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    activation: Activation,
}

impl Mlp {
    /// The number of output features.
    pub fn output_width(&self) -> i64 {
        self.layers.last().map_or(0, |l| l.ws.size()[0])
    }
}

impl Module for Mlp {
    /// Maps `[B, input]` to `[B, output]`.
    fn forward(&self, xs: &tch::Tensor) -> tch::Tensor {
        let last = self.layers.len() - 1;
        self.layers
            .iter()
            .enumerate()
            .fold(xs.shallow_clone(), |x, (i, layer)| {
                let y = layer.forward(&x);
                if i < last {
                    self.activation.apply(&y)
                } else {
                    y
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device, Kind, Tensor};

    #[test]
    fn maps_input_width_to_output_width() {
        let vs = VarStore::new(Device::Cpu);
        let mlp = MlpConfig::with_hidden(&[7, 5])
            .build(&vs.root(), 4, 3)
            .unwrap();
        let y = mlp.forward(&Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)));
        assert_eq!(y.size(), vec![2, 3]);
        assert_eq!(mlp.output_width(), 3);
        assert_eq!(vs.variables().len(), 6);
    }

    #[test]
    fn rejects_zero_widths_with_the_field_name() {
        let vs = VarStore::new(Device::Cpu);
        let err = MlpConfig::with_hidden(&[0])
            .build(&vs.root(), 4, 3)
            .unwrap_err();
        assert!(err.to_string().contains("mlp.hidden"), "{err}");
    }
}
