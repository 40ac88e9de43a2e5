//! The autoencoder pipeline: an encoder, then code transforms, then a generator, trained on
//! reconstruction plus the penalties the transforms add. Plain autoencoders and VAEs are two
//! configurations of it ([`AutoencoderConfig`], serde, what a checkpoint rebuilds); a user's
//! own parts — any [`Encoder`], [`CodeTransform`] or [`Generator`] — go into the same
//! pipeline next to the built-in ones through [`Autoencoder::from_parts`].

use serde::{Deserialize, Serialize};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    Code, CodeLayout, CodeTransform, GaussianSamplerConfig, GroupSpec, GroupWidths, Penalty,
    TransformConfig, LABEL_SIDE,
};
use aecraft_data::{Batch, ImageDataset};
use aecraft_generators::{Generator, GeneratorConfig, MlpGeneratorConfig, OutputKind};
use aecraft_tensor::ops::{bce_with_logits_per_item, squared_error_per_item};

use crate::checkpoint::Checkpoint;
use crate::cluster_driver::ClusterDriver;
use crate::encoder::{Encoder, EncoderConfig, EncoderHeadsConfig, EncoderKind, EncoderLabelConfig};
use crate::memory::{product, LayerWidth, MemoryNeed};
use crate::model::{Losses, TrainModel};
use crate::optim::{Adam, AdamConfig};
use crate::reconstruction_choice::ReconstructionChoice;
use crate::TrainError;

