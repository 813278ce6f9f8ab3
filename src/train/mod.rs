//! Training: data preparation, the CMG model and losses, the EMA codebook, the loop,
//! evaluation and bundle export.

pub mod cmg;
pub mod config;
pub mod data;
pub mod ema;
pub mod eval;
pub mod export;
pub mod losses;
pub mod prompts;
pub mod run;
pub mod trainer;
