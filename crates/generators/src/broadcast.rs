//! The spatial broadcast generator (Watters et al., 2019, "Spatial Broadcast Decoder"): the
//! code is copied to every pixel, next to the pixel's own coordinates, and stride-1
//! convolutions turn that into pixel logits. Where an object is then becomes a comparison
//! between a code unit and a coordinate channel, which one unit can hold, instead of a
//! placement that upsampling layers must learn from the whole code; this is what lets a
//! VAE give position factors units of their own.
//!
//! Layers: a 1×1 convolution of `[code; u; v]` to `channels[0]` maps, computed as the code's
//! linear map broadcast over a fixed map of the coordinates' (the same arithmetic, without
//! copying the code `H·W` times); then 3×3 convolutions (padding 1) through the other
//! `channels`, each followed by the activation; then a 3×3 convolution to one channel of
//! logits.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use aecraft_codes::{Code, GroupWidths};
use aecraft_tensor::Activation;

use crate::generator::{check_channels, image_size, input_width};
use crate::{Generator, GeneratorsError, OutputKind};

/// Kernel of the convolutions after the broadcast layer.
const KERNEL: i64 = 3;

/// Configuration of a [`BroadcastGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BroadcastGeneratorConfig {
    /// The code groups it reads, concatenated in this order.
    pub inputs: Vec<String>,
    /// The channels of the feature maps, all at the image's size: `channels[0]` from the
    /// broadcast code and coordinates, then one 3×3 convolution per further entry.
    pub channels: Vec<i64>,
    /// The activation after every layer but the last.
    pub activation: Activation,
    /// The image height; 0 with `width` 0 means square images of the output's pixels.
    pub height: i64,
    /// The image width; 0 with `height` 0 means square images.
    pub width: i64,
}

impl Default for BroadcastGeneratorConfig {
    fn default() -> Self {
        Self {
            inputs: vec!["z".into()],
            channels: vec![32, 32],
            activation: Activation::Relu,
            height: 0,
            width: 0,
        }
    }
}

impl BroadcastGeneratorConfig {
    /// The image size `(height, width)` of `output` pixels, checking every field (named
    /// `broadcast.…`).
    pub fn size(&self, output: i64) -> Result<(i64, i64), GeneratorsError> {
        check_channels(&self.channels, "broadcast")?;
        image_size((self.height, self.width), output, "broadcast")
    }

    /// Builds the generator under `path` (the code's map `code`, the coordinates' `coords`,
    /// the convolutions `conv1`, `conv2`, …, and `logits`); see
    /// [`crate::GeneratorConfig::build`].
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<BroadcastGenerator, GeneratorsError> {
        let input = input_width(widths, &self.inputs, "broadcast")?;
        let (height, width) = self.size(output)?;
        let first = self.channels[0];
        let code = nn::linear(path / "code", input, first, Default::default());
        let no_bias = nn::ConvConfig {
            bias: false,
            ..Default::default()
        };
        let coords = nn::conv2d(path / "coords", 2, first, 1, no_bias);
        let same = nn::ConvConfig {
            padding: KERNEL / 2,
            ..Default::default()
        };
        let last = *self.channels.last().unwrap_or(&first);
        let convs = self
            .channels
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                nn::conv2d(
                    path / format!("conv{}", i + 1),
                    pair[0],
                    pair[1],
                    KERNEL,
                    same,
                )
            })
            .collect();
        let logits = nn::conv2d(path / "logits", last, 1, KERNEL, same);
        Ok(BroadcastGenerator {
            inputs: self.inputs.clone(),
            code,
            coordinates: coordinate_maps(height, width, path.device()),
            coords,
            convs,
            logits,
            activation: self.activation,
        })
    }
}

/// The coordinate maps `[1, 2, H, W]`: `u` runs from −1 to 1 across the columns, `v` down
/// the rows.
fn coordinate_maps(height: i64, width: i64, device: tch::Device) -> Tensor {
    let options = (Kind::Float, device);
    let u = Tensor::linspace(-1.0, 1.0, width, options)
        .view([1, width])
        .expand([height, width], false);
    let v = Tensor::linspace(-1.0, 1.0, height, options)
        .view([height, 1])
        .expand([height, width], false);
    Tensor::stack(&[u, v], 0).unsqueeze(0)
}

/// A spatial broadcast generator, producing Bernoulli logits.
#[derive(Debug)]
pub struct BroadcastGenerator {
    inputs: Vec<String>,
    code: nn::Linear,
    /// `[1, 2, H, W]`, see [`coordinate_maps`].
    coordinates: Tensor,
    coords: nn::Conv2D,
    convs: Vec<nn::Conv2D>,
    logits: nn::Conv2D,
    activation: Activation,
}

