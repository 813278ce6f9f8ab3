//! Low-resource curves: accuracy on a PRIMARY modality's fixed, class-balanced test split
//! against the number of primary labels per class, for three cases:
//!
//! - **primary only**: a linear classifier ([`LinearClassifier`]) fitted on `L` labelled
//!   primary items per class;
//! - **with helper**: the same `L` primary items plus a fixed, class-balanced set of the other
//!   (helping) modality's labelled items, through the shared representation (bag of codes or
//!   embedding, as the transfer lab's features setting);
//! - **zero-shot**: nearest class-prompt embedding (text), no labels at all: constant in `L`.
//!
//! Each level `L > 0` is measured over repeated seeded, class-balanced draws of the primary
//! labels (the same draws for both fitted cases) and reported as mean ± sd. A level the pool
//! cannot supply (a class has fewer than `L` labelled items outside the test split) is
//! reported as unavailable with the reason, never filled in. At `L = 0` the primary-only
//! classifier has nothing to learn from: it is the untrained classifier (every item gets the
//! same guess), measured like any other.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::transfer::{
    FeatureVec, FitSettings, LinearClassifier, TransferFeatures, TransferItem, features_of,
};
use crate::modality::Modality;

/// Labels per class on the curves' x axis.
pub const LABELS_PER_CLASS: [usize; 6] = [0, 1, 2, 5, 10, 50];
/// Seeded draws of the primary labels per level.
pub const DRAWS: usize = 10;
/// Most helper-modality labels used per class.
pub const HELPER_PER_CLASS: usize = 50;
/// Test items per class held out of a single labelled pool (the window's gallery).
pub const GALLERY_TEST_PER_CLASS: usize = 10;
/// Seed of the test split, the helper sample and the draws.
pub const SEED: u64 = 0x006c_6f77_5f72_6573;

/// What the curves are computed with.
#[derive(Clone, Debug, PartialEq)]
pub struct LowResourceSettings {
    pub levels: Vec<usize>,
    pub draws: usize,
    pub helper_per_class: usize,
    pub features: TransferFeatures,
    pub fit: FitSettings,
    pub seed: u64,
}

impl LowResourceSettings {
    /// The standard levels, draws and fit, with these features.
    pub fn new(features: TransferFeatures) -> Self {
        LowResourceSettings {
            levels: LABELS_PER_CLASS.to_vec(),
            draws: DRAWS,
            helper_per_class: HELPER_PER_CLASS,
            features,
            fit: FitSettings::default(),
            seed: SEED,
        }
    }
}

/// One level of a fitted curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub labels_per_class: usize,
    /// Mean accuracy over the draws; `None` when the level is unavailable.
    pub mean: Option<f32>,
    /// Sample standard deviation over the draws (0 for a single draw).
    pub sd: Option<f32>,
    /// Draws measured.
    pub draws: usize,
    /// Why the level is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// Zero-shot accuracy on the test split (no labels), or why there is none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZeroShotPoint {
    pub accuracy: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The three curves for one primary modality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LowResourceReport {
    pub primary: Modality,
    pub helper: Modality,
    pub features: TransferFeatures,
    pub labels: Vec<String>,
    /// Test items of each class (the split is class-balanced).
    pub test_per_class: usize,
    pub n_test: usize,
    /// Labelled primary items of each class the draws come from (outside the test split).
    pub pool_per_class: Vec<usize>,
    /// Helper items of each class added in the "with helper" case.
    pub helper_per_class: usize,
    pub draws: usize,
    /// Accuracy of a constant guess on the balanced test split.
    pub chance: f32,
    /// What was done to the primary modality (e.g. "white noise at 10 dB SNR"); `None`: clean.
    #[serde(default)]
    pub degradation: Option<String>,
    pub primary_only: Vec<CurvePoint>,
    pub with_helper: Vec<CurvePoint>,
    pub zero_shot: ZeroShotPoint,
}

/// What the curves are computed from.
#[derive(Clone, Copy, Debug)]
pub struct LowResourceInput<'a> {
    pub primary: Modality,
    pub helper: Modality,
    /// Labelled primary items the draws come from.
    pub pool: &'a [TransferItem],
    /// The fixed, class-balanced primary test split.
    pub test: &'a [TransferItem],
    /// Labelled helper-modality items.
    pub helper_items: &'a [TransferItem],
    /// One embedding per class (its text prompts), or why there are none.
    pub class_embeddings: std::result::Result<&'a [Vec<f32>], &'a str>,
    pub labels: &'a [String],
    pub codebook_size: usize,
}

