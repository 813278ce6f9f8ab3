//! The crate's search kernel files, included as they are.

#[path = "../../../../src/index/exact.rs"]
pub mod exact;
#[path = "../../../../src/index/gemm.rs"]
pub mod gemm;
#[path = "../../../../src/index/hit.rs"]
pub mod hit;
#[path = "../../../../src/index/rows.rs"]
pub mod rows;
