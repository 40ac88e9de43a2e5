//! [`ClusterTemplates`]: what a generator that draws each cluster from learned constants of
//! its own (templates) offers the clustering driver parts: the prototypes, setting them from
//! k-means centroids, copying a cluster to re-seed an empty one, and keeping the templates in
//! range after each step. The capsule generator and the constant generator have them (see
//! [`crate::Generator::templates`]).

use tch::Tensor;

use crate::GeneratorsError;

/// A generator's per-cluster templates; see the module docs.
pub trait ClusterTemplates {
    /// The number of clusters K.
    fn clusters(&self) -> i64;

    /// What each cluster draws with its other units at 0, `[K, D]` pixel values in `[0, 1]`,
    /// without gradients.
    fn prototypes(&self) -> Tensor;

    /// Sets the templates so that each cluster's prototype is about `images[k]` (`[K, D]`,
    /// e.g. k-means centroids of the training images).
    fn set_prototypes(&mut self, images: &Tensor) -> Result<(), GeneratorsError>;

    /// Overwrites the templates of cluster `target` with those of `source` plus uniform noise
    /// in `[-noise, noise]` (re-seeding a cluster that lost its images).
    fn copy_cluster(&mut self, source: i64, target: i64, noise: f64);

    /// Brings the templates back into their range after an optimizer step; by default there
    /// is nothing to do.
    fn project(&mut self) {}

    /// The code groups the generator reads as K blocks, one per cluster, with each block's
    /// width (the capsule generator's poses): re-seeding a cluster copies the encoder's units
    /// of these blocks along with its templates.
    fn per_cluster_groups(&self) -> Vec<(String, i64)> {
        Vec::new()
    }

    /// The templates as a picture, when they are small images of their own; `None` when the
    /// prototypes already show them.
    fn sheet(&self) -> Option<TemplateSheet> {
        None
    }
}

/// Templates laid out for a picture: `images` (`[N, height * width]`, values in `[0, 1]`) in
/// rows of `columns`.
#[derive(Debug)]
pub struct TemplateSheet {
    /// The templates, `[N, height * width]`.
    pub images: Tensor,
    /// Template height in pixels.
    pub height: i64,
    /// Template width in pixels.
    pub width: i64,
    /// Templates per row.
    pub columns: usize,
}
