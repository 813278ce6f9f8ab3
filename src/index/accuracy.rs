//! Accuracy of predicted classes against the truth, with its per-class view and confusion
//! matrix (plain data): the evaluation's figures and the comparison of two models.

use serde::{Deserialize, Serialize};

/// Accuracy of one experiment, with its per-class view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub accuracy: f32,
    pub n: usize,
    /// Accuracy on the items of each class (`null` for a class with no items).
    #[serde(default)]
    pub per_class: Vec<Option<f32>>,
    /// `confusion[true][predicted]` counts.
    #[serde(default)]
    pub confusion: Vec<Vec<u32>>,
}

impl Accuracy {
    /// Scores predictions against the truth; classes outside `0..n_classes` are skipped.
    pub fn from_predictions(truth: &[usize], predicted: &[usize], n_classes: usize) -> Self {
        let mut confusion = vec![vec![0u32; n_classes]; n_classes];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t < n_classes && p < n_classes {
                confusion[t][p] += 1;
            }
        }
        let n: u32 = confusion.iter().flatten().sum();
        let correct: u32 = (0..n_classes).map(|c| confusion[c][c]).sum();
        let per_class = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: u32 = row.iter().sum();
                (total > 0).then(|| row[c] as f32 / total as f32)
            })
            .collect();
        Accuracy {
            accuracy: correct as f32 / n.max(1) as f32,
            n: n as usize,
            per_class,
            confusion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_has_per_class_figures_and_the_confusion_matrix() {
        let a = Accuracy::from_predictions(&[0, 0, 1, 1, 1], &[0, 1, 1, 1, 0], 3);
        assert_eq!(a.n, 5);
        assert!((a.accuracy - 0.6).abs() < 1e-6);
        assert_eq!(a.per_class, vec![Some(0.5), Some(2.0 / 3.0), None]);
        assert_eq!(
            a.confusion,
            vec![vec![1, 1, 0], vec![1, 2, 0], vec![0, 0, 0]]
        );
    }
}
