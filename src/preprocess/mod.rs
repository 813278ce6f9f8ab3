//! Plain-math preprocessing: files to the feature arrays the encoders read. No tensors here.

pub mod audio;
pub mod image;
pub mod mel;
pub mod text;
