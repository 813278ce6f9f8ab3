//! The one reading of class labels and prompt templates typed by a user (CLI flags, the
//! window's editor) or stored in a manifest.
//!
//! - **Labels**: separated by commas or new lines; each trimmed; empty entries and repeats
//!   dropped (the first occurrence keeps its place).
//! - **Templates**: separated by new lines or `|`; each trimmed; empty entries dropped;
//!   [`LABEL_PLACEHOLDER`] marks where the label goes, and a template without it gets
//!   `" {label}"` appended (so `the digit` means `the digit {label}`); repeats dropped; no
//!   template at all means the bare label (`{label}`).

/// Where a template puts the label (or each of its aliases).
pub const LABEL_PLACEHOLDER: &str = "{label}";

/// Separators between labels.
const LABEL_SEPARATORS: [char; 2] = [',', '\n'];

/// Separators between templates.
const TEMPLATE_SEPARATORS: [char; 2] = ['\n', '|'];

/// Labels from one text (see the module docs for the rule).
pub fn parse_labels(text: &str) -> Vec<String> {
    labels_from_parts(&[text])
}

/// Labels from several texts (e.g. repeated or comma-split CLI values), each read as by
/// [`parse_labels`], repeats dropped across all of them.
pub fn labels_from_parts<S: AsRef<str>>(parts: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for label in parts
        .iter()
        .flat_map(|p| p.as_ref().split(LABEL_SEPARATORS))
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !out.iter().any(|o| o == label) {
            out.push(label.to_string());
        }
    }
    out
}

/// Templates from one text (see the module docs for the rule); never empty.
pub fn parse_templates(text: &str) -> Vec<String> {
    templates_from_parts(&[text])
}

/// Templates from several texts (e.g. a manifest's list), each read as by
/// [`parse_templates`], repeats dropped across all of them; never empty.
pub fn templates_from_parts<S: AsRef<str>>(parts: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in parts
        .iter()
        .flat_map(|p| p.as_ref().split(TEMPLATE_SEPARATORS))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let template = if t.contains(LABEL_PLACEHOLDER) {
            t.to_string()
        } else {
            format!("{t} {LABEL_PLACEHOLDER}")
        };
        if !out.contains(&template) {
            out.push(template);
        }
    }
    if out.is_empty() {
        out.push(LABEL_PLACEHOLDER.to_string());
    }
    out
}

/// `template` with every [`LABEL_PLACEHOLDER`] replaced by `word`.
pub fn apply_template(template: &str, word: &str) -> String {
    template.replace(LABEL_PLACEHOLDER, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_on_commas_and_lines_without_blanks_or_repeats() {
        assert_eq!(
            parse_labels("one, two\nthree,,two\r\n"),
            vec!["one", "two", "three"]
        );
        assert!(parse_labels("  ,\n").is_empty());
        // Comma-split CLI values read the same as the joined text.
        assert_eq!(
            labels_from_parts(&["seven", " three", "seven"]),
            parse_labels("seven, three, seven")
        );
    }

    #[test]
    fn a_template_without_the_placeholder_gets_it_appended() {
        assert_eq!(
            parse_templates("a photo of a {label}\nthe digit"),
            vec!["a photo of a {label}", "the digit {label}"]
        );
        // `|` separates like a new line, so the CLI and the window agree.
        assert_eq!(
            parse_templates(" a photo of a {label} | the digit |"),
            parse_templates("a photo of a {label}\nthe digit\n\n")
        );
        assert_eq!(
            parse_templates("{label} is it|{label} is it"),
            vec!["{label} is it"]
        );
    }

    #[test]
    fn no_template_means_the_bare_label() {
        for blank in ["", "  ", "\n | \n"] {
            assert_eq!(parse_templates(blank), vec!["{label}"], "{blank:?}");
        }
        assert_eq!(templates_from_parts::<&str>(&[]), vec!["{label}"]);
    }

    #[test]
    fn applying_a_template_replaces_every_placeholder() {
        assert_eq!(apply_template("{label} or {label}", "7"), "7 or 7");
        assert_eq!(
            apply_template("the digit {label}", "seven"),
            "the digit seven"
        );
    }
}
