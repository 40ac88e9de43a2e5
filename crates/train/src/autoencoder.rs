//! The autoencoder pipeline: an MLP encoder, then code transforms, then a generator, trained
//! on reconstruction plus the penalties the transforms add. Plain autoencoders and VAEs are
//! two configurations of it; later parts plug into the same pipeline.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    Code, CodeLayout, CodeTransform, GaussianSamplerConfig, GroupSpec, GroupWidths, Penalty,
    TransformConfig,
};
use aecraft_generators::{Generator, GeneratorConfig, MlpGeneratorConfig, OutputKind};
use aecraft_tensor::ops::{bce_with_logits_per_item, squared_error_per_item};
use aecraft_tensor::{Mlp, MlpConfig};

use crate::data::Batch;
use crate::model::{Losses, TrainModel};
use crate::optim::{Adam, AdamConfig};
use crate::TrainError;

/// Configuration of an [`Autoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencoderConfig {
    /// Input features per image (784 for MNIST).
    pub input: i64,
    /// The encoder's hidden layers.
    pub encoder: MlpConfig,
    /// The groups the encoder outputs.
    pub code: CodeLayout,
    /// The transforms applied to the code, in order.
    pub transforms: Vec<TransformConfig>,
    /// The generator.
    pub generator: GeneratorConfig,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        Self::vae(&[512, 256], 32)
    }
}

impl AutoencoderConfig {
    /// A VAE: a Gaussian code of `code` units, MLPs with `hidden` layers (mirrored in the
    /// generator), Bernoulli pixels.
    pub fn vae(hidden: &[i64], code: i64) -> Self {
        Self {
            input: 784,
            encoder: MlpConfig::with_hidden(hidden),
            code: CodeLayout(vec![GroupSpec::new("gauss", 2 * code)]),
            transforms: vec![TransformConfig::Gaussian(GaussianSamplerConfig::default())],
            generator: mirrored_generator(hidden),
        }
    }

    /// A plain autoencoder: a deterministic code of `code` units.
    pub fn plain(hidden: &[i64], code: i64) -> Self {
        Self {
            input: 784,
            encoder: MlpConfig::with_hidden(hidden),
            code: CodeLayout(vec![GroupSpec::new("z", code)]),
            transforms: Vec::new(),
            generator: mirrored_generator(hidden),
        }
    }

    /// Checks the whole pipeline and returns the width of every code group.
    pub fn validate(&self) -> Result<GroupWidths, TrainError> {
        if self.input <= 0 {
            return Err(TrainError::invalid(
                "input",
                self.input,
                "must be at least 1",
            ));
        }
        self.encoder.validate("encoder")?;
        let mut widths = self.code.validate()?;
        for transform in &self.transforms {
            transform.infer_widths(&mut widths)?;
        }
        Ok(widths)
    }

    /// Builds the pipeline under `path`.
    pub fn build(&self, path: &nn::Path) -> Result<Autoencoder, TrainError> {
        self.validate()?;
        let mut widths = self.code.validate()?;
        let mut transforms = Vec::with_capacity(self.transforms.len());
        for (i, transform) in self.transforms.iter().enumerate() {
            let path = path / format!("transform{i}");
            transforms.push(transform.build_with_widths(&path, &widths)?);
            transform.infer_widths(&mut widths)?;
        }
        Ok(Autoencoder {
            encoder: self.encoder.build(
                &(path / "encoder"),
                self.input,
                self.code.total_width(),
            )?,
            layout: self.code.clone(),
            transforms,
            generator: self
                .generator
                .build(&(path / "generator"), &widths, self.input)?,
        })
    }
}

fn mirrored_generator(hidden: &[i64]) -> GeneratorConfig {
    let reversed: Vec<i64> = hidden.iter().rev().copied().collect();
    GeneratorConfig::Mlp(MlpGeneratorConfig {
        inputs: vec!["z".into()],
        mlp: MlpConfig::with_hidden(&reversed),
    })
}

/// An encoder → code transforms → generator pipeline; see [`AutoencoderConfig`].
#[derive(Debug)]
pub struct Autoencoder {
    encoder: Mlp,
    layout: CodeLayout,
    transforms: Vec<Box<dyn CodeTransform>>,
    generator: Box<dyn Generator>,
}

impl Autoencoder {
    /// Encodes images `[B, D]` and applies the transforms.
    pub fn encode(&self, images: &Tensor, train: bool) -> Result<Code, TrainError> {
        self.encode_with_side(images, Vec::new(), train)
    }

    /// Encodes images `[B, D]` with side inputs (e.g. `("label", [B] int64)`, see
    /// [`Code::insert_side`]) and applies the transforms.
    pub fn encode_with_side(
        &self,
        images: &Tensor,
        side: Vec<(String, Tensor)>,
        train: bool,
    ) -> Result<Code, TrainError> {
        let mut code = self.layout.split(&self.encoder.forward(images))?;
        for (name, values) in side {
            code.insert_side(name, values);
        }
        for transform in &self.transforms {
            transform.apply(&mut code, train)?;
        }
        Ok(code)
    }

    /// Tells every transform how far training has come (see [`CodeTransform::set_progress`]).
    pub fn set_progress(&mut self, progress: f64) {
        for transform in &mut self.transforms {
            transform.set_progress(progress);
        }
    }

    /// The transforms, in order.
    pub fn transforms(&self) -> &[Box<dyn CodeTransform>] {
        &self.transforms
    }

    /// The generator's raw output `[B, D]` for `code`.
    pub fn generate(&self, code: &Code, train: bool) -> Result<Tensor, TrainError> {
        Ok(self.generator.generate(code, train)?)
    }

