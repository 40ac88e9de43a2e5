//! The convolutional encoder: conv layers on the image `[B, 1, H, W]`, the activation after
//! each, then the flattened features into an [`MlpEncoder`], which adds the side label if
//! any and ends in the output layer (or one per code group). Configured by
//! [`EncoderConfig`] with `kind = "conv"`; layers have no padding (see
//! [`EncoderConfig::conv_sizes`]).

use tch::nn::{self, Module};
use tch::Tensor;

use aecraft_codes::CodeLayout;
use aecraft_tensor::mlp::Activation;

use crate::encoder::{Encoder, EncoderConfig, EncoderHeadsConfig, EncoderLabelConfig, MlpEncoder};
use crate::TrainError;

/// Conv layers, then an [`MlpEncoder`] on their flattened features.
#[derive(Debug)]
pub struct ConvEncoder {
    convs: Vec<nn::Conv2D>,
    activation: Activation,
    /// The image size the conv layers read.
    height: i64,
    width: i64,
    mlp: MlpEncoder,
}

impl ConvEncoder {
    /// Builds the conv layers of `config` under `path` (variables `conv0`, `conv1`, …) for
    /// images of `input` pixels, then, beside them, the MLP of `config`'s `hidden` layers
    /// from their flattened features (plus `label`'s classes) to the raw code of `layout`
    /// (see [`MlpEncoder::for_code`]).
    pub fn new(
        path: &nn::Path,
        config: &EncoderConfig,
        label: Option<EncoderLabelConfig>,
        input: i64,
        layout: &CodeLayout,
        heads: Option<&EncoderHeadsConfig>,
    ) -> Result<Self, TrainError> {
        let sizes = config.conv_sizes(input)?;
        let conv = nn::ConvConfig {
            stride: config.stride,
            padding: 0,
            ..Default::default()
        };
        let inputs = std::iter::once(1).chain(config.channels.iter().copied());
        let convs = inputs
            .zip(&config.channels)
            .enumerate()
            .map(|(i, (from, &to))| {
                nn::conv2d(path / format!("conv{i}"), from, to, config.kernel, conv)
            })
            .collect();
        let (height, width) = sizes[0];
        let (out_height, out_width) = sizes[sizes.len() - 1];
        let features = config.channels[config.channels.len() - 1] * out_height * out_width;
        let mlp = MlpEncoder::for_code(path, &config.mlp_layers(), label, features, layout, heads)?;
        Ok(Self {
            convs,
            activation: config.activation,
            height,
            width,
            mlp,
        })
    }

    /// The conv layers' flattened features `[B, C·H'·W']` of images `[B, H·W]`.
    fn features(&self, images: &Tensor) -> Result<Tensor, TrainError> {
        let size = images.size();
        if size.len() != 2 || size[1] != self.height * self.width {
            return Err(TrainError::invalid(
                "images",
                format!("{size:?}"),
                format!(
                    "the conv encoder reads {}×{} images as [B, {}]",
                    self.height,
                    self.width,
                    self.height * self.width
                ),
            ));
        }
        let mut x = images.f_reshape([-1, 1, self.height, self.width])?;
        for conv in &self.convs {
            x = self.activation.apply(&conv.forward(&x));
        }
        Ok(x.f_flatten(1, -1)?)
    }
}

impl Encoder for ConvEncoder {
    fn encode(
        &self,
        images: &Tensor,
        side: &[(String, Tensor)],
        train: bool,
    ) -> Result<Tensor, TrainError> {
        self.mlp.encode(&self.features(images)?, side, train)
    }

