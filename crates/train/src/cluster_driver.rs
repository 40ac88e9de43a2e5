//! The clustering driver parts, for any pipeline whose generator draws each cluster from
//! templates of its own ([`aecraft_generators::ClusterTemplates`]), run in the training hooks
//! of [`crate::AutoencoderModel`] ([`crate::AutoencoderModel::with_clustering`]):
//!
//! - **k-means initialization** (a fresh run): the templates start at the centroids of a
//!   k-means of the training images ([`crate::kmeans_init`]), every cluster at a real mode of
//!   the data.
//! - **template projection** (after every step): the templates go back into their range.
//! - **re-seeding** (after every epoch): a cluster that fewer than `reseed_below` of an even
//!   share of the epoch's training images chose is re-seeded from the then largest one: its
//!   templates plus uniform noise, and the encoder's units of that cluster (its logit and its
//!   per-cluster blocks, e.g. its pose) copied.
//!
//! The images that chose each cluster are counted from the choice group in training (its
//! argmax: the chosen one-hot of a choice by reconstruction, or the softmax's winner).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use aecraft_codes::{ClusterChoiceConfig, Code, CodeLayout};
use aecraft_data::ImageDataset;
use aecraft_generators::ClusterTemplates;

use crate::kmeans_init::kmeans_centroids;
use crate::{Autoencoder, TrainError};

/// Configuration of a [`ClusterDriver`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterDriverConfig {
    /// Lloyd iterations of the k-means that initializes the templates (0: no k-means; the
    /// templates keep their initialization).
    pub kmeans_iterations: usize,
    /// Independent k-means starts (k-means++ seeds from streams of `seed`), the lowest
    /// training inertia kept; every start's time counts as training time.
    pub kmeans_restarts: usize,
    /// Seed of the k-means++ draw (the examples pass the run's seed).
    pub seed: u64,
    /// A cluster chosen by fewer than this fraction of an even share (training images / K)
    /// of an epoch's training images is re-seeded from the largest cluster after the epoch
    /// (0: only empty clusters).
    pub reseed_below: f64,
    /// Amplitude of the uniform noise added to the templates copied into a re-seeded cluster.
    pub reseed_noise: f64,
}

impl Default for ClusterDriverConfig {
    fn default() -> Self {
        Self {
            kmeans_iterations: 20,
            kmeans_restarts: 1,
            seed: 0,
            reseed_below: 0.1,
            reseed_noise: 0.05,
        }
    }
}

impl ClusterDriverConfig {
    /// Checks the re-seeding numbers, naming the field at fault.
    pub fn validate(&self) -> Result<(), TrainError> {
        for (field, value) in [
            ("driver.reseed_below", self.reseed_below),
            ("driver.reseed_noise", self.reseed_noise),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(TrainError::invalid(
                    field,
                    value,
                    "must be a finite number at least 0",
                ));
            }
        }
        if self.kmeans_restarts == 0 {
            return Err(TrainError::invalid(
                "driver.kmeans_restarts",
                self.kmeans_restarts,
                "k-means needs at least 1 start",
            ));
        }
        Ok(())
    }
}

/// The driver parts of one pipeline; see the module docs.
#[derive(Debug)]
pub struct ClusterDriver {
    config: ClusterDriverConfig,
    /// The group whose argmax is each training image's cluster.
    choice_group: String,
    /// The first raw encoder unit of the logits, one per cluster.
    logits_start: i64,
    clusters: i64,
    layout: CodeLayout,
    /// Training images that chose each cluster since the last epoch ended, `[K]`.
    usage: RefCell<Option<Tensor>>,
}

impl ClusterDriver {
    /// The driver of a pipeline whose encoder's output is split by `layout` and whose
    /// `choice` reads its logits from a group of that layout.
    pub fn new(
        config: &ClusterDriverConfig,
        choice: &ClusterChoiceConfig,
        layout: &CodeLayout,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let (logits_start, clusters) = group_units(layout, &choice.input)?;
        Ok(Self {
            config: config.clone(),
            choice_group: choice.choice_group().to_owned(),
            logits_start,
            clusters,
            layout: layout.clone(),
            usage: RefCell::new(None),
        })
    }

    /// Counts the training images of `code` (after the choice) that chose each cluster.
    pub fn count(&self, code: &Code) -> Result<(), TrainError> {
        let chosen = code.get(&self.choice_group)?.argmax(1, false);
        let counts = chosen.bincount::<Tensor>(None, self.clusters);
        let mut usage = self.usage.borrow_mut();
        match usage.as_mut() {
            Some(usage) => *usage += counts,
            None => *usage = Some(counts),
        }
        Ok(())
    }