/// Configuration of an [`Autoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencoderConfig {
    /// Input features per image (784 for MNIST).
    pub input: i64,
    /// The encoder: an MLP (the default) or conv layers then an MLP. An old config's
    /// `{"hidden": [...], "activation": ...}` reads as an MLP encoder.
    pub encoder: EncoderConfig,
    /// A side label the encoder reads, one-hot, next to the image; `None`: images only.
    pub encoder_label: Option<EncoderLabelConfig>,
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
            encoder: EncoderConfig::mlp(hidden),
            encoder_label: None,
            code: CodeLayout(vec![GroupSpec::new("gauss", 2 * code)]),
            transforms: vec![TransformConfig::Gaussian(GaussianSamplerConfig::default())],
            generator: mirrored_generator(hidden),
        }
    }

    /// A plain autoencoder: a deterministic code of `code` units.
    pub fn plain(hidden: &[i64], code: i64) -> Self {
        Self {
            input: 784,
            encoder: EncoderConfig::mlp(hidden),
            encoder_label: None,
            code: CodeLayout(vec![GroupSpec::new("z", code)]),
            transforms: Vec::new(),
            generator: mirrored_generator(hidden),
        }
    }

    /// Checks the whole pipeline, and that training it fits in this machine's memory
    /// ([`MemoryNeed::check`]), and returns the width of every code group.
    pub fn validate(&self) -> Result<GroupWidths, TrainError> {
        let widths = self.widths()?;
        self.weights_need(&widths).check()?;
        Ok(widths)
    }

    /// What training the pipeline needs in memory: the weights of the encoder and the
    /// generator (see [`crate::memory`]), after checking its widths.
    pub fn memory_need(&self) -> Result<MemoryNeed, TrainError> {
        Ok(self.weights_need(&self.widths()?))
    }

    /// The weights of the encoder's and the generator's layers for the group `widths`, each
    /// term named by the key that sizes it (a surrogate generator's frozen weights are
    /// bounded by the file they are read from, and left out).
    fn weights_need(&self, widths: &GroupWidths) -> MemoryNeed {
        let mut need = MemoryNeed::default();
        let classes = self.encoder_label.as_ref().map_or(0, |label| label.classes);
        let features = match self.encoder.kind {
            EncoderKind::Mlp => LayerWidth::of("input", self.input.saturating_add(classes)),
            EncoderKind::Conv => {
                let kernel = self.encoder.kernel;
                let mut channels = 1;
                for &out in &self.encoder.channels {
                    let weights = product(&[channels, out, kernel, kernel]);
                    need.add_weights("encoder.channels", out, weights);
                    channels = out;
                }
                let sizes = self.encoder.conv_sizes(self.input).unwrap_or_default();
                let (height, width) = sizes.last().copied().unwrap_or((1, 1));
                let flat = channels.saturating_mul(height).saturating_mul(width);
                LayerWidth::of("encoder.channels", flat.saturating_add(classes))
            }
        };
        let code = self.group_width(widths, self.code.0.iter().map(|g| g.name.as_str()));
        let hidden = |key: &str, layers: &[i64]| {
            layers
                .iter()
                .map(|&w| LayerWidth::of(key, w))
                .collect::<Vec<_>>()
        };
        if let Some(guess) = self.encoder_label.as_ref().and_then(|l| l.guess.as_ref()) {
            // The guess reads what the encoder reads (counted with the label's width, a bound).
            let mut classifier = vec![features.clone()];
            classifier.extend(hidden("encoder_label.guess.mlp.hidden", &guess.mlp.hidden));
            classifier.push(LayerWidth::of("encoder_label.classes", classes));
            need.add_layers(&classifier);
        }
        let mut encoder = vec![features];
        encoder.extend(hidden("encoder.hidden", &self.encoder.hidden));
        encoder.push(code);
        need.add_layers(&encoder);
        match &self.generator {
            GeneratorConfig::Mlp(mlp) => {
                let input = self.group_width(widths, mlp.inputs.iter().map(String::as_str));
                let mut generator = vec![input];
                generator.extend(hidden("generator.mlp.hidden", &mlp.mlp.hidden));
                generator.push(LayerWidth::of("input", self.input));
                need.add_layers(&generator);
            }
            GeneratorConfig::Conv(conv) => {
                let input = self.group_width(widths, conv.inputs.iter().map(String::as_str));
                let mut generator = vec![input];
                generator.extend(hidden("generator.mlp.hidden", &conv.mlp.hidden));
                let grid = conv.sizes(self.input).map_or(1, |(_, (h, w))| h * w);
                let first = conv.channels.first().copied().unwrap_or(1);
                generator.push(LayerWidth::of(
                    "generator.channels",
                    first.saturating_mul(grid),
                ));
                need.add_layers(&generator);
            }
            GeneratorConfig::Broadcast(broadcast) => {
                let input = self.group_width(widths, broadcast.inputs.iter().map(String::as_str));
                let first = broadcast.channels.first().copied().unwrap_or(1);
                need.add_layers(&[input, LayerWidth::of("generator.channels", first)]);
                for pair in broadcast.channels.windows(2) {
                    let weights = product(&[pair[0], pair[1], 3, 3]);
                    need.add_weights("generator.channels", pair[1], weights);
                }
            }
            GeneratorConfig::Constant(constant) => {
                let table = self.group_width(widths, std::iter::once(constant.input.as_str()));
                let floats = product(&[table.width, self.input]);
                need.add_weights(&table.key, table.value, floats);
            }
            GeneratorConfig::Capsules(capsules) => {
                let floats = product(&[
                    capsules.clusters,
                    capsules.capsules,
                    capsules.template_height,
                    capsules.template_width,
                ]);
                need.add_weights("generator.clusters", capsules.clusters, floats);
            }
            GeneratorConfig::Surrogate(_) => {}
        }
        need
    }

    /// The summed width of the groups `names`, named by the widest: `code.<name>.width` for a
    /// group of the layout, else `generator.inputs`.
    fn group_width<'a>(
        &self,
        widths: &GroupWidths,
        names: impl Iterator<Item = &'a str>,
    ) -> LayerWidth {
        let groups: Vec<(&str, i64)> = names
            .map(|name| (name, widths.get(name).copied().unwrap_or(0)))
            .collect();
        let total = groups.iter().fold(0i64, |sum, g| sum.saturating_add(g.1));
        let (name, value) = groups
            .iter()
            .copied()
            .max_by_key(|g| g.1)
            .unwrap_or(("", 0));
        let key = if self.code.0.iter().any(|g| g.name == name) {
            format!("code.{name}.width")
        } else {
            "generator.inputs".to_owned()
        };
        LayerWidth {
            key,
            value,
            width: total,
        }
    }

    /// Checks every part's values and widths and returns the width of every code group.
    fn widths(&self) -> Result<GroupWidths, TrainError> {
        if self.input <= 0 {
            return Err(TrainError::invalid(
                "input",
                self.input,
                "must be at least 1",
            ));
        }
        self.encoder.validate(self.input)?;
        if let Some(label) = &self.encoder_label {
            label.validate()?;
        }
        let mut widths = self.code.validate()?;
        for transform in &self.transforms {
            transform.infer_widths(&mut widths)?;
        }
        Ok(widths)
    }

    /// The group that holds the code proper, as a probe or a metric should read it: the mean
    /// (`<output>_mean`) of the first Gaussian code, else `z`.
    pub fn code_group(&self) -> String {
        self.transforms
            .iter()
            .find_map(|t| match t {
                TransformConfig::Gaussian(gaussian) => Some(format!("{}_mean", gaussian.output)),
                _ => None,
            })
            .unwrap_or_else(|| "z".to_owned())
    }

    /// Builds the pipeline under `path`, with the choice by reconstruction when the first
    /// cluster choice that has one asks for it.
    pub fn build(&self, path: &nn::Path) -> Result<Autoencoder, TrainError> {
        self.build_with_heads(path, None)
    }

    /// [`AutoencoderConfig::build`] with, when `heads` is given, one encoder output layer per
    /// code group ([`crate::MlpEncoder::with_heads`]; a conv encoder's MLP ends in them too).
    pub fn build_with_heads(
        &self,
        path: &nn::Path,
        heads: Option<&EncoderHeadsConfig>,
    ) -> Result<Autoencoder, TrainError> {
        self.validate()?;
        let mut widths = self.code.validate()?;
        let mut transforms = Vec::with_capacity(self.transforms.len());
        for (i, transform) in self.transforms.iter().enumerate() {
            let path = path / format!("transform{i}");
            transforms.push(transform.build(&path, &widths)?);
            transform.infer_widths(&mut widths)?;
        }
        let encoder = self.encoder.build(
            &(path / "encoder"),
            self.encoder_label.clone(),
            self.input,
            &self.code,
            heads,
        )?;
        let net = Autoencoder::from_parts(
            encoder,
            self.code.clone(),
            transforms,
            self.generator
                .build(&(path / "generator"), &widths, self.input)?,
        );
        let choice = self.transforms.iter().find_map(|t| match t {
            TransformConfig::ClusterChoice(choice) => ReconstructionChoice::of(choice),
            _ => None,
        });
        Ok(match choice {
            Some(choice) => net.with_choice(choice),
            None => net,
        })
    }
}

