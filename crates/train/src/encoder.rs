//! The first part of the pipeline: the [`Encoder`] trait, images to a raw code, and the
//! built-in [`MlpEncoder`], which may also read a side label next to the image (a
//! conditional encoder, as in a conditional VAE).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use aecraft_codes::{one_hot_labels, LABEL_SIDE};
use aecraft_tensor::{Mlp, MlpConfig};

use crate::TrainError;

/// Turns images into the raw code that a [`aecraft_codes::CodeLayout`] splits into groups.
pub trait Encoder: std::fmt::Debug {
    /// The raw code `[B, W]` of `images` (`[B, D]`), given the batch's side inputs (e.g.
    /// `(LABEL_SIDE, [B] int64)`); `train` selects training behaviour.
    fn encode(
        &self,
        images: &Tensor,
        side: &[(String, Tensor)],
        train: bool,
    ) -> Result<Tensor, TrainError>;
}

/// A side label that the encoder reads next to the image: its one-hot encoding is
/// concatenated to the pixels, so the encoder sees `[B, input + classes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderLabelConfig {
    /// The side input holding class indices, `[B]` int64.
    pub side: String,
    /// The number of classes.
    pub classes: i64,
}

impl Default for EncoderLabelConfig {
    fn default() -> Self {
        Self {
            side: LABEL_SIDE.into(),
            classes: 10,
        }
    }
}

impl EncoderLabelConfig {
    /// Checks the number of classes.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.classes < 2 {
            return Err(TrainError::invalid(
                "encoder_label.classes",
                self.classes,
                "needs at least 2 classes",
            ));
        }
        Ok(())
    }
}

/// An MLP from the pixels (and optionally a one-hot side label) to the raw code.
#[derive(Debug)]
pub struct MlpEncoder {
    mlp: Mlp,
    label: Option<EncoderLabelConfig>,
}

impl MlpEncoder {
    /// Builds the MLP `mlp` under `path`, from `input` pixels (plus the label's classes) to
    /// `output` code units.
    pub fn new(
        path: &nn::Path,
        mlp: &MlpConfig,
        label: Option<EncoderLabelConfig>,
        input: i64,
        output: i64,
    ) -> Result<Self, TrainError> {
        if let Some(label) = &label {
            label.validate()?;
        }
        let label_width = label.as_ref().map_or(0, |l| l.classes);
        Ok(Self {
            mlp: mlp.build(path, input + label_width, output)?,
            label,
        })
    }
}

impl Encoder for MlpEncoder {
    fn encode(
        &self,
        images: &Tensor,
        side: &[(String, Tensor)],
        _train: bool,
    ) -> Result<Tensor, TrainError> {
        let Some(label) = &self.label else {
            return Ok(self.mlp.forward(images));
        };
        let (_, labels) = side
            .iter()
            .find(|(name, _)| *name == label.side)
            .ok_or_else(|| {
                TrainError::invalid(
                    "side inputs",
                    format!("{:?}", side.iter().map(|(n, _)| n).collect::<Vec<_>>()),
                    format!("the encoder reads the side input \"{}\"", label.side),
                )
            })?;
        let one_hot = one_hot_labels(labels, label.classes, &label.side)?;
        let inputs = Tensor::f_cat(&[images, &one_hot.to_device(images.device())], 1)?;
        Ok(self.mlp.forward(&inputs))
    }
}
