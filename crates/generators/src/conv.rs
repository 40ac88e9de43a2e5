//! The convolutional generator, the mirror of a conv encoder: an MLP from the chosen code
//! groups to a small grid of feature maps `[B, C₀, H/2ⁿ, W/2ⁿ]`, then `n` transposed
//! convolutions (kernel 4, stride 2, padding 1), each doubling the side, the last one to a
//! single channel of pixel logits `[B, H·W]`. Every layer but the last is followed by the
//! activation. Its locality suits images whose factors move things on the canvas (position,
//! size), which an MLP generator has to learn pixel by pixel.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use aecraft_codes::{Code, GroupWidths};
use aecraft_tensor::{Activation, Mlp, MlpConfig};

use crate::generator::{check_channels, image_size, input_width};
use crate::{Generator, GeneratorsError, OutputKind};

/// Kernel of every transposed convolution.
const KERNEL: i64 = 4;

/// An image or grid size, `(height, width)`.
type Size = (i64, i64);

/// Configuration of a [`ConvGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvGeneratorConfig {
    /// The code groups it reads, concatenated in this order.
    pub inputs: Vec<String>,
    /// The MLP's hidden layers (and the activation of every layer).
    pub mlp: MlpConfig,
    /// The channels of the feature maps: `channels[0]` at the MLP's grid, then one entry per
    /// further transposed convolution; the last convolution maps `channels[n−1]` to the
    /// image. `n` entries double the side `n` times, so the image's height and width must be
    /// multiples of `2ⁿ`.
    pub channels: Vec<i64>,
    /// The image height; 0 with `width` 0 means square images of the output's pixels.
    pub height: i64,
    /// The image width; 0 with `height` 0 means square images.
    pub width: i64,
}

impl Default for ConvGeneratorConfig {
    fn default() -> Self {
        Self {
            inputs: vec!["z".into()],
            mlp: MlpConfig::with_hidden(&[256]),
            channels: vec![64, 32, 32],
            height: 0,
            width: 0,
        }
    }
}

impl ConvGeneratorConfig {
    /// The image size `(height, width)` of `output` pixels and the MLP's grid `(height,
    /// width)`, checking every field (named `conv.…`).
    pub fn sizes(&self, output: i64) -> Result<(Size, Size), GeneratorsError> {
        self.mlp.validate("conv.mlp")?;
        check_channels(&self.channels, "conv")?;
        let channels = format!("{:?}", self.channels);
        let (height, width) = image_size((self.height, self.width), output, "conv")?;
        let scale = 1_i64 << self.channels.len().min(30);
        if height % scale != 0 || width % scale != 0 {
            return Err(GeneratorsError::config(
                "conv.channels",
                channels,
                &format!(
                    "{} transposed convolutions double the side {} times, so the {height}×{width} image's sides must be multiples of {scale}",
                    self.channels.len(),
                    self.channels.len()
                ),
            ));
        }
        Ok(((height, width), (height / scale, width / scale)))
    }

    /// Builds the generator under `path` (the MLP's variables under `mlp`, the transposed
    /// convolutions `deconv0`, `deconv1`, …); see [`crate::GeneratorConfig::build`].
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<ConvGenerator, GeneratorsError> {
        let input = input_width(widths, &self.inputs, "conv")?;
        let (_, grid) = self.sizes(output)?;
        let features = self.channels[0] * grid.0 * grid.1;
        let mlp = self.mlp.build(&(path / "mlp"), input, features)?;
        let deconv = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        let outputs = self.channels.iter().skip(1).copied().chain([1]);
        let deconvs = self
            .channels
            .iter()
            .zip(outputs)
            .enumerate()
            .map(|(i, (&from, to))| {
                nn::conv_transpose2d(path / format!("deconv{i}"), from, to, KERNEL, deconv)
            })
            .collect();
        Ok(ConvGenerator {
            inputs: self.inputs.clone(),
            mlp,
            grid: (self.channels[0], grid.0, grid.1),
            deconvs,
            activation: self.mlp.activation,
        })
    }
}

/// A convolutional generator, producing Bernoulli logits.
#[derive(Debug)]
pub struct ConvGenerator {
    inputs: Vec<String>,
    mlp: Mlp,
    /// `(C₀, H/2ⁿ, W/2ⁿ)`: the feature maps the MLP's output is read as.
    grid: (i64, i64, i64),
    deconvs: Vec<nn::ConvTranspose2D>,
    activation: Activation,
}

