//! The constant-per-cluster generator: a one-hot (or soft) cluster code selects (or mixes)
//! one learned image per cluster. It is k-means' generator, and it has a closed-form fit.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use aecraft_codes::{Code, GroupWidths, CLUSTER_GROUP};

use crate::generator::{every_cluster_unless, input_width};
use crate::{ClusterTemplates, Generator, GeneratorsError, OutputKind};

/// Configuration of a [`ConstantGenerator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConstantGeneratorConfig {
    /// The cluster code group it reads, `[B, K]`.
    pub input: String,
}

impl Default for ConstantGeneratorConfig {
    fn default() -> Self {
        Self {
            input: CLUSTER_GROUP.into(),
        }
    }
}

impl ConstantGeneratorConfig {
    /// Builds the generator under `path` (its table is the variable `table`, `[K, D]`,
    /// initialized to zeros); see [`crate::GeneratorConfig::build`].
    pub fn build(
        &self,
        path: &nn::Path,
        widths: &GroupWidths,
        output: i64,
    ) -> Result<ConstantGenerator, GeneratorsError> {
        let clusters = input_width(widths, std::slice::from_ref(&self.input), "constant")?;
        if output <= 0 {
            return Err(GeneratorsError::config(
                "constant.output",
                output,
                "needs at least one output feature",
            ));
        }
        Ok(ConstantGenerator {
            input: self.input.clone(),
            table: path.var("table", &[clusters, output], nn::Init::Const(0.0)),
        })
    }
}

/// Emits one learned constant per cluster: `code @ table`, pixel values (not logits).
#[derive(Debug)]
pub struct ConstantGenerator {
    input: String,
    table: Tensor,
}

impl ConstantGenerator {
    /// The table of constants, `[K, D]`.
    pub fn table(&self) -> &Tensor {
        &self.table
    }

    /// Sets the table to the exact least-squares fit of `images` (`[N, D]`) from one-hot
    /// `codes` (`[N, K]`): the mean of each cluster's images. A cluster without images keeps
    /// its constant. Returns the number of images per cluster, `[K]`.
    pub fn fit_exact(&self, codes: &Tensor, images: &Tensor) -> Result<Tensor, GeneratorsError> {
        let (sums, counts) = cluster_sums(codes, images)?;
        self.set_from_sums(&sums, &counts);
        Ok(counts)
    }

    /// Sets each constant with a positive count to `sums / counts` (`[K, D]` and `[K]`).
    pub fn set_from_sums(&self, sums: &Tensor, counts: &Tensor) {
        tch::no_grad(|| {
            let used = counts.gt(0.0).unsqueeze(1);
            let means = sums / counts.clamp_min(1.0).unsqueeze(1);
            let mut table = self.table.shallow_clone();
            table.copy_(&means.where_self(&used, &self.table));
        });
    }

    /// Replaces the table with `values`, `[K, D]`.
    pub fn set_table(&self, values: &Tensor) -> Result<(), GeneratorsError> {
        aecraft_tensor::shape::expect_shape(
            values,
            &self.table.size().into_iter().map(Some).collect::<Vec<_>>(),
            "constant table",
        )?;
        tch::no_grad(|| self.table.shallow_clone().copy_(values));
        Ok(())
    }
}

/// Per-cluster sums of `images` (`[N, D]`) under `codes` (`[N, K]`): `([K, D], [K])`.
pub fn cluster_sums(codes: &Tensor, images: &Tensor) -> Result<(Tensor, Tensor), GeneratorsError> {
    let codes = codes.to_kind(images.kind());
    let sums = codes.tr().f_matmul(images)?;
    let counts = codes.sum_dim_intlist(0, false, Kind::Double);
    Ok((sums, counts.to_kind(images.kind())))
}

impl Generator for ConstantGenerator {
    /// `[B, K]` cluster code times the `[K, D]` table: `[B, D]` pixel values.
    fn generate(&self, code: &Code, _train: bool) -> Result<Tensor, GeneratorsError> {
        Ok(code.get(&self.input)?.f_matmul(&self.table)?)
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::Values
    }

    /// The candidates' rows of the table, `[B, M, D]`.
    fn render_candidates(
        &self,
        code: &Code,
        group: &str,
        candidates: Option<&Tensor>,
        _train: bool,
    ) -> Result<Tensor, GeneratorsError> {
        let choice = code.get(group)?;
        let b = choice.size()[0];
        let k = self.table.size()[0];
        let candidates = every_cluster_unless(candidates, b, k, choice.device());
        let m = candidates.size()[1];
        Ok(self
            .table
            .f_index_select(0, &candidates.flatten(0, 1))?
            .view([b, m, -1]))
    }

