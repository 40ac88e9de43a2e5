//! The error type of `aecraft-eval`.

/// Errors raised by `aecraft-eval`: an argument out of range (mismatched lengths, an empty
/// set, a label beyond the classes), or a failure inside libtorch while fitting a probe.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// An argument is out of range.
    #[error("invalid value {field} = {value}: {reason}")]
    InvalidInput {
        /// The argument.
        field: String,
        /// Its value, as text.
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] aecraft_data::DataError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl EvalError {
    /// An [`EvalError::InvalidInput`] for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
