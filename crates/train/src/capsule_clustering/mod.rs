//! Clustering with the capsule generator (the talk's "Clustering MNIST"): K clusters, each
//! drawn by its own capsules, the templates initialized from k-means centroids.
//!
//! - **Encoder**: an MLP that outputs, for every cluster, its pose units (a bounded global
//!   affine and a stroke-thickness unit, plus per-capsule residuals when C > 1), and K
//!   cluster logits.
//! - **Cluster choice by reconstruction** (hard EM): every image is rendered by all K clusters,
//!   without gradients, and the cluster that reconstructs it best (least squared error) is
//!   chosen; only that cluster is then rendered again with gradients. This is k-means made
//!   invariant to the bounded transformations. The cluster logits are trained (cross-entropy)
//!   toward the choice; they are reported (`encoder_agreement`), not used to choose.
//! - **Loss**: squared error summed over pixels, plus the cross-entropy of the logits.
//! - **Empty clusters**: after an epoch, a cluster that (almost) no training image chose is
//!   re-seeded from the largest one: its templates plus uniform noise, and its encoder head
//!   rows.
//! - **Confidence** (which picks the one revealed label per cluster): the reconstruction
//!   margin, the squared error of the second-best cluster minus that of the best one. Larger
//!   means the image is drawn clearly better by its cluster than by any other.
//!
//! [`train_capsule_clustering`] runs the whole procedure; [`save_capsule_pictures`] writes
//! `templates.png`, `clusters.png` and `reconstructions.png`.

mod kmeans_init;
mod run;

pub use run::{save_capsule_pictures, save_templates_png, train_capsule_clustering, CapsuleRun};

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Reduction, Tensor};

use aecraft_generators::{CapsuleGenerator, CapsuleGeneratorConfig};
use aecraft_tensor::ops::squared_error_per_item;
use aecraft_tensor::shape::expect_shape;
use aecraft_tensor::{Mlp, MlpConfig};

use crate::clustering::{Assignments, ClusterModel};
use crate::model::{Losses, TrainModel};
use crate::TrainError;
use aecraft_data::{Batch, ImageDataset};

/// Images per batch when assigning a whole data set.
const ASSIGN_BATCH: usize = 250;

/// Configuration of a [`CapsuleClusteringModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapsuleClusteringConfig {
    /// Input features per image (784 for MNIST); must equal the generator's canvas.
    pub input: i64,
    /// The encoder's hidden layers (the last one feeds the logit and pose heads).
    pub encoder_hidden: Vec<i64>,
    /// The capsule generator (clusters, capsules, templates, pose bounds).
    pub generator: CapsuleGeneratorConfig,
    /// Weight of the cross-entropy between the cluster logits and the chosen cluster.
    pub cluster_loss_weight: f64,
    /// Clusters rendered per training image to choose its cluster: the `candidates` with the
    /// highest logits plus the `candidates` whose untransformed templates are nearest in
    /// pixels (0, or `2 * candidates >= K`: all K). Evaluation and assignment render all K.
    pub candidates: usize,
    /// Weight of the pose-alignment term: the squared error of every cluster's rendering,
    /// averaged over clusters, with the templates held fixed. It trains every cluster's pose
    /// units on every image, not only the chosen cluster's, so that the choice compares
    /// well-aligned renderings; it costs a backward pass through all K renderings. 0 turns it
    /// off (the choice then renders all K without gradients).
    pub pose_alignment: f64,
    /// Lloyd iterations of the k-means that initializes the templates (0: no k-means; the
    /// templates start at uniform noise).
    pub kmeans_iterations: usize,
    /// A cluster chosen by fewer than this fraction of an even share (training images /
    /// K) of an epoch's training images is re-seeded from the largest cluster after the epoch
    /// (0: only empty clusters).
    pub reseed_below: f64,
    /// Amplitude of the uniform noise added to the templates copied into a re-seeded cluster.
    pub reseed_noise: f64,
}

impl Default for CapsuleClusteringConfig {
    fn default() -> Self {
        Self {
            input: 784,
            encoder_hidden: vec![512, 256],
            generator: CapsuleGeneratorConfig::default(),
            cluster_loss_weight: 1.0,
            candidates: 4,
            pose_alignment: 0.0,
            kmeans_iterations: 20,
            reseed_below: 0.1,
            reseed_noise: 0.05,
        }
    }
}

