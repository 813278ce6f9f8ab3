//! The metadata TSV of `transference import`, read by the TensorBoard Embedding Projector's
//! rule (the format [`crate::index::projector`] writes as `metadata.tsv`): one line per item;
//! with a single column there is no header and the column is the label; with more than one
//! column the first line is a header naming them. Fields are split on tabs only (the
//! projector export replaces tabs and line breaks inside fields by spaces, so nothing needs
//! unescaping).
//!
//! Known columns: `label`, `modality` (image, audio or text), `path` (a media file: an image
//! thumbnail or an audio clip, relative to the metadata file's folder), `source` and `text`.
//! Other columns are ignored and reported.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::modality::Modality;

/// Header names this importer reads.
pub const KNOWN_COLUMNS: [&str; 5] = ["label", "modality", "path", "source", "text"];

/// One metadata row; empty fields are `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataRow {
    pub label: Option<String>,
    pub modality: Option<Modality>,
    /// Media file, resolved against the metadata file's folder.
    pub path: Option<PathBuf>,
    pub source: Option<String>,
    pub text: Option<String>,
}

/// The rows of a metadata file and the header columns that were ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    pub rows: Vec<MetadataRow>,
    /// False for a single-column file (labels only, no header line).
    pub has_header: bool,
    pub ignored_columns: Vec<String>,
}

fn meta_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Import {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Reads a metadata TSV file; at most `max_rows` rows.
pub fn read_metadata(path: &Path, max_rows: usize) -> Result<Metadata> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_metadata(&text, path, base, max_rows)
}

/// Parses metadata text; `path` names the file in errors, media paths resolve against `base`.
pub fn parse_metadata(text: &str, path: &Path, base: &Path, max_rows: usize) -> Result<Metadata> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let Some(first) = lines.first() else {
        return Err(meta_err(path, "file is empty; expected one line per item"));
    };
    let width = first.split('\t').count();
    let (columns, body_start) = if width == 1 {
        (vec!["label".to_string()], 0)
    } else {
        let header: Vec<String> = first
            .split('\t')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        (header, 1)
    };
    let index_of = |name: &str| columns.iter().position(|c| c == name);
    let [label_col, modality_col, path_col, source_col, text_col] = KNOWN_COLUMNS.map(index_of);
    if width > 1 && KNOWN_COLUMNS.iter().all(|k| index_of(k).is_none()) {
        return Err(meta_err(
            path,
            format!(
                "the header `{}` names none of the known columns ({})",
                first,
                KNOWN_COLUMNS.join(", ")
            ),
        ));
    }
    let ignored_columns = columns
        .iter()
        .filter(|c| !KNOWN_COLUMNS.contains(&c.as_str()))
        .cloned()
        .collect();
    let mut rows = Vec::new();
    for (line_no, line) in lines.iter().enumerate().skip(body_start) {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != columns.len() {
            return Err(meta_err(
                path,
                format!(
                    "line {} has {} columns, expected {} like the header",
                    line_no + 1,
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        if rows.len() >= max_rows {
            return Err(meta_err(path, format!("more than {max_rows} rows")));
        }
        let get = |col: Option<usize>| col.and_then(|c| non_empty(fields[c]));
        let modality = match get(modality_col) {
            Some(name) => Some(Modality::parse(&name).ok_or_else(|| {
                meta_err(
                    path,
                    format!(
                        "line {}: modality `{name}` is not image, audio or text",
                        line_no + 1
                    ),
                )
            })?),
            None => None,
        };
        rows.push(MetadataRow {
            label: get(label_col),
            modality,
            path: get(path_col).map(|p| base.join(p)),
            source: get(source_col),
            text: get(text_col),
        });
    }
    if rows.is_empty() {
        return Err(meta_err(
            path,
            "no rows after the header; expected one line per item",
        ));
    }
    Ok(Metadata {
        rows,
        has_header: body_start == 1,
        ignored_columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_column_is_labels_without_header_and_header_columns_are_named() {
        let p = Path::new("m.tsv");
        let one = parse_metadata("3\n7\n", p, Path::new("/d"), 10).expect("labels");
        assert_eq!(one.rows.len(), 2);
        assert_eq!(one.rows[1].label.as_deref(), Some("7"));
        let many = parse_metadata(
            "modality\tlabel\tspeaker\tpath\naudio\tseven\tjo\tclips/a.wav\n",
            p,
            Path::new("/d"),
            10,
        )
        .expect("header");
        assert_eq!(many.rows[0].modality, Some(Modality::Audio));
        assert_eq!(many.rows[0].path, Some(PathBuf::from("/d/clips/a.wav")));
        assert_eq!(many.ignored_columns, ["speaker"]);
        let ragged = parse_metadata("label\tmodality\nx\n", p, Path::new("."), 10);
        assert!(
            ragged
                .unwrap_err()
                .to_string()
                .contains("line 2 has 1 columns")
        );
    }
}
