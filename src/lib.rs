//! Transference Explorer: a shared discrete codebook across images, audio and text,
//! made visible. The library holds everything; `main.rs` only parses arguments.

pub mod app;
pub mod audio_io;
pub mod bundle;
pub mod cli;
pub mod device;
pub mod engine;
pub mod error;
pub mod index;
pub mod lessons;
pub mod log_file;
pub mod modality;
pub mod model;
pub mod preprocess;
pub mod safe_write;
#[doc(hidden)]
pub mod test_support;
pub mod train;
pub mod ui;
pub mod view_options;

pub use error::{Error, Result};
pub use modality::Modality;
