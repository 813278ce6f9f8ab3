//! Code agreement between modalities, per class: does a written 3 use the same codes as a
//! spoken "three"? (CMG's claim of a unified representation, measured per class rather than
//! as "codes used by two modalities for anything".)
//!
//! For one class and one set, the code histogram counts the codes of every position of every
//! item of that class (positions the model's mask drops are already absent from
//! [`EncodedItem::codes`](crate::model::EncodedItem)), normalised to sum 1. Two sets of
//! different modalities are then compared by:
//! - `same_class`: the histogram intersection (sum of element-wise minima, 1 = identical,
//!   0 = disjoint) of each class with the same class in the other modality, averaged over the
//!   classes both sets have;
//! - `other_class`: the same over every ordered pair of different classes (the chance level
//!   `same_class` must beat);
//! - `top_code_agree`: the classes whose most used code (ties: the lowest code) is the same in
//!   both modalities.
//!
//! Pairs are named by modality, image before audio before text (`image_audio`, `image_text`,
//! `audio_text`); the first modality's histograms are `a`, the second's `b`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::score::{EvalSets, PRIMARY_AUDIO, PRIMARY_IMAGE, SetReport};
use super::sets::EncodedSet;
use crate::modality::Modality;

/// Code histograms of one class in the two modalities of a pair.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassAgreement {
    /// Histogram intersection of this class's codes in the two modalities.
    pub intersection: f32,
    /// Most used code of this class in the first modality, and its share of positions.
    pub top_code_a: u32,
    pub top_share_a: f32,
    /// Most used code in the second modality, and its share.
    pub top_code_b: u32,
    pub top_share_b: f32,
}

/// Agreement of the codes two sets of different modalities give each class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeAgreement {
    /// The set whose histograms are `a` (a test set name, or `text` for the class prompts).
    pub a: String,
    /// The set whose histograms are `b`.
    pub b: String,
    /// Classes with at least one position in both sets (the ones averaged).
    pub classes: usize,
    /// Mean same-class histogram intersection.
    pub same_class: f32,
    /// Mean histogram intersection over ordered pairs of different classes.
    pub other_class: f32,
    /// Number of classes whose most used code agrees.
    pub top_code_agree: usize,
    /// Those classes (indices into the label names).
    pub top_code_agree_classes: Vec<usize>,
    /// Per class (`null` where a set has no position of that class).
    pub per_class: Vec<Option<ClassAgreement>>,
}

impl CodeAgreement {
    /// Its headline figures as flat metrics under `prefix` (`PREFIX.same_class`,
    /// `.other_class`, `.top_code_agree`).
    pub fn insert_metrics(&self, m: &mut BTreeMap<String, f64>, prefix: &str) {
        m.insert(format!("{prefix}.same_class"), f64::from(self.same_class));
        m.insert(format!("{prefix}.other_class"), f64::from(self.other_class));
        m.insert(
            format!("{prefix}.top_code_agree"),
            self.top_code_agree as f64,
        );
    }
}

/// Raw code counts of each class `0..n_classes` over every position of its items (codes at
/// or beyond `codebook_size` and labels outside the classes are not counted).
pub fn class_counts(set: &EncodedSet, n_classes: usize, codebook_size: usize) -> Vec<Vec<u64>> {
    let mut counts = vec![vec![0u64; codebook_size]; n_classes];
    for (item, &label) in set.items.iter().zip(&set.labels) {
        let Some(row) = counts.get_mut(label) else {
            continue;
        };
        for &c in &item.codes {
            if let Some(x) = row.get_mut(c as usize) {
                *x += 1;
            }
        }
    }
    counts
}

/// A row of counts normalised to sum 1 (`None` when it has no count).
fn normalised(counts: &[u64]) -> Option<Vec<f64>> {
    let total: u64 = counts.iter().sum();
    (total > 0).then(|| counts.iter().map(|&c| c as f64 / total as f64).collect())
}

/// Sum of element-wise minima of two normalised histograms.
pub fn intersection(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.min(*y)).sum()
}

/// The most used code (the lowest of equals) and its count.
fn top_code(counts: &[u64]) -> (u32, u64) {
    let mut best = (0u32, 0u64);
    for (c, &n) in counts.iter().enumerate() {
        if n > best.1 {
            best = (c as u32, n);
        }
    }
    best
}

