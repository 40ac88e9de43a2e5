//! The capsule generator of the computer-graphics autoencoder ("PoC: graphics for MNIST").
//!
//! - **Learned constants**: small image templates, `C` capsules per cluster, `[K, C, h, w]`,
//!   and, when `C > 1`, each capsule's default pose within its cluster.
//! - **Learned function**: free code units (`pose`, per cluster) become bounded affine poses
//!   ([`pose::PoseBounds`]): one global pose per cluster, and with `C > 1` a bounded residual
//!   per capsule around its default pose, under the global one. One optional unit per cluster
//!   sets the stroke thickness, and optional units bend the drawing by a smooth, bounded
//!   displacement field ([`deformation::DeformationBounds`]).
//! - **Hard-coded function**: [`render::warp`] applies the poses to the templates with
//!   bilinear sampling; [`render::composite`] adds the capsules and clamps the sum.
//!
//! The pose units of one cluster are laid out as `[global (6) | thickness (1, if enabled) |
//! deformation (2·g², if enabled) | residual (6) per capsule (if C > 1)]`, and the `pose`
//! group holds `K` such blocks.
//!
//! Rendering costs one warp per capsule and image: [`CapsuleGenerator::render_clusters`]
//! renders one chosen cluster per image (`B · C` warps); [`CapsuleGenerator::render_all`]
//! renders every cluster (`B · K · C` warps), and [`Generator::render_candidates`] the `M`
//! candidate clusters of each image (`B · M · C` warps), for choosing the cluster by
//! reconstruction. Its [`ClusterTemplates`] let the clustering driver parts start the
//! templates at k-means centroids, re-seed a cluster and keep the templates in `[0, 1]`.

pub mod deformation;
pub mod pose;
pub mod render;

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use aecraft_codes::{Code, GroupWidths, CLUSTER_GROUP};
use aecraft_tensor::shape::expect_shape;

use crate::{ClusterTemplates, Generator, GeneratorsError, OutputKind, TemplateSheet};
use deformation::DeformationBounds;
use pose::{compose, PoseBounds, POSE_UNITS};
use render::{composite, warp};

/// Configuration of a [`CapsuleGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapsuleGeneratorConfig {
    /// The number of clusters K, each with its own capsules.
    pub clusters: i64,
    /// Capsules per cluster, C.
    pub capsules: i64,
    /// Template height `h` in pixels.
    pub template_height: i64,
    /// Template width `w` in pixels.
    pub template_width: i64,
    /// Canvas (output image) height H; the output has `H * W` features.
    pub canvas_height: i64,
    /// Canvas width W.
    pub canvas_width: i64,
    /// Bounds of each cluster's global pose.
    pub pose: PoseBounds,
    /// Bounds of each capsule's residual around its default pose (used when C > 1).
    pub residual: PoseBounds,
    /// Bound on the thickness unit `g`: the rendering is raised to `exp(g)`, `|g| ≤
    /// thickness`. 0 removes the unit.
    pub thickness: f64,
    /// The bounded displacement field that bends each cluster's drawing (off by default).
    pub deformation: DeformationBounds,
    /// The code group holding the cluster choice, `[B, K]` (one-hot, possibly
    /// straight-through).
    pub cluster_input: String,
    /// The code group holding the pose units, `[B, K * pose_units]`.
    pub pose_input: String,
}

impl Default for CapsuleGeneratorConfig {
    /// 25 clusters of one whole-digit 28×28 capsule on a 28×28 canvas.
    fn default() -> Self {
        Self {
            clusters: 25,
            capsules: 1,
            template_height: 28,
            template_width: 28,
            canvas_height: 28,
            canvas_width: 28,
            pose: PoseBounds::default(),
            residual: PoseBounds::residual(),
            thickness: 1.0,
            deformation: DeformationBounds::default(),
            cluster_input: CLUSTER_GROUP.into(),
            pose_input: "pose".into(),
        }
    }
}

