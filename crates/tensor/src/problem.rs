//! The problems that every aecraft crate reports the same way: a value out of range
//! ([`InvalidValue`]), a file that could not be read or written ([`FileIo`]), and a file whose
//! content is not what it should be ([`FileFormat`]). Each crate's error enum wraps them
//! (`#[error(transparent)]`, `#[from]`), so each message is written once and names the
//! field, flag or file at fault.

use std::fmt::Display;
use std::path::PathBuf;

/// A value out of range: the field, flag or argument, its value, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {field} = {value}: {reason}")]
pub struct InvalidValue {
    /// The field, flag or argument.
    pub field: String,
    /// Its value, as text.
    pub value: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl InvalidValue {
    /// `field` holds `value`, which is wrong for `reason`.
    pub fn new(field: &str, value: impl Display, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Reading or writing a file failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {cause}")]
pub struct FileIo {
    /// The file.
    pub path: PathBuf,
    /// The cause (shown in the message, so not also chained as a `source`).
    pub cause: std::io::Error,
}

impl FileIo {
    /// Reading or writing `path` failed with `cause`.
    pub fn new(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Self {
            path: path.into(),
            cause,
        }
    }
}

/// A file exists, but its content is not what it should be.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {field}: {reason}")]
pub struct FileFormat {
    /// The file.
    pub path: PathBuf,
    /// The field or part of the file that is wrong.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FileFormat {
    /// `field` of `path` is wrong for `reason`.
    pub fn new(path: impl Into<PathBuf>, field: &str, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_is_wrong() {
        let invalid = InvalidValue::new("--threads", 0, "must be at least 1");
        assert_eq!(
            invalid.to_string(),
            "invalid value --threads = 0: must be at least 1"
        );
        let format = FileFormat::new("a/b.idx", "magic", "expected 2051");
        assert_eq!(format.to_string(), "a/b.idx: magic: expected 2051");
        let io = FileIo::new("gone.json", std::io::ErrorKind::NotFound.into());
        assert!(io.to_string().starts_with("gone.json: "), "{io}");
    }
}
