//! The error type of `aecraft-data`.

use std::path::PathBuf;

/// Errors raised by `aecraft-data`: a file that cannot be read or is not what it should be,
/// a data set that is not where it was looked for, or an argument out of range.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading a file failed.
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
    /// An error from the tensor layer (a shape check).
    #[error(transparent)]
    Tensor(#[from] aecraft_tensor::TensorError),
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl DataError {
    /// A [`DataError::InvalidInput`] for `field`, with the offending value and the reason.
    pub fn invalid(field: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            cause,
        }
    }

    /// A [`DataError::Format`] for `path` and `field`.
    pub fn format(path: impl Into<PathBuf>, field: &str, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}
