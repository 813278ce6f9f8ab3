//! Training losses as tensor functions with documented shapes. Each is tested on tiny inputs
//! against values computed by hand.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_softmax, softmax};

use crate::model::masked_mean;

/// Mean squared error over all elements.
///
/// - `a`, `b`: any shape (same) -> scalar `[1]`
pub fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// Same-label target matrix: `targets[i][j] = 1/n_i` if `labels[i] == labels[j]` (n_i the
/// number of such j), else 0. With distinct labels this is the identity (plain InfoNCE);
/// with class-level pairs every item of the same class counts as a positive.
pub fn soft_targets(labels_rows: &[usize], labels_cols: &[usize]) -> Vec<f32> {
    let mut t = vec![0f32; labels_rows.len() * labels_cols.len()];
    for (i, &a) in labels_rows.iter().enumerate() {
        let n = labels_cols.iter().filter(|&&b| b == a).count().max(1) as f32;
        for (j, &b) in labels_cols.iter().enumerate() {
            if a == b {
                t[i * labels_cols.len() + j] = 1.0 / n;
            }
        }
    }
    t
}

/// Cross-entropy of softmax(logits) against soft targets, averaged over rows.
///
/// - `logits`: `[N, M]`, `targets`: `[N, M]` rows summing to 1 -> scalar `[1]`
pub fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    (logp * targets).sum().neg().div_scalar(n as f64)
}

/// Symmetric InfoNCE between two sets of L2-normalised vectors (CLIP-style), with
/// same-label positives.
///
/// - `a`: `[N, D]`, `b`: `[M, D]`, `targets_ab`: `[N, M]`, `targets_ba`: `[M, N]` -> `[1]`
pub fn info_nce(
    a: Tensor<2>,
    b: Tensor<2>,
    targets_ab: Tensor<2>,
    targets_ba: Tensor<2>,
    temperature: f64,
) -> Tensor<1> {
    let logits = a.matmul(b.transpose()).div_scalar(temperature);
    let ab = soft_cross_entropy(logits.clone(), targets_ab);
    let ba = soft_cross_entropy(logits.transpose(), targets_ba);
    (ab + ba).div_scalar(2.0)
}

/// Cross-modal contrastive predictive coding: a context vector of modality A predicts every
/// step of modality B through `predicted` (= W c_A); InfoNCE over the batch at each step.
///
/// - `predicted`: `[B, D]` (normalised), `steps`: `[B, T, D]` (normalised),
///   `targets`: `[B, B]` soft targets -> `[1]` averaged over T
pub fn cross_cpc(
    predicted: Tensor<2>,
    steps: Tensor<3>,
    targets: Tensor<2>,
    temperature: f64,
) -> Tensor<1> {
    let [b, t, d] = steps.dims();
    // scores[i, j*T + s] = predicted_i . steps_{j,s}
    let scores = predicted
        .matmul(steps.reshape([b * t, d]).transpose())
        .div_scalar(temperature)
        .reshape([b, b, t])
        .swap_dims(1, 2); // [B, T, B]
    let logp = log_softmax(scores, 2);
    let targets = targets.reshape([b, 1, b]);
    (logp * targets).sum().neg().div_scalar((b * t) as f64)
}

/// CLUB mutual-information upper bound (Cheng et al. 2020) with a Gaussian q(s | z) of mean
/// `mu` and log-variance `logvar`:
/// `mean_i log q(s_i|z_i) - mean_{i,j} log q(s_j|z_i)` (constants dropped).
///
/// - `mu`, `logvar`: `[B, S]` predicted from z; `s`: `[B, S]` -> `[1]`
pub fn club_upper_bound(mu: Tensor<2>, logvar: Tensor<2>, s: Tensor<2>) -> Tensor<1> {
    let [b, k] = s.dims();
    let inv_var = logvar.neg().exp(); // [B, S]
    let positive = (mu.clone() - s.clone())
        .powi_scalar(2)
        .neg()
        .mul(inv_var.clone())
        .div_scalar(2.0); // [B, S]
    // negative[i] = mean_j -(s_j - mu_i)^2 / (2 var_i)
    let diff = s.reshape([1, b, k]) - mu.reshape([b, 1, k]); // [B, B, S]
    let negative = diff
        .powi_scalar(2)
        .mean_dim(1)
        .reshape([b, k])
        .neg()
        .mul(inv_var)
        .div_scalar(2.0);
    (positive.sum_dim(1) - negative.sum_dim(1)).mean()
}

/// Negative log-likelihood of s under q(s | z), which trains the CLUB variational network.
///
/// - `mu`, `logvar`, `s`: `[B, S]` -> `[1]`
pub fn club_log_likelihood_loss(mu: Tensor<2>, logvar: Tensor<2>, s: Tensor<2>) -> Tensor<1> {
    let inv_var = logvar.clone().neg().exp();
    ((mu - s).powi_scalar(2).mul(inv_var) + logvar).mean()
}