impl CapsuleClusteringConfig {
    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.generator.validate()?;
        let canvas = self.generator.canvas_height * self.generator.canvas_width;
        if self.input != canvas {
            return Err(TrainError::invalid(
                "input",
                self.input,
                format!("must equal the generator's canvas, {canvas} pixels"),
            ));
        }
        if self.encoder_hidden.is_empty() {
            return Err(TrainError::invalid(
                "encoder_hidden",
                "[]",
                "name at least one hidden layer",
            ));
        }
        for (field, value) in [
            ("cluster_loss_weight", self.cluster_loss_weight),
            ("pose_alignment", self.pose_alignment),
            ("reseed_below", self.reseed_below),
            ("reseed_noise", self.reseed_noise),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(TrainError::invalid(
                    field,
                    value,
                    "must be a finite number at least 0",
                ));
            }
        }
        Ok(())
    }
}

/// The capsule clustering autoencoder; see the module docs.
#[derive(Debug)]
pub struct CapsuleClusteringModel {
    config: CapsuleClusteringConfig,
    vs: VarStore,
    trunk: Mlp,
    logit_head: nn::Linear,
    pose_head: nn::Linear,
    generator: CapsuleGenerator,
    /// Training images that chose each cluster since the last epoch ended, `[K]`.
    usage: RefCell<Tensor>,
}