    /// The inner [`MlpEncoder`]'s output rows, as [`MlpEncoder::copy_units`] copies them.
    fn copy_units(&self, from: i64, to: i64, len: i64) -> Result<bool, TrainError> {
        self.mlp.copy_units(from, to, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoencoder::{AutoencoderConfig, AutoencoderModel};
    use crate::encoder::EncoderKind;
    use crate::model::TrainModel;
    use crate::{evaluate, TrainConfig, Trainer};
    use aecraft_codes::GroupSpec;
    use aecraft_tensor::MlpConfig;
    use tch::nn::VarStore;
    use tch::{Device, Kind};

    fn layout(width: i64) -> CodeLayout {
        CodeLayout(vec![GroupSpec::new("z", width)])
    }

    #[test]
    fn square_images_of_28_and_32_pixels_give_the_code_width() {
        tch::manual_seed(0);
        let config = EncoderConfig::conv(&[8, 16], &[32]);
        for side in [28, 32] {
            let vs = VarStore::new(Device::Cpu);
            let encoder = config
                .build(&vs.root(), None, side * side, &layout(6), None)
                .unwrap();
            let images = Tensor::rand([3, side * side], (Kind::Float, Device::Cpu));
            let raw = encoder.encode(&images, &[], true).unwrap();
            assert_eq!(raw.size(), [3, 6], "{side}×{side}");
        }
        // 28 → 13 → 5 with kernel 4, stride 2 and no padding: 16·5·5 features.
        assert_eq!(
            config.conv_sizes(784).unwrap(),
            [(28, 28), (13, 13), (5, 5)]
        );
        let vs = VarStore::new(Device::Cpu);
        config
            .build(&vs.root(), None, 784, &layout(6), None)
            .unwrap();
        assert_eq!(vs.variables()["layer0.weight"].size(), [32, 400]);
    }

    #[test]
    fn a_non_square_image_reads_its_size_and_refuses_other_widths() {
        let mut config = EncoderConfig::conv(&[4], &[]);
        config.set_image_size(6, 10);
        let vs = VarStore::new(Device::Cpu);
        let encoder = config
            .build(&vs.root(), None, 60, &layout(3), None)
            .unwrap();
        let raw = encoder
            .encode(
                &Tensor::rand([2, 60], (Kind::Float, Device::Cpu)),
                &[],
                false,
            )
            .unwrap();
        assert_eq!(raw.size(), [2, 3]);
        let err = encoder
            .encode(
                &Tensor::rand([2, 64], (Kind::Float, Device::Cpu)),
                &[],
                false,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("6×10"), "{err}");
    }

    #[test]
    fn heads_labels_and_copies_go_to_the_inner_mlp() {
        tch::manual_seed(1);
        let code = CodeLayout(vec![
            GroupSpec::new("cluster", 3),
            GroupSpec::new("pose", 4),
        ]);
        let heads = EncoderHeadsConfig {
            zero: vec!["pose".into()],
        };
        let label = EncoderLabelConfig {
            classes: 3,
            ..Default::default()
        };
        let vs = VarStore::new(Device::Cpu);
        let encoder = EncoderConfig::conv(&[4], &[8])
            .build(&vs.root(), Some(label), 64, &code, Some(&heads))
            .unwrap();
        let images = Tensor::rand([2, 64], (Kind::Float, Device::Cpu));
        let side = vec![(
            aecraft_codes::LABEL_SIDE.to_owned(),
            Tensor::from_slice(&[0i64, 2]),
        )];
        let raw = encoder.encode(&images, &side, false).unwrap();
        assert_eq!(raw.size(), [2, 7]);
        assert_eq!(
            raw.narrow(1, 3, 4).abs().sum(Kind::Float).double_value(&[]),
            0.0
        );
        assert!(encoder.encode(&images, &[], false).is_err(), "no label");
        assert!(encoder.copy_units(0, 2, 1).unwrap());
        let raw = encoder.encode(&images, &side, false).unwrap();
        assert!(raw.select(1, 0).equal(&raw.select(1, 2)));
    }

    #[test]
    fn a_conv_autoencoder_trains() {
        tch::manual_seed(0);
        let data = aecraft_data::synthetic::noisy_prototypes(128, 4, (12, 12)).unwrap();
        let mut config = AutoencoderConfig::plain(&[32], 4);
        config.input = 144;
        config.encoder = EncoderConfig::conv(&[8, 16], &[32]);
        let mut model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        assert!(model
            .var_store()
            .variables()
            .contains_key("encoder.conv1.weight"));
        let before = evaluate(&model, &data, 128).unwrap()["reconstruction"];
        let trainer = Trainer::new(TrainConfig {
            epochs: 5,
            batch_size: 16,
            ..Default::default()
        })
        .unwrap();
        trainer.train(&mut model, &data, None, None).unwrap();
        let after = evaluate(&model, &data, 128).unwrap()["reconstruction"];
        assert!(after < 0.9 * before, "{before} → {after}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let error =
            |config: EncoderConfig, input: i64| config.validate(input).unwrap_err().to_string();
        let conv = EncoderConfig::conv(&[8, 16], &[32]);
        let cases = [
            (
                EncoderConfig {
                    channels: vec![],
                    ..conv.clone()
                },
                784,
                "encoder.channels",
            ),
            (
                EncoderConfig {
                    channels: vec![8, 0],
                    ..conv.clone()
                },
                784,
                "encoder.channels",
            ),
            (
                EncoderConfig {
                    kernel: 0,
                    ..conv.clone()
                },
                784,
                "encoder.kernel",
            ),
            (
                EncoderConfig {
                    stride: 0,
                    ..conv.clone()
                },
                784,
                "encoder.stride",
            ),
            (
                EncoderConfig {
                    hidden: vec![0],
                    ..conv.clone()
                },
                784,
                "encoder.hidden",
            ),
            (
                EncoderConfig {
                    height: 28,
                    width: 27,
                    ..conv.clone()
                },
                784,
                "encoder.height",
            ),
            (conv.clone(), 780, "encoder.height"),
            // 8 → 3 → 0: the second layer's kernel does not fit.
            (conv.clone(), 64, "encoder.channels"),
            (
                EncoderConfig {
                    channels: vec![8],
                    ..EncoderConfig::mlp(&[8])
                },
                784,
                "encoder.channels",
            ),
            (
                EncoderConfig {
                    kernel: 3,
                    ..EncoderConfig::mlp(&[8])
                },
                784,
                "encoder.kernel",
            ),
            (
                EncoderConfig {
                    width: 28,
                    ..EncoderConfig::mlp(&[8])
                },
                784,
                "encoder.width",
            ),
        ];
        for (config, input, key) in cases {
            let err = error(config.clone(), input);
            assert!(err.contains(key), "{config:?}: {err}");
        }
        let mut config = AutoencoderConfig::plain(&[8], 3);
        config.encoder = EncoderConfig { kernel: 0, ..conv };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("encoder.kernel"), "{err}");
        assert!(AutoencoderModel::new(&config, Device::Cpu).is_err());
    }

    #[test]
    fn old_mlp_json_reads_as_an_mlp_encoder_and_writes_back_the_same() {
        let old = serde_json::to_value(MlpConfig::with_hidden(&[8])).unwrap();
        assert_eq!(
            old,
            serde_json::json!({"hidden": [8], "activation": "relu"})
        );
        let encoder: EncoderConfig = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(encoder, EncoderConfig::mlp(&[8]));
        assert_eq!(encoder.kind, EncoderKind::Mlp);
        let mut written = serde_json::to_value(&encoder).unwrap();
        assert_eq!(written["kind"], "mlp");
        written.as_object_mut().unwrap().remove("kind");
        assert_eq!(written, old, "no conv fields in an MLP encoder's JSON");
        // A whole old config.json, as a run folder holds it.
        let mut run = serde_json::to_value(AutoencoderConfig::vae(&[8], 2)).unwrap();
        run["encoder"] = old;
        let config: AutoencoderConfig = serde_json::from_value(run).unwrap();
        assert_eq!(config, AutoencoderConfig::vae(&[8], 2));
    }

    #[test]
    fn a_conv_config_reads_with_defaults_and_round_trips() {
        // The JSON of TOML `encoder = { kind = "conv", channels = [8, 16], hidden = [32] }`.
        let json = r#"{"kind": "conv", "channels": [8, 16], "hidden": [32]}"#;
        let encoder: EncoderConfig = serde_json::from_str(json).unwrap();
        assert_eq!(encoder, EncoderConfig::conv(&[8, 16], &[32]));
        assert_eq!((encoder.kernel, encoder.stride), (4, 2));
        let mut sized = encoder.clone();
        sized.set_image_size(28, 28);
        let again: EncoderConfig =
            serde_json::from_str(&serde_json::to_string(&sized).unwrap()).unwrap();
        assert_eq!(again, sized);
        let err = serde_json::from_str::<EncoderConfig>(r#"{"kind": "conv", "padding": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("padding"), "{err}");
    }
}
