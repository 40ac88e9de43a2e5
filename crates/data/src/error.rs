//! The error type of `aecraft-data`.

use std::path::PathBuf;

/// Errors raised by `aecraft-data`: a file that cannot be read or is not what it should be,
/// a data set that is not where it was looked for, or an argument out of range.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] aecraft_tensor::problem::FileIo),
    /// A file exists but its content is not what it should be.
    #[error(transparent)]
    Format(#[from] aecraft_tensor::problem::FileFormat),
    /// A data set is not where it was looked for.
    #[error("{what} not found in {dir}: {hint}")]
    MissingData {
        /// What was looked for.
        what: String,
        /// Where.
        dir: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] aecraft_tensor::problem::InvalidValue),
    /// An error from the tensor layer (a shape check).
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl DataError {
    /// An invalid value for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        aecraft_tensor::problem::InvalidValue::new(field, value, reason).into()
    }

    /// A file error for `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        aecraft_tensor::problem::FileIo::new(path, cause).into()
    }

    /// A file-format error for `path` and `field`.
    pub fn format(path: impl Into<PathBuf>, field: &str, reason: impl Into<String>) -> Self {
        aecraft_tensor::problem::FileFormat::new(path, field, reason).into()
    }
}
