//! [`LabelInput`]: side information, such as the class label, made into a code group that
//! the generator sees next to what the encoder produced: the ignoring autoencoder's first
//! method (give the generator the information, so that the code need not carry it).
//!
//! Labels reach the code as a side input of the batch (see [`Code::insert_side`]); the
//! autoencoder pipeline passes a labelled batch's labels as the side input [`LABEL_SIDE`].

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::{Code, CodeTransform, CodesError, GroupWidths};

/// The name of the side input that holds a labelled batch's class labels, `[B]` int64: what
/// the training pipeline passes and what label-reading parts read by default.
pub const LABEL_SIDE: &str = "label";

/// Configuration of a [`LabelInput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelInputConfig {
    /// The side input holding class indices, `[B]` int64.
    pub side: String,
    /// The group written with their one-hot encoding, `[B, classes]`.
    pub output: String,
    /// The number of classes.
    pub classes: i64,
}

impl Default for LabelInputConfig {
    fn default() -> Self {
        Self {
            side: LABEL_SIDE.into(),
            output: LABEL_SIDE.into(),
            classes: 10,
        }
    }
}

impl LabelInputConfig {
    /// See [`crate::TransformConfig::infer_widths`].
    pub fn infer_widths(&self, widths: &mut GroupWidths) -> Result<(), CodesError> {
        if self.classes < 2 {
            return Err(CodesError::config(
                "label_input.classes",
                self.classes,
                "needs at least 2 classes",
            ));
        }
        widths.insert(self.output.clone(), self.classes);
        Ok(())
    }

    /// Builds the transform.
    pub fn build(&self) -> LabelInput {
        LabelInput {
            config: self.clone(),
        }
    }
}

/// Writes the one-hot side label as a group; see [`LabelInputConfig`].
#[derive(Debug)]
pub struct LabelInput {
    config: LabelInputConfig,
}

/// Checks that `labels` (`[B]`, integers) lie in `0..classes` and returns their one-hot
/// encoding `[B, classes]` as floats.
pub fn one_hot_labels(labels: &Tensor, classes: i64, side: &str) -> Result<Tensor, CodesError> {
    let bad = |reason: String| CodesError::BadSide {
        name: side.to_owned(),
        reason,
    };
    if labels.dim() != 1 {
        return Err(bad(format!("expected [B] labels, got {:?}", labels.size())));
    }
    let labels = labels.to_kind(Kind::Int64);
    if labels.numel() > 0 {
        let (min, max) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
        if min < 0 || max >= classes {
            return Err(bad(format!(
                "labels range over {min}..={max}, outside 0..{classes}"
            )));
        }
    }
    Ok(labels.f_one_hot(classes)?.to_kind(Kind::Float))
}

/// The one-hot encoding `[B, classes]` of `labels` as doubles, for tests.
#[cfg(test)]
pub(crate) fn one_hot_doubles(labels: &[i64], classes: i64) -> Tensor {
    one_hot_labels(&Tensor::from_slice(labels), classes, "label")
        .unwrap()
        .to_kind(Kind::Double)
}

impl CodeTransform for LabelInput {
    /// Reads the side input `[B]`; writes `[B, classes]`, the same in training and evaluation.
    fn apply(&self, code: &mut Code, _train: bool) -> Result<(), CodesError> {
        let one_hot = one_hot_labels(
            code.side(&self.config.side)?,
            self.config.classes,
            &self.config.side,
        )?;
        code.insert(self.config.output.clone(), one_hot);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_with_labels(labels: &[i64]) -> Code {
        let mut code = Code::new();
        code.insert_side("label", Tensor::from_slice(labels));
        code
    }

    #[test]
    fn missing_or_out_of_range_labels_are_clear_errors() {
        let transform = LabelInputConfig::default().build();
        let err = transform.apply(&mut Code::new(), true).unwrap_err();
        assert!(
            err.to_string().contains("side input \"label\" is missing"),
            "{err}"
        );
        let err = transform
            .apply(&mut code_with_labels(&[3, 10]), true)
            .unwrap_err();
        assert!(err.to_string().contains("outside 0..10"), "{err}");
    }

    proptest! {
        #[test]
        fn writes_one_hot_rows(labels in prop::collection::vec(0i64..10, 1..20)) {
            let mut code = code_with_labels(&labels);
            LabelInputConfig::default().build().apply(&mut code, false).unwrap();
            let one_hot = code.get("label").unwrap();
            prop_assert_eq!(one_hot.size(), vec![labels.len() as i64, 10]);
            let rows = Vec::<f32>::try_from(one_hot.sum_dim_intlist(1, false, Kind::Float)).unwrap();
            prop_assert!(rows.iter().all(|&r| r == 1.0));
            let argmax = Vec::<i64>::try_from(one_hot.argmax(1, false)).unwrap();
            prop_assert_eq!(argmax, labels);
        }
    }
}
