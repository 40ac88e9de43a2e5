//! The error type of `aecraft-codes`.

/// Errors raised by `aecraft-codes`.
#[derive(Debug, thiserror::Error)]
pub enum CodesError {
    /// A transform or generator asked for a code group that is not there.
    #[error("code group {name:?} is missing; the code has {available:?}")]
    MissingGroup {
        /// The group asked for.
        name: String,
        /// The groups the code has.
        available: Vec<String>,
    },
    /// A transform needs side information (e.g. labels) that was not given with the batch.
    #[error(
        "side input {name:?} is missing (the code has {available:?}); this pipeline needs it \
         with every batch, e.g. labels from a labelled data set"
    )]
    MissingSide {
        /// The side input asked for.
        name: String,
        /// The side inputs given.
        available: Vec<String>,
    },
    /// Side information has the wrong values, e.g. a label outside `0..classes`.
    #[error("side input {name:?}: {reason}")]
    BadSide {
        /// The side input.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] aecraft_tensor::problem::InvalidValue),
    /// An error from the tensor layer.
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl CodesError {
    /// An invalid value for `field`, with the offending value and the reason.
    pub fn config(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        aecraft_tensor::problem::InvalidValue::new(field, value, reason).into()
    }
}