    /// Starts the templates of `net`'s generator at k-means centroids of `train` (a fresh
    /// run; nothing with `kmeans_iterations` 0).
    pub fn initialize(
        &self,
        net: &mut Autoencoder,
        train: &ImageDataset,
    ) -> Result<(), TrainError> {
        let iterations = self.config.kmeans_iterations;
        if iterations == 0 {
            return Ok(());
        }
        let templates = templates_mut(net)?;
        eprintln!(
            "initializing {} templates from k-means ({iterations} iterations; starts: {}) on {} \
             images",
            templates.clusters(),
            self.config.kmeans_restarts,
            train.len()
        );
        let centroids = kmeans_centroids(
            train.images(),
            templates.clusters() as usize,
            iterations,
            self.config.seed,
            self.config.kmeans_restarts,
        )?;
        Ok(templates.set_prototypes(&centroids)?)
    }

    /// Keeps the templates in range (after each optimizer step).
    pub fn after_step(&self, net: &mut Autoencoder) -> Result<(), TrainError> {
        templates_mut(net)?.project();
        Ok(())
    }

    /// Re-seeds every cluster that fewer than `reseed_below` of an even share of this epoch's
    /// training images chose, each from the then largest one, and starts counting afresh.
    pub fn after_epoch(&self, net: &mut Autoencoder) -> Result<(), TrainError> {
        let Some(counted) = self.usage.borrow_mut().take() else {
            return Ok(());
        };
        let mut usage = Vec::<i64>::try_from(counted.to_device(Device::Cpu))?;
        let total: i64 = usage.iter().sum();
        let even_share = total as f64 / usage.len().max(1) as f64;
        let threshold = ((self.config.reseed_below * even_share).ceil() as i64).max(1);
        while let Some(small) = usage.iter().position(|&u| u < threshold) {
            let Some((largest, &size)) = usage.iter().enumerate().max_by_key(|(_, &u)| u) else {
                break;
            };
            if size < 2 * threshold {
                break;
            }
            eprintln!(
                "cluster {small} drew {} training images; re-seeding it from cluster {largest} \
                 ({size} images)",
                usage[small]
            );
            self.reseed(net, largest as i64, small as i64)?;
            usage[small] = size / 2;
            usage[largest] = size - size / 2;
        }
        Ok(())
    }

    /// Copies cluster `source` onto `target`: the templates with noise, then the encoder's
    /// logit unit and per-cluster blocks.
    fn reseed(&self, net: &mut Autoencoder, source: i64, target: i64) -> Result<(), TrainError> {
        let templates = templates_mut(net)?;
        templates.copy_cluster(source, target, self.config.reseed_noise);
        let blocks = templates.per_cluster_groups();
        let encoder = net.encoder();
        let logits = self.logits_start;
        encoder.copy_units(logits + source, logits + target, 1)?;
        for (group, width) in blocks {
            let (start, _) = group_units(&self.layout, &group)?;
            encoder.copy_units(start + source * width, start + target * width, width)?;
        }
        Ok(())
    }
}

/// The templates of `net`'s generator, or an error saying that it has none.
fn templates_mut(net: &mut Autoencoder) -> Result<&mut dyn ClusterTemplates, TrainError> {
    net.generator_mut().templates_mut().ok_or_else(|| {
        TrainError::invalid(
            "driver",
            "the generator",
            "the clustering driver needs a generator with per-cluster templates (capsules, \
             constant)",
        )
    })
}

