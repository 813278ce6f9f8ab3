//! Comparing two models over plain data: the table of the figures both manifests report,
//! gallery items matched between the two galleries, and model B's map laid onto model A's
//! ([`Procrustes`] on the matched items). [`crate::engine::compare`] gathers these from two
//! loaded bundles.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::procrustes::Procrustes;
use crate::modality::Modality;

/// Key of the dead-codes row: codes of the codebook that no gallery or evaluation item uses,
/// `codebook_size − codebook.active_codes`, derived from the manifest.
pub const DEAD_CODES_KEY: &str = "codebook.dead_codes";
/// Key of the active-codes figure the dead codes are derived from.
pub const ACTIVE_CODES_KEY: &str = "codebook.active_codes";
/// Fewest matched items an alignment is fitted on.
pub const MIN_ALIGNMENT_ITEMS: usize = 3;

/// One figure of the table: its value in each model (absent when that model does not report
/// it) and the difference B − A.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRow {
    pub key: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// `b − a`, when both report it.
    pub difference: Option<f64>,
}

impl MetricRow {
    /// A row with its difference.
    pub fn new(key: String, a: Option<f64>, b: Option<f64>) -> Self {
        let difference = a.zip(b).map(|(a, b)| b - a);
        MetricRow {
            key,
            a,
            b,
            difference,
        }
    }
}

/// A figure as the tables print it: a count whole, a fraction to four decimals, signed for a
/// difference, `-` when absent.
pub fn figure_text(v: Option<f64>, signed: bool) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.fract() == 0.0 && signed => format!("{v:+.0}"),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) if signed => format!("{v:+.4}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// A manifest's metrics with the derived [`DEAD_CODES_KEY`] added (when it reports
/// [`ACTIVE_CODES_KEY`]).
pub fn with_dead_codes(
    metrics: &BTreeMap<String, f64>,
    codebook_size: usize,
) -> BTreeMap<String, f64> {
    let mut out = metrics.clone();
    if let Some(active) = metrics.get(ACTIVE_CODES_KEY) {
        out.insert(DEAD_CODES_KEY.into(), codebook_size as f64 - active);
    }
    out
}

/// Every key of either table with both values and the difference: the figures both report
/// first, then those of one only, each in key order.
pub fn metric_rows(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Vec<MetricRow> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort_by_key(|k| (!(a.contains_key(*k) && b.contains_key(*k)), *k));
    keys.dedup();
    keys.into_iter()
        .map(|k| MetricRow::new(k.clone(), a.get(k).copied(), b.get(k).copied()))
        .collect()
}

/// What identifies a gallery item across two galleries: the same data item has the same
/// modality, source, label and text in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ItemKey<'a> {
    pub modality: Modality,
    pub source: &'a str,
    pub label: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// Pairs `(index in a, index in b)` of the items with the same key, in `a`'s order. Items
/// sharing a key within a gallery are paired in order (the k-th of A with the k-th of B);
/// items of one gallery only are left out.
pub fn match_items(a: &[ItemKey<'_>], b: &[ItemKey<'_>]) -> Vec<(usize, usize)> {
    let mut in_b: HashMap<&ItemKey<'_>, VecDeque<usize>> = HashMap::new();
    for (j, key) in b.iter().enumerate() {
        in_b.entry(key).or_default().push_back(j);
    }
    a.iter()
        .enumerate()
        .filter_map(|(i, key)| Some((i, in_b.get_mut(key)?.pop_front()?)))
        .collect()
}

/// Model B's 2-D map laid onto model A's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapAlignment {
    /// Matched items `(index in A's gallery, index in B's gallery)`, in A's order.
    #[serde(skip_serializing)]
    pub pairs: Vec<(usize, usize)>,
    /// Every B gallery item's position moved onto A's map, in B's gallery order.
    #[serde(skip_serializing)]
    pub b_on_a: Vec<[f32; 2]>,
    /// Items matched (the fit's points).
    pub matched: usize,
    /// Rotation of B's map, in degrees (counter-clockwise, after any mirroring).
    pub rotation_deg: f64,
    /// True when B's map is mirrored onto A's.
    pub reflected: bool,
    /// Root mean square distance between matched items after alignment (A's map units).
    pub residual_rms: f64,
    /// The residual over the spread of A's matched items (0: the same layout; near 1:
    /// unrelated).
    pub residual_fraction: f64,
}

impl MapAlignment {
    /// B items matched with the A items `a_items`.
    pub fn in_b(&self, a_items: &[usize]) -> Vec<usize> {
        self.matched(a_items, |&(a, b)| (a, b))
    }

    /// A items matched with the B items `b_items`.
    pub fn in_a(&self, b_items: &[usize]) -> Vec<usize> {
        self.matched(b_items, |&(a, b)| (b, a))
    }

    /// The other side of the pairs whose `side(pair).0` is one of `items`.
    fn matched(
        &self,
        items: &[usize],
        side: impl Fn(&(usize, usize)) -> (usize, usize),
    ) -> Vec<usize> {
        self.pairs
            .iter()
            .map(side)
            .filter(|(from, _)| items.contains(from))
            .map(|(_, to)| to)
            .collect()
    }
}

