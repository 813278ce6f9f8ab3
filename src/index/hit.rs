//! A search hit and the one ranking rule: score descending, ties by lower row index.

use serde::{Deserialize, Serialize};

/// One search hit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Row index in the searched matrix.
    pub index: usize,
    /// Cosine similarity (dot product of normalised vectors).
    pub score: f32,
}

/// Whether (score, index) ranks before (other_score, other_index).
pub(crate) fn better(score: f32, index: usize, other_score: f32, other_index: usize) -> bool {
    score > other_score || (score == other_score && index < other_index)
}

/// Best first; ties by lower index.
pub fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.index.cmp(&b.index))
    });
}
