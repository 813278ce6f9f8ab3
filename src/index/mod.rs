//! Search, projections, codebook statistics and the Embedding Projector export over plain data.

pub mod norm;
pub mod pca;
pub mod projection;
pub mod projector;
pub mod search;
pub mod stats;
pub mod transfer;

pub use norm::{L2_NORM_FLOOR, l2_normalize, l2_normalize_rows};
