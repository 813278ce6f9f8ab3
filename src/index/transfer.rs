//! The transfer lab (CMG's cross-modal generalisation experiment): fit a linear classifier
//! on one modality's representation, test it on another modality it never saw labels for.
//!
//! Features are either the bag of codes (an L2-normalised histogram over the K shared codes;
//! sparse, at most T non-zeros) or the pooled embedding. The classifier is multinomial
//! logistic regression trained by full-batch Adam, deterministic, plain Rust.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::gemm::gemm;
use crate::modality::Modality;

/// Which representation the classifier reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferFeatures {
    /// Histogram over codes: only the discrete codes carry information.
    #[default]
    BagOfCodes,
    /// The pooled embedding vector.
    Embedding,
}

/// A sparse or dense feature vector.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureVec {
    Sparse(Vec<(u32, f32)>),
    Dense(Vec<f32>),
}

impl FeatureVec {
    /// L2-normalised histogram of codes.
    pub fn bag_of_codes(codes: &[u32]) -> Self {
        let mut counts: std::collections::BTreeMap<u32, f32> = std::collections::BTreeMap::new();
        for &c in codes {
            *counts.entry(c).or_default() += 1.0;
        }
        let mut values: Vec<f32> = counts.values().copied().collect();
        crate::index::l2_normalize(&mut values);
        FeatureVec::Sparse(counts.into_keys().zip(values).collect())
    }

    fn for_each(&self, mut f: impl FnMut(usize, f32)) {
        match self {
            FeatureVec::Sparse(v) => v.iter().for_each(|&(i, x)| f(i as usize, x)),
            FeatureVec::Dense(v) => v.iter().enumerate().for_each(|(i, &x)| f(i, x)),
        }
    }
}

/// Training settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitSettings {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            epochs: 1500,
            learning_rate: 0.05,
            l2: 1e-4,
        }
    }
}

