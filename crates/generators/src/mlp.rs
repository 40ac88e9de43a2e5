//! The fully learned generator: an MLP from the chosen code groups to pixel logits.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use aecraft_codes::{Code, GroupWidths};
use aecraft_tensor::{Mlp, MlpConfig};

use crate::generator::input_width;
use crate::{Generator, GeneratorsError, OutputKind};

/// Configuration of an [`MlpGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpGeneratorConfig {
    /// The code groups it reads, concatenated in this order.
    pub inputs: Vec<String>,
    /// The hidden layers.
    pub mlp: MlpConfig,
}

impl Default for MlpGeneratorConfig {
    fn default() -> Self {
        Self {
            inputs: vec!["z".into()],
            mlp: MlpConfig::default(),
        }
    }
}

impl MlpGeneratorConfig {
    /// The generator that mirrors an encoder with `encoder_hidden` layers (the same widths
    /// in reverse order), reading `inputs`.
    pub fn mirroring(encoder_hidden: &[i64], inputs: Vec<String>) -> Self {
        let reversed: Vec<i64> = encoder_hidden.iter().rev().copied().collect();
        Self {
            inputs,
            mlp: MlpConfig::with_hidden(&reversed),
        }
    }

    /// Builds the generator under `path`; see [`crate::GeneratorConfig::build`].
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<MlpGenerator, GeneratorsError> {
        let input = input_width(widths, &self.inputs, "mlp")?;
        Ok(MlpGenerator {
            inputs: self.inputs.clone(),
            mlp: self.mlp.build(path, input, output)?,
        })
    }
}

/// An MLP generator, producing Bernoulli logits.
#[derive(Debug)]
pub struct MlpGenerator {
    inputs: Vec<String>,
    mlp: Mlp,
}

impl Generator for MlpGenerator {
    /// Concatenates the input groups (`[B, sum of widths]`) and maps them to `[B, D]` logits.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        Ok(self.mlp.forward(&code.concat(&self.inputs)?))
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device, Kind};

    #[test]
    fn reads_its_groups_and_outputs_the_requested_width() {
        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("z".to_owned(), 3), ("side".to_owned(), 2)]);
        let config = MlpGeneratorConfig {
            inputs: vec!["z".into(), "side".into()],
            mlp: MlpConfig::with_hidden(&[8]),
        };
        let generator = config.build(&vs.root(), &widths, 10).unwrap();
        let mut code = Code::new();
        code.insert("z", Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)));
        code.insert("side", Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)));
        assert_eq!(generator.generate(&code, true).unwrap().size(), vec![4, 10]);
    }

    #[test]
    fn a_missing_group_is_a_config_error() {
        let vs = VarStore::new(Device::Cpu);
        let err = MlpGeneratorConfig::default()
            .build(&vs.root(), &GroupWidths::new(), 10)
            .unwrap_err();
        assert!(err.to_string().contains("mlp.inputs"), "{err}");
    }
}
