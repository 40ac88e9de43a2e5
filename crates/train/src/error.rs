//! The error type of `aecraft-train`.

use std::path::PathBuf;

/// Errors raised by `aecraft-train`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (shown in the message, so not also chained as a `source`).
        cause: std::io::Error,
    },
    /// A file exists but its content is not what it should be.
    #[error("{path}: {field}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The field or part of the file that is wrong.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument or configuration value is out of range.
    #[error("invalid value {field} = {value}: {reason}")]
    InvalidInput {
        /// The argument or field.
        field: String,
        /// Its value, as text.
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// Training produced a NaN or infinite loss.
    #[error("the loss became {value} at epoch {epoch}, step {step} ({term}); the last good checkpoint is kept{checkpoint}. Try a lower learning rate")]
    NonFinite {
        /// The value (NaN or inf).
        value: f64,
        /// The loss term that became non-finite.
        term: String,
        /// Epoch of the failure (1-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// Where the last good checkpoint is, if any.
        checkpoint: String,
    },
    /// JSON could not be read or written.
    #[error("{path}: {cause}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause (shown in the message, so not also chained as a `source`).
        cause: serde_json::Error,
    },
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] aecraft_data::DataError),
    /// An error from the metrics.
    #[error(transparent)]
    Eval(#[from] aecraft_eval::EvalError),
    /// An error from the tensor layer.
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error from the code transforms.
    #[error(transparent)]
    Codes(#[from] aecraft_codes::CodesError),
    /// An error from the generators.
    #[error(transparent)]
    Generators(#[from] aecraft_generators::GeneratorsError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl TrainError {
    /// A [`TrainError::InvalidInput`] for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`TrainError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            cause,
        }
    }

    /// A [`TrainError::Json`] for `path`.
    pub fn json(path: impl Into<PathBuf>, cause: serde_json::Error) -> Self {
        Self::Json {
            path: path.into(),
            cause,
        }
    }

    /// A [`TrainError::Format`] for `path` and `field`.
    pub fn format(path: impl Into<PathBuf>, field: &str, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}
