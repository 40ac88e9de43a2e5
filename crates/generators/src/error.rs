//! The error type of `aecraft-generators`.

/// Errors raised by `aecraft-generators`.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorsError {
    /// A configuration value is out of range.
    #[error("invalid config value {field} = {value}: {reason}")]
    Config {
        /// The config field.
        field: String,
        /// Its value, as text.
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
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
    /// A [`GeneratorsError::Config`] for `field`, with the offending value and the reason.
    pub fn config(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        Self::Config {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }
}