    /// The generator's output as pixel values in `[0, 1]`.
    pub fn to_pixels(&self, output: &Tensor) -> Tensor {
        match self.generator.output_kind() {
            OutputKind::Logits => output.sigmoid(),
            OutputKind::Values => output.clamp(0.0, 1.0),
        }
    }

    /// Reconstructions of `images` as pixel values, in evaluation mode.
    pub fn reconstruct(&self, images: &Tensor) -> Result<Tensor, TrainError> {
        tch::no_grad(|| {
            let code = self.encode(images, false)?;
            Ok(self.to_pixels(&self.generate(&code, false)?))
        })
    }

    /// Reconstruction error per image, `[B]`: Bernoulli cross-entropy in nats for logits,
    /// squared error for values.
    pub fn reconstruction_error(&self, output: &Tensor, images: &Tensor) -> Tensor {
        match self.generator.output_kind() {
            OutputKind::Logits => bce_with_logits_per_item(output, images),
            OutputKind::Values => squared_error_per_item(output, images),
        }
    }

    /// The losses of `images`: `reconstruction`, then the transforms' penalties.
    pub fn losses(&self, images: &Tensor, train: bool) -> Result<Losses, TrainError> {
        self.losses_with_side(images, Vec::new(), train)
    }

    /// The losses of `images` with side inputs (see [`Autoencoder::encode_with_side`]).
    pub fn losses_with_side(
        &self,
        images: &Tensor,
        side: Vec<(String, Tensor)>,
        train: bool,
    ) -> Result<Losses, TrainError> {
        let code = self.encode_with_side(images, side, train)?;
        self.losses_of_code(&code, images, train)
    }

    /// The losses of `code`, the code of `images`: `reconstruction`, then the code's
    /// penalties; its reports are logged only. For models that add terms of their own.
    pub fn losses_of_code(
        &self,
        code: &Code,
        images: &Tensor,
        train: bool,
    ) -> Result<Losses, TrainError> {
        let output = self.generate(code, train)?;
        let reconstruction = self.reconstruction_error(&output, images).mean(Kind::Float);
        let named = |list: &[Penalty]| -> Vec<(String, Tensor)> {
            list.iter()
                .map(|p| (p.name.clone(), p.value.shallow_clone()))
                .collect()
        };
        let mut terms = vec![("reconstruction".to_owned(), reconstruction)];
        terms.extend(named(code.penalties()));
        let mut losses = Losses::from_terms(terms);
        losses.reported = named(code.reports());
        Ok(losses)
    }
}

/// The side inputs a batch provides: its labels, if any, as `label`.
pub fn side_inputs(batch: &Batch) -> Vec<(String, Tensor)> {
    batch
        .labels
        .iter()
        .map(|labels| ("label".to_owned(), labels.shallow_clone()))
        .collect()
}

/// An [`Autoencoder`] with its variables, ready for the [`crate::Trainer`].
///
/// Transforms with their own variables (an adversary) get their own [`Adam`], stepped in
/// [`TrainModel::after_step`] with the gradients of the same backward pass. Those variables
/// are not part of [`TrainModel::var_store`], so checkpoints hold the autoencoder only; a
/// resumed run starts its adversaries afresh.
#[derive(Debug)]
pub struct AutoencoderModel {
    vs: VarStore,
    net: Autoencoder,
    own_optimizers: Vec<Adam>,
}

impl AutoencoderModel {
    /// Builds `config` on `device`.
    pub fn new(config: &AutoencoderConfig, device: Device) -> Result<Self, TrainError> {
        let vs = VarStore::new(device);
        let net = config.build(&vs.root())?;
        let own_optimizers = net
            .transforms()
            .iter()
            .filter_map(|t| t.own_variables())
            .map(|own| {
                AdamConfig {
                    lr: own.lr,
                    ..Default::default()
                }
                .build(own.var_store)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            vs,
            net,
            own_optimizers,
        })
    }

    /// The pipeline.
    pub fn net(&self) -> &Autoencoder {
        &self.net
    }
}

impl TrainModel for AutoencoderModel {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        self.net
            .losses_with_side(&batch.images, side_inputs(batch), train)
    }

    fn set_progress(&mut self, progress: f64) {
        self.net.set_progress(progress);
    }

    fn after_step(&mut self, _batch: &Batch) -> Result<(), TrainError> {
        for optimizer in &mut self.own_optimizers {
            optimizer.step();
            optimizer.zero_grad();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vae_losses_have_reconstruction_and_kl() {
        tch::manual_seed(0);
        let mut config = AutoencoderConfig::vae(&[16], 4);
        config.input = 12;
        let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let images = Tensor::rand([5, 12], (Kind::Float, Device::Cpu));
        // Cross-entropy is at least the targets' own entropy, whatever the model says.
        let entropy = -(&images * images.log() + (-&images + 1.0) * (-&images + 1.0).log())
            .sum_dim_intlist(-1, false, None::<Kind>)
            .mean(Kind::Float)
            .double_value(&[]);
        let batch = Batch {
            images,
            labels: None,
        };
        let losses = model.losses(&batch, true).unwrap();
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "reconstruction", "kl"]);
        let [reconstruction, kl] = [0, 1].map(|i| losses.terms[i].1.double_value(&[]));
        assert!(
            reconstruction > entropy && kl >= 0.0,
            "{reconstruction} {entropy} {kl}"
        );
        assert!((losses.total.double_value(&[]) - reconstruction - kl).abs() < 1e-4);
    }

    #[test]
    fn invalid_pipelines_fail_before_building() {
        let mut config = AutoencoderConfig::plain(&[8], 3);
        config.generator = GeneratorConfig::Mlp(MlpGeneratorConfig {
            inputs: vec!["cluster".into()],
            mlp: MlpConfig::with_hidden(&[8]),
        });
        let err = AutoencoderModel::new(&config, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster"), "{err}");
    }
}
