//! # aecraft-eval
//!
//! What a trained autoencoder's codes are worth, measured against the truth a data set
//! carries: clustering metrics against class labels, semantic-hashing retrieval over
//! bit-packed codes, probes that read a label from a code, the mutual information gap
//! against known factors, and the scores of inverse graphics. Every function takes plain
//! slices or tensors, checks its arguments and names the one at fault in an [`EvalError`].
//!
//! ```
//! use aecraft_eval::clustering::{majority_accuracy, nmi};
//! use aecraft_eval::retrieval::{HammingSearcher, PackedCodes};
//!
//! # fn main() -> Result<(), aecraft_eval::EvalError> {
//! // Three clusters that match three classes up to renaming.
//! let clusters = [2, 2, 0, 0, 1, 1];
//! let classes = [0, 0, 1, 1, 2, 2];
//! assert_eq!(majority_accuracy(&clusters, &classes, &clusters, &classes, 3, 3)?, 1.0);
//! assert!((nmi(&clusters, &classes)? - 1.0).abs() < 1e-12);
//!
//! // Two 4-bit codes; the query 0011 is nearest to the first.
//! let database = PackedCodes::from_bits(4, &[false, false, true, true, true, true, false, false])?;
//! let query = PackedCodes::from_bits(4, &[false, false, true, true])?;
//! let ranking = HammingSearcher::new(database)?.rank(query.code(0))?;
//! assert_eq!(ranking[0], 0);
//! # Ok(())
//! # }
//! ```
//!
//! - [`clustering`]: Hungarian, majority and one-label accuracy, NMI, ARI, cluster sizes;
//! - [`retrieval`]: packed codes, exhaustive Hamming search, mAP, precision@k, bit balance,
//!   and the per-class choice of queries;
//! - [`probe`]: linear and MLP probes of a label in a code;
//! - [`mig`]: the mutual information gap; [`sprite_factors`]: the sprites' factors as its
//!   ground truth;
//! - [`inverse`]: how well inferred sprite parameters match the true ones.
//!
//! This crate depends on `aecraft-tensor` and `aecraft-data` (and tch) alone: it knows nothing of
//! how a code was made.

pub mod clustering;
pub mod inverse;
pub mod mig;
pub mod probe;
pub mod retrieval;
pub mod sprite_factors;

mod error;

pub use error::EvalError;