impl CapsuleGeneratorConfig {
    /// Checks every field, naming the one at fault.
    pub fn validate(&self) -> Result<(), GeneratorsError> {
        for (field, value) in [
            ("capsules.clusters", self.clusters),
            ("capsules.capsules", self.capsules),
            ("capsules.template_height", self.template_height),
            ("capsules.template_width", self.template_width),
            ("capsules.canvas_height", self.canvas_height),
            ("capsules.canvas_width", self.canvas_width),
        ] {
            if value < 1 {
                return Err(GeneratorsError::config(field, value, "must be at least 1"));
            }
        }
        if !(self.thickness >= 0.0 && self.thickness.is_finite()) {
            return Err(GeneratorsError::config(
                "capsules.thickness",
                self.thickness,
                "must be a finite number at least 0 (0 removes the thickness unit)",
            ));
        }
        self.pose.validate("capsules.pose")?;
        self.deformation.validate("capsules.deformation")?;
        self.residual.validate("capsules.residual")
    }

    /// Pose units per cluster: 6 global, 1 thickness if enabled, `2·g²` deformation if
    /// enabled, 6 per capsule if C > 1.
    pub fn pose_units_per_cluster(&self) -> i64 {
        let residuals = if self.capsules > 1 {
            POSE_UNITS * self.capsules
        } else {
            0
        };
        POSE_UNITS + self.thickness_units() + self.deformation.units() + residuals
    }

    /// 1 when the thickness unit is on, else 0.
    fn thickness_units(&self) -> i64 {
        i64::from(self.thickness > 0.0)
    }

    /// The width of the `pose` code group: `K` blocks of [`Self::pose_units_per_cluster`].
    pub fn pose_width(&self) -> i64 {
        self.clusters * self.pose_units_per_cluster()
    }

    /// Builds the generator under `path`; the templates start at 0.5 plus noise (set them
    /// with [`CapsuleGenerator::set_templates`], e.g. from k-means centroids).
    pub fn build(&self, path: &nn::Path) -> Result<CapsuleGenerator, GeneratorsError> {
        self.validate()?;
        let (k, c) = (self.clusters, self.capsules);
        let templates = path.var(
            "templates",
            &[k, c, self.template_height, self.template_width],
            nn::Init::Uniform { lo: 0.4, up: 0.6 },
        );
        let default_poses = (c > 1).then(|| {
            let init = default_pose_init(self, path.device());
            path.var_copy("default_poses", &init)
        });
        Ok(CapsuleGenerator {
            config: self.clone(),
            deformation: self.deformation,
            templates,
            default_poses,
        })
    }

    /// Builds the generator for a pipeline whose code groups have `widths` and whose output
    /// has `output` features; see [`crate::GeneratorConfig::build`].
    pub fn build_for(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<CapsuleGenerator, GeneratorsError> {
        self.validate()?;
        for (field, group, expected) in [
            ("capsules.cluster_input", &self.cluster_input, self.clusters),
            ("capsules.pose_input", &self.pose_input, self.pose_width()),
        ] {
            match widths.get(group) {
                Some(&w) if w == expected => {}
                found => {
                    return Err(GeneratorsError::config(
                        field,
                        group,
                        &format!("the group must be {expected} wide; found {found:?}"),
                    ))
                }
            }
        }
        let canvas = self.canvas_height * self.canvas_width;
        if output != canvas {
            return Err(GeneratorsError::config(
                "capsules.canvas_height",
                self.canvas_height,
                &format!(
                    "the canvas has {canvas} pixels but the data has {output} features per image"
                ),
            ));
        }
        self.build(path)
    }
}

/// Default capsule poses of a cluster with `C > 1`: each template shrunk to its own pixel
/// size on the canvas, then spread at random around the centre. `[K, C, 2, 3]`.
fn default_pose_init(config: &CapsuleGeneratorConfig, device: tch::Device) -> Tensor {
    let (k, c) = (config.clusters, config.capsules);
    let scale_x = config.template_width as f64 / config.canvas_width as f64;
    let scale_y = config.template_height as f64 / config.canvas_height as f64;
    let linear = Tensor::from_slice(&[scale_x, 0.0, 0.0, scale_y])
        .to_kind(Kind::Float)
        .view([1, 1, 2, 2])
        .repeat([k, c, 1, 1]);
    let shift = (Tensor::rand([k, c, 2, 1], (Kind::Float, tch::Device::Cpu)) - 0.5) * 0.2;
    Tensor::cat(&[linear, shift], -1).to_device(device)
}

/// The capsule generator; see the module docs.
#[derive(Debug)]
pub struct CapsuleGenerator {
    config: CapsuleGeneratorConfig,
    /// The deformation bounds at the training progress last told (the configured ones when
    /// never told): see [`DeformationBounds::at_progress`].
    deformation: DeformationBounds,
    /// `[K, C, h, w]`, kept in `[0, 1]` by [`Self::project_templates`].
    templates: Tensor,
    /// `[K, C, 2, 3]` when C > 1.
    default_poses: Option<Tensor>,
}

impl CapsuleGenerator {
    /// The configuration.
    pub fn config(&self) -> &CapsuleGeneratorConfig {
        &self.config
    }

