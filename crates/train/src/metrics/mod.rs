//! Metrics on codes: clustering quality against labels, and disentanglement against known
//! factors.

pub mod clustering;
pub mod mig;
