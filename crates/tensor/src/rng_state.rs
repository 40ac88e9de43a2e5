//! libtorch's random state: the state of its default generators (the CPU's, and one per
//! CUDA device), which every random draw of tch comes from (`Tensor::randn`, dropout,
//! sampling). tch 0.24 cannot read or set it, so a small C++ shim (`rng_state.cpp`, compiled
//! by this crate's build script) does, and [`RngState`] holds it as plain bytes that serde
//! can save: a checkpoint saves it, and a resumed run draws the same numbers as one that was
//! never interrupted.
//!
//! ```
//! use aecraft_tensor::rng_state::{Restored, RngState};
//! use tch::{Device, Kind, Tensor};
//!
//! # fn main() -> Result<(), aecraft_tensor::TensorError> {
//! let saved = RngState::capture()?;
//! let first = Tensor::randn([3], (Kind::Float, Device::Cpu));
//! assert_eq!(saved.restore()?, Restored::All);
//! let again = Tensor::randn([3], (Kind::Float, Device::Cpu));
//! assert!(first.equal(&again));
//! # Ok(())
//! # }
//! ```

use std::ffi::{c_char, c_void, CStr};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TensorError;

extern "C" {
    fn aecraft_rng_cuda_devices(count: *mut i64) -> *mut c_char;
    fn aecraft_rng_get_state(device: i64, bytes: *mut *mut u8, length: *mut usize) -> *mut c_char;
    fn aecraft_rng_set_state(device: i64, bytes: *const u8, length: usize) -> *mut c_char;
    fn aecraft_rng_free(pointer: *mut c_void);
}

/// The state of libtorch's default random generators, as libtorch serializes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The CPU generator's state (a Mersenne twister and a cached normal draw).
    pub cpu: Vec<u8>,
    /// Each CUDA device's generator state (its seed and Philox offset), by device index;
    /// empty without CUDA.
    pub cuda: Vec<Vec<u8>>,
}

/// What [`RngState::restore`] put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// Every generator: the CPU's and each CUDA device's.
    All,
    /// The CPU's, and the CUDA devices both saved and present, which are fewer than one of
    /// the two numbers: the state was captured with another set of CUDA devices.
    CudaDevicesDiffer {
        /// CUDA devices in the saved state.
        saved: usize,
        /// CUDA devices libtorch sees now.
        present: usize,
    },
}

impl RngState {
    /// The current state of every default generator.
    pub fn capture() -> Result<Self, TensorError> {
        let cpu = get_state(Generator::Cpu)?;
        let cuda = (0..cuda_devices()?)
            .map(|device| get_state(Generator::Cuda(device)))
            .collect::<Result<_, _>>()?;
        Ok(Self { cpu, cuda })
    }

    /// Sets the CPU generator, and every CUDA device's generator that both the saved state
    /// and this process have, to the saved state. Bytes libtorch refuses (a wrong size, an
    /// invalid twister) are an error naming the generator; the generators before it are
    /// already set then.
    pub fn restore(&self) -> Result<Restored, TensorError> {
        set_state(Generator::Cpu, &self.cpu)?;
        let present = cuda_devices()?;
        for (device, state) in self.cuda.iter().enumerate().take(present) {
            set_state(Generator::Cuda(device), state)?;
        }
        if present == self.cuda.len() {
            Ok(Restored::All)
        } else {
            Ok(Restored::CudaDevicesDiffer {
                saved: self.cuda.len(),
                present,
            })
        }
    }
}

/// One default generator, for the shim (`-1` for the CPU, else the CUDA device's index) and
/// for messages.
#[derive(Debug, Clone, Copy)]
enum Generator {
    Cpu,
    Cuda(usize),
}

impl Generator {
    fn index(self) -> i64 {
        match self {
            Self::Cpu => -1,
            Self::Cuda(device) => device as i64,
        }
    }
}

impl fmt::Display for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(device) => write!(f, "cuda:{device}"),
        }
    }
}

/// The CUDA devices libtorch sees.
fn cuda_devices() -> Result<usize, TensorError> {
    let mut count = 0i64;
    // SAFETY: the shim writes one i64 through the valid pointer it is given.
    let error = unsafe { aecraft_rng_cuda_devices(&mut count) };
    check("cuda", error)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

fn get_state(generator: Generator) -> Result<Vec<u8>, TensorError> {
    let mut bytes: *mut u8 = std::ptr::null_mut();
    let mut length = 0usize;
    // SAFETY: the shim writes a malloc'ed buffer and its length through the valid pointers,
    // or returns an error and writes nothing.
    let error = unsafe { aecraft_rng_get_state(generator.index(), &mut bytes, &mut length) };
    check(generator, error)?;
    if bytes.is_null() {
        return Err(TensorError::RandomState {
            generator: generator.to_string(),
            reason: "libtorch returned no state".to_owned(),
        });
    }
    // SAFETY: `bytes` points to `length` initialized bytes that are ours to copy, then free.
    let state = unsafe { std::slice::from_raw_parts(bytes, length) }.to_vec();
    // SAFETY: the buffer came from the shim's malloc and is freed once.
    unsafe { aecraft_rng_free(bytes.cast()) };
    Ok(state)
}

fn set_state(generator: Generator, state: &[u8]) -> Result<(), TensorError> {
    // SAFETY: the shim reads `state.len()` bytes from the slice's pointer and keeps none.
    let error = unsafe { aecraft_rng_set_state(generator.index(), state.as_ptr(), state.len()) };
    check(generator, error)
}

/// Turns the shim's error (NULL for none) into a [`TensorError::RandomState`] of one line,
/// freeing the message.
fn check(generator: impl fmt::Display, error: *mut c_char) -> Result<(), TensorError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null error is a NUL-terminated string from the shim's malloc.
    let message = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: freed once, after being copied.
    unsafe { aecraft_rng_free(error.cast()) };
    Err(TensorError::RandomState {
        generator: generator.to_string(),
        reason: message.split_whitespace().collect::<Vec<_>>().join(" "),
    })
}