/// Code agreement of `a` (the pair's first modality) and `b`, named `a_name` and `b_name`.
pub fn agreement(
    a: &EncodedSet,
    a_name: &str,
    b: &EncodedSet,
    b_name: &str,
    n_classes: usize,
    codebook_size: usize,
) -> CodeAgreement {
    let ca = class_counts(a, n_classes, codebook_size);
    let cb = class_counts(b, n_classes, codebook_size);
    let ha: Vec<Option<Vec<f64>>> = ca.iter().map(|c| normalised(c)).collect();
    let hb: Vec<Option<Vec<f64>>> = cb.iter().map(|c| normalised(c)).collect();
    let present: Vec<usize> = (0..n_classes)
        .filter(|&c| ha[c].is_some() && hb[c].is_some())
        .collect();
    let mut out = CodeAgreement {
        a: a_name.to_string(),
        b: b_name.to_string(),
        classes: present.len(),
        per_class: vec![None; n_classes],
        ..CodeAgreement::default()
    };
    let (mut same, mut other, mut n_other) = (0f64, 0f64, 0usize);
    for &c in &present {
        let (Some(x), Some(y)) = (&ha[c], &hb[c]) else {
            continue;
        };
        let inter = intersection(x, y);
        same += inter;
        let (top_a, n_a) = top_code(&ca[c]);
        let (top_b, n_b) = top_code(&cb[c]);
        if top_a == top_b {
            out.top_code_agree_classes.push(c);
        }
        out.per_class[c] = Some(ClassAgreement {
            intersection: inter as f32,
            top_code_a: top_a,
            top_share_a: (n_a as f64 / ca[c].iter().sum::<u64>() as f64) as f32,
            top_code_b: top_b,
            top_share_b: (n_b as f64 / cb[c].iter().sum::<u64>() as f64) as f32,
        });
        for &d in present.iter().filter(|&&d| d != c) {
            if let Some(z) = &hb[d] {
                other += intersection(x, z);
                n_other += 1;
            }
        }
    }
    out.same_class = (same / present.len().max(1) as f64) as f32;
    out.other_class = (other / n_other.max(1) as f64) as f32;
    out.top_code_agree = out.top_code_agree_classes.len();
    out
}

/// Pair name of two modalities, image before audio before text (`image_audio`, …).
pub fn pair_name(x: Modality, y: Modality) -> String {
    // `Modality` orders image < audio < text.
    let (a, b) = if x <= y { (x, y) } else { (y, x) };
    format!("{}_{}", a.name(), b.name())
}

/// Name of the class prompts as a set in a [`CodeAgreement`].
pub const PROMPTS: &str = "text";

/// Code agreement of every test set with each other modality, by test set name and pair name:
/// an image set against the primary audio set (`audio`) and the class prompts, an audio set
/// against the primary image set (`image`) and the class prompts. A pair whose other side
/// is missing or empty is left out.
pub fn code_agreement(
    sets: &EvalSets,
    n_classes: usize,
    codebook_size: usize,
) -> BTreeMap<String, BTreeMap<String, CodeAgreement>> {
    let primary = |name: &str| sets.tests.iter().find(|t| t.name == name);
    let mut out = BTreeMap::new();
    for test in &sets.tests {
        let mut pairs = BTreeMap::new();
        let partner = match test.modality {
            Modality::Image => primary(PRIMARY_AUDIO),
            Modality::Audio => primary(PRIMARY_IMAGE),
            Modality::Text => None,
        };
        let mut others: Vec<(Modality, &str, &EncodedSet)> = Vec::new();
        if let Some(p) = partner.filter(|p| p.modality != test.modality && !p.set.is_empty()) {
            others.push((p.modality, &p.name, &p.set));
        }
        if test.modality != Modality::Text && !sets.prompts.is_empty() {
            others.push((Modality::Text, PROMPTS, &sets.prompts));
        }
        for (m, name, set) in others {
            let pair = pair_name(test.modality, m);
            let r = if test.modality < m {
                agreement(&test.set, &test.name, set, name, n_classes, codebook_size)
            } else {
                agreement(set, name, &test.set, &test.name, n_classes, codebook_size)
            };
            pairs.insert(pair, r);
        }
        if !pairs.is_empty() {
            out.insert(test.name.clone(), pairs);
        }
    }
    out
}

