//! Learning and inverting a real renderer, the sprites of `aecraft_data::sprites`:
//! [`surrogate`] fits a differentiable approximation of the renderer, and [`search_params`]
//! inverts it by search and descent through that approximation.

mod search;
pub mod surrogate;

pub use search::{search_params, SearchConfig};