fn mirrored_generator(hidden: &[i64]) -> GeneratorConfig {
    GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(hidden, vec!["z".into()]))
}

/// An encoder → code transforms → generator pipeline; see [`AutoencoderConfig`] for the
/// built-in parts and [`Autoencoder::from_parts`] for any.
#[derive(Debug)]
pub struct Autoencoder {
    encoder: Box<dyn Encoder>,
    layout: CodeLayout,
    transforms: Vec<Box<dyn CodeTransform>>,
    generator: Box<dyn Generator>,
    choice: Option<ReconstructionChoice>,
}

impl Autoencoder {
    /// A pipeline of any parts, built-in or the user's own: `encoder` outputs the raw code
    /// (`[B, layout.total_width()]`), `layout` splits it into named groups, the `transforms`
    /// edit the code in order, and `generator` reads the groups it needs. Parts with
    /// variables create them under the `nn::Path` of the `VarStore` that will train them
    /// (see [`AutoencoderModel::from_parts`]); building the same parts under a fresh store
    /// and loading a checkpoint into it restores a trained pipeline.
    pub fn from_parts(
        encoder: Box<dyn Encoder>,
        layout: CodeLayout,
        transforms: Vec<Box<dyn CodeTransform>>,
        generator: Box<dyn Generator>,
    ) -> Self {
        Self {
            encoder,
            layout,
            transforms,
            generator,
            choice: None,
        }
    }