/// Fits the rotation (or reflection) and shift laying `b_xy` onto `a_xy` over the matched
/// `pairs` and moves every B item with it. No scale: both maps project unit-length embeddings,
/// so their units are the same, and a least-squares scale would shrink B towards A's middle
/// the less the two agree. Refuses fewer than [`MIN_ALIGNMENT_ITEMS`] pairs.
pub fn align_maps(
    a_xy: &[[f32; 2]],
    b_xy: &[[f32; 2]],
    pairs: Vec<(usize, usize)>,
) -> Result<MapAlignment> {
    if pairs.len() < MIN_ALIGNMENT_ITEMS {
        return Err(Error::InvalidRequest(format!(
            "the two galleries share {} items (same modality, source, label and text); \
             aligning the maps needs at least {MIN_ALIGNMENT_ITEMS}",
            pairs.len()
        )));
    }
    let flat = |xy: &[[f32; 2]], pick: &dyn Fn(&(usize, usize)) -> usize| -> Result<Vec<f64>> {
        pairs
            .iter()
            .map(|p| {
                xy.get(pick(p))
                    .map(|v| [f64::from(v[0]), f64::from(v[1])])
                    .ok_or_else(|| {
                        Error::Internal(format!("matched item {} has no position", pick(p)))
                    })
            })
            .collect::<Result<Vec<_>>>()
            .map(|v| v.concat())
    };
    let a = flat(a_xy, &|p| p.0)?;
    let b = flat(b_xy, &|p| p.1)?;
    let fit = Procrustes::fit(&a, &b, 2, false)?;
    let b_on_a = b_xy
        .iter()
        .map(|v| {
            let m = fit.apply(&[f64::from(v[0]), f64::from(v[1])]);
            [m[0] as f32, m[1] as f32]
        })
        .collect();
    Ok(MapAlignment {
        matched: pairs.len(),
        pairs,
        b_on_a,
        rotation_deg: fit.rotation[1].atan2(fit.rotation[0]).to_degrees(),
        reflected: fit.reflects(),
        residual_rms: fit.residual_rms,
        residual_fraction: fit.residual_fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_key_of_both_with_the_difference() {
        let a = BTreeMap::from([("x".to_string(), 0.5), ("only_a".to_string(), 1.0)]);
        let b = BTreeMap::from([("x".to_string(), 0.75), ("only_b".to_string(), 2.0)]);
        let rows = metric_rows(&a, &b);
        assert_eq!(
            rows,
            vec![
                MetricRow::new("x".into(), Some(0.5), Some(0.75)),
                MetricRow::new("only_a".into(), Some(1.0), None),
                MetricRow::new("only_b".into(), None, Some(2.0)),
            ]
        );
        assert_eq!(rows[0].difference, Some(0.25));
        assert_eq!(rows[1].difference, None);
    }

    #[test]
    fn figures_print_counts_whole_and_differences_signed() {
        assert_eq!(figure_text(Some(339.0), false), "339");
        assert_eq!(figure_text(Some(-31.0), true), "-31");
        assert_eq!(figure_text(Some(0.76), false), "0.7600");
        assert_eq!(figure_text(Some(0.214), true), "+0.2140");
        assert_eq!(figure_text(None, true), "-");
    }

    #[test]
    fn dead_codes_are_the_codebook_less_its_active_codes() {
        let m = BTreeMap::from([(ACTIVE_CODES_KEY.to_string(), 339.0)]);
        assert_eq!(with_dead_codes(&m, 400)[DEAD_CODES_KEY], 61.0);
        assert!(!with_dead_codes(&BTreeMap::new(), 400).contains_key(DEAD_CODES_KEY));
    }

    fn key<'a>(modality: Modality, source: &'a str, label: &'a str) -> ItemKey<'a> {
        ItemKey {
            modality,
            source,
            label: Some(label),
            text: None,
        }
    }

    #[test]
    fn items_match_by_key_in_order_and_unshared_ones_are_left_out() {
        let a = [
            key(Modality::Image, "mnist 1", "one"),
            key(Modality::Audio, "voice", "two"),
            key(Modality::Audio, "voice", "two"),
            key(Modality::Audio, "only in a", "two"),
            key(Modality::Audio, "voice", "three"),
        ];
        let b = [
            key(Modality::Audio, "voice", "three"),
            key(Modality::Audio, "voice", "two"),
            key(Modality::Image, "voice", "two"),
            key(Modality::Image, "mnist 1", "one"),
            key(Modality::Audio, "voice", "two"),
        ];
        assert_eq!(match_items(&a, &b), vec![(0, 3), (1, 1), (2, 4), (4, 0)]);
    }

    #[test]
    fn b_map_is_laid_onto_a_and_selections_map_both_ways() {
        // B is A turned a quarter turn, in another order, plus one item A does not have.
        let a_xy = [[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [5.0, 5.0]];
        let b_xy = [[-1.0, 0.0], [0.0, 0.0], [0.0, 2.0], [9.0, 9.0]];
        let pairs = vec![(0, 1), (1, 2), (2, 0)];
        let al = align_maps(&a_xy, &b_xy, pairs).unwrap();
        for (i, j) in [(0, 1), (1, 2), (2, 0)] {
            let (p, q) = (a_xy[i], al.b_on_a[j]);
            assert!(
                (p[0] - q[0]).abs() < 1e-5 && (p[1] - q[1]).abs() < 1e-5,
                "{q:?}"
            );
        }
        assert!(al.residual_rms < 1e-6 && !al.reflected);
        assert!((al.rotation_deg.abs() - 90.0).abs() < 1e-6);
        assert_eq!(al.in_b(&[0, 2]), vec![1, 0]);
        assert_eq!(al.in_a(&[2, 3]), vec![1]);
        let err = align_maps(&a_xy, &b_xy, vec![(0, 1)]).unwrap_err();
        assert!(err.to_string().contains("share 1 items"), "{err}");
    }
}
