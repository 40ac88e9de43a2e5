//! The clustering autoencoder as a configuration of the [`Autoencoder`](aecraft_train::Autoencoder)
//! pipeline: an MLP encoder outputs K cluster logits and the generator's other units; the
//! [`aecraft_codes::ClusterChoice`] transform turns the logits into a choice; a
//! [`aecraft_codes::UsagePrior`] may keep every cluster in use; the generator reconstructs
//! from the choice and the other units.
//!
//! With an MLP generator ([`ClusterGenerator::Mlp`]), the talk's three versions
//! ([`ClusterVariant`]):
//! - *naive*: the softmax of the logits feeds the generator;
//! - *free*: the softmax plus free units;
//! - *discrete*: noise on the logits in training forces the choice to be (nearly) discrete,
//!   because only well-separated logits survive the noise; free units are optional.
//!
//! With the capsule generator ([`ClusterGenerator::Capsules`]), the free units are the
//! generator's pose units, one block per cluster, and their encoder head starts at zero (every
//! pose starts at the identity). The flagship ([`ClusterAutoencoderConfig::flagship`]) is that
//! pipeline with the cluster chosen by reconstruction (hard EM,
//! [`aecraft_train::reconstruction_choice`]) and the clustering driver parts
//! ([`aecraft_train::cluster_driver`]: k-means initialization, re-seeding, template projection).
//!
//! In evaluation the choice is the exact one-hot argmax, or, chosen by reconstruction, the
//! cluster that reconstructs best. The confidence of an assignment is q(k|x), the softmax of
//! the clean logits, or the relative reconstruction margin (ln of the runner-up's error over the best).

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use aecraft_codes::{
    ChoiceNoise, ClusterChoiceConfig, Code, CodeLayout, GroupSpec, ReconstructionChoiceConfig,
    TransformConfig, UsagePriorConfig,
};
use aecraft_generators::{CapsuleGeneratorConfig, GeneratorConfig, MlpGeneratorConfig};
use aecraft_tensor::MlpConfig;

use crate::clustering::{save_cluster_pictures, Assignments, ClusterModel};
use aecraft_data::{Batch, ImageDataset};
use aecraft_train::cluster_driver::{ClusterDriver, ClusterDriverConfig};
use aecraft_train::memory::{product, MemoryNeed};
use aecraft_train::model::{Losses, WrapsModel};
use aecraft_train::pictures::{save_image_grid, save_reconstructions};
use aecraft_train::{
    AutoencoderConfig, AutoencoderModel, EncoderConfig, EncoderHeadsConfig, EncoderKind, TrainError,
};

/// The group of free units beside the cluster choice (MLP generator).
pub const FREE_GROUP: &str = "free";

/// The talk's three clustering autoencoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterVariant {
    /// A softmax cluster code alone.
    Naive,
    /// A softmax cluster code plus free units.
    Free,
    /// Noise on the logits makes the choice discrete in training.
    Discrete,
}

/// The generator of a clustering autoencoder.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterGenerator {
    /// An MLP that mirrors the encoder, reading the choice and the free units; Bernoulli
    /// pixels.
    #[default]
    Mlp,
    /// The capsule generator: each cluster's templates under that cluster's bounded pose
    /// (its free units); pixel values.
    Capsules(CapsuleGeneratorConfig),
}

/// Configuration of a [`ClusterAutoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterAutoencoderConfig {
    /// Input features per image.
    pub input: i64,
    /// The encoder's hidden layers (mirrored in an MLP generator).
    pub hidden: Vec<i64>,
    /// Output channels of conv layers (kernel 4, stride 2) that the encoder runs on the
    /// image before its hidden layers; empty: an MLP encoder on the flat pixels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conv_channels: Vec<i64>,
    /// The number of clusters K.
    pub clusters: i64,
    /// Free continuous code units read by an MLP generator beside the choice (0 for none;
    /// the capsule generator's free units are its poses, so 0 there).
    pub free: i64,
    /// Which version of the talk.
    pub variant: ClusterVariant,
    /// Standard deviation of the Gaussian noise on the logits (variant `discrete`).
    pub noise_std: f64,
    /// Weight of the usage prior (KL from the batch's average q(k|x) to uniform); 0: none.
    pub usage_weight: f64,
    /// The generator.
    pub generator: ClusterGenerator,
    /// Choose the cluster by reconstruction instead of by the softmax (then the variant's
    /// noise is not used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_reconstruction: Option<ReconstructionChoiceConfig>,
    /// The clustering driver parts (needs the capsule generator's templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<ClusterDriverConfig>,
}