/// Item indices of each class `0..n_classes` (other labels are left out).
fn by_class(items: &[TransferItem], n_classes: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n_classes];
    for (i, item) in items.iter().enumerate() {
        if let Some(v) = out.get_mut(item.label) {
            v.push(i);
        }
    }
    out
}

/// Items of each class `0..n_classes`.
pub fn per_class_counts(items: &[TransferItem], n_classes: usize) -> Vec<usize> {
    by_class(items, n_classes).iter().map(Vec::len).collect()
}

/// A seeded, class-balanced sample: `min(smallest class, max_per_class)` items of every class,
/// drawn at random within each class (never the first rows: data is often sorted by class).
pub fn balanced_sample(
    items: &[TransferItem],
    n_classes: usize,
    max_per_class: usize,
    seed: u64,
) -> Vec<TransferItem> {
    let mut classes = by_class(items, n_classes);
    let take = classes
        .iter()
        .map(Vec::len)
        .min()
        .unwrap_or(0)
        .min(max_per_class);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(take * n_classes);
    for v in &mut classes {
        v.shuffle(&mut rng);
        out.extend(v[..take].iter().map(|&i| items[i].clone()));
    }
    out
}

/// Splits one labelled pool into a fixed test split of `test_per_class` items of every class
/// (seeded) and the rest. Refuses, naming `what` and the class, when a class has fewer than
/// `test_per_class + 1` items (no label would be left to draw).
pub fn split_test(
    items: &[TransferItem],
    labels: &[String],
    test_per_class: usize,
    seed: u64,
    what: &str,
) -> Result<(Vec<TransferItem>, Vec<TransferItem>)> {
    let mut classes = by_class(items, labels.len());
    if let Some((c, v)) = classes
        .iter()
        .enumerate()
        .find(|(_, v)| v.len() <= test_per_class)
    {
        return Err(Error::InvalidRequest(format!(
            "{what}: class `{}` has {} labelled items; a test split of {test_per_class} per \
             class needs at least {} (items per class: {:?})",
            labels[c],
            v.len(),
            test_per_class + 1,
            per_class_counts(items, labels.len())
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut pool, mut test) = (Vec::new(), Vec::new());
    for v in &mut classes {
        v.shuffle(&mut rng);
        let (t, p) = v.split_at(test_per_class);
        test.extend(t.iter().map(|&i| items[i].clone()));
        pool.extend(p.iter().map(|&i| items[i].clone()));
    }
    Ok((pool, test))
}

/// The test split's items per class, refusing a split that is not class-balanced.
fn balanced_test_size(test: &[TransferItem], labels: &[String], what: Modality) -> Result<usize> {
    let counts = per_class_counts(test, labels.len());
    let first = counts.first().copied().unwrap_or(0);
    if first == 0 || counts.iter().any(|&c| c != first) {
        return Err(Error::InvalidRequest(format!(
            "the {what} test split must hold the same number (at least one) of every class; \
             items per class: {counts:?}"
        )));
    }
    Ok(first)
}

/// One draw's fit: accuracy on the test features of a classifier fitted on `train`.
fn accuracy_of(
    train: &[(FeatureVec, usize)],
    test: &[(FeatureVec, usize)],
    n_features: usize,
    n_classes: usize,
    fit: FitSettings,
) -> Result<f32> {
    let clf = if train.is_empty() {
        // Nothing to learn from: the untrained classifier gives every item the same guess.
        LinearClassifier {
            n_features,
            n_classes,
            weights: vec![0.0; n_features * n_classes],
            bias: vec![0.0; n_classes],
        }
    } else {
        LinearClassifier::fit(train, n_features, n_classes, fit)?
    };
    let correct = test.iter().filter(|(x, y)| clf.predict(x) == *y).count();
    Ok(correct as f32 / test.len().max(1) as f32)
}

/// Mean and sample standard deviation.
pub fn mean_sd(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let sd = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// Zero-shot accuracy: nearest class embedding by cosine similarity.
fn zero_shot(test: &[TransferItem], classes: &[Vec<f32>]) -> f32 {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let correct = test
        .iter()
        .filter(|item| {
            let ne = norm(&item.embedding);
            let best = classes
                .iter()
                .enumerate()
                .map(|(c, e)| {
                    let dot: f32 = e.iter().zip(&item.embedding).map(|(a, b)| a * b).sum();
                    (c, dot / (norm(e) * ne))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            best.is_some_and(|(c, _)| c == item.label)
        })
        .count();
    correct as f32 / test.len().max(1) as f32
}

/// Computes the three curves. `progress` is called with the fraction of fits done (from
/// several threads: the draws run in parallel).
pub fn low_resource_curves(
    input: LowResourceInput<'_>,
    settings: &LowResourceSettings,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<LowResourceReport> {
    let n_classes = input.labels.len();
    if n_classes < 2 {
        return Err(Error::InvalidRequest(format!(
            "low-resource curves need at least two classes, the gallery has {n_classes}"
        )));
    }
    let test_per_class = balanced_test_size(input.test, input.labels, input.primary)?;
    let features = settings.features;
    let n_features = match features {
        TransferFeatures::BagOfCodes => input.codebook_size,
        TransferFeatures::Embedding => input.test[0].embedding.len(),
    };
    let featurize = |items: &[TransferItem]| -> Vec<(FeatureVec, usize)> {
        items
            .iter()
            .map(|i| (features_of(&i.codes, &i.embedding, features), i.label))
            .collect()
    };
    let test = featurize(input.test);
    let helper_set = balanced_sample(
        input.helper_items,
        n_classes,
        settings.helper_per_class,
        settings.seed ^ 0x68,
    );
    let helper_per_class = helper_set.len() / n_classes;
    let helper = featurize(&helper_set);
    let pool_classes = by_class(input.pool, n_classes);
    let pool_per_class: Vec<usize> = pool_classes.iter().map(Vec::len).collect();
    let smallest = pool_per_class.iter().copied().min().unwrap_or(0);

    // Every fit to run: (level index, draw), L = 0 once (nothing is drawn).
    let jobs: Vec<(usize, usize)> = settings
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| **l <= smallest)
        .flat_map(|(k, &l)| (0..if l == 0 { 1 } else { settings.draws }).map(move |d| (k, d)))
        .collect();
    let done = AtomicUsize::new(0);
    let total = jobs.len().max(1) as f32;
    let results: Vec<Result<(usize, f32, f32)>> = jobs
        .par_iter()
        .map(|&(k, d)| {
            let l = settings.levels[k];
            let seed = settings
                .seed
                .wrapping_add((l as u64) << 20)
                .wrapping_add(d as u64);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut train = Vec::with_capacity(l * n_classes + helper.len());
            for class in &pool_classes {
                for &i in class.choose_multiple(&mut rng, l) {
                    let item = &input.pool[i];
                    train.push((
                        features_of(&item.codes, &item.embedding, features),
                        item.label,
                    ));
                }
            }
            let alone = accuracy_of(&train, &test, n_features, n_classes, settings.fit)?;
            train.extend(helper.iter().cloned());
            let helped = accuracy_of(&train, &test, n_features, n_classes, settings.fit)?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n as f32 / total);
            Ok((k, alone, helped))
        })
        .collect();
    let mut alone: Vec<Vec<f32>> = vec![Vec::new(); settings.levels.len()];
    let mut helped = alone.clone();
    for r in results {
        let (k, a, h) = r?;
        alone[k].push(a);
        helped[k].push(h);
    }
    let curve = |values: &[Vec<f32>]| -> Vec<CurvePoint> {
        settings
            .levels
            .iter()
            .zip(values)
            .map(|(&l, v)| {
                if l > smallest {
                    let (c, n) = pool_per_class
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, n)| **n)
                        .map(|(c, n)| (input.labels[c].as_str(), *n))
                        .unwrap_or(("", 0));
                    return CurvePoint {
                        labels_per_class: l,
                        mean: None,
                        sd: None,
                        draws: 0,
                        unavailable: Some(format!(
                            "class `{c}` has {n} labelled {} items outside the test split; \
                             {l} per class needed",
                            input.primary
                        )),
                    };
                }
                let (mean, sd) = mean_sd(v);
                CurvePoint {
                    labels_per_class: l,
                    mean: Some(mean),
                    sd: Some(sd),
                    draws: v.len(),
                    unavailable: None,
                }
            })
            .collect()
    };
    let (primary_only, with_helper) = (curve(&alone), curve(&helped));
    let zero_shot = match input.class_embeddings {
        Ok(classes) if classes.len() == n_classes => ZeroShotPoint {
            accuracy: Some(zero_shot(input.test, classes)),
            unavailable: None,
        },
        Ok(classes) => ZeroShotPoint {
            accuracy: None,
            unavailable: Some(format!(
                "{} class embeddings for {n_classes} classes",
                classes.len()
            )),
        },
        Err(why) => ZeroShotPoint {
            accuracy: None,
            unavailable: Some(why.to_string()),
        },
    };
    Ok(LowResourceReport {
        primary: input.primary,
        helper: input.helper,
        features,
        labels: input.labels.to_vec(),
        test_per_class,
        n_test: input.test.len(),
        pool_per_class,
        helper_per_class,
        draws: settings.draws,
        chance: 1.0 / n_classes as f32,
        degradation: None,
        primary_only,
        with_helper,
        zero_shot,
    })
}

/// The curves as CSV rows: `case,labels_per_class,mean,sd,draws,note` (zero-shot repeated at
/// every level, chance as its own case).
pub fn to_csv_rows(r: &LowResourceReport) -> Vec<[String; 6]> {
    let fmt = |v: Option<f32>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let mut rows = Vec::new();
    for (case, points) in [
        ("primary_only", &r.primary_only),
        ("with_helper", &r.with_helper),
    ] {
        for p in points {
            rows.push([
                case.to_string(),
                p.labels_per_class.to_string(),
                fmt(p.mean),
                fmt(p.sd),
                p.draws.to_string(),
                p.unavailable.clone().unwrap_or_default(),
            ]);
        }
    }
    for p in &r.primary_only {
        rows.push([
            "zero_shot".into(),
            p.labels_per_class.to_string(),
            fmt(r.zero_shot.accuracy),
            String::new(),
            String::new(),
            r.zero_shot.unavailable.clone().unwrap_or_default(),
        ]);
        rows.push([
            "chance".into(),
            p.labels_per_class.to_string(),
            fmt(Some(r.chance)),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    rows
}

/// Header of [`to_csv_rows`].
pub const CSV_HEADER: [&str; 6] = ["case", "labels_per_class", "mean", "sd", "draws", "note"];

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    /// Embedding features: class direction `c` plus uniform per-item noise in `±noise`.
    fn items(n_classes: usize, per_class: usize, noise: f32, seed: u64) -> Vec<TransferItem> {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dim = n_classes + 8;
        // Sorted by class, as data files often are.
        (0..n_classes)
            .flat_map(|c| std::iter::repeat_n(c, per_class))
            .map(|c| {
                let mut e: Vec<f32> = (0..dim)
                    .map(|_| noise * rng.random_range(-1.0f32..1.0))
                    .collect();
                e[c] += 1.0;
                TransferItem {
                    codes: vec![c as u32],
                    embedding: e,
                    label: c,
                }
            })
            .collect()
    }

    fn settings(levels: &[usize]) -> LowResourceSettings {
        LowResourceSettings {
            levels: levels.to_vec(),
            draws: 6,
            helper_per_class: 20,
            features: TransferFeatures::Embedding,
            fit: FitSettings {
                epochs: 200,
                ..FitSettings::default()
            },
            seed: 7,
        }
    }

    fn run(
        pool: &[TransferItem],
        test: &[TransferItem],
        helper: &[TransferItem],
        levels: &[usize],
    ) -> LowResourceReport {
        let l = labels(4);
        low_resource_curves(
            LowResourceInput {
                primary: Modality::Audio,
                helper: Modality::Image,
                pool,
                test,
                helper_items: helper,
                class_embeddings: Err("no text tower"),
                labels: &l,
                codebook_size: 4,
            },
            &settings(levels),
            &|_| {},
        )
        .unwrap()
    }

    #[test]
    fn the_test_split_is_class_balanced_even_from_sorted_data() {
        let all = items(4, 15, 0.1, 1);
        let (pool, test) = split_test(&all, &labels(4), 5, 3, "audio").unwrap();
        assert_eq!(per_class_counts(&test, 4), [5, 5, 5, 5]);
        assert_eq!(per_class_counts(&pool, 4), [10, 10, 10, 10]);
        // Seeded: the same split again.
        assert_eq!(split_test(&all, &labels(4), 5, 3, "audio").unwrap().1, test);
        // A class too thin to leave anything to draw is refused, by name.
        let thin: Vec<_> = all.iter().filter(|i| i.label != 2).cloned().collect();
        let err = split_test(&thin, &labels(4), 5, 3, "audio gallery").unwrap_err();
        assert!(err.to_string().contains("class `c2` has 0"), "{err}");
        // An unbalanced test split is refused.
        let l = labels(4);
        let lopsided = &all[..20];
        let err = low_resource_curves(
            LowResourceInput {
                primary: Modality::Audio,
                helper: Modality::Image,
                pool: &pool,
                test: lopsided,
                helper_items: &[],
                class_embeddings: Err("none"),
                labels: &l,
                codebook_size: 4,
            },
            &settings(&[1]),
            &|_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("[15, 5, 0, 0]"), "{err}");
    }

    #[test]
    fn primary_only_improves_with_labels_and_starts_at_chance() {
        // Noisy classes: one label per class is a poor guess, ten are much better.
        let all = items(4, 40, 0.6, 2);
        let (pool, test) = split_test(&all, &labels(4), 20, 3, "audio").unwrap();
        let r = run(&pool, &test, &[], &[0, 1, 10]);
        let m: Vec<f32> = r.primary_only.iter().map(|p| p.mean.unwrap()).collect();
        assert_eq!(m[0], 0.25, "no labels: one guess for every item");
        assert_eq!(r.primary_only[0].draws, 1);
        assert_eq!(r.primary_only[1].draws, 6);
        assert!(m[2] > m[1] + 0.1 && m[2] > 0.7, "{m:?}");
        assert!(r.primary_only[1].sd.unwrap() > 0.0, "draws differ");
        // Without helper items, "with helper" is the same fits.
        assert_eq!(r.primary_only, r.with_helper);
        assert_eq!(r.zero_shot.unavailable.as_deref(), Some("no text tower"));
        assert_eq!(r.test_per_class, 20);
    }

    #[test]
    fn a_perfectly_aligned_helper_lifts_the_low_levels() {
        let all = items(4, 40, 0.9, 2);
        let (pool, test) = split_test(&all, &labels(4), 20, 3, "audio").unwrap();
        // The helper's items lie exactly on the class directions of the shared space.
        let helper = items(4, 20, 0.0, 9);
        let r = run(&pool, &test, &helper, &[0, 1]);
        let alone = r.primary_only[1].mean.unwrap();
        let helped = r.with_helper[1].mean.unwrap();
        assert!(helped > alone + 0.1, "{alone} -> {helped}");
        // With no primary labels at all, the helper alone carries the classes over.
        assert!(
            r.with_helper[0].mean.unwrap() > 0.6,
            "{:?}",
            r.with_helper[0]
        );
        assert_eq!(r.helper_per_class, 20);
    }

    #[test]
    fn levels_the_pool_cannot_supply_are_unavailable() {
        let all = items(4, 12, 0.3, 4);
        let (pool, test) = split_test(&all, &labels(4), 5, 3, "audio").unwrap();
        let r = run(&pool, &test, &[], &[2, 5, 10, 50]);
        let available: Vec<bool> = r.primary_only.iter().map(|p| p.mean.is_some()).collect();
        assert_eq!(available, [true, true, false, false]);
        let p = &r.with_helper[2];
        assert_eq!((p.mean, p.sd, p.draws), (None, None, 0));
        assert!(
            p.unavailable
                .as_deref()
                .unwrap()
                .contains("7 labelled audio items"),
            "{p:?}"
        );
        // The CSV says so too, and carries chance and zero-shot at every level.
        let rows = to_csv_rows(&r);
        assert!(
            rows.iter()
                .any(|r| r[0] == "primary_only" && r[1] == "50" && r[2].is_empty())
        );
        assert_eq!(rows.iter().filter(|r| r[0] == "chance").count(), 4);
    }

    #[test]
    fn zero_shot_is_the_nearest_class_prompt() {
        let all = items(3, 10, 0.2, 5);
        let (pool, test) = split_test(&all, &labels(3), 4, 3, "image").unwrap();
        let dim = test[0].embedding.len();
        let classes: Vec<Vec<f32>> = (0..3)
            .map(|c| (0..dim).map(|j| f32::from(u8::from(j == c))).collect())
            .collect();
        let l = labels(3);
        let r = low_resource_curves(
            LowResourceInput {
                primary: Modality::Image,
                helper: Modality::Audio,
                pool: &pool,
                test: &test,
                helper_items: &[],
                class_embeddings: Ok(&classes),
                labels: &l,
                codebook_size: 3,
            },
            &settings(&[0]),
            &|_| {},
        )
        .unwrap();
        assert_eq!(r.zero_shot.accuracy, Some(1.0));
        // Prompts pointing at the wrong classes: all wrong.
        let rotated: Vec<Vec<f32>> = (0..3).map(|c| classes[(c + 1) % 3].clone()).collect();
        let r2 = low_resource_curves(
            LowResourceInput {
                class_embeddings: Ok(&rotated),
                pool: &pool,
                test: &test,
                helper_items: &[],
                labels: &l,
                primary: Modality::Image,
                helper: Modality::Audio,
                codebook_size: 3,
            },
            &settings(&[0]),
            &|_| {},
        )
        .unwrap();
        assert_eq!(r2.zero_shot.accuracy, Some(0.0));
    }

    #[test]
    fn mean_and_sample_sd() {
        let (m, s) = mean_sd(&[0.5, 0.7]);
        assert!(
            (m - 0.6).abs() < 1e-6 && (s - 0.141_421).abs() < 1e-4,
            "{m} {s}"
        );
        assert_eq!(mean_sd(&[0.3]), (0.3, 0.0));
    }
}
