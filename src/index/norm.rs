//! Unit-length (L2) normalisation of plain `f32` vectors and row-major matrices.
//!
//! The tensor counterpart for the model is [`crate::model::l2_normalize`]; both divide by the
//! norm raised to [`L2_NORM_FLOOR`], so an all-zero row stays zero.

/// Smallest norm divided by, stated beside the tensor version in `model` (which `index` may
/// import; `model` imports nothing from `index`).
pub use crate::model::L2_NORM_FLOOR;

/// Scales `v` to unit L2 norm in place; an all-zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(L2_NORM_FLOOR);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Scales every row of the row-major `rows` (`[N, dim]`) to unit L2 norm in place. A trailing
/// partial row (when `rows.len()` is not a multiple of `dim`) and `dim == 0` are left as they are.
pub fn l2_normalize_rows(rows: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    rows.chunks_exact_mut(dim).for_each(l2_normalize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_unit_length_and_zero_rows_stay_zero() {
        let mut rows = vec![3.0, 4.0, 0.0, 0.0, -1.0, 0.0];
        l2_normalize_rows(&mut rows, 2);
        assert_eq!(rows, vec![0.6, 0.8, 0.0, 0.0, -1.0, 0.0]);
    }

    #[test]
    fn direction_is_kept() {
        let mut v = vec![1.0, 2.0, 2.0];
        l2_normalize(&mut v);
        let want = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
        assert!(
            v.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{v:?}"
        );
    }

    #[test]
    fn zero_dim_is_a_no_op() {
        let mut rows = vec![2.0, 0.0];
        l2_normalize_rows(&mut rows, 0);
        assert_eq!(rows, vec![2.0, 0.0]);
    }
}