impl Generator for BroadcastGenerator {
    /// Concatenates the input groups (`[B, Z]`), broadcasts their map `[B, C₀, 1, 1]` over
    /// the coordinates' `[1, C₀, H, W]`, and convolves down to `[B, H·W]` logits.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        let per_image = self.code.forward(&code.concat(&self.inputs)?);
        let per_pixel = self.coords.forward(&self.coordinates);
        let mut maps = self
            .activation
            .apply(&(per_image.unsqueeze(-1).unsqueeze(-1) + per_pixel));
        for conv in &self.convs {
            maps = self.activation.apply(&conv.forward(&maps));
        }
        Ok(self.logits.forward(&maps).f_flatten(1, -1)?)
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
        let mut config = BroadcastGeneratorConfig {
            inputs: vec!["z".into(), "side".into()],
            channels: vec![4, 3, 2],
            ..Default::default()
        };
        let vs = VarStore::new(Device::Cpu);
        let generator = config
            .build(&vs.root(), &two_group_widths(), 10 * 10)
            .unwrap();
        assert_eq!(
            generator.generate(&two_groups(5), true).unwrap().size(),
            [5, 100]
        );
        let variables = vs.variables();
        assert_eq!(variables["code.weight"].size(), [4, 5]);
        assert_eq!(variables["coords.weight"].size(), [4, 2, 1, 1]);
        assert_eq!(variables["conv1.weight"].size(), [3, 4, 3, 3]);
        assert_eq!(variables["conv2.weight"].size(), [2, 3, 3, 3]);
        assert_eq!(variables["logits.weight"].size(), [1, 2, 3, 3]);
        (config.height, config.width) = (6, 7);
        let vs = VarStore::new(Device::Cpu);
        let generator = config.build(&vs.root(), &two_group_widths(), 42).unwrap();
        assert_eq!(
            generator.generate(&two_groups(2), false).unwrap().size(),
            [2, 42]
        );
    }

    #[test]
    fn the_broadcast_layer_is_a_one_by_one_convolution_of_the_tiled_code_and_coordinates() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let generator = BroadcastGeneratorConfig {
            channels: vec![4],
            height: 5,
            width: 6,
            ..Default::default()
        }
        .build(&vs.root(), &two_group_widths(), 5 * 6)
        .unwrap();
        let z = Tensor::randn([2, 3], (Kind::Float, Device::Cpu));
        // Tile the code over the 5×6 grid, append u and v, and convolve 1×1 with the joint
        // weights.
        let tiled = z.view([2, 3, 1, 1]).expand([2, 3, 5, 6], false);
        let coordinates = coordinate_maps(5, 6, Device::Cpu).expand([2, 2, 5, 6], false);
        let joint = Tensor::cat(&[tiled, coordinates], 1);
        let weight = Tensor::cat(
            &[
                generator.code.ws.view([4, 3, 1, 1]),
                generator.coords.ws.shallow_clone(),
            ],
            1,
        );
        let direct = joint.conv2d(
            &weight,
            generator.code.bs.as_ref(),
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        );
        let mut code = Code::new();
        code.insert("z", z);
        let per_image = generator
            .code
            .forward(&code.concat(&generator.inputs).unwrap());
        let broadcast =
            per_image.view([2, 4, 1, 1]) + generator.coords.forward(&generator.coordinates);
        assert!(direct.allclose(&broadcast, 1e-5, 1e-6, false));
        // u runs across the columns, v down the rows.
        let maps = coordinate_maps(5, 6, Device::Cpu);
        assert_eq!(maps.double_value(&[0, 0, 0, 0]), -1.0);
        assert_eq!(maps.double_value(&[0, 0, 0, 5]), 1.0);
        assert_eq!(maps.double_value(&[0, 1, 4, 0]), 1.0);
        assert_eq!(maps.double_value(&[0, 1, 0, 5]), -1.0);
    }

    #[test]
    fn each_pixel_depends_only_on_the_code_of_its_own_image() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let generator = BroadcastGeneratorConfig {
            channels: vec![4],
            ..Default::default()
        }
        .build(&vs.root(), &two_group_widths(), 16)
        .unwrap();
        assert_each_image_is_drawn_from_its_own_code(&generator);
    }

    #[test]
    fn one_code_unit_learns_to_place_a_bar() {
        tch::manual_seed(2);
        let (before, after) = bar_drawing_losses(|path, widths| {
            BroadcastGeneratorConfig {
                channels: vec![16, 8],
                ..Default::default()
            }
            .build(path, widths, 64)
            .unwrap()
        });
        assert!(after < 0.1 * before, "{before} → {after}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let error = |config: BroadcastGeneratorConfig, output: i64| {
            let vs = VarStore::new(Device::Cpu);
            config
                .build(&vs.root(), &two_group_widths(), output)
                .unwrap_err()
                .to_string()
        };
        let base = BroadcastGeneratorConfig::default();
        let cases = [
            (
                BroadcastGeneratorConfig {
                    inputs: vec!["w".into()],
                    ..base.clone()
                },
                1024,
                "broadcast.inputs",
            ),
            (
                BroadcastGeneratorConfig {
                    channels: vec![],
                    ..base.clone()
                },
                1024,
                "broadcast.channels",
            ),
            (
                BroadcastGeneratorConfig {
                    channels: vec![8, 0],
                    ..base.clone()
                },
                1024,
                "broadcast.channels",
            ),
            (base.clone(), 1000, "broadcast.height"),
            (
                BroadcastGeneratorConfig {
                    height: 16,
                    width: 16,
                    ..base.clone()
                },
                1024,
                "broadcast.height",
            ),
        ];
        for (config, output, key) in cases {
            let err = error(config.clone(), output);
            assert!(err.contains(key), "{config:?}: {err}");
        }
    }

    #[test]
    fn a_config_reads_with_defaults_and_refuses_unknown_keys() {
        let config: BroadcastGeneratorConfig =
            serde_json::from_str(r#"{"channels": [16]}"#).unwrap();
        assert_eq!(config.channels, [16]);
        assert_eq!(config.activation, Activation::Relu);
        let err = serde_json::from_str::<BroadcastGeneratorConfig>(r#"{"mlp": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("mlp"), "{err}");
    }
}
