//! One safe front to `matrixmultiply::sgemm`, the matrix product behind search and probes.

/// `out[M, N] = A[M, K] . B[K, N]`, row-major `out`; each input is given with its row and
/// column strides (so a transposed view is just swapped strides).
///
/// # Panics
/// When a stride reaches outside its slice or `out` is not `M * N` long.
pub fn gemm(
    (m, k, n): (usize, usize, usize),
    (a, rsa, csa): (&[f32], usize, usize),
    (b, rsb, csb): (&[f32], usize, usize),
    out: &mut [f32],
) {
    assert_eq!(out.len(), m * n, "gemm output size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    assert!(
        (m - 1) * rsa + (k - 1) * csa < a.len(),
        "gemm: A out of bounds"
    );
    assert!(
        (k - 1) * rsb + (n - 1) * csb < b.len(),
        "gemm: B out of bounds"
    );
    // SAFETY: the asserts above keep every index of A, B and C inside its slice; C's strides
    // (n, 1) never alias; beta = 0 so C's previous contents are not read.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_the_definition_with_transposed_views() {
        // A [2, 3], B [3, 2] row-major.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [0f32; 4];
        gemm((2, 3, 2), (&a, 3, 1), (&b, 2, 1), &mut c);
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
        // A^T B^T with A read as [3, 2] through swapped strides: (B A)^T.
        let mut d = [0f32; 9];
        gemm((3, 2, 3), (&a, 1, 3), (&b, 1, 2), &mut d);
        // (A^T)[i][k] = a[k*3+i], (B^T)[k][j] = b[j*2+k]
        let want: Vec<f32> = (0..3)
            .flat_map(|i| (0..3).map(move |j| (0..2).map(|k| a[k * 3 + i] * b[j * 2 + k]).sum()))
            .collect();
        assert_eq!(d.to_vec(), want);
    }
}
