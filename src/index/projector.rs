//! TensorBoard Embedding Projector export: `vectors.tsv` (one embedding per line) and
//! `metadata.tsv` (modality, label, source per line, with a header). It lives with the other
//! plain-data views of the gallery; the worker calls it because it holds the embeddings.

use std::path::{Path, PathBuf};

use crate::bundle::Gallery;
use crate::error::{Error, Result};
use crate::modality::Modality;

/// Name of the file with one embedding per line.
pub const VECTORS_FILE: &str = "vectors.tsv";
/// Name of the file with one `modality\tlabel\tsource` line per embedding.
pub const METADATA_FILE: &str = "metadata.tsv";
/// First line of [`METADATA_FILE`].
pub const METADATA_HEADER: &str = "modality\tlabel\tsource";

/// An extra row of an Embedding Projector export (not from the gallery).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectorRow {
    pub modality: Modality,
    pub label: String,
    pub source: String,
    pub embedding: Vec<f32>,
}

/// One TSV field: tabs and line breaks (which would split the row) become spaces.
fn tsv_field(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Writes `vectors.tsv` (one embedding per line, tab-separated) and `metadata.tsv` (header
/// `modality\tlabel\tsource`) for the TensorBoard Embedding Projector. Returns the files and
/// the number of rows.
pub fn write_projector(
    dir: &Path,
    gallery: Option<&Gallery>,
    extra: &[ProjectorRow],
) -> Result<(Vec<PathBuf>, usize)> {
    use std::fmt::Write as _;
    let mut rows: Vec<(Modality, String, String, std::borrow::Cow<'_, [f32]>)> = Vec::new();
    if let Some(g) = gallery {
        for (i, item) in g.items.iter().enumerate() {
            rows.push((
                item.modality,
                item.label.clone().unwrap_or_default(),
                item.source.clone(),
                g.embedding(i),
            ));
        }
    }
    for r in extra {
        rows.push((
            r.modality,
            r.label.clone(),
            r.source.clone(),
            std::borrow::Cow::Borrowed(&r.embedding),
        ));
    }
    if rows.is_empty() {
        return Err(Error::InvalidRequest(
            "nothing to export: the model has no gallery and there are no inputs".into(),
        ));
    }
    let dim = rows[0].3.len();
    if let Some(bad) = rows.iter().find(|r| r.3.len() != dim) {
        return Err(Error::InvalidRequest(format!(
            "cannot export {}: its embedding has {} values, the others {dim}",
            bad.2,
            bad.3.len()
        )));
    }
    let mut vectors = String::new();
    let mut metadata = format!("{METADATA_HEADER}\n");
    for (m, label, source, e) in &rows {
        for (j, v) in e.iter().enumerate() {
            if j > 0 {
                vectors.push('\t');
            }
            let _ = write!(vectors, "{v}");
        }
        vectors.push('\n');
        let _ = writeln!(metadata, "{m}\t{}\t{}", tsv_field(label), tsv_field(source));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut files = Vec::new();
    for (name, text) in [(VECTORS_FILE, vectors), (METADATA_FILE, metadata)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::Write {
            path: path.clone(),
            source: e,
        })?;
        files.push(path);
    }
    Ok((files, rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(modality: Modality, label: &str, source: &str, embedding: &[f32]) -> ProjectorRow {
        ProjectorRow {
            modality,
            label: label.into(),
            source: source.into(),
            embedding: embedding.to_vec(),
        }
    }

    #[test]
    fn writes_exact_tsv_with_gallery_first_and_separators_in_labels_replaced() {
        let gallery = Gallery {
            items: vec![crate::bundle::GalleryItem {
                modality: Modality::Audio,
                label: Some("seven".into()),
                source: "clips/7.wav".into(),
                media: None,
                text: None,
            }],
            embeddings: vec![0.5, -0.25].into(),
            dim: 2,
            codes: vec![vec![1, 2]],
            ..Default::default()
        };
        let extra = [
            row(
                Modality::Image,
                "three\t(zero-shot)",
                "input: a\nb.png",
                &[1.0, 0.0],
            ),
            row(Modality::Text, "", "input: \r\"x\"", &[0.125, 2.0]),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("export");
        let (files, rows) = write_projector(&out, Some(&gallery), &extra).unwrap();
        assert_eq!(rows, 3);
        assert_eq!(files, vec![out.join(VECTORS_FILE), out.join(METADATA_FILE)]);
        assert_eq!(
            std::fs::read_to_string(out.join(VECTORS_FILE)).unwrap(),
            "0.5\t-0.25\n1\t0\n0.125\t2\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join(METADATA_FILE)).unwrap(),
            "modality\tlabel\tsource\n\
             audio\tseven\tclips/7.wav\n\
             image\tthree (zero-shot)\tinput: a b.png\n\
             text\t\tinput:  \"x\"\n"
        );
    }

    #[test]
    fn refuses_nothing_and_mixed_sizes() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write_projector(tmp.path(), None, &[]).unwrap_err();
        assert!(err.to_string().contains("nothing to export"), "{err}");
        let mixed = [
            row(Modality::Text, "a", "one", &[1.0, 2.0]),
            row(Modality::Text, "b", "two", &[1.0]),
        ];
        let err = write_projector(tmp.path(), None, &mixed).unwrap_err();
        assert!(err.to_string().contains("two"), "{err}");
        assert!(
            !tmp.path().join(VECTORS_FILE).exists(),
            "nothing half-written"
        );
    }
}
