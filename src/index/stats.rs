//! Codebook health: usage per modality, perplexity, active and dead codes, codes shared
//! across modalities.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::modality::Modality;

/// Usage of one modality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModalityUsage {
    pub modality: Modality,
    /// Items counted.
    pub items: usize,
    /// Positions counted.
    pub positions: usize,
    /// Positions assigned to each code, `[K]`.
    pub counts: Vec<u64>,
    /// exp(entropy) of the code distribution: the effective number of codes used.
    pub perplexity: f32,
    /// Codes used at least once.
    pub active: usize,
}

/// Statistics over all modalities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodebookStats {
    pub codebook_size: usize,
    pub per_modality: Vec<ModalityUsage>,
    /// Codes used by at least one modality.
    pub active_any: usize,
    /// Codes used by no modality.
    pub dead: usize,
    /// Codes used by at least two modalities.
    pub shared: usize,
    /// `shared / active_any` (0 when nothing is active).
    pub shared_fraction: f32,
}

/// exp(entropy) of a histogram (natural log); 0 for an empty histogram.
pub fn perplexity(counts: &[u64]) -> f32 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.ln()
        })
        .sum();
    entropy.exp() as f32
}

impl CodebookStats {
    /// Computes statistics from (modality, codes of one item) pairs. Codes >= K are ignored.
    pub fn compute<'a>(
        codebook_size: usize,
        items: impl IntoIterator<Item = (Modality, &'a [u32])>,
    ) -> Self {
        let mut per: BTreeMap<Modality, (usize, usize, Vec<u64>)> = BTreeMap::new();
        for (modality, codes) in items {
            let entry = per
                .entry(modality)
                .or_insert_with(|| (0, 0, vec![0; codebook_size]));
            entry.0 += 1;
            for &c in codes {
                if let Some(slot) = entry.2.get_mut(c as usize) {
                    *slot += 1;
                    entry.1 += 1;
                }
            }
        }
        let per_modality: Vec<ModalityUsage> = per
            .into_iter()
            .map(|(modality, (items, positions, counts))| ModalityUsage {
                modality,
                items,
                positions,
                perplexity: perplexity(&counts),
                active: counts.iter().filter(|&&c| c > 0).count(),
                counts,
            })
            .collect();
        let users = |k: usize| per_modality.iter().filter(|u| u.counts[k] > 0).count();
        let active_any = (0..codebook_size).filter(|&k| users(k) >= 1).count();
        let shared = (0..codebook_size).filter(|&k| users(k) >= 2).count();
        CodebookStats {
            codebook_size,
            active_any,
            dead: codebook_size - active_any,
            shared,
            shared_fraction: if active_any > 0 {
                shared as f32 / active_any as f32
            } else {
                0.0
            },
            per_modality,
        }
    }

    /// Usage of one modality, if counted.
    pub fn usage(&self, modality: Modality) -> Option<&ModalityUsage> {
        self.per_modality.iter().find(|u| u.modality == modality)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_of_uniform_and_single() {
        assert!((perplexity(&[5, 5, 5, 5]) - 4.0).abs() < 1e-5);
        assert!((perplexity(&[9, 0, 0]) - 1.0).abs() < 1e-6);
        assert_eq!(perplexity(&[0, 0]), 0.0);
    }

    #[test]
    fn shared_and_dead_codes() {
        let image: Vec<u32> = vec![0, 1, 1, 2];
        let audio: Vec<u32> = vec![1, 2, 3];
        let text: Vec<u32> = vec![3, 9]; // 9 is out of range, ignored
        let stats = CodebookStats::compute(
            6,
            [
                (Modality::Image, image.as_slice()),
                (Modality::Audio, audio.as_slice()),
                (Modality::Text, text.as_slice()),
            ],
        );
        assert_eq!(stats.active_any, 4); // 0,1,2,3
        assert_eq!(stats.dead, 2); // 4,5
        assert_eq!(stats.shared, 3); // 1,2 (image+audio), 3 (audio+text)
        assert!((stats.shared_fraction - 0.75).abs() < 1e-6);
        let img = stats.usage(Modality::Image).unwrap();
        assert_eq!(img.counts, vec![1, 2, 1, 0, 0, 0]);
        assert_eq!(img.active, 3);
        assert_eq!(stats.usage(Modality::Text).unwrap().positions, 1);
    }
}