/// A fitted linear classifier: `scores = W x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearClassifier {
    pub n_features: usize,
    pub n_classes: usize,
    /// `[C][F]` row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LinearClassifier {
    /// Class scores for one vector.
    pub fn scores(&self, x: &FeatureVec) -> Vec<f32> {
        let mut s = self.bias.clone();
        x.for_each(|i, v| {
            if i < self.n_features {
                for (c, sc) in s.iter_mut().enumerate() {
                    *sc += self.weights[c * self.n_features + i] * v;
                }
            }
        });
        s
    }

    /// Arg-max class.
    pub fn predict(&self, x: &FeatureVec) -> usize {
        let s = self.scores(x);
        (0..s.len())
            .max_by(|&a, &b| s[a].total_cmp(&s[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    }

    /// Fits on labelled vectors.
    pub fn fit(
        data: &[(FeatureVec, usize)],
        n_features: usize,
        n_classes: usize,
        settings: FitSettings,
    ) -> Result<Self> {
        if data.is_empty() || n_classes == 0 {
            return Err(Error::InvalidRequest(
                "nothing to fit: no labelled source items".into(),
            ));
        }
        let (c, f) = (n_classes, n_features);
        let n_items = data.len();
        // Dense `[N, F]` features and the gradient's matrix products through an optimised
        // GEMM: full-batch epochs cost two small matrix products each.
        let mut x = vec![0f32; n_items * f];
        for (row, (v, _)) in x.chunks_exact_mut(f.max(1)).zip(data) {
            v.for_each(|i, val| {
                if i < f {
                    row[i] = val;
                }
            });
        }
        let mut w = vec![0f32; c * f];
        let mut b = vec![0f32; c];
        let (mut mw, mut vw) = (vec![0f32; c * f], vec![0f32; c * f]);
        let (mut mb, mut vb) = (vec![0f32; c], vec![0f32; c]);
        let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let n = n_items as f32;
        let mut scores = vec![0f32; n_items * c];
        let mut gw = vec![0f32; c * f];
        for step in 1..=settings.epochs {
            // scores[N, C] = x[N, F] . w[C, F]^T
            gemm((n_items, f, c), (&x, f, 1), (&w, 1, f), &mut scores);
            // scores become the gradient of the mean cross-entropy: (softmax - onehot) / N.
            let mut gb = vec![0f32; c];
            for (row, (_, y)) in scores.chunks_exact_mut(c).zip(data) {
                for (s, bias) in row.iter_mut().zip(&b) {
                    *s += bias;
                }
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut z = 0f32;
                for s in row.iter_mut() {
                    *s = (*s - max).exp();
                    z += *s;
                }
                for (k, s) in row.iter_mut().enumerate() {
                    *s = (*s / z - if k == *y { 1.0 } else { 0.0 }) / n;
                    gb[k] += *s;
                }
            }
            // gw[C, F] = g[N, C]^T . x[N, F]
            gemm((c, n_items, f), (&scores, 1, c), (&x, f, 1), &mut gw);
            let t = step as i32;
            let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
            for i in 0..c * f {
                let g = gw[i] + settings.l2 * w[i];
                mw[i] = beta1 * mw[i] + (1.0 - beta1) * g;
                vw[i] = beta2 * vw[i] + (1.0 - beta2) * g * g;
                w[i] -= settings.learning_rate * (mw[i] / bc1) / ((vw[i] / bc2).sqrt() + eps);
            }
            for k in 0..c {
                mb[k] = beta1 * mb[k] + (1.0 - beta1) * gb[k];
                vb[k] = beta2 * vb[k] + (1.0 - beta2) * gb[k] * gb[k];
                b[k] -= settings.learning_rate * (mb[k] / bc1) / ((vb[k] / bc2).sqrt() + eps);
            }
        }
        Ok(LinearClassifier {
            n_features: f,
            n_classes: c,
            weights: w,
            bias: b,
        })
    }
}

/// One labelled item of a modality: its codes and embedding, and its class index.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferItem {
    pub codes: Vec<u32>,
    pub embedding: Vec<f32>,
    pub label: usize,
}

/// Result of one transfer experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferReport {
    pub source: Modality,
    pub target: Modality,
    pub features: TransferFeatures,
    pub labels: Vec<String>,
    pub n_train: usize,
    pub n_test: usize,
    /// Accuracy on the source items it was fitted on.
    pub source_accuracy: f32,
    /// Accuracy on the target modality (never seen in fitting).
    pub accuracy: f32,
    /// `confusion[true][predicted]` counts on the target.
    pub confusion: Vec<Vec<u32>>,
    /// Every tested target item with its true and predicted class, in test order: the items
    /// behind each confusion cell.
    #[serde(default)]
    pub tested: Vec<TestedItem>,
}

/// One tested target item of a [`TransferReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestedItem {
    /// Its gallery index in a report on the gallery (`engine::summary::gallery_transfer`);
    /// from [`run_transfer`] alone, its position in the target items.
    pub index: usize,
    /// True class (index into the report's labels).
    pub truth: usize,
    /// Predicted class.
    pub predicted: usize,
}

impl TransferReport {
    /// The items (their [`TestedItem::index`], ascending) of confusion cell
    /// `[truth][predicted]`.
    pub fn cell_items(&self, truth: usize, predicted: usize) -> Vec<usize> {
        let mut items: Vec<usize> = self
            .tested
            .iter()
            .filter(|t| t.truth == truth && t.predicted == predicted)
            .map(|t| t.index)
            .collect();
        items.sort_unstable();
        items
    }
}

/// The classifier's input for an item with these codes and this embedding.
pub fn features_of(codes: &[u32], embedding: &[f32], kind: TransferFeatures) -> FeatureVec {
    match kind {
        TransferFeatures::BagOfCodes => FeatureVec::bag_of_codes(codes),
        TransferFeatures::Embedding => FeatureVec::Dense(embedding.to_vec()),
    }
}

