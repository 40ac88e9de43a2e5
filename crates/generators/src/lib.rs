//! # aecraft-generators
//!
//! Generators: the last stage of aecraft's encoder → code transforms → generator pipeline.
//! A [`Generator`] reads the code groups it needs from a [`aecraft_codes::Code`] and
//! produces the reconstruction, `[B, D]`. Generators are described by serde configs
//! ([`GeneratorConfig`]) and built with `config.build(&path, ...)`.
//!
//! - [`mlp`]: a fully learned MLP generator.
//! - [`capsules`]: the computer-graphics generator: templates warped by bounded affine poses.
//!
//! Sibling crates: `aecraft-tensor` and `aecraft-codes` (below), `aecraft-train` (the loop,
//! above), and the `aecraft` umbrella.

pub mod capsules;
pub mod generator;
pub mod mlp;

mod error;

pub use capsules::{CapsuleGenerator, CapsuleGeneratorConfig};
pub use error::GeneratorsError;
pub use generator::{Generator, GeneratorConfig, OutputKind};
pub use mlp::{MlpGenerator, MlpGeneratorConfig};
