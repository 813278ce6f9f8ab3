//! Zero-shot to classes never seen (Socher et al., NeurIPS 2013): for a bundle trained with
//! some classes held out of image and audio training (`labels.unseen` in its manifest), the
//! zero-shot accuracy of every test set split into seen and unseen classes, each beside its
//! chance level.
//!
//! Two readings of "unseen accuracy" are reported, because they answer different questions:
//! - *generalised*: the unseen items classified among all labels (chance `1 / labels`); a model
//!   biased towards the classes it trained on scores low here;
//! - *unseen only*: the unseen items classified among the unseen labels alone (chance
//!   `1 / unseen labels`), the classic zero-shot protocol.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::train::eval::score::{EvalSets, zero_shot_predictions};

/// Seen/unseen zero-shot figures of one test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnseenSplit {
    pub n_seen: usize,
    pub n_unseen: usize,
    /// Seen items classified among all labels.
    pub seen_accuracy: f32,
    /// Unseen items classified among all labels.
    pub unseen_accuracy: f32,
    /// Unseen items classified among the unseen labels only.
    pub unseen_only_accuracy: f32,
    /// `1 / labels`.
    pub chance: f32,
    /// `1 / unseen labels`.
    pub unseen_only_chance: f32,
}

/// The unseen classes and the split of every test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnseenReport {
    pub unseen_classes: Vec<String>,
    pub sets: BTreeMap<String, UnseenSplit>,
}

/// Splits every test set of `sets` by `unseen` (class names among `class_names`); `None` when
/// no class is unseen.
pub fn unseen_report(
    sets: &EvalSets,
    class_names: &[String],
    unseen: &[String],
) -> Result<Option<UnseenReport>> {
    let unseen_ids: Vec<usize> = class_names
        .iter()
        .enumerate()
        .filter(|(_, n)| unseen.contains(n))
        .map(|(i, _)| i)
        .collect();
    if unseen_ids.is_empty() || sets.classes.is_empty() {
        return Ok(None);
    }
    let unseen_classes: Vec<Vec<f32>> = unseen_ids
        .iter()
        .map(|&i| sets.classes[i].clone())
        .collect();
    let mut report = UnseenReport {
        unseen_classes: unseen_ids.iter().map(|&i| class_names[i].clone()).collect(),
        sets: BTreeMap::new(),
    };
    for test in &sets.tests {
        let all = zero_shot_predictions(&test.set, &sets.classes)?;
        let among_unseen = zero_shot_predictions(&test.set, &unseen_classes)?;
        let (mut n_seen, mut n_unseen) = (0usize, 0usize);
        let (mut seen_ok, mut unseen_ok, mut unseen_only_ok) = (0usize, 0usize, 0usize);
        for (i, &truth) in test.set.labels.iter().enumerate() {
            if let Some(pos) = unseen_ids.iter().position(|&u| u == truth) {
                n_unseen += 1;
                unseen_ok += usize::from(all[i] == truth);
                unseen_only_ok += usize::from(among_unseen[i] == pos);
            } else {
                n_seen += 1;
                seen_ok += usize::from(all[i] == truth);
            }
        }
        let ratio = |a: usize, n: usize| if n == 0 { 0.0 } else { a as f32 / n as f32 };
        report.sets.insert(
            test.name.clone(),
            UnseenSplit {
                n_seen,
                n_unseen,
                seen_accuracy: ratio(seen_ok, n_seen),
                unseen_accuracy: ratio(unseen_ok, n_unseen),
                unseen_only_accuracy: ratio(unseen_only_ok, n_unseen),
                chance: 1.0 / class_names.len().max(1) as f32,
                unseen_only_chance: 1.0 / unseen_ids.len() as f32,
            },
        );
    }
    Ok(Some(report))
}

/// The model card's section on unseen classes (empty without a report).
pub fn card_section(report: Option<&UnseenReport>) -> String {
    let Some(r) = report else {
        return String::new();
    };
    let mut s = format!(
        "## Zero-shot to unseen classes\n\nThe classes {} were held out of image and audio \
         training (and of the text-contrastive term): the model met them only as text prompts \
         through the frozen MiniLM tower. *Generalised* classifies their test items among all \
         labels; *unseen only* among the unseen labels alone (Socher et al., NeurIPS 2013).\n\n\
         | test set | seen (n) | seen acc. | unseen (n) | unseen acc., all labels | chance | \
         unseen acc., unseen labels only | chance |\n|---|---|---|---|---|---|---|---|\n",
        r.unseen_classes
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    for (name, x) in &r.sets {
        s.push_str(&format!(
            "| {name} | {} | {:.1} % | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % |\n",
            x.n_seen,
            x.seen_accuracy * 100.0,
            x.n_unseen,
            x.unseen_accuracy * 100.0,
            x.chance * 100.0,
            x.unseen_only_accuracy * 100.0,
            x.unseen_only_chance * 100.0
        ));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modality::Modality;
    use crate::model::EncodedItem;
    use crate::train::eval::score::TestSet;
    use crate::train::eval::sets::EncodedSet;

    fn item(embedding: Vec<f32>) -> EncodedItem {
        EncodedItem {
            modality: Modality::Image,
            codes: vec![],
            positions: vec![],
            distances: vec![],
            embedding,
        }
    }

    /// Three classes on the axes; class 2 is unseen. Its items sit between class 0 and 2, a
    /// little nearer class 0: among all labels they are wrong, among unseen labels right.
    #[test]
    fn seen_and_unseen_items_are_scored_apart_with_their_chance_levels() {
        let classes = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        let set = EncodedSet {
            items: vec![
                item(vec![1.0, 0.0, 0.0]),
                item(vec![0.0, 1.0, 0.0]),
                item(vec![0.0, 0.0, 1.0]),
                item(vec![0.8, 0.0, 0.6]),
            ],
            labels: vec![0, 1, 2, 2],
        };
        let sets = EvalSets {
            tests: vec![TestSet {
                name: "image".into(),
                modality: Modality::Image,
                source: "test".into(),
                set,
            }],
            classes,
            ..EvalSets::default()
        };
        let names: Vec<String> = ["zero", "one", "two"].map(String::from).to_vec();
        let r = unseen_report(&sets, &names, &["two".into()])
            .unwrap()
            .unwrap();
        assert_eq!(r.unseen_classes, vec!["two".to_string()]);
        let x = &r.sets["image"];
        assert_eq!((x.n_seen, x.n_unseen), (2, 2));
        assert_eq!(x.seen_accuracy, 1.0);
        assert_eq!(x.unseen_accuracy, 0.5);
        assert_eq!(x.unseen_only_accuracy, 1.0);
        assert!((x.chance - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(x.unseen_only_chance, 1.0);
        assert!(card_section(Some(&r)).contains("| image | 2 | 100.0 % | 2 | 50.0 %"));
        assert!(unseen_report(&sets, &names, &[]).unwrap().is_none());
    }
}