impl CapsuleClusteringModel {
    /// A model with fresh weights on `device`: the pose head starts at zero, so every pose
    /// starts at the identity.
    pub fn new(config: &CapsuleClusteringConfig, device: Device) -> Result<Self, TrainError> {
        config.validate()?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let (last, hidden) = config
            .encoder_hidden
            .split_last()
            .ok_or_else(|| TrainError::invalid("encoder_hidden", "[]", "name a layer"))?;
        let trunk =
            MlpConfig::with_hidden(hidden).build(&(&root / "encoder"), config.input, *last)?;
        let k = config.generator.clusters;
        let logit_head = nn::linear(&root / "cluster_logits", *last, k, Default::default());
        let zero = nn::LinearConfig {
            ws_init: nn::Init::Const(0.0),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        };
        let pose_head = nn::linear(&root / "pose", *last, config.generator.pose_width(), zero);
        let generator = config.generator.build(&(&root / "generator"))?;
        Ok(Self {
            config: config.clone(),
            usage: RefCell::new(Tensor::zeros([k], (Kind::Int64, device))),
            vs,
            trunk,
            logit_head,
            pose_head,
            generator,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CapsuleClusteringConfig {
        &self.config
    }

    /// The generator.
    pub fn generator(&self) -> &CapsuleGenerator {
        &self.generator
    }

    /// Sets the templates, e.g. to k-means centroids (see [`CapsuleGenerator::set_templates`]).
    pub fn set_templates(&mut self, templates: &Tensor) -> Result<(), TrainError> {
        Ok(self.generator.set_templates(templates)?)
    }

    /// The encoder: images `[B, D]` → cluster logits `[B, K]` and pose units
    /// `[B, K * pose_units]`.
    pub fn encode(&self, images: &Tensor) -> Result<(Tensor, Tensor), TrainError> {
        expect_shape(images, &[None, Some(self.config.input)], "images")?;
        let features = self.trunk.forward(images).relu();
        Ok((
            self.logit_head.forward(&features),
            self.pose_head.forward(&features),
        ))
    }

    /// Squared error of every cluster's rendering, `[B, K]`, without gradients. With
    /// `prune` and `candidates > 0`, only the candidate clusters are rendered (see
    /// [`CapsuleClusteringConfig::candidates`]) and the others' errors are infinite.
    fn cluster_errors(
        &self,
        images: &Tensor,
        logits: &Tensor,
        pose: &Tensor,
        prune: bool,
    ) -> Result<Tensor, TrainError> {
        let k = self.config.generator.clusters;
        let m = self.config.candidates as i64;
        tch::no_grad(|| {
            if !prune || m == 0 || 2 * m >= k {
                let all = self.generator.render_all(&pose.detach())?;
                return Ok(squared_distance(&all, &images.unsqueeze(1)));
            }
            let by_logits = logits.topk(m, 1, true, false).1;
            let prototypes = self.generator.prototypes();
            let pixel_distances = squared_distance(&images.unsqueeze(1), &prototypes.unsqueeze(0));
            let by_pixels = pixel_distances.topk(m, 1, false, false).1;
            let candidates = Tensor::cat(&[by_logits, by_pixels], 1);
            let b = images.size()[0];
            let rendered = self.generator.render_clusters(
                &candidates.flatten(0, 1),
                &pose.detach().repeat_interleave_self_int(2 * m, 0, None),
            )?;
            let errors = squared_distance(&rendered.view([b, 2 * m, -1]), &images.unsqueeze(1));
            let all = Tensor::full([b, k], f64::INFINITY, (errors.kind(), errors.device()));
            Ok(all.scatter(1, &candidates, &errors))
        })
    }

    /// The best cluster of each image (`[B]`), and its reconstruction margin (`[B]`, see the
    /// module docs), rendering every cluster.
    fn choose(&self, images: &Tensor, pose: &Tensor) -> Result<(Tensor, Tensor), TrainError> {
        let unused_logits = Tensor::zeros([1], (Kind::Float, images.device()));
        self.choose_by(&self.cluster_errors(images, &unused_logits, pose, false)?)
    }

    /// The best cluster and the margin from every cluster's squared error `errors`, `[B, K]`.
    fn choose_by(&self, errors: &Tensor) -> Result<(Tensor, Tensor), TrainError> {
        let errors = errors.detach();
        let (best_two, order) = errors.topk(2.min(self.config.generator.clusters), 1, false, true);
        let margin = if best_two.size()[1] == 2 {
            best_two.select(1, 1) - best_two.select(1, 0)
        } else {
            Tensor::zeros_like(&best_two.select(1, 0))
        };
        Ok((order.select(1, 0), margin))
    }

    /// Reconstructions of `images` (`[B, D]`) by their best clusters: `[B, D]`, in `[0, 1]`.
    pub fn reconstruct(&self, images: &Tensor) -> Result<Tensor, TrainError> {
        tch::no_grad(|| {
            let (_, pose) = self.encode(images)?;
            let (chosen, _) = self.choose(images, &pose)?;
            Ok(self.generator.render_clusters(&chosen, &pose)?)
        })
    }

    /// Copies the encoder's head rows of cluster `source` into those of `target`.
    fn copy_head_rows(&self, source: i64, target: i64) {
        let p = self.config.generator.pose_units_per_cluster();
        tch::no_grad(|| {
            for (head, width) in [(&self.logit_head, 1), (&self.pose_head, p)] {
                let ws = head.ws.shallow_clone();
                let from = ws.narrow(0, source * width, width).copy();
                ws.narrow(0, target * width, width).copy_(&from);
                if let Some(bs) = &head.bs {
                    let from = bs.narrow(0, source * width, width).copy();
                    bs.narrow(0, target * width, width).copy_(&from);
                }
            }
        });
    }
}

/// Squared Euclidean distance over the last dimension, broadcasting the others.
fn squared_distance(a: &Tensor, b: &Tensor) -> Tensor {
    (a - b).square().sum_dim_intlist(-1, false, None::<Kind>)
}

impl TrainModel for CapsuleClusteringModel {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    /// `reconstruction` (squared error summed over pixels), `cluster` (weighted cross-entropy
    /// of the logits toward the chosen cluster) and, if enabled, `pose_alignment`; reports
    /// `encoder_agreement`.
    fn losses(&self, batch: &Batch, train: bool) -> Result<Losses, TrainError> {
        let images = &batch.images;
        let (logits, pose) = self.encode(images)?;
        let mut terms = Vec::with_capacity(3);
        let chosen = if self.config.pose_alignment > 0.0 {
            let all = self.generator.render_all_for_poses(&pose)?;
            let errors =
                (all - images.unsqueeze(1))
                    .square()
                    .sum_dim_intlist(-1, false, None::<Kind>);
            let (chosen, _) = self.choose_by(&errors)?;
            terms.push((
                "pose_alignment".to_owned(),
                errors.mean(Kind::Float) * self.config.pose_alignment,
            ));
            chosen
        } else {
            self.choose_by(&self.cluster_errors(images, &logits, &pose, train)?)?
                .0
        };
        let reconstruction = self.generator.render_clusters(&chosen, &pose)?;
        let error = squared_error_per_item(&reconstruction, images).mean(Kind::Float);
        let cluster =
            logits.cross_entropy_loss::<Tensor>(&chosen, None, Reduction::Mean, -100, 0.0)
                * self.config.cluster_loss_weight;
        if train {
            let k = self.config.generator.clusters;
            let mut usage = self.usage.borrow_mut();
            *usage += chosen.bincount::<Tensor>(None, k);
        }
        let agreement = logits
            .argmax(1, false)
            .eq_tensor(&chosen)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        terms.insert(0, ("reconstruction".into(), error));
        terms.insert(1, ("cluster".into(), cluster));
        let mut losses = Losses::new(terms);
        losses.push_reported("encoder_agreement", agreement);
        Ok(losses)
    }

    /// Keeps the templates in `[0, 1]`.
    fn after_step(&mut self, _batch: &Batch) -> Result<(), TrainError> {
        self.generator.project_templates();
        Ok(())
    }

    /// Re-seeds every cluster that fewer than `reseed_below` of an even share of this epoch's
    /// training images chose, each from the then largest one.
    fn after_epoch(&mut self, _epoch: usize, _train: &ImageDataset) -> Result<(), TrainError> {
        let mut usage = Vec::<i64>::try_from(self.usage.borrow().to_device(Device::Cpu))?;
        let total: i64 = usage.iter().sum();
        let even_share = total as f64 / usage.len().max(1) as f64;
        let threshold = ((self.config.reseed_below * even_share).ceil() as i64).max(1);
        let noise = self.config.reseed_noise;
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
            self.generator
                .copy_cluster(largest as i64, small as i64, noise);
            self.copy_head_rows(largest as i64, small as i64);
            usage[small] = size / 2;
            usage[largest] = size - size / 2;
        }
        let _ = self.usage.borrow_mut().zero_();
        Ok(())
    }
}

impl ClusterModel for CapsuleClusteringModel {
    fn clusters(&self) -> usize {
        self.config.generator.clusters as usize
    }

    /// Chooses each image's cluster by reconstruction; the confidence is the reconstruction
    /// margin (see the module docs).
    fn assign(&self, data: &ImageDataset) -> Result<Assignments, TrainError> {
        let mut clusters = Vec::new();
        let mut margins = Vec::new();
        tch::no_grad(|| -> Result<(), TrainError> {
            for batch in data.ordered_batches(ASSIGN_BATCH) {
                let images = batch.images.to_device(self.vs.device());
                let (_, pose) = self.encode(&images)?;
                let (chosen, margin) = self.choose(&images, &pose)?;
                clusters.push(chosen);
                margins.push(margin);
            }
            Ok(())
        })?;
        if clusters.is_empty() {
            return Ok(Assignments::default());
        }
        Assignments::from_tensors(&Tensor::cat(&clusters, 0), &Tensor::cat(&margins, 0))
    }

    /// Each cluster's templates at their default poses.
    fn prototypes(&self) -> Result<Tensor, TrainError> {
        Ok(tch::no_grad(|| self.generator.prototypes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CapsuleClusteringConfig {
        CapsuleClusteringConfig {
            input: 36,
            encoder_hidden: vec![16],
            generator: CapsuleGeneratorConfig {
                clusters: 3,
                template_height: 6,
                template_width: 6,
                canvas_height: 6,
                canvas_width: 6,
                ..Default::default()
            },
            kmeans_iterations: 3,
            ..Default::default()
        }
    }

    fn data(n: i64) -> ImageDataset {
        let images = Tensor::rand([n, 36], (Kind::Float, Device::Cpu));
        let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3);
        ImageDataset::new(images, Some(labels), 6, 6).unwrap()
    }

    #[test]
    fn losses_assignments_and_prototypes_have_the_documented_shapes() {
        tch::manual_seed(0);
        let model = CapsuleClusteringModel::new(&small(), Device::Cpu).unwrap();
        let data = data(10);
        let batch = data.ordered_batches(10).next().unwrap();
        let losses = model.losses(&batch, true).unwrap();
        assert_eq!(losses.terms().len(), 2);
        assert!(losses.total().double_value(&[]).is_finite());
        let assignments = model.assign(&data).unwrap();
        assert_eq!(assignments.clusters.len(), 10);
        assert!(assignments.confidence.iter().all(|&m| m >= 0.0));
        assert_eq!(model.prototypes().unwrap().size(), vec![3, 36]);
        assert_eq!(
            model.reconstruct(&batch.images).unwrap().size(),
            vec![10, 36]
        );
    }

    #[test]
    fn pose_alignment_trains_every_clusters_pose_but_no_unchosen_template() {
        tch::manual_seed(3);
        let config = CapsuleClusteringConfig {
            pose_alignment: 0.5,
            ..small()
        };
        let model = CapsuleClusteringModel::new(&config, Device::Cpu).unwrap();
        let batch = data(1).ordered_batches(1).next().unwrap();
        let losses = model.losses(&batch, true).unwrap();
        assert_eq!(losses.terms()[2].0, "pose_alignment");
        losses.total().backward();
        // One image chooses one cluster: only that cluster's template gets a gradient...
        let template_grad = model.generator().templates().grad().abs().sum_dim_intlist(
            [1, 2, 3].as_slice(),
            false,
            None::<Kind>,
        );
        let touched = template_grad.gt(0.0).sum(Kind::Int64).int64_value(&[]);
        assert_eq!(touched, 1);
        // ...while the pose head gets gradients for all three clusters' blocks.
        let p = config.generator.pose_units_per_cluster();
        let bias_grad = model
            .pose_head
            .bs
            .as_ref()
            .unwrap()
            .grad()
            .abs()
            .view([3, p]);
        let blocks = bias_grad.sum_dim_intlist(1, false, None::<Kind>).gt(0.0);
        assert_eq!(blocks.sum(Kind::Int64).int64_value(&[]), 3);
    }

    #[test]
    fn pruned_choice_renders_only_the_candidates() {
        tch::manual_seed(5);
        let mut config = small();
        config.generator.clusters = 12;
        config.candidates = 2;
        let model = CapsuleClusteringModel::new(&config, Device::Cpu).unwrap();
        let images = data(6).images().shallow_clone();
        let (logits, pose) = model.encode(&images).unwrap();
        let pruned = model.cluster_errors(&images, &logits, &pose, true).unwrap();
        let exact = model
            .cluster_errors(&images, &logits, &pose, false)
            .unwrap();
        let finite = pruned.isfinite();
        let per_image = finite.sum_dim_intlist(1, false, Kind::Int64);
        assert!(per_image.le(4).all().int64_value(&[]) == 1);
        assert!(per_image.ge(2).all().int64_value(&[]) == 1);
        // The two highest logits are always candidates, and candidates' errors are exact.
        let top = logits.topk(2, 1, true, false).1;
        assert!(finite.gather(1, &top, false).all().int64_value(&[]) == 1);
        let same = exact.masked_select(&finite);
        assert!(same.allclose(&pruned.masked_select(&finite), 1e-4, 1e-4, false));
    }

    #[test]
    fn the_chosen_cluster_reconstructs_best() {
        tch::manual_seed(1);
        let mut model = CapsuleClusteringModel::new(&small(), Device::Cpu).unwrap();
        let templates = Tensor::rand([3, 36], (Kind::Float, Device::Cpu));
        model.set_templates(&templates).unwrap();
        // Each image is one template exactly; zero pose units draw the templates.
        let assignments = tch::no_grad(|| {
            let pose = Tensor::zeros(
                [3, small().generator.pose_width()],
                (Kind::Float, Device::Cpu),
            );
            model.choose(&templates, &pose)
        })
        .unwrap();
        assert_eq!(Vec::<i64>::try_from(assignments.0).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn a_nearly_empty_cluster_is_reseeded_from_the_largest() {
        tch::manual_seed(2);
        let config = CapsuleClusteringConfig {
            reseed_below: 0.5,
            ..small()
        };
        // An even share is 10 images, so clusters 0 and 2 fall below 5.
        let mut model = CapsuleClusteringModel::new(&config, Device::Cpu).unwrap();
        model
            .usage
            .borrow_mut()
            .copy_(&Tensor::from_slice(&[1i64, 25, 4]));
        model.after_epoch(1, &data(3)).unwrap();
        let templates = model.generator().templates();
        for small in [0, 2] {
            let difference = (templates.get(small) - templates.get(1))
                .abs()
                .max()
                .double_value(&[]);
            assert!(difference <= 0.05 + 1e-6, "cluster {small}: {difference}");
        }
        let logits = &model.logit_head.ws;
        assert!(logits.get(0).allclose(&logits.get(1), 0.0, 0.0, false));
    }

    #[test]
    fn a_mismatched_input_is_named() {
        let config = CapsuleClusteringConfig {
            input: 35,
            ..small()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("input"), "{err}");
    }
}
