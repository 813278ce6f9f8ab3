//! Search, projections, codebook statistics and the Embedding Projector export over plain data.

pub mod accuracy;
pub mod code_facts;
pub mod compare;
pub mod exact;
pub mod gallery_index;
pub mod gemm;
pub mod hit;
pub mod hnsw;
pub mod low_resource;
pub mod norm;
pub mod pca;
pub mod procrustes;
pub mod projection;
pub mod projector;
pub mod rows;
pub mod search;
pub mod stats;
pub mod transfer;

pub use gallery_index::{ExactIndex, GalleryIndex};
pub use hnsw::{HnswIndex, HnswSettings};
pub use norm::{L2_NORM_FLOOR, l2_normalize, l2_normalize_rows};
pub use rows::{RowDtype, Rows};
