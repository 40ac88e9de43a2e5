//! Metrics on codes: clustering quality against labels, and disentanglement against known
//! factors, and what a linear probe can read from them.

pub mod clustering;
pub mod mig;
pub mod probe;
