//! Inference: the pipeline (bundle on a device), the worker thread that owns it for the app,
//! the job/event protocol between them and the plain-data summaries the window draws.

pub mod batch;
pub mod code_page;
pub mod compare;
pub mod gallery_map;
pub mod generate;
pub mod input;
pub mod labelled_files;
pub mod low_resource;
pub mod pipeline;
pub mod protocol;
pub mod summary;
pub mod worker;

pub use input::{InputSource, InputView};
pub use pipeline::{EncodedInput, LabelScore, Neighbour, Pipeline};
pub use protocol::{
    Analysis, ComparisonView, ErrorKind, Event, GalleryPoint, Job, JobError, JobKind, ModelSummary,
    ZeroShotUnavailable,
};
pub use worker::Worker;

/// Milliseconds since `t`: how every stage's time is reported.
pub(crate) fn ms_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
