//! Search, projections and codebook statistics over plain data.

pub mod pca;
pub mod search;
pub mod stats;
pub mod transfer;
