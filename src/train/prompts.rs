//! Class prompts for the digits model: every digit in several written forms, and their
//! frozen transformer states, computed once before training.

use std::path::Path;

use burn::tensor::Device;

use crate::bundle::weights;
use crate::error::Result;
use crate::model::{BertConfig, float_to_vec, int_tensor_from_vec, tensor_from_vec};
use crate::preprocess::text::TextTokenizer;
use crate::train::data::DIGIT_WORDS;

/// Templates used at training time (`{label}` is the digit word or numeral).
pub const TRAIN_TEMPLATES: &[&str] = &[
    "{label}",
    "the digit {label}",
    "number {label}",
    "the number {label}",
    "a handwritten {label}",
    "a spoken {label}",
    "someone saying {label}",
    "a picture of the digit {label}",
];

/// Templates written into the bundle for zero-shot classification.
pub const BUNDLE_TEMPLATES: &[&str] = &["{label}", "the digit {label}", "the number {label}"];

/// Words for each class: the English word and the numeral.
pub fn class_words(class: usize) -> [String; 2] {
    [DIGIT_WORDS[class].to_string(), class.to_string()]
}

/// All training prompts as (class, text).
pub fn training_prompts() -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for class in 0..DIGIT_WORDS.len() {
        for word in class_words(class) {
            for t in TRAIN_TEMPLATES {
                out.push((class, crate::bundle::prompts::apply_template(t, &word)));
            }
        }
    }
    out
}

/// Frozen transformer states of one prompt.
#[derive(Clone, Debug)]
pub struct PromptStates {
    pub class: usize,
    pub text: String,
    /// `[len, H]`
    pub hidden: Vec<f32>,
    pub len: usize,
}

/// Runs the frozen transformer once over every prompt.
pub fn precompute_prompts(
    prompts: &[(usize, String)],
    transformer_dir: &Path,
    max_tokens: usize,
) -> Result<(Vec<PromptStates>, usize)> {
    let device = Device::flex();
    let bert_cfg = BertConfig::minilm_l6();
    let bert = weights::load_bert(
        &transformer_dir.join("model.safetensors"),
        &bert_cfg,
        &device,
    )?;
    let tokenizer = TextTokenizer::from_file(&transformer_dir.join("tokenizer.json"), max_tokens)?;
    let h = bert_cfg.hidden_size;
    let mut out = Vec::new();
    for chunk in prompts.chunks(64) {
        let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let (ids, mask, l) = tokenizer.encode_batch(&texts)?;
        let b = chunk.len();
        let hidden = bert.forward(
            int_tensor_from_vec(ids.iter().map(|&i| i as i64).collect(), [b, l], &device),
            tensor_from_vec(mask.iter().map(|&m| m as f32).collect(), [b, l], &device),
        );
        let hidden = float_to_vec(hidden);
        for (i, (class, text)) in chunk.iter().enumerate() {
            let len = mask[i * l..(i + 1) * l].iter().filter(|&&m| m == 1).count();
            out.push(PromptStates {
                class: *class,
                text: text.clone(),
                hidden: hidden[i * l * h..(i * l + len) * h].to_vec(),
                len,
            });
        }
    }
    Ok((out, h))
}