    /// The templates, `[K, C, h, w]`.
    pub fn templates(&self) -> &Tensor {
        &self.templates
    }

    /// Overwrites the templates with `templates`, any shape of `K * C * h * w` values in
    /// `[K, C, h, w]` order (e.g. `[K, h*w]` k-means centroids when C = 1), clamped to `[0, 1]`.
    pub fn set_templates(&mut self, templates: &Tensor) -> Result<(), GeneratorsError> {
        let size = self.templates.size();
        let values = templates.f_reshape(size.as_slice()).map_err(|_| {
            GeneratorsError::config(
                "templates",
                format!("{:?}", templates.size()),
                &format!("expected {size:?} values"),
            )
        })?;
        tch::no_grad(|| {
            self.templates
                .copy_(&values.to_kind(self.templates.kind()).clamp(0.0, 1.0));
        });
        Ok(())
    }

    /// Overwrites the templates (and default poses) of cluster `target` with those of
    /// `source`, for re-seeding a cluster, then adds uniform noise in `[-noise, noise]` to the
    /// copied templates and clamps them to `[0, 1]`.
    pub fn copy_cluster(&mut self, source: i64, target: i64, noise: f64) {
        tch::no_grad(|| {
            let from = self.templates.get(source);
            let noisy = (&from + (from.rand_like() - 0.5) * (2.0 * noise)).clamp(0.0, 1.0);
            self.templates.get(target).copy_(&noisy);
            if let Some(defaults) = &self.default_poses {
                defaults.get(target).copy_(&defaults.get(source));
            }
        });
    }

    /// Clamps the templates back into `[0, 1]` (call after each optimizer step).
    pub fn project_templates(&mut self) {
        tch::no_grad(|| {
            let _ = self.templates.clamp_(0.0, 1.0);
        });
    }

    /// Renders cluster `clusters[b]` with pose units `pose[b]` for every image `b`.
    ///
    /// `clusters`: `[B]` int64; `pose`: `[B, K * pose_units]` (the whole `pose` group).
    /// Returns `[B, H*W]` pixel values in `[0, 1]`. Costs `B · C` warps.
    pub fn render_clusters(
        &self,
        clusters: &Tensor,
        pose: &Tensor,
    ) -> Result<Tensor, GeneratorsError> {
        let (k, p) = (self.config.clusters, self.config.pose_units_per_cluster());
        expect_shape(clusters, &[None], "capsules: clusters")?;
        let b = clusters.size()[0];
        expect_shape(pose, &[Some(b), Some(k * p)], "capsules: pose")?;
        let index = clusters.to_kind(Kind::Int64);
        let gather = index.view([b, 1, 1]).expand([b, 1, p], false);
        let units = pose
            .view([b, k, p])
            .gather(1, &gather, false)
            .squeeze_dim(1);
        Ok(self.render(&index, &units))
    }

    /// Renders every cluster for every image: `pose` `[B, K * pose_units]` → `[B, K, H*W]`.
    /// Costs `B · K · C` warps.
    pub fn render_all(&self, pose: &Tensor) -> Result<Tensor, GeneratorsError> {
        self.render_every_cluster(pose, &self.templates, self.default_poses.as_ref())
    }

