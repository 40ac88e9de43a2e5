//! The error type of `aecraft-train`.

use std::path::PathBuf;

/// Errors raised by `aecraft-train`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] aecraft_tensor::problem::FileIo),
    /// A file exists but its content is not what it should be.
    #[error(transparent)]
    Format(#[from] aecraft_tensor::problem::FileFormat),
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] aecraft_tensor::problem::InvalidValue),
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
    /// An invalid value for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        aecraft_tensor::problem::InvalidValue::new(field, value, reason).into()
    }

    /// A file error for `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        aecraft_tensor::problem::FileIo::new(path, cause).into()
    }

    /// A [`TrainError::Json`] for `path`.
    pub fn json(path: impl Into<PathBuf>, cause: serde_json::Error) -> Self {
        Self::Json {
            path: path.into(),
            cause,
        }
    }

    /// A file-format error for `path` and `field`.
    pub fn format(path: impl Into<PathBuf>, field: &str, reason: impl Into<String>) -> Self {
        aecraft_tensor::problem::FileFormat::new(path, field, reason).into()
    }
}
