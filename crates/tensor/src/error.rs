//! The error type of `aecraft-tensor`.

/// Errors raised by `aecraft-tensor`.
#[derive(Debug, thiserror::Error)]
pub enum TensorError {
    /// CUDA was asked for but libtorch sees no CUDA device.
    #[error("--device cuda was requested, but no CUDA device is available (libtorch sees none); use --device cpu")]
    CudaUnavailable,
    /// A device name other than `cpu` or `cuda`.
    #[error("unknown device {0:?}: expected `cpu` or `cuda`")]
    UnknownDevice(String),
    /// A tensor has the wrong shape.
    #[error("{name}: expected shape {expected}, got {actual:?}")]
    Shape {
        /// What the tensor is.
        name: String,
        /// The expected shape, in words.
        expected: String,
        /// The shape it has.
        actual: Vec<i64>,
    },
    /// A value out of range, naming the field, flag or argument.
    #[error(transparent)]
    Invalid(#[from] crate::problem::InvalidValue),
    /// Analytic and numeric gradients disagree.
    #[error("gradient check failed at element {index}: analytic {analytic}, numeric {numeric}")]
    Gradient {
        /// Flat index of the input element.
        index: usize,
        /// Gradient from autograd.
        analytic: f64,
        /// Gradient from central differences.
        numeric: f64,
    },
    /// libtorch could not read or set a random generator's state (see
    /// [`crate::rng_state`]).
    #[error("libtorch's random state of {generator}: {reason}")]
    RandomState {
        /// The generator: `cpu`, `cuda:<index>`, or `cuda` for the device count.
        generator: String,
        /// libtorch's message, on one line.
        reason: String,
    },
    /// An error reported by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl TensorError {
    /// An invalid value for `field`, with the offending value and the reason.
    pub fn config(field: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        crate::problem::InvalidValue::new(field, value, reason).into()
    }
}