/// Soft code distribution of each item (CMG): per position `softmax_k(-‖z - e_k‖ / τ)`, then
/// the mean over the item's unpadded positions (CMG's τ is 1).
///
/// - `z`: `[B, T, D]`, `codebook`: `[K, D]` (no gradient: it moves by EMA), `mask`: `[B, T]`
/// - returns `[B, K]`, rows summing to 1
pub fn soft_code_distribution(
    z: Tensor<3>,
    codebook: Tensor<2>,
    mask: Tensor<2>,
    temperature: f64,
) -> Tensor<2> {
    let [b, t, d] = z.dims();
    let k = codebook.dims()[0];
    let flat = z.reshape([b * t, d]);
    let squared = flat.clone().powi_scalar(2).sum_dim(1)
        + codebook.clone().powi_scalar(2).sum_dim(1).reshape([1, k])
        - flat.matmul(codebook.transpose()).mul_scalar(2.0);
    let distance = squared.clamp_min(1e-12).sqrt(); // [B*T, K]
    let p = softmax(distance.div_scalar(-temperature), 1).reshape([b, t, k]);
    masked_mean(p, mask)
}

/// CMG's cross-modal code matching: `S_ij = p_i · log q_j + q_i · log p_j` over a batch of
/// paired items, then the cross-entropy of `softmax_j(S_i)` against the targets (same-class
/// items are positives, as in [`info_nce`]).
///
/// - `p`, `q`: `[B, K]` code distributions of two modalities, `targets`: `[B, B]` -> `[1]`
pub fn code_matching(p: Tensor<2>, q: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let log_p = p.clone().clamp_min(1e-10).log();
    let log_q = q.clone().clamp_min(1e-10).log();
    let scores = p.matmul(log_q.transpose()) + q.matmul(log_p.transpose());
    soft_cross_entropy(scores, targets)
}

/// Class-level code overlaps of two modalities: entry `(i, j)` is `Σ_k min(P_c,k, Q_c',k)`,
/// where `P_c` is the mean code distribution of item `i`'s class `c` in the first modality and
/// `Q_c'` that of item `j`'s class `c'` in the second — the histogram intersection that the
/// eval's code agreement reports, on soft distributions. Entries of one class feed
/// [`code_agreement`], entries of two classes [`code_separation`].
///
/// - `p`, `q`: `[B, K]` code distributions of two modalities, `targets`: `[B, B]`, row `i`
///   `1/n` on the `n` items of item `i`'s class -> `[B, B]`, in `[0, 1]`
pub fn class_code_overlaps(p: Tensor<2>, q: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
    let [b, k] = p.dims();
    let p_class = targets
        .clone()
        .matmul(p)
        .reshape([b, 1, k])
        .expand([b, b, k]);
    let q_class = targets.matmul(q).reshape([1, b, k]).expand([b, b, k]);
    p_class.min_pair(q_class).sum_dim(2).reshape([b, b])
}

/// Class-level code agreement: one minus the overlap of each item's class with the same class
/// in the other modality, averaged over the batch's items. Code matching (a contrastive term)
/// separates classes; this one pulls a class's codes in one modality onto the same class's in
/// the other.
///
/// - `overlaps`: `[B, B]` from [`class_code_overlaps`] -> `[1]`, in `[0, 1]`
pub fn code_agreement(overlaps: Tensor<2>) -> Tensor<1> {
    let b = overlaps.dims()[0];
    let same = Tensor::<2>::eye(b, &overlaps.device());
    (overlaps * same).sum_dim(1).neg().add_scalar(1.0).mean()
}

/// Class-level code separation: the overlap of a class's codes in one modality with another
/// class's in the other, averaged over the batch's pairs of items of different classes — the
/// other-class overlap that the eval's code agreement reports. [`code_agreement`] can join a
/// class's codes across modalities through codes that every class uses; this term pushes one
/// class's codes off the other classes' codes in the other modality.
///
/// - `overlaps`: `[B, B]` from [`class_code_overlaps`], `targets`: `[B, B]` as given to it ->
///   `[1]`, in `[0, 1]` (0 when the batch holds one class)
pub fn code_separation(overlaps: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let other = targets.lower_equal_elem(0.0).float();
    (overlaps * other.clone()).sum() / other.sum().clamp_min(1.0)
}