    /// The pipeline with the cluster chosen by reconstruction after the transforms (see
    /// [`ReconstructionChoice`]).
    pub fn with_choice(mut self, choice: ReconstructionChoice) -> Self {
        self.choice = Some(choice);
        self
    }

    /// The choice by reconstruction, if the pipeline has one.
    pub fn choice(&self) -> Option<&ReconstructionChoice> {
        self.choice.as_ref()
    }

    /// The encoder.
    pub fn encoder(&self) -> &dyn Encoder {
        self.encoder.as_ref()
    }

    /// How the encoder's output is split into groups.
    pub fn layout(&self) -> &CodeLayout {
        &self.layout
    }

    /// The generator.
    pub fn generator(&self) -> &dyn Generator {
        self.generator.as_ref()
    }

    /// The generator, mutably (e.g. to set its templates).
    pub fn generator_mut(&mut self) -> &mut dyn Generator {
        self.generator.as_mut()
    }

    /// Encodes images `[B, D]` and applies the transforms.
    pub fn encode(&self, images: &Tensor, train: bool) -> Result<Code, TrainError> {
        self.encode_with_side(images, Vec::new(), train)
    }

    /// Encodes images `[B, D]` with side inputs (e.g. `(LABEL_SIDE, [B] int64)`, see
    /// [`Code::insert_side`]) and applies the transforms. A conditional encoder
    /// ([`AutoencoderConfig::encoder_label`]) reads its label from `side`.
    pub fn encode_with_side(
        &self,
        images: &Tensor,
        side: Vec<(String, Tensor)>,
        train: bool,
    ) -> Result<Code, TrainError> {
        let raw = self.encoder.encode(images, &side, train)?;
        let mut code = self.layout.split(&raw)?;
        for (name, values) in side {
            code.insert_side(name, values);
        }
        for transform in &self.transforms {
            transform.apply(&mut code, train)?;
        }
        Ok(code)
    }

    /// [`Autoencoder::encode_with_side`], then, with a choice by reconstruction, the choice
    /// of `images`' clusters (training renders the candidates, evaluation every cluster):
    /// the code the generator reads.
    pub fn encode_and_choose(
        &self,
        images: &Tensor,
        side: Vec<(String, Tensor)>,
        train: bool,
    ) -> Result<Code, TrainError> {
        let mut code = self.encode_with_side(images, side, train)?;
        if let Some(choice) = &self.choice {
            choice.apply(self, &mut code, images, train)?;
        }
        Ok(code)
    }

    /// Tells every transform and the generator how far training has come (see
    /// [`CodeTransform::set_progress`] and [`Generator::set_progress`]).
    pub fn set_progress(&mut self, progress: f64) {
        for transform in &mut self.transforms {
            transform.set_progress(progress);
        }
        self.generator.set_progress(progress);
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
            let code = self.encode_and_choose(images, Vec::new(), false)?;
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

    /// The losses of `images` with side inputs (see [`Autoencoder::encode_and_choose`]).
    pub fn losses_with_side(
        &self,
        images: &Tensor,
        side: Vec<(String, Tensor)>,
        train: bool,
    ) -> Result<Losses, TrainError> {
        let code = self.encode_and_choose(images, side, train)?;
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
        let mut losses = Losses::new(terms);
        for (name, value) in named(code.reports()) {
            losses.push_reported(name, value);
        }
        Ok(losses)
    }
}

/// The side inputs a batch provides: its labels, if any, as [`LABEL_SIDE`].
pub fn side_inputs(batch: &Batch) -> Vec<(String, Tensor)> {
    batch
        .labels
        .iter()
        .map(|labels| (LABEL_SIDE.to_owned(), labels.shallow_clone()))
        .collect()
}

/// An [`Autoencoder`] with its variables, ready for the [`crate::Trainer`].
///
/// Transforms with their own variables (an adversary) get their own [`Adam`], stepped in
/// [`TrainModel::after_step`] with the gradients of the same backward pass, then as many
/// more times as [`aecraft_codes::OwnVariables::steps`] asks, on the transform's
/// [`CodeTransform::refit_loss`]. Those variables are not part of
/// [`TrainModel::var_store`]; checkpoints hold them and their optimizers' state beside the
/// autoencoder's ([`Checkpoint::save_own`]), so a resumed run continues its adversaries too.
#[derive(Debug)]
pub struct AutoencoderModel {
    vs: VarStore,
    net: Autoencoder,
    own_optimizers: Vec<Adam>,
    clustering: Option<ClusterDriver>,
}

impl AutoencoderModel {
    /// Builds `config` on `device`.
    pub fn new(config: &AutoencoderConfig, device: Device) -> Result<Self, TrainError> {
        let vs = VarStore::new(device);
        let net = config.build(&vs.root())?;
        Self::from_parts(vs, net)
    }

