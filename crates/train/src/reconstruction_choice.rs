//! The cluster chosen by reconstruction (hard EM) as a step of the pipeline, between the code
//! transforms and the generator: the generator renders each image once per candidate
//! cluster, without gradients, and the cluster whose rendering reconstructs the image best
//! (by the pipeline's own reconstruction error) is chosen; its one-hot replaces the choice,
//! the generator then draws that cluster with gradients, and the logits are trained toward
//! it (see [`aecraft_codes::by_reconstruction`]).
//!
//! Any generator works ([`aecraft_generators::Generator::render_candidates`]); one with
//! per-cluster templates also lets training render only candidates: the clusters with the
//! highest logits plus those whose prototypes are nearest in pixels. Evaluation and
//! assignment render every cluster, and the relative reconstruction margin (the log of the
//! second-best error over the best) is the confidence of an assignment.

use tch::Tensor;

use aecraft_codes::by_reconstruction::{best_and_margin, errors_by_cluster, squared_distance};
use aecraft_codes::{ClusterChoiceConfig, Code, ReconstructionChoiceConfig};

use crate::{Autoencoder, TrainError};

/// The choice by reconstruction of one cluster choice; see the module docs.
#[derive(Debug, Clone)]
pub struct ReconstructionChoice {
    choice: ClusterChoiceConfig,
    config: ReconstructionChoiceConfig,
}

impl ReconstructionChoice {
    /// The step of the cluster choice `choice`, if it chooses by reconstruction.
    pub fn of(choice: &ClusterChoiceConfig) -> Option<Self> {
        choice.by_reconstruction.as_ref().map(|config| Self {
            choice: choice.clone(),
            config: config.clone(),
        })
    }

    /// The cluster choice whose groups it reads and writes.
    pub fn choice(&self) -> &ClusterChoiceConfig {
        &self.choice
    }

    /// Every cluster's reconstruction error of each image, `[B, K]`, without gradients,
    /// `code` being the code of `images` after the transforms. With `prune`, only the
    /// candidates are rendered and the other clusters' errors are `+inf`.
    pub fn cluster_errors(
        &self,
        net: &Autoencoder,
        code: &Code,
        images: &Tensor,
        prune: bool,
    ) -> Result<Tensor, TrainError> {
        tch::no_grad(|| {
            let generator = net.generator();
            let logits = code.get(&self.choice.logits_group())?;
            let k = logits.size()[1];
            let candidates = (prune && self.config.prunes(k)).then(|| {
                let distances = generator.templates().map(|templates| {
                    squared_distance(&images.unsqueeze(1), &templates.prototypes().unsqueeze(0))
                });
                self.config.candidates(logits, distances.as_ref())
            });
            let group = self.choice.choice_group();
            let rendered = generator.render_candidates(code, group, candidates.as_ref(), prune)?;
            let targets = images.unsqueeze(1).expand_as(&rendered);
            let errors = net.reconstruction_error(&rendered, &targets);
            Ok(match &candidates {
                Some(candidates) => errors_by_cluster(candidates, &errors, k),
                None => errors,
            })
        })
    }

    /// Chooses the cluster of each image and writes the choice into `code` (see
    /// [`ReconstructionChoiceConfig::record`]); `train` renders only the candidates.
    pub fn apply(
        &self,
        net: &Autoencoder,
        code: &mut Code,
        images: &Tensor,
        train: bool,
    ) -> Result<(), TrainError> {
        let (chosen, _) = best_and_margin(&self.cluster_errors(net, code, images, train)?);
        Ok(self.config.record(&self.choice, code, &chosen)?)
    }