impl Default for ClusterAutoencoderConfig {
    fn default() -> Self {
        Self {
            input: 784,
            hidden: vec![512, 256],
            conv_channels: Vec::new(),
            clusters: 25,
            free: 0,
            variant: ClusterVariant::Discrete,
            noise_std: 2.0,
            usage_weight: 10.0,
            generator: ClusterGenerator::Mlp,
            by_reconstruction: None,
            driver: None,
        }
    }
}

impl ClusterAutoencoderConfig {
    /// The talk's MLP clustering autoencoder `variant` with `clusters` clusters: an MLP
    /// encoder 784-512-256 mirrored in the generator, 3 free units for the `free` variant
    /// (else none), noise of standard deviation 2 on the logits for `discrete`, and the usage
    /// prior at weight 10.
    pub fn mlp(variant: ClusterVariant, clusters: i64) -> Self {
        Self {
            clusters,
            variant,
            free: if variant == ClusterVariant::Free {
                3
            } else {
                0
            },
            ..Default::default()
        }
    }

    /// The flagship's parts: `generator.clusters` clusters drawn by the capsule `generator`,
    /// an MLP encoder 784-512-256 (logits and poses; the shipped preset `capsules` runs conv
    /// layers before it, [`Self::conv_channels`]), the cluster chosen by reconstruction among
    /// `candidates` + `candidates` clusters in training (4 + 4 in the flagship's runs),
    /// templates from k-means (20 Lloyd iterations, k-means++ drawn with `seed`), starved
    /// clusters re-seeded, no usage prior.
    pub fn flagship(generator: CapsuleGeneratorConfig, candidates: usize, seed: u64) -> Self {
        Self {
            input: generator.canvas_height * generator.canvas_width,
            clusters: generator.clusters,
            variant: ClusterVariant::Naive,
            usage_weight: 0.0,
            generator: ClusterGenerator::Capsules(generator),
            by_reconstruction: Some(ReconstructionChoiceConfig {
                candidates,
                ..Default::default()
            }),
            driver: Some(ClusterDriverConfig {
                seed,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The cluster choice: noise by variant, or by reconstruction.
    pub fn choice(&self) -> ClusterChoiceConfig {
        let noise = match self.variant {
            ClusterVariant::Discrete => ChoiceNoise::Gaussian,
            ClusterVariant::Naive | ClusterVariant::Free => ChoiceNoise::None,
        };
        ClusterChoiceConfig {
            noise,
            noise_scale: self.noise_std,
            by_reconstruction: self.by_reconstruction.clone(),
            ..Default::default()
        }
    }

    /// The encoder's output layers: one per group, the poses' starting at zero, for the
    /// capsule generator; one for the whole code otherwise.
    pub fn heads(&self) -> Option<EncoderHeadsConfig> {
        match &self.generator {
            ClusterGenerator::Mlp => None,
            ClusterGenerator::Capsules(capsules) => Some(EncoderHeadsConfig {
                zero: vec![capsules.pose_input.clone()],
            }),
        }
    }

    /// The pipeline this describes, checked to fit in this machine's memory with the
    /// buffers of [`ClusterAutoencoderConfig::memory_need`].
    pub fn autoencoder(&self) -> Result<AutoencoderConfig, TrainError> {
        let pipeline = self.pipeline()?;
        self.need_with_buffers(&pipeline)?.check()?;
        Ok(pipeline)
    }

    /// What the model needs in memory: the pipeline's weights (see
    /// [`AutoencoderConfig::memory_need`]) and the buffers that grow with the clusters K
    /// (named `clusters`): an MLP generator's prototypes, rendered from the one-hot choices
    /// `[K, K]` (with the free units, each hidden layer and the `[K, D]` output), and the
    /// renders of every cluster `[B, K, D]` of an assignment by reconstruction.
    pub fn memory_need(&self) -> Result<MemoryNeed, TrainError> {
        self.need_with_buffers(&self.pipeline()?)
    }

    fn need_with_buffers(&self, pipeline: &AutoencoderConfig) -> Result<MemoryNeed, TrainError> {
        let mut need = pipeline.memory_need()?;
        let k = self.clusters;
        if matches!(self.generator, ClusterGenerator::Mlp) {
            let rows = [k, self.free, self.input]
                .iter()
                .chain(&self.hidden)
                .fold(0i64, |sum, &w| sum.saturating_add(w));
            need.add_floats("clusters", k, product(&[k, rows]));
        }
        if self.by_reconstruction.is_some() {
            let batch = RECONSTRUCTION_ASSIGN_BATCH as i64;
            need.add_floats("clusters", k, product(&[batch, k, self.input]));
        }
        Ok(need)
    }

    /// The pipeline this describes, its sizes not checked.
    fn pipeline(&self) -> Result<AutoencoderConfig, TrainError> {
        self.check()?;
        let choice = self.choice();
        let cluster = choice.choice_group().to_owned();
        let mut groups = vec![GroupSpec::new(&choice.input, self.clusters)];
        let generator = match &self.generator {
            ClusterGenerator::Mlp => {
                let mut inputs = vec![cluster];
                if self.free > 0 {
                    groups.push(GroupSpec::new(FREE_GROUP, self.free));
                    inputs.push(FREE_GROUP.into());
                }
                GeneratorConfig::Mlp(MlpGeneratorConfig::mirroring(&self.hidden, inputs))
            }
            ClusterGenerator::Capsules(capsules) => {
                groups.push(GroupSpec::new(&capsules.pose_input, capsules.pose_width()));
                GeneratorConfig::Capsules(capsules.clone())
            }
        };
        let mut transforms = vec![TransformConfig::ClusterChoice(choice)];
        if self.usage_weight != 0.0 {
            transforms.push(TransformConfig::UsagePrior(UsagePriorConfig {
                weight: self.usage_weight,
                ..Default::default()
            }));
        }
        Ok(AutoencoderConfig {
            input: self.input,
            encoder: self.encoder(),
            encoder_label: None,
            code: CodeLayout(groups),
            transforms,
            generator,
        })
    }

    /// The encoder: conv layers of `conv_channels` (if any), then the `hidden` layers.
    fn encoder(&self) -> EncoderConfig {
        let mlp: EncoderConfig = MlpConfig::with_hidden(&self.hidden).into();
        if self.conv_channels.is_empty() {
            return mlp;
        }
        EncoderConfig {
            kind: EncoderKind::Conv,
            channels: self.conv_channels.clone(),
            ..mlp
        }
    }

    /// Checks what the pipeline's own validation cannot see, naming the field.
    fn check(&self) -> Result<(), TrainError> {
        if self.free < 0 {
            return Err(TrainError::invalid("free", self.free, "must be >= 0"));
        }
        if let Some(driver) = &self.driver {
            driver.validate()?;
        }
        match &self.generator {
            ClusterGenerator::Mlp if self.variant == ClusterVariant::Free && self.free == 0 => Err(
                TrainError::invalid("free", 0, "the `free` variant needs at least one free unit"),
            ),
            ClusterGenerator::Mlp if self.driver.is_some() => Err(TrainError::invalid(
                "driver",
                "mlp",
                "the clustering driver needs the capsule generator's templates",
            )),
            ClusterGenerator::Mlp => Ok(()),
            ClusterGenerator::Capsules(_) if self.free != 0 => Err(TrainError::invalid(
                "free",
                self.free,
                "the capsule generator's free units are its poses; set free to 0",
            )),
            ClusterGenerator::Capsules(capsules) if capsules.clusters != self.clusters => {
                Err(TrainError::invalid(
                    "generator.clusters",
                    capsules.clusters,
                    format!("must equal clusters ({})", self.clusters),
                ))
            }
            ClusterGenerator::Capsules(capsules)
                if capsules.cluster_input != self.choice().choice_group() =>
            {
                Err(TrainError::invalid(
                    "generator.cluster_input",
                    &capsules.cluster_input,
                    format!(
                        "must be the choice's group {:?}",
                        self.choice().choice_group()
                    ),
                ))
            }
            ClusterGenerator::Capsules(_) => Ok(()),
        }
    }
}

/// Images per batch when assigning by reconstruction (every cluster rendered).
const RECONSTRUCTION_ASSIGN_BATCH: usize = 250;
/// Images per batch when assigning by the softmax.
const SOFTMAX_ASSIGN_BATCH: usize = 1000;

/// A clustering autoencoder with its variables: a [`aecraft_train::TrainModel`] (through
/// [`WrapsModel`], every hook of the pipeline's model kept) and a [`ClusterModel`].
#[derive(Debug)]
pub struct ClusterAutoencoder {
    model: AutoencoderModel,
    choice: ClusterChoiceConfig,
    clusters: i64,
    free: i64,
}

impl ClusterAutoencoder {
    /// Builds `config` on `device` (variables in the order: encoder, generator).
    pub fn new(config: &ClusterAutoencoderConfig, device: Device) -> Result<Self, TrainError> {
        let pipeline = config.autoencoder()?;
        let vs = tch::nn::VarStore::new(device);
        let net = pipeline.build_with_heads(&vs.root(), config.heads().as_ref())?;
        let mut model = AutoencoderModel::from_parts(vs, net)?;
        let choice = config.choice();
        if let Some(driver) = &config.driver {
            model = model.with_clustering(ClusterDriver::new(driver, &choice, &pipeline.code)?);
        }
        Ok(Self {
            model,
            choice,
            clusters: config.clusters,
            free: config.free,
        })
    }

    /// The wrapped pipeline.
    pub fn model(&self) -> &AutoencoderModel {
        &self.model
    }

    /// Writes into `dir` the pictures of a trained model: `clusters.png` (each cluster's
    /// prototype and its most confident `eval` members: 12 with templates, else 8) with
    /// `cluster_sizes.png`, `reconstructions.png` (the first 16 `eval` images over their
    /// reconstructions), and `templates.png` when the generator's templates are images of
    /// their own.
    pub fn save_pictures(
        &self,
        dir: &std::path::Path,
        eval: &ImageDataset,
        assignments: &Assignments,
    ) -> Result<(), TrainError> {
        let net = self.model.net();
        let templates = net.generator().templates();
        let members = if templates.is_some() { 12 } else { 8 };
        save_cluster_pictures(dir, self, eval, assignments, members)?;
        let inputs = eval.images().narrow(0, 0, 16.min(eval.len() as i64));
        let size = (eval.height(), eval.width());
        let reconstructions = net.reconstruct(&inputs)?.to_device(inputs.device());
        save_reconstructions(
            &dir.join("reconstructions.png"),
            &inputs,
            &reconstructions,
            size,
        )?;
        if let Some(sheet) = templates.and_then(|t| t.sheet()) {
            let size = (sheet.height, sheet.width);
            save_image_grid(
                &dir.join("templates.png"),
                &sheet.images,
                size,
                sheet.columns,
                2,
            )?;
        }
        Ok(())
    }
}

impl WrapsModel for ClusterAutoencoder {
    type Inner = AutoencoderModel;

    fn inner(&self) -> &AutoencoderModel {
        &self.model
    }

    fn inner_mut(&mut self) -> &mut AutoencoderModel {
        &mut self.model
    }

    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        aecraft_train::TrainModel::losses(&self.model, batch, train)
    }
}

impl ClusterModel for ClusterAutoencoder {
    fn clusters(&self) -> usize {
        self.clusters as usize
    }

    /// Chosen by reconstruction: the cluster that reconstructs best (every cluster rendered),
    /// with the relative reconstruction margin as confidence. Otherwise the argmax of the clean
    /// logits, with the log-odds of q(k|x), their softmax, as confidence
    /// ([`Assignments::from_scores`]).
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError> {
        let net = self.model.net();
        let device = aecraft_train::TrainModel::var_store(&self.model).device();
        let batch = match net.choice() {
            Some(_) => RECONSTRUCTION_ASSIGN_BATCH,
            None => SOFTMAX_ASSIGN_BATCH,
        };
        let mut clusters = Vec::new();
        let mut confidence = Vec::new();
        tch::no_grad(|| -> Result<(), TrainError> {
            for batch in data.ordered_batches(batch) {
                let images = batch.images.to_device(device);
                let code = net.encode(&images, false)?;
                let assigned = match net.choice() {
                    Some(choice) => {
                        let (chosen, sure) = choice.choose(net, &code, &images)?;
                        Assignments::from_tensors(&chosen, &sure)?
                    }
                    None => Assignments::from_scores(code.get(&self.choice.logits_group())?)?,
                };
                clusters.extend(assigned.clusters);
                confidence.extend(assigned.confidence);
            }
            Ok(())
        })?;
        Ok(Assignments {
            clusters,
            confidence,
        })
    }

    /// The generator's prototypes when it has templates; otherwise its output for each
    /// one-hot choice, with the free units at 0.
    fn prototypes(&self) -> Result<Tensor, TrainError> {
        let net = self.model.net();
        if let Some(templates) = net.generator().templates() {
            return Ok(templates.prototypes());
        }
        let device = aecraft_train::TrainModel::var_store(&self.model).device();
        let mut code = Code::new();
        code.insert(
            self.choice.choice_group(),
            Tensor::eye(self.clusters, (Kind::Float, device)),
        );
        if self.free > 0 {
            code.insert(
                FREE_GROUP,
                Tensor::zeros([self.clusters, self.free], (Kind::Float, device)),
            );
        }
        tch::no_grad(|| Ok(net.to_pixels(&net.generate(&code, false)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aecraft_train::{evaluate, AdamConfig, TrainConfig, TrainModel, Trainer};

    /// Two kinds of 2x3 images: left half lit or right half lit, with noise; 64 each.
    fn two_kinds() -> ImageDataset {
        tch::manual_seed(0);
        let left = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0]).view([1, 6]);
        let right = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]).view([1, 6]);
        let clean = Tensor::cat(&[left.repeat([64, 1]), right.repeat([64, 1])], 0);
        let images = (clean * 0.9 + Tensor::rand([128, 6], (Kind::Float, Device::Cpu)) * 0.1)
            .clamp(0.0, 1.0);
        ImageDataset::new(images, None, 2, 3).unwrap()
    }

    fn config(variant: ClusterVariant, free: i64) -> ClusterAutoencoderConfig {
        ClusterAutoencoderConfig {
            input: 6,
            hidden: vec![16],
            clusters: 2,
            free,
            variant,
            noise_std: 2.0,
            usage_weight: 5.0,
            ..Default::default()
        }
    }

    /// Trains `variant` briefly on [`two_kinds`]; returns the model and its reconstruction
    /// loss before and after.
    fn train(variant: ClusterVariant, free: i64) -> (ClusterAutoencoder, f64, f64) {
        let data = two_kinds();
        tch::manual_seed(1);
        let mut model = ClusterAutoencoder::new(&config(variant, free), Device::Cpu).unwrap();
        let trainer = Trainer::new(TrainConfig {
            epochs: 25,
            batch_size: 32,
            optimizer: AdamConfig {
                lr: 1e-2,
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        let reconstruction =
            |model: &ClusterAutoencoder| evaluate(model, &data, 128).unwrap()["reconstruction"];
        let before = reconstruction(&model);
        let mut optimizer = trainer.optimizer(&model).unwrap();
        trainer
            .fit(&mut model, &mut optimizer, &data, None, Default::default())
            .unwrap();
        let after = reconstruction(&model);
        let assignments = model.assign(&data).unwrap();
        // Log-odds of the best of 2 clusters: q ≥ 1/2, so at least 0.
        assert!(assignments
            .confidence
            .iter()
            .all(|&odds| odds.is_finite() && odds >= 0.0));
        assert_eq!(model.prototypes().unwrap().size(), vec![2, 6]);
        (model, before, after)
    }

    #[test]
    fn naive_and_discrete_variants_separate_two_kinds() {
        for variant in [ClusterVariant::Naive, ClusterVariant::Discrete] {
            let (model, _, _) = train(variant, 0);
            let clusters = model.assign(&two_kinds()).unwrap().clusters;
            let first = clusters[0];
            assert!(
                clusters[..64].iter().all(|&c| c == first)
                    && clusters[64..].iter().all(|&c| c != first),
                "{variant:?}: {clusters:?}"
            );
        }
    }

    #[test]
    fn the_free_variant_trains_and_its_generator_reads_the_free_units() {
        // Free units may carry the kind instead of the cluster choice (the talk's warning), so
        // this checks the mechanism, not the clusters.
        let (model, before, after) = train(ClusterVariant::Free, 1);
        assert!(after < before, "{after} >= {before}");
        let net = model.model().net();
        let mut code = Code::new();
        code.insert("cluster", Tensor::eye(2, (Kind::Float, Device::Cpu)));
        code.insert(
            FREE_GROUP,
            Tensor::zeros([2, 1], (Kind::Float, Device::Cpu)),
        );
        let at_zero = net.generate(&code, false).unwrap();
        code.insert(FREE_GROUP, Tensor::ones([2, 1], (Kind::Float, Device::Cpu)));
        let at_one = net.generate(&code, false).unwrap();
        assert!(!at_zero.allclose(&at_one, 1e-6, 1e-6, false));
    }

    #[test]
    fn losses_name_the_usage_term_and_configs_are_checked() {
        let model =
            ClusterAutoencoder::new(&config(ClusterVariant::Discrete, 0), Device::Cpu).unwrap();
        let batch = Batch {
            images: two_kinds().images().narrow(0, 0, 8),
            labels: None,
        };
        let losses = TrainModel::losses(&model, &batch, true).unwrap();
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "reconstruction", "usage"]);
        let err = config(ClusterVariant::Free, 0).autoencoder().unwrap_err();
        assert!(err.to_string().contains("free"), "{err}");
    }

    /// The flagship at 6×6 with 3 clusters of one capsule.
    fn small_flagship(clusters: i64) -> ClusterAutoencoderConfig {
        let mut config = ClusterAutoencoderConfig::flagship(
            CapsuleGeneratorConfig {
                clusters,
                template_height: 6,
                template_width: 6,
                canvas_height: 6,
                canvas_width: 6,
                ..Default::default()
            },
            4,
            7,
        );
        config.hidden = vec![16];
        if let Some(driver) = &mut config.driver {
            driver.kmeans_iterations = 3;
        }
        config
    }

    fn noise(n: i64) -> ImageDataset {
        let images = Tensor::rand([n, 36], (Kind::Float, Device::Cpu));
        let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3);
        ImageDataset::new(images, Some(labels), 6, 6).unwrap()
    }

    #[test]
    fn the_flagship_has_its_terms_assignments_and_prototypes() {
        tch::manual_seed(0);
        let model = ClusterAutoencoder::new(&small_flagship(3), Device::Cpu).unwrap();
        let data = noise(10);
        let batch = data.ordered_batches(10).next().unwrap();
        let losses = TrainModel::losses(&model, &batch, true).unwrap();
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["loss", "reconstruction", "cluster", "encoder_agreement"]
        );
        assert!(losses.total().double_value(&[]).is_finite());
        let assignments = model.assign(&data).unwrap();
        assert_eq!(assignments.clusters.len(), 10);
        assert!(assignments.confidence.iter().all(|&m| m >= 0.0));
        assert_eq!(model.prototypes().unwrap().size(), vec![3, 36]);
        let reconstructions = model.model().net().reconstruct(&batch.images).unwrap();
        assert_eq!(reconstructions.size(), vec![10, 36]);
        // The pose head starts at zero: every pose starts at the identity.
        let code = model.model().net().encode(&batch.images, false).unwrap();
        assert_eq!(code.get("pose").unwrap().abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn conv_channels_give_the_flagship_a_conv_encoder_whose_poses_start_at_the_identity() {
        tch::manual_seed(0);
        let mut config = small_flagship(3);
        config.conv_channels = vec![4];
        let encoder = config.pipeline().unwrap().encoder;
        assert_eq!(
            (encoder.kind, encoder.channels),
            (EncoderKind::Conv, vec![4])
        );
        let model = ClusterAutoencoder::new(&config, Device::Cpu).unwrap();
        let names = model.var_store().variables();
        assert!(names.keys().any(|name| name.contains("conv0")), "{names:?}");
        let data = noise(10);
        let batch = data.ordered_batches(10).next().unwrap();
        let losses = TrainModel::losses(&model, &batch, true).unwrap();
        assert!(losses.total().double_value(&[]).is_finite());
        let code = model.model().net().encode(&batch.images, false).unwrap();
        assert_eq!(code.get("pose").unwrap().abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn each_image_drawn_exactly_by_one_template_chooses_that_cluster() {
        tch::manual_seed(1);
        let mut model = ClusterAutoencoder::new(&small_flagship(3), Device::Cpu).unwrap();
        let templates = Tensor::rand([3, 36], (Kind::Float, Device::Cpu)) * 0.9 + 0.05;
        model
            .model
            .net_mut()
            .generator_mut()
            .templates_mut()
            .unwrap()
            .set_prototypes(&templates)
            .unwrap();
        // The untrained pose head outputs zeros, so every cluster draws its template.
        let data = ImageDataset::new(templates, None, 6, 6).unwrap();
        let assignments = model.assign(&data).unwrap();
        assert_eq!(assignments.clusters, [0, 1, 2]);
    }

    #[test]
    fn the_flagship_trains_in_a_run_resumes_and_draws() {
        use aecraft_train::{Run, RunSpec};
        tch::manual_seed(0);
        // Three kinds of 6×6 image (a bar in three rows) with noise.
        let rows = Tensor::arange(60, (Kind::Int64, Device::Cpu)).remainder(3);
        let bars = Tensor::zeros([60, 6, 6], (Kind::Float, Device::Cpu));
        for i in 0..60 {
            let _ = bars.get(i).get(2 * rows.int64_value(&[i])).fill_(1.0);
        }
        let images =
            bars.view([60, 36]) + Tensor::rand([60, 36], (Kind::Float, Device::Cpu)) * 0.05;
        let data = ImageDataset::new(images, Some(rows), 6, 6).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec = RunSpec {
            model: small_flagship(3),
            train: TrainConfig {
                epochs: 2,
                batch_size: 20,
                ..Default::default()
            },
        };
        let run = Run::create(dir.path(), spec).unwrap();
        let mut model = ClusterAutoencoder::new(&run.config().model, Device::Cpu).unwrap();
        let report = run.train(&mut model, &data, None).unwrap();
        assert_eq!(report.state.epochs_done, 2);
        let assignments = model.assign(&data).unwrap();
        model
            .save_pictures(dir.path(), &data, &assignments)
            .unwrap();
        for file in [
            "config.json",
            "checkpoint/state.json",
            "templates.png",
            "clusters.png",
            "cluster_sizes.png",
            "reconstructions.png",
        ] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }
        drop(run); // its lock; a folder is written by one run at a time
        let resumed: Run<RunSpec<ClusterAutoencoderConfig>> =
            Run::resume(dir.path(), Some(3)).unwrap();
        let mut model = ClusterAutoencoder::new(&resumed.config().model, Device::Cpu).unwrap();
        assert_eq!(
            resumed
                .train(&mut model, &data, None)
                .unwrap()
                .state
                .epochs_done,
            3
        );
    }

    #[test]
    fn capsule_configs_name_what_does_not_fit() {
        let mut config = small_flagship(3);
        config.free = 2;
        let err = config.autoencoder().unwrap_err().to_string();
        assert!(err.contains("free"), "{err}");
        let mut config = small_flagship(3);
        config.clusters = 4;
        let err = config.autoencoder().unwrap_err().to_string();
        assert!(err.contains("generator.clusters"), "{err}");
        let mut config = small_flagship(3);
        config.generator = ClusterGenerator::Mlp;
        let err = config.autoencoder().unwrap_err().to_string();
        assert!(err.contains("driver"), "{err}");
        // The flagship's configuration round-trips through JSON (the run's config.json).
        let flagship = ClusterAutoencoderConfig::flagship(Default::default(), 4, 1);
        let text = serde_json::to_string(&flagship).unwrap();
        let back: ClusterAutoencoderConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, flagship);
    }

    #[test]
    fn defect_4_cluster_counts_that_exhaust_memory_are_refused_before_allocating() {
        const GIB: u64 = 1 << 30;
        // The MLP clustering autoencoder's one-hot prototypes are [K, K]: 37.3 GiB for
        // K = 100000, beside 0.8 GiB of weights (with gradients and Adam's moments).
        let clusters = ClusterAutoencoderConfig::mlp(ClusterVariant::Discrete, 100_000);
        let need = clusters.memory_need().unwrap();
        let err = need.check_within(23 * GIB).unwrap_err().to_string();
        assert!(
            err.contains("clusters = 100000: the model would need 38.6 GiB")
                && err.ends_with("GiB, more than this machine's 23.0 GiB"),
            "{err}"
        );
        need.check_within(39 * GIB).unwrap();
        // The check runs before a model is built.
        let err = ClusterAutoencoderConfig::mlp(ClusterVariant::Naive, 10_000_000)
            .autoencoder()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clusters = 10000000: the model would need"),
            "{err}"
        );
        // The usual configurations fit in a few MiB.
        let usual = ClusterAutoencoderConfig::mlp(ClusterVariant::Discrete, 25);
        assert!(usual.memory_need().unwrap().bytes() < 64 << 20);
    }
}
