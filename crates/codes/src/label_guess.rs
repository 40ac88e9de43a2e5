//! [`LabelGuess`]: an objective addition that trains a group of the code to guess a side
//! label: the cross-entropy of the group's logits against the label.
//!
//! It is the training signal of an encoder that predicts the label itself instead of reading
//! it (`EncoderLabelConfig::guess` in `aecraft-train`): that encoder writes its guess's
//! logits as a group of the raw code and conditions the rest of the code on the guess, so it
//! needs only the image to encode, while this penalty, where the batch has labels, teaches
//! the guess. Without the side label (encoding unlabelled images) it adds nothing.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::transform::input_width;
use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// Configuration of a [`LabelGuess`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelGuessConfig {
    /// The group of logits, `[B, classes]`.
    pub input: String,
    /// The side input holding the labels to guess, `[B]` int64.
    pub side: String,
    /// Weight of the cross-entropy.
    pub weight: f64,
}

impl Default for LabelGuessConfig {
    fn default() -> Self {
        Self {
            input: "label_guess".into(),
            side: crate::LABEL_SIDE.into(),
            weight: 1.0,
        }
    }
}

impl LabelGuessConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        if input_width(widths, &self.input, "label_guess")? < 2 {
            return Err(CodesError::config(
                "label_guess.input",
                &self.input,
                "the group of logits needs at least 2 classes",
            ));
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(CodesError::config(
                "label_guess.weight",
                self.weight,
                "must be >= 0",
            ));
        }
        Ok(())
    }

    /// Builds the penalty.
    pub fn build(&self) -> LabelGuess {
        LabelGuess {
            config: self.clone(),
        }
    }
}

/// Adds the penalty `label_guess` and reports `label_guess_accuracy`; see
/// [`LabelGuessConfig`].
#[derive(Debug)]
pub struct LabelGuess {
    config: LabelGuessConfig,
}

impl CodeTransform for LabelGuess {
    /// Reads the logits `[B, K]` and, when the batch has it, the side label `[B]`; adds
    /// `weight` times their mean cross-entropy as `label_guess` and the guess's accuracy as
    /// `label_guess_accuracy`, in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let Ok(labels) = code.side(&self.config.side) else {
            return Ok(());
        };
        let labels = labels.to_kind(Kind::Int64);
        let logits = code.get(&self.config.input)?;
        if logits.size()[1] <= labels.max().int64_value(&[]) || labels.min().int64_value(&[]) < 0 {
            return Err(CodesError::BadSide {
                name: self.config.side.clone(),
                reason: format!(
                    "labels must lie in 0..{}, the width of \"{}\"",
                    logits.size()[1],
                    self.config.input
                ),
            });
        }
        let loss = logits.f_log_softmax(-1, Kind::Float)?.f_nll_loss(
            &labels,
            None::<Tensor>,
            tch::Reduction::Mean,
            -100,
        )?;
        let accuracy = logits
            .argmax(1, false)
            .eq_tensor(&labels)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        code.add_penalty("label_guess", loss * self.config.weight);
        code.add_report("label_guess_accuracy", accuracy);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn its_penalty_is_the_cross_entropy_and_needs_labels_only_when_present() {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 0.0, 1.0, 3.0]).reshape([2, 3]);
        let mut code = Code::new();
        code.insert("label_guess", logits.shallow_clone());
        let guess = LabelGuessConfig {
            weight: 2.0,
            ..Default::default()
        }
        .build();
        guess.apply(&mut code, false).unwrap();
        assert!(code.penalties().is_empty(), "no labels, nothing to add");
        code.insert_side("label", Tensor::from_slice(&[0i64, 1]));
        guess.apply(&mut code, true).unwrap();
        let expected = logits.cross_entropy_for_logits(&Tensor::from_slice(&[0i64, 1]));
        let got = code.penalties()[0].value.double_value(&[]);
        assert!((got - 2.0 * expected.double_value(&[])).abs() < 1e-6);
        assert_eq!(code.reports()[0].name, "label_guess_accuracy");
        assert_eq!(code.reports()[0].value.double_value(&[]), 0.5);
    }

    #[test]
    fn refuses_labels_past_its_width_and_bad_config() {
        let mut code = Code::new();
        code.insert(
            "label_guess",
            Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)),
        );
        code.insert_side("label", Tensor::from_slice(&[0i64, 3]));
        let error = LabelGuessConfig::default()
            .build()
            .apply(&mut code, true)
            .unwrap_err();
        assert!(error.to_string().contains("0..3"), "{error}");
        let widths = GroupWidths::from([("label_guess".to_owned(), 3)]);
        let bad = LabelGuessConfig {
            weight: -1.0,
            ..Default::default()
        };
        let error = bad.infer_widths(&mut widths.clone()).unwrap_err();
        assert!(error.to_string().contains("label_guess.weight"), "{error}");
        let missing = LabelGuessConfig {
            input: "nope".into(),
            ..Default::default()
        };
        assert!(missing.infer_widths(&mut widths.clone()).is_err());
    }
}