    /// The best cluster of each image (`[B]`) and its reconstruction margin (`[B]`), every
    /// cluster rendered.
    pub fn choose(
        &self,
        net: &Autoencoder,
        code: &Code,
        images: &Tensor,
    ) -> Result<(Tensor, Tensor), TrainError> {
        Ok(best_and_margin(
            &self.cluster_errors(net, code, images, false)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoencoderConfig;
    use aecraft_codes::{CodeLayout, GroupSpec, TransformConfig};
    use aecraft_generators::{ConstantGeneratorConfig, GeneratorConfig};
    use aecraft_tensor::MlpConfig;
    use tch::nn::VarStore;
    use tch::{Device, Kind};

    /// A constant generator (k-means' generator) chosen by reconstruction over `k` clusters
    /// of 4-pixel images, with `candidates` per side in training.
    fn pipeline(k: i64, candidates: usize) -> (VarStore, Autoencoder) {
        let choice = ClusterChoiceConfig {
            by_reconstruction: Some(ReconstructionChoiceConfig {
                candidates,
                ..Default::default()
            }),
            ..Default::default()
        };
        let config = AutoencoderConfig {
            input: 4,
            encoder: MlpConfig::with_hidden(&[8]).into(),
            encoder_label: None,
            code: CodeLayout(vec![GroupSpec::new(&choice.input, k)]),
            transforms: vec![TransformConfig::ClusterChoice(choice)],
            generator: GeneratorConfig::Constant(ConstantGeneratorConfig::default()),
        };
        let vs = VarStore::new(Device::Cpu);
        let net = config.build(&vs.root()).unwrap();
        (vs, net)
    }

    #[test]
    fn every_image_goes_to_the_constant_nearest_to_it_and_the_logits_learn_it() {
        tch::manual_seed(0);
        let (_vs, mut net) = pipeline(3, 0);
        let table = Tensor::from_slice(&[
            0.0f32, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0,
        ])
        .view([3, 4]);
        net.generator_mut()
            .templates_mut()
            .unwrap()
            .set_prototypes(&table)
            .unwrap();
        let images = Tensor::from_slice(&[0.9f32, 1.0, 0.1, 0.0, 0.0, 0.2, 0.9, 0.8]).view([2, 4]);
        let losses = net.losses(&images, true).unwrap();
        let names: Vec<&str> = losses.named().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["loss", "reconstruction", "cluster", "encoder_agreement"]
        );
        // The chosen constants are the nearest ones: rows 1 and 2.
        let expected = (images.get(0) - table.get(1)).square().sum(Kind::Float)
            + (images.get(1) - table.get(2)).square().sum(Kind::Float);
        let reconstruction = losses.terms()[0].1.double_value(&[]);
        assert!((reconstruction - expected.double_value(&[]) / 2.0).abs() < 1e-6);
        let code = net.encode(&images, false).unwrap();
        let choice = net.choice().unwrap();
        let (chosen, margin) = choice.choose(&net, &code, &images).unwrap();
        assert_eq!(Vec::<i64>::try_from(chosen).unwrap(), [1, 2]);
        // Image 0: 0.02 from row 1, 1.82 from row 0, so a margin of ln(1.82 / 0.02).
        let expected = ((1.82_f64 + 1e-6) / (0.02 + 1e-6)).ln();
        assert!((margin.double_value(&[0]) - expected).abs() < 1e-3);
        let reconstructions = net.reconstruct(&images).unwrap();
        assert!(reconstructions
            .get(1)
            .allclose(&table.get(2), 0.0, 0.0, false));
    }

    #[test]
    fn training_renders_only_candidates_whose_errors_are_exact() {
        tch::manual_seed(1);
        let (_vs, net) = pipeline(12, 2);
        let table = Tensor::rand([12, 4], (Kind::Float, Device::Cpu));
        let mut net = net;
        net.generator_mut()
            .templates_mut()
            .unwrap()
            .set_prototypes(&table)
            .unwrap();
        let images = Tensor::rand([6, 4], (Kind::Float, Device::Cpu));
        let code = net.encode(&images, true).unwrap();
        let choice = net.choice().unwrap();
        let pruned = choice.cluster_errors(&net, &code, &images, true).unwrap();
        let exact = choice.cluster_errors(&net, &code, &images, false).unwrap();
        let finite = pruned.isfinite();
        let per_image = finite.sum_dim_intlist(1, false, Kind::Int64);
        assert!(per_image.le(4).all().int64_value(&[]) == 1);
        assert!(per_image.ge(2).all().int64_value(&[]) == 1);
        // The two highest logits and the nearest prototype (here: the best) are candidates.
        let logits = code.get(&choice.choice().logits_group()).unwrap();
        let top = logits.topk(2, 1, true, false).1;
        assert!(finite.gather(1, &top, false).all().int64_value(&[]) == 1);
        let best = exact.argmin(1, true);
        assert!(finite.gather(1, &best, false).all().int64_value(&[]) == 1);
        let same = exact.masked_select(&finite);
        assert!(same.allclose(&pruned.masked_select(&finite), 1e-6, 1e-6, false));
    }
}