    /// The pipeline `net`, whose parts keep their trained variables in `vs` (see
    /// [`Autoencoder::from_parts`]); transforms with variables of their own get their own
    /// optimizers.
    pub fn from_parts(vs: VarStore, net: Autoencoder) -> Result<Self, TrainError> {
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
            clustering: None,
        })
    }

    /// The model with the clustering driver parts in its training hooks: `driver`
    /// initializes the generator's templates on a fresh run, counts the training images that
    /// choose each cluster, re-seeds starved clusters after each epoch and projects the
    /// templates after each step (see [`ClusterDriver`]).
    pub fn with_clustering(mut self, driver: ClusterDriver) -> Self {
        self.clustering = Some(driver);
        self
    }

    /// The pipeline.
    pub fn net(&self) -> &Autoencoder {
        &self.net
    }

    /// The pipeline, mutably (e.g. to set the generator's templates).
    pub fn net_mut(&mut self) -> &mut Autoencoder {
        &mut self.net
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
        let code = self
            .net
            .encode_and_choose(&batch.images, side_inputs(batch), train)?;
        if let (true, Some(driver)) = (train, &self.clustering) {
            driver.count(&code)?;
        }
        self.net.losses_of_code(&code, &batch.images, train)
    }

    fn initialize(&mut self, train: &ImageDataset) -> Result<(), TrainError> {
        match &self.clustering {
            Some(driver) => driver.initialize(&mut self.net, train),
            None => Ok(()),
        }
    }

    fn after_epoch(&mut self, _epoch: usize, _train: &ImageDataset) -> Result<(), TrainError> {
        match &self.clustering {
            Some(driver) => driver.after_epoch(&mut self.net),
            None => Ok(()),
        }
    }

    fn set_progress(&mut self, progress: f64) {
        self.net.set_progress(progress);
    }

    fn save_own_state(&self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let stores = self.net.transforms.iter().filter_map(|t| t.own_variables());
        for (index, (own, optimizer)) in stores.zip(&self.own_optimizers).enumerate() {
            checkpoint.save_own(index, own.var_store, optimizer)?;
        }
        Ok(())
    }

    fn load_own_state(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let stores = self.net.transforms.iter().filter_map(|t| t.own_variables());
        for (index, (own, optimizer)) in stores.zip(&mut self.own_optimizers).enumerate() {
            checkpoint.load_own(index, own.var_store, optimizer)?;
        }
        Ok(())
    }

    fn after_step(&mut self, _batch: &Batch) -> Result<(), TrainError> {
        let owners = self
            .net
            .transforms
            .iter()
            .filter_map(|t| t.own_variables().map(|own| (t, own.steps)));
        for ((transform, steps), optimizer) in owners.zip(&mut self.own_optimizers) {
            optimizer.step();
            optimizer.zero_grad();
            for _ in 1..steps {
                if let Some(loss) = transform.refit_loss()? {
                    optimizer.backward_step(&loss);
                    optimizer.zero_grad();
                }
            }
        }
        if let Some(driver) = &self.clustering {
            driver.after_step(&mut self.net)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_tensor::MlpConfig;

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
        let [reconstruction, kl] = [0, 1].map(|i| losses.terms()[i].1.double_value(&[]));
        assert!(
            reconstruction > entropy && kl >= 0.0,
            "{reconstruction} {entropy} {kl}"
        );
        assert!((losses.total().double_value(&[]) - reconstruction - kl).abs() < 1e-4);
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

    #[test]
    fn a_conditional_encoder_reads_its_label_and_names_it_when_missing() {
        let mut config = AutoencoderConfig::plain(&[8], 3);
        config.input = 6;
        config.encoder_label = Some(EncoderLabelConfig {
            classes: 4,
            ..Default::default()
        });
        let model = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let images = Tensor::rand([2, 6], (Kind::Float, Device::Cpu));
        let code_with = |label: i64| {
            let labels = Tensor::from_slice(&[label, label]);
            let side = vec![(LABEL_SIDE.to_owned(), labels)];
            let mut code = model.net().encode_with_side(&images, side, false).unwrap();
            code.take("z").unwrap()
        };
        assert_eq!(code_with(0).size(), vec![2, 3]);
        assert!(!code_with(0).allclose(&code_with(3), 1e-6, 1e-6, false));
        let err = model.net().encode(&images, false).unwrap_err().to_string();
        assert!(err.contains("\"label\""), "{err}");
        let side = vec![(LABEL_SIDE.to_owned(), Tensor::from_slice(&[0i64, 4]))];
        let err = model
            .net()
            .encode_with_side(&images, side, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside 0..4"), "{err}");
        config.encoder_label = Some(EncoderLabelConfig {
            classes: 1,
            ..Default::default()
        });
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("encoder_label.classes"), "{err}");
    }

    #[test]
    fn checkpoints_hold_the_adversary_and_a_resumed_run_continues_it() {
        use crate::{TrainConfig, Trainer};
        use aecraft_codes::{AdversaryConfig, LabelInputConfig};

        let mut config = AutoencoderConfig::plain(&[8], 3);
        config.input = 6;
        config.transforms = vec![
            TransformConfig::LabelInput(LabelInputConfig {
                classes: 2,
                ..Default::default()
            }),
            TransformConfig::Adversary(AdversaryConfig {
                classes: 2,
                mlp: MlpConfig::with_hidden(&[4]),
                ..Default::default()
            }),
        ];
        let images = Tensor::rand([32, 6], (Kind::Float, Device::Cpu));
        let labels = Tensor::arange(32, (Kind::Int64, Device::Cpu)).remainder(2);
        let data = crate::ImageDataset::new(images, Some(labels), 2, 3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let trainer = Trainer::new(TrainConfig {
            epochs: 1,
            batch_size: 8,
            ..Default::default()
        })
        .unwrap()
        .with_checkpoint(Checkpoint::new(dir.path()));
        let mut trained = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let (mut optimizer, state) = trainer.start(&mut trained, &data, None).unwrap();
        trainer
            .fit(&mut trained, &mut optimizer, &data, None, state)
            .unwrap();
        let adversary = |model: &AutoencoderModel| {
            let own = model.net().transforms()[1].own_variables().unwrap();
            let mut variables: Vec<(String, Tensor)> =
                own.var_store.variables().into_iter().collect();
            variables.sort_by(|a, b| a.0.cmp(&b.0));
            variables
                .into_iter()
                .map(|(_, v)| v.copy())
                .collect::<Vec<_>>()
        };
        let mut resumed = AutoencoderModel::new(&config, Device::Cpu).unwrap();
        let fresh = adversary(&resumed);
        trainer
            .start(&mut resumed, &data, Some(dir.path()))
            .unwrap();
        let (saved, loaded) = (adversary(&trained), adversary(&resumed));
        assert!(saved.iter().zip(&fresh).any(|(a, b)| !a.equal(b)));
        assert!(saved.iter().zip(&loaded).all(|(a, b)| a.equal(b)));
        assert_eq!(
            resumed.own_optimizers[0].steps(),
            4,
            "32 images in batches of 8"
        );
        // A checkpoint without the adversary's files is refused with the file's name.
        std::fs::remove_file(dir.path().join("own_variables_0.safetensors")).unwrap();
        let err = trainer
            .start(&mut resumed, &data, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("own_variables_0.safetensors"), "{err}");
    }
}
