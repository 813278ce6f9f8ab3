//! Plain-math preprocessing: files to the feature arrays the encoders read. No tensors here.

pub mod audio;
pub mod audio_decode;
pub mod audio_formats;
pub mod components;
pub mod degrade;
pub mod flatten;
pub mod griffin_lim;
pub mod image;
pub mod image_decode;
pub mod mel;
pub mod mnist;
pub mod pixels;
#[cfg(test)]
pub(crate) mod test_images;
pub mod text;
pub mod wav_write;
pub mod waveform;
pub mod whisper_mel;
