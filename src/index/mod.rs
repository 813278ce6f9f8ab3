//! Search, projections, codebook statistics and the Embedding Projector export over plain data.

pub mod pca;
pub mod projector;
pub mod search;
pub mod stats;
pub mod transfer;