/// The model card's section: one row per test set and pair, beside the set's bag-of-codes
/// transfer (empty when no set has code agreement).
pub fn card_section(sets: &BTreeMap<String, SetReport>) -> String {
    let rows: Vec<String> = sets
        .iter()
        .flat_map(|(name, r)| {
            r.code_agreement.iter().map(move |(pair, a)| {
                format!(
                    "| `{name}` | {pair} (`{}` vs `{}`) | {:.3} | {:.3} | {} of {} {:?} | {:.1} % |\n",
                    a.a,
                    a.b,
                    a.same_class,
                    a.other_class,
                    a.top_code_agree,
                    a.classes,
                    a.top_code_agree_classes,
                    r.transfer_bag_of_codes.accuracy * 100.0
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "## Code agreement\n\nDo two modalities put a class on the same codes? Per class, the \
         histogram of the codes of every position of its items, normalised; `same class`: the \
         histogram intersection (0 disjoint, 1 identical) of a digit with the same digit in the \
         other modality, averaged over digits; `other classes`: the same for different digits \
         (the level to beat); `top code agrees`: digits whose most used code is the same in both. \
         Text is the class prompts (every template, label and alias). Bag of codes: the \
         transfer classifier fitted on the other modality's codes, tested on this set.\n\n\
         | set | pair | same class | other classes | top code agrees | bag-of-codes transfer |\n\
         |---|---|---|---|---|---|\n",
    );
    s.extend(rows);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedItem;

    fn set(modality: Modality, items: &[(usize, &[u32])]) -> EncodedSet {
        EncodedSet {
            items: items
                .iter()
                .map(|(_, codes)| EncodedItem {
                    modality,
                    codes: codes.to_vec(),
                    positions: crate::bundle::gallery::contiguous_positions(codes.len()),
                    distances: vec![],
                    embedding: vec![],
                })
                .collect(),
            labels: items.iter().map(|(l, _)| *l).collect(),
        }
    }

    #[test]
    fn known_histograms_give_known_intersections_and_top_codes() {
        // Class 0: a = {0: 3/4, 1: 1/4}, b = {0: 1/2, 2: 1/2} -> min sum 1/2, top codes 0 and 0.
        // Class 1: a = {2: 1}, b = {3: 1} -> 0, top codes 2 and 3.
        // Other class: a0 vs b1 = 0, a1 vs b0 = 1/2 -> mean 1/4.
        let a = set(Modality::Image, &[(0, &[0, 0]), (0, &[0, 1]), (1, &[2])]);
        let b = set(Modality::Audio, &[(0, &[0, 2]), (1, &[3, 3, 3])]);
        let r = agreement(&a, "image", &b, "audio", 3, 5);
        assert_eq!(r.classes, 2);
        assert!((r.same_class - 0.25).abs() < 1e-6, "{}", r.same_class);
        assert!((r.other_class - 0.25).abs() < 1e-6, "{}", r.other_class);
        assert_eq!(r.top_code_agree_classes, vec![0]);
        assert_eq!(r.top_code_agree, 1);
        let c0 = r.per_class[0].as_ref().unwrap();
        assert!((c0.intersection - 0.5).abs() < 1e-6);
        assert_eq!((c0.top_code_a, c0.top_code_b), (0, 0));
        assert!((c0.top_share_a - 0.75).abs() < 1e-6);
        assert!(r.per_class[2].is_none(), "class 2 has no items");
    }

    #[test]
    fn identical_codes_agree_fully_and_ties_take_the_lowest_code() {
        let a = set(Modality::Image, &[(0, &[4, 1]), (1, &[2])]);
        let r = agreement(&a, "x", &a, "y", 2, 5);
        assert!((r.same_class - 1.0).abs() < 1e-6);
        assert_eq!(r.other_class, 0.0);
        assert_eq!(r.per_class[0].as_ref().unwrap().top_code_a, 1);
        assert_eq!(r.top_code_agree_classes, vec![0, 1]);
    }

    #[test]
    fn the_card_section_has_a_row_per_set_and_pair() {
        let a = set(Modality::Image, &[(0, &[1]), (1, &[2])]);
        let b = set(Modality::Audio, &[(0, &[1]), (1, &[1])]);
        let mut r = SetReport::default();
        r.code_agreement.insert(
            "image_audio".into(),
            agreement(&a, "image", &b, "audio", 2, 3),
        );
        let s = card_section(&BTreeMap::from([("image".to_string(), r)]));
        assert!(
            s.contains(
                "| `image` | image_audio (`image` vs `audio`) | 0.500 | 0.500 | 1 of 2 [0] |"
            ),
            "{s}"
        );
        assert_eq!(card_section(&BTreeMap::new()), "");
    }

    #[test]
    fn pairs_are_named_image_audio_text_in_that_order() {
        assert_eq!(pair_name(Modality::Audio, Modality::Image), "image_audio");
        assert_eq!(pair_name(Modality::Text, Modality::Audio), "audio_text");
        assert_eq!(pair_name(Modality::Image, Modality::Text), "image_text");
    }
}