impl Generator for ConvGenerator {
    /// Concatenates the input groups (`[B, sum of widths]`), maps them to the grid
    /// `[B, C₀, H/2ⁿ, W/2ⁿ]` and up to `[B, H·W]` logits.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        let (channels, height, width) = self.grid;
        let features = self
            .activation
            .apply(&self.mlp.forward(&code.concat(&self.inputs)?));
        let mut maps = features.f_reshape([-1, channels, height, width])?;
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            maps = deconv.forward(&maps);
            if i < last {
                maps = self.activation.apply(&maps);
            }
        }
        Ok(maps.f_flatten(1, -1)?)
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        assert_each_image_is_drawn_from_its_own_code, bar_drawing_losses, two_group_widths,
        two_groups,
    };
    use tch::{nn::VarStore, Device};

    #[test]
    fn draws_square_and_oblong_images_of_the_output_width() {
        tch::manual_seed(0);
        let mut config = ConvGeneratorConfig {
            inputs: vec!["z".into(), "side".into()],
            mlp: MlpConfig::with_hidden(&[8]),
            channels: vec![4, 2],
            ..Default::default()
        };
        let vs = VarStore::new(Device::Cpu);
        let generator = config
            .build(&vs.root(), &two_group_widths(), 32 * 32)
            .unwrap();
        assert_eq!(
            generator.generate(&two_groups(5), true).unwrap().size(),
            [5, 1024]
        );
        // 32 → grid 8×8 of 4 channels, then 4 → 2 → 1 channels.
        let variables = vs.variables();
        assert_eq!(variables["mlp.layer1.weight"].size(), [4 * 8 * 8, 8]);
        assert_eq!(variables["deconv0.weight"].size(), [4, 2, 4, 4]);
        assert_eq!(variables["deconv1.weight"].size(), [2, 1, 4, 4]);
        (config.height, config.width) = (8, 12);
        let vs = VarStore::new(Device::Cpu);
        let generator = config.build(&vs.root(), &two_group_widths(), 96).unwrap();
        assert_eq!(
            generator.generate(&two_groups(2), false).unwrap().size(),
            [2, 96]
        );
    }

    #[test]
    fn each_pixel_depends_only_on_the_code_of_its_own_image() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let generator = ConvGeneratorConfig {
            channels: vec![4],
            mlp: MlpConfig::with_hidden(&[]),
            ..Default::default()
        }
        .build(&vs.root(), &two_group_widths(), 16)
        .unwrap();
        assert_each_image_is_drawn_from_its_own_code(&generator);
    }

    #[test]
    fn a_conv_generator_learns_to_draw_a_bar_at_the_coded_position() {
        tch::manual_seed(2);
        let (before, after) = bar_drawing_losses(|path, widths| {
            ConvGeneratorConfig {
                channels: vec![16, 8],
                mlp: MlpConfig::with_hidden(&[32]),
                ..Default::default()
            }
            .build(path, widths, 64)
            .unwrap()
        });
        assert!(after < 0.1 * before, "{before} → {after}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let error = |config: ConvGeneratorConfig, output: i64| {
            let vs = VarStore::new(Device::Cpu);
            config
                .build(&vs.root(), &two_group_widths(), output)
                .unwrap_err()
                .to_string()
        };
        let base = ConvGeneratorConfig::default();
        let cases = [
            (
                ConvGeneratorConfig {
                    inputs: vec![],
                    ..base.clone()
                },
                1024,
                "conv.inputs",
            ),
            (
                ConvGeneratorConfig {
                    inputs: vec!["w".into()],
                    ..base.clone()
                },
                1024,
                "conv.inputs",
            ),
            (
                ConvGeneratorConfig {
                    channels: vec![],
                    ..base.clone()
                },
                1024,
                "conv.channels",
            ),
            (
                ConvGeneratorConfig {
                    channels: vec![8, 0],
                    ..base.clone()
                },
                1024,
                "conv.channels",
            ),
            (
                ConvGeneratorConfig {
                    mlp: MlpConfig::with_hidden(&[0]),
                    ..base.clone()
                },
                1024,
                "conv.mlp.hidden",
            ),
            // 28 is not a multiple of 2³.
            (base.clone(), 784, "conv.channels"),
            (base.clone(), 1000, "conv.height"),
            (
                ConvGeneratorConfig {
                    height: 16,
                    width: 16,
                    ..base.clone()
                },
                1024,
                "conv.height",
            ),
        ];
        for (config, output, key) in cases {
            let err = error(config.clone(), output);
            assert!(err.contains(key), "{config:?}: {err}");
        }
    }

    #[test]
    fn a_config_reads_with_defaults_and_refuses_unknown_keys() {
        let config: ConvGeneratorConfig =
            serde_json::from_str(r#"{"channels": [32, 16]}"#).unwrap();
        assert_eq!(config.channels, [32, 16]);
        assert_eq!(config.mlp, MlpConfig::with_hidden(&[256]));
        let err = serde_json::from_str::<ConvGeneratorConfig>(r#"{"kernel": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kernel"), "{err}");
    }
}