    /// [`Self::render_all`] with the learned constants (templates, default poses) held
    /// fixed: gradients reach the pose units only.
    pub fn render_all_for_poses(&self, pose: &Tensor) -> Result<Tensor, GeneratorsError> {
        let defaults = self.default_poses.as_ref().map(Tensor::detach);
        self.render_every_cluster(pose, &self.templates.detach(), defaults.as_ref())
    }

    fn render_every_cluster(
        &self,
        pose: &Tensor,
        templates: &Tensor,
        default_poses: Option<&Tensor>,
    ) -> Result<Tensor, GeneratorsError> {
        let (k, p) = (self.config.clusters, self.config.pose_units_per_cluster());
        expect_shape(pose, &[None, Some(k * p)], "capsules: pose")?;
        let b = pose.size()[0];
        let clusters = Tensor::arange(k, (Kind::Int64, pose.device())).repeat([b]);
        let rendered = render_with(
            &self.config,
            &self.deformation,
            templates,
            default_poses,
            &clusters,
            &pose.reshape([b * k, p]),
        );
        Ok(rendered.view([b, k, -1]))
    }

    /// The templates at their default poses, `[K, H*W]`: what each cluster draws with all
    /// pose units at 0.
    pub fn prototypes(&self) -> Tensor {
        let k = self.config.clusters;
        let units = Tensor::zeros(
            [k, self.config.pose_units_per_cluster()],
            (self.templates.kind(), self.templates.device()),
        );
        self.render(&Tensor::arange(k, (Kind::Int64, units.device())), &units)
    }

    fn render(&self, clusters: &Tensor, units: &Tensor) -> Tensor {
        render_with(
            &self.config,
            &self.deformation,
            &self.templates,
            self.default_poses.as_ref(),
            clusters,
            units,
        )
    }
}

/// Renders cluster `clusters[n]` (`[N]`) of `templates` (`[K, C, h, w]`) with that
/// cluster's pose units `units[n]` (`[N, pose_units]`), bending the canvas within
/// `deformation`: `[N, H*W]`.
fn render_with(
    config: &CapsuleGeneratorConfig,
    deformation: &DeformationBounds,
    templates: &Tensor,
    default_poses: Option<&Tensor>,
    clusters: &Tensor,
    units: &Tensor,
) -> Tensor {
    let (c, h, w) = (
        config.capsules,
        config.template_height,
        config.template_width,
    );
    let (height, width) = (config.canvas_height, config.canvas_width);
    let n = clusters.size()[0];
    let global = config
        .pose
        .affine(&units.narrow(1, 0, POSE_UNITS), height, width);
    let thickness =
        (config.thickness > 0.0).then(|| units.select(1, POSE_UNITS).tanh() * config.thickness);
    let displacement = deformation.enabled().then(|| {
        let start = POSE_UNITS + config.thickness_units();
        let units = units.narrow(1, start, deformation.units());
        deformation
            .displacement(&units, height, width)
            .repeat_each(c)
    });
    let poses = match default_poses {
        None => global.unsqueeze(1),
        Some(defaults) => {
            let start = units.size()[1] - POSE_UNITS * c;
            let residual_units = units
                .narrow(1, start, POSE_UNITS * c)
                .view([n, c, POSE_UNITS]);
            let residual = config.residual.affine(&residual_units, height, width);
            let local = compose(&defaults.index_select(0, clusters), &residual);
            compose(&global.unsqueeze(1), &local)
        }
    };
    let templates = templates.index_select(0, clusters).view([n * c, h, w]);
    let poses = poses.reshape([n * c, 2, 3]);
    let warped = warp(&templates, &poses, displacement.as_ref(), height, width);
    composite(&warped.view([n, c, height, width]), thickness.as_ref())
}

impl Generator for CapsuleGenerator {
    /// Reads `cluster` (`[B, K]`, one-hot) and `pose` (`[B, K * pose_units]`) and renders each
    /// image's chosen cluster only: `[B, H*W]` pixel values. The rendering is multiplied by
    /// the chosen entry of `cluster` (1 in the forward pass), so a straight-through one-hot
    /// passes gradients to the cluster logits.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        let cluster = code.get(&self.config.cluster_input)?;
        let pose = code.get(&self.config.pose_input)?;
        expect_shape(
            cluster,
            &[None, Some(self.config.clusters)],
            "capsules: cluster",
        )?;
        let chosen = cluster.argmax(1, false);
        let weight = cluster.gather(1, &chosen.unsqueeze(1), false);
        Ok(self.render_clusters(&chosen, pose)? * weight)
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Values
    }