/// The first raw unit and the width of the layout's group `name`.
fn group_units(layout: &CodeLayout, name: &str) -> Result<(i64, i64), TrainError> {
    let mut start = 0;
    for group in &layout.0 {
        if group.name == name {
            return Ok((start, group.width));
        }
        start += group.width;
    }
    Err(TrainError::invalid(
        "driver",
        name,
        "the clustering driver copies the encoder's units of this group, which must be a \
         group of the encoder's layout",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AutoencoderConfig, EncoderHeadsConfig};
    use aecraft_codes::{GroupSpec, ReconstructionChoiceConfig, TransformConfig};
    use aecraft_generators::{CapsuleGeneratorConfig, GeneratorConfig};
    use aecraft_tensor::MlpConfig;
    use tch::nn::VarStore;
    use tch::Kind;

    /// The flagship's shape at 6×6 (logits, and poses by reconstruction) with its driver.
    fn pipeline(config: &ClusterDriverConfig) -> (VarStore, Autoencoder, ClusterDriver) {
        let capsules = CapsuleGeneratorConfig {
            clusters: 3,
            template_height: 6,
            template_width: 6,
            canvas_height: 6,
            canvas_width: 6,
            ..Default::default()
        };
        let choice = ClusterChoiceConfig {
            by_reconstruction: Some(ReconstructionChoiceConfig::default()),
            ..Default::default()
        };
        let layout = CodeLayout(vec![
            GroupSpec::new(&choice.input, 3),
            GroupSpec::new(&capsules.pose_input, capsules.pose_width()),
        ]);
        let heads = EncoderHeadsConfig {
            zero: vec![capsules.pose_input.clone()],
        };
        let pipeline = AutoencoderConfig {
            input: 36,
            encoder: MlpConfig::with_hidden(&[16]).into(),
            encoder_label: None,
            code: layout.clone(),
            transforms: vec![TransformConfig::ClusterChoice(choice.clone())],
            generator: GeneratorConfig::Capsules(capsules),
        };
        let vs = VarStore::new(Device::Cpu);
        let net = pipeline.build_with_heads(&vs.root(), Some(&heads)).unwrap();
        let driver = ClusterDriver::new(config, &choice, &layout).unwrap();
        (vs, net, driver)
    }

    fn prototypes(net: &Autoencoder) -> Tensor {
        net.generator().templates().unwrap().prototypes()
    }

    #[test]
    fn a_nearly_empty_cluster_is_reseeded_from_the_largest() {
        tch::manual_seed(2);
        let config = ClusterDriverConfig {
            reseed_below: 0.5,
            ..Default::default()
        };
        let (_vs, mut net, driver) = pipeline(&config);
        // Training batches chose clusters 0, 1, 2 for 1, 25 and 4 images: an even share is
        // 10, so clusters 0 and 2 fall below 5.
        let counts = Tensor::from_slice(&[1i64, 25, 4]);
        let chosen = Tensor::arange(3, (Kind::Int64, Device::Cpu))
            .repeat_interleave_self_tensor(&counts, 0, None);
        let mut code = Code::new();
        code.insert("cluster", chosen.one_hot(3).to_kind(Kind::Float));
        driver.count(&code).unwrap();
        driver.after_epoch(&mut net).unwrap();
        let templates = prototypes(&net);
        for small in [0, 2] {
            let difference = (templates.get(small) - templates.get(1))
                .abs()
                .max()
                .double_value(&[]);
            assert!(difference <= 0.05 + 1e-6, "cluster {small}: {difference}");
        }
        // The encoder's logits of clusters 0 and 2 now equal that of cluster 1.
        let images = Tensor::rand([4, 36], (Kind::Float, Device::Cpu));
        let raw = net.encoder().encode(&images, &[], false).unwrap();
        assert!(raw.select(1, 0).equal(&raw.select(1, 1)));
        assert!(raw.select(1, 2).equal(&raw.select(1, 1)));
        // The count starts afresh: another epoch without training changes nothing.
        let before = prototypes(&net);
        driver.after_epoch(&mut net).unwrap();
        assert!(prototypes(&net).equal(&before));
    }

    #[test]
    fn a_fresh_run_starts_the_templates_at_kmeans_centroids() {
        tch::manual_seed(0);
        let config = ClusterDriverConfig {
            kmeans_iterations: 3,
            ..Default::default()
        };
        let (_vs, mut net, driver) = pipeline(&config);
        // Three kinds of image, each repeated: k-means finds exactly them.
        let kinds = Tensor::rand([3, 36], (Kind::Float, Device::Cpu)) * 0.9 + 0.05;
        let train = ImageDataset::new(kinds.repeat([4, 1]), None, 6, 6).unwrap();
        driver.initialize(&mut net, &train).unwrap();
        let prototypes = prototypes(&net);
        for kind in 0..3 {
            let nearest = (&prototypes - kinds.get(kind).unsqueeze(0))
                .square()
                .sum_dim_intlist(1, false, None::<Kind>)
                .min()
                .double_value(&[]);
            assert!(nearest < 1e-6, "kind {kind}: {nearest}");
        }
        // The projection keeps the templates (already in range) as they are.
        driver.after_step(&mut net).unwrap();
        assert!(net
            .generator()
            .templates()
            .unwrap()
            .prototypes()
            .equal(&prototypes));
    }

    #[test]
    fn the_logits_must_be_a_layout_group_and_the_numbers_in_range() {
        let layout = CodeLayout(vec![GroupSpec::new("z", 3)]);
        let choice = ClusterChoiceConfig::default();
        let err = ClusterDriver::new(&ClusterDriverConfig::default(), &choice, &layout)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster"), "{err}");
        let config = ClusterDriverConfig {
            reseed_noise: -1.0,
            ..Default::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("driver.reseed_noise"));
    }
}