/// Commitment of modality A's features to the paired item's code vectors in modality B. The
/// sequences do not correspond position by position (a 4×4 image grid, 80 ms steps, tokens),
/// so each unpadded position of A commits to the *nearest* of B's code vectors at B's
/// unpadded positions: A is pulled onto codes that B uses for the same item.
///
/// - `z_a`: `[B, Ta, D]`, `mask_a`: `[B, Ta]`, `q_b`: `[B, Tb, D]` (no gradient),
///   `mask_b`: `[B, Tb]` -> `[1]`, the mean squared distance per dimension
pub fn cross_commitment(
    z_a: Tensor<3>,
    mask_a: Tensor<2>,
    q_b: Tensor<3>,
    mask_b: Tensor<2>,
) -> Tensor<1> {
    let [b, ta, d] = z_a.dims();
    let tb = q_b.dims()[1];
    let squared = z_a.clone().powi_scalar(2).sum_dim(2)
        + q_b.clone().powi_scalar(2).sum_dim(2).reshape([b, 1, tb])
        - z_a.matmul(q_b.swap_dims(1, 2)).mul_scalar(2.0); // [B, Ta, Tb]
    // Padded positions of B are never the nearest.
    let padded = mask_b
        .neg()
        .add_scalar(1.0)
        .mul_scalar(1e6)
        .reshape([b, 1, tb]);
    let nearest = (squared + padded)
        .min_dim(2)
        .reshape([b, ta])
        .clamp_min(0.0);
    (nearest * mask_a.clone()).sum() / mask_a.sum().mul_scalar(d as f64).clamp_min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{float_to_vec, tensor_from_vec};
    use burn::tensor::Device;

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        tensor_from_vec(v, shape, &Device::flex())
    }

    fn scalar(t: Tensor<1>) -> f32 {
        float_to_vec(t)[0]
    }

    #[test]
    fn soft_targets_split_mass_between_same_labels() {
        let t = soft_targets(&[0, 1], &[0, 1, 0]);
        assert_eq!(t, vec![0.5, 0.0, 0.5, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn cross_entropy_known_value() {
        // logits [0, ln 3] -> p = [0.25, 0.75]; target class 1 -> -ln 0.75
        let l = soft_cross_entropy(t2(vec![0.0, 3f32.ln()], [1, 2]), t2(vec![0.0, 1.0], [1, 2]));
        assert!((scalar(l) - (-(0.75f32).ln())).abs() < 1e-6);
    }

    #[test]
    fn info_nce_is_low_for_aligned_and_high_for_swapped_pairs() {
        let a = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let eye = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let aligned = scalar(info_nce(
            a.clone(),
            a.clone(),
            eye.clone(),
            eye.clone(),
            0.1,
        ));
        // logits = I / 0.1 -> loss = ln(1 + e^-10)
        assert!(
            (aligned - (1.0 + (-10f32).exp()).ln()).abs() < 1e-5,
            "{aligned}"
        );
        let swapped = t2(vec![0.0, 1.0, 1.0, 0.0], [2, 2]);
        let bad = scalar(info_nce(a, swapped, eye.clone(), eye, 0.1));
        assert!(
            (bad - (10.0 + (1.0 + (-10f32).exp()).ln())).abs() < 1e-4,
            "{bad}"
        );
    }

    #[test]
    fn cross_cpc_matches_info_nce_for_one_step() {
        let p = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let steps = tensor_from_vec(vec![1.0, 0.0, 0.0, 1.0], [2, 1, 2], &Device::flex());
        let eye = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let l = scalar(cross_cpc(p, steps, eye, 0.5));
        // each row: logits [2, 0] -> -ln(e^2 / (e^2 + 1))
        let expected = -(2f32.exp() / (2f32.exp() + 1.0)).ln();
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }

    #[test]
    fn club_bound_is_zero_for_independent_constant_and_positive_for_dependent() {
        // s = mu exactly for each i, unit variance: positive term 0, negative term
        // -mean_j (s_j - mu_i)^2 / 2. With s = [0, 2] (1-d): negatives for i=0: -(0+4)/2/2 = -1,
        // i=1: -(4+0)/2/2 = -1 -> bound = 0 - (-1) = 1.
        let mu = t2(vec![0.0, 2.0], [2, 1]);
        let logvar = t2(vec![0.0, 0.0], [2, 1]);
        let s = t2(vec![0.0, 2.0], [2, 1]);
        let v = scalar(club_upper_bound(mu, logvar.clone(), s));
        assert!((v - 1.0).abs() < 1e-6, "{v}");
        // s independent of z (constant): bound 0.
        let mu = t2(vec![1.0, 1.0], [2, 1]);
        let s = t2(vec![1.0, 1.0], [2, 1]);
        let v = scalar(club_upper_bound(mu, logvar, s));
        assert!(v.abs() < 1e-6, "{v}");
    }

    #[test]
    fn code_distribution_ignores_padding_and_favours_the_nearest_code() {
        // Codes at 0 and 1 (1-d); item 0: one position at 0 and a padded one at 1.
        for temperature in [1.0f32, 0.25] {
            let z = tensor_from_vec(vec![0.0, 1.0], [1, 2, 1], &Device::flex());
            let codebook = t2(vec![0.0, 1.0], [2, 1]);
            let p = float_to_vec(soft_code_distribution(
                z,
                codebook,
                t2(vec![1.0, 0.0], [1, 2]),
                temperature as f64,
            ));
            // softmax([-0, -1] / τ) = [1/(1+e^(-1/τ)), e^(-1/τ)/(1+e^(-1/τ))]
            let expected = 1.0 / (1.0 + (-1.0 / temperature).exp());
            assert!(
                (p[0] - expected).abs() < 1e-6 && (p[0] + p[1] - 1.0).abs() < 1e-6,
                "τ {temperature}: {p:?}"
            );
        }
    }

    #[test]
    fn code_matching_known_value() {
        // Two items, K = 2: p = q = one-hot-ish rows.
        let p = t2(vec![0.9, 0.1, 0.1, 0.9], [2, 2]);
        let eye = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let l = scalar(code_matching(p.clone(), p, eye));
        let same = 2.0 * (0.9f32 * 0.9f32.ln() + 0.1 * 0.1f32.ln());
        let other = 2.0 * (0.9f32 * 0.1f32.ln() + 0.1 * 0.9f32.ln());
        let expected = -(same - (same.exp() + other.exp()).ln());
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }

    #[test]
    fn code_agreement_compares_class_histograms_not_items() {
        // Items 0 and 1 are one class, item 2 another; K = 3.
        let targets = t2(soft_targets(&[0, 0, 1], &[0, 0, 1]), [3, 3]);
        // Class 0: images use codes 0 and 1 half each (one item each); sounds use code 0 for
        // one item and code 1 for the other: the class histograms agree though the paired
        // items do not. Class 1: image code 2, sound code 0: disjoint.
        let p = t2(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], [3, 3]);
        let q = t2(vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [3, 3]);
        let l = scalar(code_agreement(class_code_overlaps(
            p.clone(),
            q,
            targets.clone(),
        )));
        // Per item 1 - overlap: 0, 0, 1 -> mean 1/3.
        assert!((l - 1.0 / 3.0).abs() < 1e-6, "{l}");
        let same = class_code_overlaps(p.clone(), p, targets);
        assert!(scalar(code_agreement(same)).abs() < 1e-6);
    }

    #[test]
    fn code_separation_is_the_overlap_of_different_classes_only() {
        // Items 0 and 1 are class 0, item 2 class 1; K = 3. Class 0's images use codes 0 and 1
        // half each, class 1's image code 2; class 0's sounds use code 2 (shared with the other
        // class's images), class 1's sound code 1.
        let targets = t2(soft_targets(&[0, 0, 1], &[0, 0, 1]), [3, 3]);
        let p = t2(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], [3, 3]);
        let q = t2(vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0], [3, 3]);
        // Different-class item pairs (0,2), (1,2), (2,0), (2,1): P_0 = (.5, .5, 0) against
        // Q_1 = (0, 1, 0) overlaps 0.5 twice; P_1 = (0, 0, 1) against Q_0 = (0, 0, 1) overlaps
        // 1 twice -> mean 0.75. Same-class overlaps (P_0 with Q_0: 0) do not count.
        let l = scalar(code_separation(
            class_code_overlaps(p.clone(), q, targets.clone()),
            targets.clone(),
        ));
        assert!((l - 0.75).abs() < 1e-6, "{l}");
        // One class in the batch: nothing to separate.
        let one = t2(soft_targets(&[4, 4, 4], &[4, 4, 4]), [3, 3]);
        let overlaps = class_code_overlaps(p.clone(), p, one.clone());
        assert!(scalar(code_separation(overlaps, one)).abs() < 1e-6);
    }

    #[test]
    fn cross_commitment_uses_the_nearest_unpadded_partner_code() {
        // A: one position at 1.0; B: codes at 0.0 (real) and 1.0 (padded) -> distance 1.
        let z_a = tensor_from_vec(vec![1.0], [1, 1, 1], &Device::flex());
        let q_b = tensor_from_vec(vec![0.0, 1.0], [1, 2, 1], &Device::flex());
        let l = scalar(cross_commitment(
            z_a,
            t2(vec![1.0], [1, 1]),
            q_b,
            t2(vec![1.0, 0.0], [1, 2]),
        ));
        assert!((l - 1.0).abs() < 1e-5, "{l}");
    }

    #[test]
    fn club_likelihood_loss_known_value() {
        // (mu - s)^2 / var + logvar with mu=1, s=0, logvar=ln 2 -> 0.5 + ln 2
        let v = scalar(club_log_likelihood_loss(
            t2(vec![1.0], [1, 1]),
            t2(vec![2f32.ln()], [1, 1]),
            t2(vec![0.0], [1, 1]),
        ));
        assert!((v - (0.5 + 2f32.ln())).abs() < 1e-6, "{v}");
    }
}