    /// Grows the deformation bound over its warm-up.
    fn set_progress(&mut self, progress: f64) {
        self.deformation = self.config.deformation.at_progress(progress);
    }

    /// Warps only the candidates' templates, each with its own cluster's pose units:
    /// `B · M · C` warps (all K: [`CapsuleGenerator::render_all`]).
    fn render_candidates(
        &self,
        code: &Code,
        group: &str,
        candidates: Option<&Tensor>,
        _train: bool,
    ) -> Result<Tensor, GeneratorsError> {
        if group != self.config.cluster_input {
            return Err(GeneratorsError::config(
                "capsules.cluster_input",
                &self.config.cluster_input,
                &format!("candidates were asked for the group {group:?}"),
            ));
        }
        let pose = code.get(&self.config.pose_input)?;
        let Some(candidates) = candidates else {
            return self.render_all(pose);
        };
        let (b, m) = (candidates.size()[0], candidates.size()[1]);
        let rendered = self.render_clusters(
            &candidates.flatten(0, 1),
            &pose.repeat_interleave_self_int(m, 0, None),
        )?;
        Ok(rendered.view([b, m, -1]))
    }

    fn templates(&self) -> Option<&dyn ClusterTemplates> {
        Some(self)
    }

    fn templates_mut(&mut self) -> Option<&mut dyn ClusterTemplates> {
        Some(self)
    }
}

impl ClusterTemplates for CapsuleGenerator {
    fn clusters(&self) -> i64 {
        self.config.clusters
    }

    /// The templates at their default poses (see [`CapsuleGenerator::prototypes`]).
    fn prototypes(&self) -> Tensor {
        tch::no_grad(|| CapsuleGenerator::prototypes(self))
    }

    /// `images` are `[K, H*W]` canvas images: with one capsule of the canvas' size, they
    /// become the templates; otherwise each capsule gets the image resized to the template
    /// size and divided by C, so that the capsules sum to about it.
    fn set_prototypes(&mut self, images: &Tensor) -> Result<(), GeneratorsError> {
        let g = &self.config;
        let canvas = images.f_view([g.clusters, 1, g.canvas_height, g.canvas_width])?;
        let resized = canvas.f_upsample_bilinear2d(
            [g.template_height, g.template_width],
            false,
            None,
            None,
        )?;
        let spread = resized.repeat([1, g.capsules, 1, 1]) / g.capsules as f64;
        self.set_templates(&spread)
    }

    fn copy_cluster(&mut self, source: i64, target: i64, noise: f64) {
        CapsuleGenerator::copy_cluster(self, source, target, noise)
    }

    fn project(&mut self) {
        self.project_templates()
    }

    /// The pose group: `pose_units_per_cluster` units per cluster.
    fn per_cluster_groups(&self) -> Vec<(String, i64)> {
        vec![(
            self.config.pose_input.clone(),
            self.config.pose_units_per_cluster(),
        )]
    }