/// Fits on `source_items`, tests on `target_items`.
#[allow(clippy::too_many_arguments)]
pub fn run_transfer(
    source: Modality,
    target: Modality,
    source_items: &[TransferItem],
    target_items: &[TransferItem],
    labels: &[String],
    codebook_size: usize,
    features: TransferFeatures,
    settings: FitSettings,
) -> Result<TransferReport> {
    if target_items.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "no labelled {target} items to test on"
        )));
    }
    let n_classes = labels.len();
    let n_features = match features {
        TransferFeatures::BagOfCodes => codebook_size,
        TransferFeatures::Embedding => source_items.first().map(|i| i.embedding.len()).unwrap_or(0),
    };
    let train: Vec<(FeatureVec, usize)> = source_items
        .iter()
        .filter(|i| i.label < n_classes)
        .map(|i| (features_of(&i.codes, &i.embedding, features), i.label))
        .collect();
    let clf = LinearClassifier::fit(&train, n_features, n_classes, settings)?;
    let source_correct = train.iter().filter(|(x, y)| clf.predict(x) == *y).count();
    let mut confusion = vec![vec![0u32; n_classes]; n_classes];
    let mut correct = 0;
    let mut tested = Vec::with_capacity(target_items.len());
    for (index, item) in target_items.iter().enumerate() {
        if item.label >= n_classes {
            continue;
        }
        let p = clf.predict(&features_of(&item.codes, &item.embedding, features));
        confusion[item.label][p] += 1;
        correct += usize::from(p == item.label);
        tested.push(TestedItem {
            index,
            truth: item.label,
            predicted: p,
        });
    }
    let n_test = tested.len();
    Ok(TransferReport {
        source,
        target,
        features,
        labels: labels.to_vec(),
        n_train: train.len(),
        n_test,
        source_accuracy: source_correct as f32 / train.len().max(1) as f32,
        accuracy: correct as f32 / n_test.max(1) as f32,
        confusion,
        tested,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_codes_transfer_and_disjoint_codes_do_not() {
        // Class c uses codes {2c, 2c+1}. Source and target share them -> perfect transfer.
        let item = |c: usize, shift: u32| TransferItem {
            codes: vec![
                2 * c as u32 + shift,
                2 * c as u32 + 1 + shift,
                2 * c as u32 + shift,
            ],
            embedding: vec![],
            label: c,
        };
        let labels: Vec<String> = (0..4).map(|c| c.to_string()).collect();
        let src: Vec<_> = (0..4).flat_map(|c| [item(c, 0), item(c, 0)]).collect();
        let tgt: Vec<_> = (0..4).map(|c| item(c, 0)).collect();
        let r = run_transfer(
            Modality::Image,
            Modality::Audio,
            &src,
            &tgt,
            &labels,
            16,
            TransferFeatures::BagOfCodes,
            FitSettings::default(),
        )
        .unwrap();
        assert_eq!(r.accuracy, 1.0);
        assert_eq!(r.confusion[2][2], 1);
        // Target uses codes the source never used: the classifier can only guess.
        let tgt_disjoint: Vec<_> = (0..4).map(|c| item(c, 8)).collect();
        let r = run_transfer(
            Modality::Image,
            Modality::Audio,
            &src,
            &tgt_disjoint,
            &labels,
            16,
            TransferFeatures::BagOfCodes,
            FitSettings::default(),
        )
        .unwrap();
        assert!(r.accuracy <= 0.25 + 1e-6, "{}", r.accuracy);
        assert_eq!(r.n_test, 4);
        // Each cell's items are exactly the tested items with that true and predicted class.
        for (t, row) in r.confusion.iter().enumerate() {
            for (p, &count) in row.iter().enumerate() {
                let items = r.cell_items(t, p);
                assert_eq!(items.len(), count as usize);
                assert!(items.iter().all(|&i| tgt_disjoint[i].label == t));
            }
        }
        assert_eq!(r.source_accuracy, 1.0);
    }

    #[test]
    fn empty_target_is_an_error() {
        let err = run_transfer(
            Modality::Image,
            Modality::Audio,
            &[],
            &[],
            &["a".into()],
            4,
            TransferFeatures::BagOfCodes,
            FitSettings::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("audio"), "{err}");
    }
}
