//! The error type of `aecraft-eval`.

/// Errors raised by `aecraft-eval`: an argument out of range (mismatched lengths, an empty
/// set, a label beyond the classes), or a failure inside libtorch while fitting a probe.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] aecraft_tensor::problem::InvalidValue),
    /// An error from the tensor layer (building the MLP probe).
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] aecraft_data::DataError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl EvalError {
    /// An an invalid value for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        aecraft_tensor::problem::InvalidValue::new(field, value, reason).into()
    }
}