    fn templates(&self) -> Option<&dyn ClusterTemplates> {
        Some(self)
    }

    fn templates_mut(&mut self) -> Option<&mut dyn ClusterTemplates> {
        Some(self)
    }
}

impl ClusterTemplates for ConstantGenerator {
    fn clusters(&self) -> i64 {
        self.table.size()[0]
    }

    /// The constants, clamped to `[0, 1]`.
    fn prototypes(&self) -> Tensor {
        self.table.detach().clamp(0.0, 1.0)
    }

    fn set_prototypes(&mut self, images: &Tensor) -> Result<(), GeneratorsError> {
        self.set_table(&images.to_kind(self.table.kind()))
    }

    fn copy_cluster(&mut self, source: i64, target: i64, noise: f64) {
        tch::no_grad(|| {
            let from = self.table.get(source);
            let noisy = &from + (from.rand_like() - 0.5) * (2.0 * noise);
            self.table.get(target).copy_(&noisy);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    #[test]
    fn exact_fit_is_the_cluster_mean_and_empty_clusters_keep_their_constant() {
        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("cluster".to_owned(), 3)]);
        let generator = ConstantGeneratorConfig::default()
            .build(&vs.root(), &widths, 2)
            .unwrap();
        generator
            .set_table(&Tensor::full([3, 2], 7.0, (Kind::Float, Device::Cpu)))
            .unwrap();
        let codes =
            Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).view([3, 3]);
        let images = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).view([3, 2]);
        let counts = generator.fit_exact(&codes, &images).unwrap();
        assert_eq!(Vec::<f32>::try_from(counts).unwrap(), vec![2.0, 1.0, 0.0]);
        assert_eq!(
            Vec::<f32>::try_from(generator.table().flatten(0, -1)).unwrap(),
            vec![2.0, 3.0, 5.0, 6.0, 7.0, 7.0]
        );
        let mut code = Code::new();
        code.insert("cluster", codes);
        let out = generator.generate(&code, false).unwrap();
        assert_eq!(out.double_value(&[2, 1]), 6.0);
        assert!(generator
            .set_table(&Tensor::zeros([2, 2], (Kind::Float, Device::Cpu)))
            .is_err());
    }

    #[test]
    fn candidates_are_table_rows_and_the_templates_are_the_table() {
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let widths = GroupWidths::from([("cluster".to_owned(), 3)]);
        let mut generator = ConstantGeneratorConfig::default()
            .build(&vs.root(), &widths, 2)
            .unwrap();
        let rows = Tensor::from_slice(&[0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6]).view([3, 2]);
        generator.set_prototypes(&rows).unwrap();
        let mut code = Code::new();
        code.insert("cluster", Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)));
        let candidates = Tensor::from_slice(&[2i64, 0, 1, 1]).view([2, 2]);
        let fast = generator
            .render_candidates(&code, "cluster", Some(&candidates), false)
            .unwrap();
        // The default (one-hots substituted into the code) gives the same.
        #[derive(Debug)]
        struct Plain<'a>(&'a ConstantGenerator);
        impl Generator for Plain<'_> {
            fn generate(&self, code: &Code, train: bool) -> Result<Tensor, GeneratorsError> {
                self.0.generate(code, train)
            }
            fn output_kind(&self) -> OutputKind {
                OutputKind::Values
            }
        }
        let slow = Plain(&generator)
            .render_candidates(&code, "cluster", Some(&candidates), false)
            .unwrap();
        assert_eq!(fast.size(), [2, 2, 2]);
        assert!(fast.allclose(&slow, 0.0, 0.0, false));
        assert_eq!(fast.double_value(&[0, 0, 1]) as f32, 0.6);
        let all = generator
            .render_candidates(&code, "cluster", None, false)
            .unwrap();
        assert!(all.get(1).allclose(&rows, 0.0, 0.0, false));
        generator.copy_cluster(0, 2, 0.01);
        let copied = generator.table().get(2) - rows.get(0);
        assert!(copied.abs().max().double_value(&[]) <= 0.01 + 1e-7);
        assert!(generator
            .prototypes()
            .equal(&generator.table().clamp(0.0, 1.0)));
    }
}
