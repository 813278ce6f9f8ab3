//! Typed errors of the library. Every variant names what went wrong, where (file, tensor),
//! and what was expected, so the CLI can print one actionable line and the app can show it
//! as a notification.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration value that breaks one of its rules, in words: what and what was
/// expected. Validation returns it; the caller wraps it into the error of the file the value
/// came from ([`Error::Manifest`], [`Error::Lesson`], …), which names the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(reason: String) -> Self {
        Invalid(reason)
    }
}

impl From<&str> for Invalid {
    fn from(reason: &str) -> Self {
        Invalid(reason.to_string())
    }
}

/// [`Invalid`] with a formatted reason: `invalid!("{n} is too large")`.
#[macro_export]
macro_rules! invalid {
    ($($arg:tt)*) => {
        $crate::error::Invalid(format!($($arg)*))
    };
}

/// Everything the library can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not an image the `image` crate can decode.
    #[error(
        "{path}: not a decodable image ({reason}); expected PNG, JPEG, BMP, GIF, TIFF, WebP or PNM"
    )]
    ImageDecode { path: PathBuf, reason: String },

    /// The image has more pixels than [`crate::preprocess::image::MAX_IMAGE_PIXELS`].
    #[error(
        "{path}: image is {width}x{height} ({pixels} pixels), more than the limit of {limit} pixels"
    )]
    ImageTooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },

    /// The image has no ink at all (blank canvas, uniform colour).
    #[error("{path}: image is blank (uniform colour); nothing to encode")]
    ImageBlank { path: PathBuf },

    /// The bytes are not a WAV file this crate can read.
    #[error(
        "{path}: not a readable WAV file ({reason}); expected RIFF/WAVE PCM 8/16/24/32-bit integer or 32-bit float"
    )]
    AudioDecode { path: PathBuf, reason: String },

    /// The bytes are not a WAV file and no other decoder (FLAC, MP3, OGG/Vorbis, M4A/AAC) could
    /// read them.
    #[error(
        "{path}: cannot decode audio ({reason}); expected WAV, FLAC, MP3, OGG/Vorbis or M4A/AAC"
    )]
    AudioFormat { path: PathBuf, reason: String },

    /// The audio is longer than the model's limit.
    #[error(
        "{path}: audio lasts {duration_secs:.2} s, longer than the limit of {limit_secs:.2} s; cut it to one utterance"
    )]
    AudioTooLong {
        path: PathBuf,
        duration_secs: f64,
        limit_secs: f64,
    },

    /// The audio has no samples, or only silence.
    #[error("{path}: audio is empty or silent (peak {peak_dbfs:.1} dBFS); nothing to encode")]
    AudioSilent { path: PathBuf, peak_dbfs: f32 },

    /// Text input was empty or whitespace only.
    #[error("text is empty; type a word or a sentence")]
    EmptyText,

    /// The tokenizer file is missing or not a valid tokenizer.json.
    #[error("{path}: cannot load tokenizer ({reason})")]
    Tokenizer { path: PathBuf, reason: String },

    /// A file's extension is not one of the supported input kinds.
    #[error(
        "{path}: unsupported input type; expected an image (png, jpg, bmp, gif, tiff, webp) or audio (wav, flac, mp3, ogg, m4a)"
    )]
    UnsupportedInput { path: PathBuf },

    /// The bundle's manifest is missing, malformed or inconsistent.
    #[error("{path}: invalid manifest: {reason}")]
    Manifest { path: PathBuf, reason: String },

    /// A folder given as a model bundle has no manifest.
    #[error(
        "{path}: not a model bundle (there is no manifest.toml in it); expected a bundle \
         folder as written by `transference train` or `transference import`"
    )]
    NotABundle { path: PathBuf },

    /// The manifest declares a format version this build does not read.
    #[error(
        "{path}: manifest format version {found} is not supported (this build reads version {supported})"
    )]
    ManifestVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// A safetensors file is unreadable or truncated.
    #[error("{path}: not a valid safetensors file ({reason})")]
    Safetensors { path: PathBuf, reason: String },

    /// A tensor the model needs is not in the weights file.
    #[error("{path}: tensor `{tensor}` is missing (expected shape {expected:?})")]
    MissingTensor {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
    },

    /// A tensor has the wrong shape.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// A tensor has a dtype we cannot use as float weights.
    #[error("{path}: tensor `{tensor}` has dtype {found}, expected F32, F16 or BF16")]
    TensorDtype {
        path: PathBuf,
        tensor: String,
        found: String,
    },

    /// A tensor contains NaN or infinite values.
    #[error("{path}: tensor `{tensor}` contains {count} NaN/infinite values")]
    NonFinite {
        path: PathBuf,
        tensor: String,
        count: usize,
    },

    /// The weights file holds tensors the model does not know.
    #[error("{path}: unexpected tensor `{tensor}` (not part of this architecture)")]
    UnexpectedTensor { path: PathBuf, tensor: String },

    /// An input of `transference import` is not what was expected.
    #[error("{path}: {reason}")]
    Import { path: PathBuf, reason: String },

    /// The gallery is malformed or does not match the model.
    #[error("{path}: invalid gallery: {reason}")]
    Gallery { path: PathBuf, reason: String },

    /// No model was named and no default model was found in any of the places searched
    /// (see [`crate::bundle::locate`]).
    #[error(
        "no default model found: none of these folders has a {manifest}: {}; pass --model BUNDLE",
        join_paths(.searched)
    )]
    DefaultModelMissing {
        /// The manifest file name looked for in each folder.
        manifest: &'static str,
        /// Every folder looked at, in lookup order.
        searched: Vec<PathBuf>,
    },

    /// A frozen encoder file the manifest names (MiniLM, Whisper) is neither at its path nor
    /// where a moved bundle finds it (see [`crate::bundle::locate::find_frozen_file`]).
    #[error(
        "the model {} needs the frozen encoder file {relative} named in its manifest, and it is in none of: {}; put the encoder's folder beside the model's folder (as in models/) or correct the path in manifest.toml",
        model.display(),
        join_paths(.searched)
    )]
    FrozenEncoderMissing {
        /// The bundle folder.
        model: PathBuf,
        /// The path as the manifest writes it, relative to the bundle.
        relative: String,
        /// Every path looked at, in lookup order.
        searched: Vec<PathBuf>,
    },

    /// The request needs the model's gallery and the model has none.
    #[error(
        "the model {} has no gallery; build one with `transference index`",
        model.display()
    )]
    NoGallery { model: PathBuf },

    /// A lesson file is unreadable, malformed or inconsistent; `place` names the step (number
    /// and title) and the action or check, or "the lesson" for its header.
    #[error("{path}: {place}: {reason}")]
    Lesson {
        path: PathBuf,
        place: String,
        reason: String,
    },

    /// No lesson has this id.
    #[error("no lesson with id `{id}`; the lessons are: {available}")]
    LessonNotFound { id: String, available: String },

    /// A step of a lesson no longer works (with this bundle): its action or check failed.
    #[error("lesson `{lesson}`, step {step} \"{title}\": {what} failed: {reason}")]
    LessonStep {
        lesson: String,
        /// 1-based.
        step: usize,
        title: String,
        /// The action or check, described.
        what: String,
        reason: String,
    },

    /// The model does not have the requested modality.
    #[error("this model has no {modality} encoder (it has: {available})")]
    MissingModality { modality: String, available: String },

    /// A code id that is not in the codebook.
    #[error("code {code} is not in the codebook: it has {codebook_size} codes (0 to {last})", last = codebook_size.saturating_sub(1))]
    CodeOutOfRange { code: u32, codebook_size: usize },

    /// Training data (a prepared data folder, or a source it is made from) is missing or not
    /// what the trainer expects; `reason` says what is wrong and how to make it.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },

    /// A download for data preparation failed; `hint` says how to do without it.
    #[error("{url}: download failed ({reason}); {hint}")]
    Download {
        url: String,
        reason: String,
        hint: String,
    },

    /// A request that cannot be satisfied as asked (bad argument values).
    #[error("{0}")]
    InvalidRequest(String),

    /// The requested device cannot be used.
    #[error("device unavailable: {0}")]
    Device(String),

    /// A bug or an unexpected state; not caused by the input.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Who can fix a failure: the user (their input, or the bundle they opened) or the
