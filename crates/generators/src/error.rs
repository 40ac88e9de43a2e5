//! The error type of `aecraft-generators`.

/// Errors raised by `aecraft-generators`.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorsError {
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] aecraft_tensor::problem::InvalidValue),
    /// An error from the code transforms (a missing group, say).
    #[error(transparent)]
    Codes(#[from] aecraft_codes::CodesError),
    /// An error from the tensor layer.
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl GeneratorsError {
    /// An invalid value for `field`, with the offending value and the reason.
    pub fn config(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        aecraft_tensor::problem::InvalidValue::new(field, value, reason).into()
    }
}
