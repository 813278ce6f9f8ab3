//! Inference: the pipeline (bundle on a device) and the worker thread that owns it for the app.

pub mod batch;
pub mod input;
pub mod pipeline;

pub use input::{InputSource, InputView};
pub use pipeline::{EncodedInput, LabelScore, Neighbour, Pipeline};
pub mod worker;

pub use worker::{Analysis, Event, GalleryPoint, Job, ModelSummary, Worker};