/// developers (a bug, a failed write, a device that will not run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A file, text, argument or recording the user supplied was refused.
    BadInput,
    /// A model bundle (its manifest, weights, gallery, or the files it names) is broken.
    BadBundle,
    /// A bug or an unexpected state, or a file that could not be written.
    Internal,
    /// The compute device failed or cannot be used.
    Device,
}

impl ErrorKind {
    /// True for the kinds the user can fix (bad input, bad bundle).
    pub fn user_can_fix(self) -> bool {
        matches!(self, ErrorKind::BadInput | ErrorKind::BadBundle)
    }

    /// The kind's name in JSON output (`bad_input`, `bad_bundle`, `internal`, `device`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::BadBundle => "bad_bundle",
            ErrorKind::Internal => "internal",
            ErrorKind::Device => "device",
        }
    }
}

impl Error {
    /// Which kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Internal(_) | Error::Write { .. } => ErrorKind::Internal,
            Error::Device(_) => ErrorKind::Device,
            Error::Manifest { .. }
            | Error::NotABundle { .. }
            | Error::ManifestVersion { .. }
            | Error::Safetensors { .. }
            | Error::MissingTensor { .. }
            | Error::TensorShape { .. }
            | Error::TensorDtype { .. }
            | Error::NonFinite { .. }
            | Error::UnexpectedTensor { .. }
            | Error::Gallery { .. }
            | Error::Tokenizer { .. }
            | Error::DefaultModelMissing { .. }
            | Error::FrozenEncoderMissing { .. } => ErrorKind::BadBundle,
            _ => ErrorKind::BadInput,
        }
    }

    /// True when the user can fix the failure (their input or their bundle), false for
    /// internal and device failures. The CLI maps this to exit code 2 vs 1.
    pub fn is_bad_input(&self) -> bool {
        self.kind().user_can_fix()
    }

    /// Helper for `Io` errors.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Paths as one line, comma-separated.
fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
