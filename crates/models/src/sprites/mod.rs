//! Learning and inverting a real renderer, the sprites of `aecraft_data::sprites`:
//! [`surrogate`] fits a differentiable approximation of the renderer, [`search_params`]
//! inverts it by search and descent through that approximation, [`fit_two_stage`] trains
//! the surrogate and then an inverse-graphics encoder through it, and [`invert`] scores the
//! pair on held-out sprites; [`fit_and_invert`] does both. [`independent`] trains codes of independent features on
//! sprites and scores them against the true factors. [`SpritesRun`] is what a run on sprites
//! records.

mod experiment;
pub mod independent;
mod inversion;
mod run_spec;
mod search;
pub mod surrogate;
mod two_stage;

pub use experiment::{fit_and_invert, SurrogateOutcome};
pub use inversion::{decode, invert, rerender, save_inversion_pictures, InverseScores, Inversion};
pub use run_spec::SpritesRun;
pub use search::{search_params, SearchConfig};
pub use two_stage::{
    fit_two_stage, inverse_autoencoder, surrogate_config, Drawing, ShapeInput, TwoStage,
    TwoStageConfig, INVERSE_DIR, SURROGATE_DIR,
};