    /// One row per cluster with its C templates side by side, or, with one capsule per
    /// cluster, the K templates in a square grid.
    fn sheet(&self) -> Option<TemplateSheet> {
        let g = &self.config;
        let images = self
            .templates
            .detach()
            .to_device(tch::Device::Cpu)
            .to_kind(Kind::Float)
            .reshape([g.clusters * g.capsules, -1]);
        let columns = match g.capsules {
            1 => (g.clusters as f64).sqrt().ceil() as usize,
            c => c as usize,
        };
        Some(TemplateSheet {
            images,
            height: g.template_height,
            width: g.template_width,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    fn small(capsules: i64) -> CapsuleGeneratorConfig {
        CapsuleGeneratorConfig {
            clusters: 3,
            capsules,
            template_height: 5,
            template_width: 4,
            canvas_height: 6,
            canvas_width: 5,
            ..Default::default()
        }
    }

    #[test]
    fn pose_width_counts_global_thickness_and_residual_units() {
        assert_eq!(small(1).pose_width(), 3 * 7);
        assert_eq!(small(4).pose_width(), 3 * (7 + 24));
        let thin = CapsuleGeneratorConfig {
            thickness: 0.0,
            ..small(1)
        };
        assert_eq!(thin.pose_width(), 3 * 6);
        let bent = CapsuleGeneratorConfig {
            deformation: DeformationBounds {
                grid: 3,
                pixels: 1.0,
                ..Default::default()
            },
            ..small(4)
        };
        assert_eq!(bent.pose_width(), 3 * (7 + 18 + 24));
    }

    #[test]
    fn shapes_of_renderings() {
        tch::manual_seed(0);
        let grids = [0, 2].map(|grid| DeformationBounds {
            grid,
            pixels: 1.0,
            ..Default::default()
        });
        for (capsules, deformation) in [1, 3].into_iter().flat_map(|c| grids.map(|d| (c, d))) {
            let vs = VarStore::new(Device::Cpu);
            let config = CapsuleGeneratorConfig {
                deformation,
                ..small(capsules)
            };
            let generator = config.build(&vs.root()).unwrap();
            let pose = Tensor::randn([4, config.pose_width()], (Kind::Float, Device::Cpu));
            let clusters = Tensor::from_slice(&[0i64, 2, 1, 2]);
            let one = generator.render_clusters(&clusters, &pose).unwrap();
            assert_eq!(one.size(), vec![4, 30]);
            let all = generator.render_all(&pose).unwrap();
            assert_eq!(all.size(), vec![4, 3, 30]);
            // Rendering one chosen cluster equals that cluster's slice of rendering all.
            let picked = all.gather(
                1,
                &clusters.view([4, 1, 1]).expand([4, 1, 30], false),
                false,
            );
            assert!(picked.squeeze_dim(1).allclose(&one, 1e-5, 1e-6, false));
            assert_eq!(generator.prototypes().size(), vec![3, 30]);
        }
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let vs = VarStore::new(Device::Cpu);
        let mut generator = small(1).build(&vs.root()).unwrap();
        let pose = Tensor::zeros([4, 5], (Kind::Float, Device::Cpu));
        let err = generator.render_all(&pose).unwrap_err().to_string();
        assert!(err.contains("capsules: pose"), "{err}");
        let clusters = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        let pose = Tensor::zeros([4, 21], (Kind::Float, Device::Cpu));
        assert!(generator.render_clusters(&clusters, &pose).is_err());
        assert!(generator
            .set_templates(&Tensor::zeros([2, 2], (Kind::Float, Device::Cpu)))
            .is_err());
    }

    /// `clusters` clusters of one 6×5 capsule as large as the canvas.
    fn whole(clusters: i64) -> CapsuleGeneratorConfig {
        CapsuleGeneratorConfig {
            clusters,
            template_height: 6,
            template_width: 5,
            canvas_height: 6,
            canvas_width: 5,
            ..Default::default()
        }
    }

    #[test]
    fn zero_pose_units_with_one_capsule_draw_the_template() {
        let vs = VarStore::new(Device::Cpu);
        let config = whole(2);
        let mut generator = config.build(&vs.root()).unwrap();
        let templates = Tensor::rand([2, 1, 6, 5], (Kind::Float, Device::Cpu)) * 0.9 + 0.05;
        generator.set_templates(&templates).unwrap();
        let expected = templates.view([2, 30]);
        assert!(generator
            .prototypes()
            .allclose(&expected, 1e-5, 1e-6, false));
    }

    #[test]
    fn zero_deformation_units_draw_as_without_the_deformation() {
        tch::manual_seed(8);
        let plain = whole(2);
        let deformation = DeformationBounds {
            grid: 3,
            pixels: 2.0,
            ..Default::default()
        };
        let bent = CapsuleGeneratorConfig {
            deformation,
            ..whole(2)
        };
        let templates = Tensor::rand([2, 1, 6, 5], (Kind::Float, Device::Cpu));
        let draw = |config: &CapsuleGeneratorConfig, pose: &Tensor| {
            let vs = VarStore::new(Device::Cpu);
            let mut generator = config.build(&vs.root()).unwrap();
            generator.set_templates(&templates).unwrap();
            generator.render_all(pose).unwrap()
        };
        let units = Tensor::randn([4, 2, 7], (Kind::Float, Device::Cpu));
        let zeros = Tensor::zeros([4, 2, deformation.units()], (Kind::Float, Device::Cpu));
        let with_zeros = Tensor::cat(&[&units, &zeros], 2).view([4, -1]);
        let expected = draw(&plain, &units.view([4, -1]));
        assert!(draw(&bent, &with_zeros).allclose(&expected, 1e-5, 1e-6, false));
        // Non-zero deformation units do bend the drawing.
        let moved = Tensor::cat(&[&units, &(zeros + 3.0)], 2).view([4, -1]);
        assert!(!draw(&bent, &moved).allclose(&expected, 1e-3, 1e-3, false));
    }

    #[test]
    fn a_warming_deformation_starts_rigid_and_ends_whole() {
        tch::manual_seed(9);
        let deformation = DeformationBounds {
            grid: 3,
            pixels: 2.0,
            warmup: 0.5,
        };
        let warming = CapsuleGeneratorConfig {
            deformation,
            ..whole(2)
        };
        let bent = CapsuleGeneratorConfig {
            deformation: DeformationBounds {
                warmup: 0.0,
                ..deformation
            },
            ..whole(2)
        };
        let templates = Tensor::rand([2, 1, 6, 5], (Kind::Float, Device::Cpu));
        let units = Tensor::cat(
            &[
                Tensor::randn([4, 2, 7], (Kind::Float, Device::Cpu)),
                Tensor::randn([4, 2, deformation.units()], (Kind::Float, Device::Cpu)),
            ],
            2,
        )
        .view([4, -1]);
        let draw = |config: &CapsuleGeneratorConfig, units: &Tensor, progress: Option<f64>| {
            let vs = VarStore::new(Device::Cpu);
            let mut generator = config.build(&vs.root()).unwrap();
            generator.set_templates(&templates).unwrap();
            if let Some(progress) = progress {
                generator.set_progress(progress);
            }
            generator.render_all(units).unwrap()
        };
        let whole_bound = draw(&bent, &units, None);
        let affine_units = units.view([4, 2, -1]).narrow(2, 0, 7).reshape([4, -1]);
        let rigid = draw(&whole(2), &affine_units, None);
        let at = |progress| draw(&warming, &units, Some(progress));
        assert!(at(0.0).allclose(&rigid, 1e-5, 1e-6, false));
        assert!(!at(0.25).allclose(&whole_bound, 1e-3, 1e-3, false));
        assert!(!at(0.25).allclose(&rigid, 1e-3, 1e-3, false));
        assert!(at(0.5).allclose(&whole_bound, 1e-6, 1e-6, false));
        let never_told = draw(&warming, &units, None);
        assert!(
            never_told.allclose(&whole_bound, 1e-6, 1e-6, false),
            "never told: whole"
        );
    }

    #[test]
    fn generate_reads_the_cluster_and_pose_groups() {
        let vs = VarStore::new(Device::Cpu);
        let config = small(2);
        let widths = GroupWidths::from([
            ("cluster".to_owned(), 3),
            ("pose".to_owned(), config.pose_width()),
        ]);
        let generator = config.build_for(&vs.root(), &widths, 30).unwrap();
        let mut code = Code::new();
        code.insert("cluster", Tensor::eye(3, (Kind::Float, Device::Cpu)));
        code.insert(
            "pose",
            Tensor::zeros([3, config.pose_width()], (Kind::Float, Device::Cpu)),
        );
        let out = generator.generate(&code, false).unwrap();
        assert!(out.allclose(&generator.prototypes(), 1e-5, 1e-6, false));
        assert_eq!(generator.output_kind(), OutputKind::Values);
    }

    /// The capsule generator behind only the trait's default `render_candidates`.
    #[derive(Debug)]
    struct Plain<'a>(&'a CapsuleGenerator);

    impl Generator for Plain<'_> {
        fn generate(&self, code: &Code, train: bool) -> Result<Tensor, GeneratorsError> {
            self.0.generate(code, train)
        }
        fn output_kind(&self) -> OutputKind {
            OutputKind::Values
        }
    }

    #[test]
    fn candidates_render_like_the_default_and_like_every_cluster() {
        tch::manual_seed(4);
        let vs = VarStore::new(Device::Cpu);
        let config = small(2);
        let generator = config.build(&vs.root()).unwrap();
        let mut code = Code::new();
        code.insert("cluster", Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)));
        let pose = Tensor::randn([4, config.pose_width()], (Kind::Float, Device::Cpu));
        code.insert("pose", pose.shallow_clone());
        let candidates = Tensor::from_slice(&[2i64, 0, 1, 1, 0, 2, 2, 2]).view([4, 2]);
        let fast = generator
            .render_candidates(&code, "cluster", Some(&candidates), false)
            .unwrap();
        let slow = Plain(&generator)
            .render_candidates(&code, "cluster", Some(&candidates), false)
            .unwrap();
        assert_eq!(fast.size(), [4, 2, 30]);
        assert!(fast.allclose(&slow, 1e-6, 1e-6, false));
        let every = generator
            .render_candidates(&code, "cluster", None, false)
            .unwrap();
        assert!(every.allclose(&generator.render_all(&pose).unwrap(), 0.0, 0.0, false));
        let picked = every.gather(1, &candidates.unsqueeze(2).expand([4, 2, 30], false), false);
        assert!(picked.allclose(&fast, 1e-6, 1e-6, false));
        assert!(generator
            .render_candidates(&code, "pose", None, false)
            .is_err());
    }

    #[test]
    fn templates_start_at_given_prototypes_and_copy_with_bounded_noise() {
        tch::manual_seed(6);
        let vs = VarStore::new(Device::Cpu);
        let config = whole(3);
        let mut generator = config.build(&vs.root()).unwrap();
        let images = Tensor::rand([3, 30], (Kind::Float, Device::Cpu));
        let templates: &mut dyn ClusterTemplates = generator.templates_mut().unwrap();
        templates.set_prototypes(&images).unwrap();
        assert!(templates.prototypes().allclose(&images, 1e-5, 1e-6, false));
        templates.copy_cluster(0, 2, 0.05);
        let moved = templates.prototypes().get(2) - images.get(0);
        assert!(moved.abs().max().double_value(&[]) <= 0.05 + 1e-6);
        assert_eq!(
            templates.per_cluster_groups(),
            [("pose".to_owned(), config.pose_units_per_cluster())]
        );
        let sheet = templates.sheet().unwrap();
        assert_eq!((sheet.images.size(), sheet.columns), (vec![3, 30], 2));
        // Four capsules of 3×3 share each centroid, resized, a quarter each.
        let vs = VarStore::new(Device::Cpu);
        let mut four = CapsuleGeneratorConfig {
            capsules: 4,
            template_height: 3,
            template_width: 3,
            ..config
        }
        .build(&vs.root())
        .unwrap();
        four.set_prototypes(&Tensor::ones([3, 30], (Kind::Float, Device::Cpu)))
            .unwrap();
        assert!(four
            .templates()
            .allclose(&four.templates().full_like(0.25), 1e-6, 1e-6, false));
        assert_eq!(four.sheet().unwrap().columns, 4);
    }

    #[test]
    fn mismatched_groups_and_canvas_are_config_errors() {
        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("cluster".to_owned(), 3), ("pose".to_owned(), 4)]);
        let err = small(1)
            .build_for(&vs.root(), &widths, 30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("capsules.pose_input"), "{err}");
        let widths = GroupWidths::from([("cluster".to_owned(), 3), ("pose".to_owned(), 21)]);
        let err = small(1)
            .build_for(&vs.root(), &widths, 31)
            .unwrap_err()
            .to_string();
        assert!(err.contains("capsules.canvas_height"), "{err}");
        let bad = CapsuleGeneratorConfig {
            capsules: 0,
            ..small(1)
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("capsules.capsules"));
    }
}
