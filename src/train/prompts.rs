//! Class prompts for the digits model: every digit in several written forms.

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
