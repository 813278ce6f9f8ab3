//! One safe front to `matrixmultiply::sgemm` (f32: search, probes, the map projection) and
//! `dgemm` (f64: the map's covariance), the matrix products of the crate.

/// A value type `matrixmultiply` multiplies.
pub trait Element: Copy + Default {
    /// `matrixmultiply::{s,d}gemm` with alpha 1 and beta 0.
    ///
    /// # Safety
    /// As `matrixmultiply::sgemm`: every strided index inside its buffer.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(
        dims: (usize, usize, usize),
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        c: (*mut Self, isize, isize),
    );
}

macro_rules! element {
    ($t:ty, $f:path) => {
        impl Element for $t {
            unsafe fn kernel(
                (m, k, n): (usize, usize, usize),
                a: (*const Self, isize, isize),
                b: (*const Self, isize, isize),
                c: (*mut Self, isize, isize),
            ) {
                // SAFETY: the caller's contract.
                unsafe {
                    $f(
                        m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, 0.0, c.0, c.1, c.2,
                    )
                }
            }
        }
    };
}
element!(f32, matrixmultiply::sgemm);
element!(f64, matrixmultiply::dgemm);

/// `out[M, N] = A[M, K] . B[K, N]`, row-major `out`; each input is given with its row and
/// column strides (so a transposed view is just swapped strides).
///
/// # Panics
/// When a stride reaches outside its slice or `out` is not `M * N` long.
pub fn gemm<T: Element>(
    (m, k, n): (usize, usize, usize),
    (a, rsa, csa): (&[T], usize, usize),
    (b, rsb, csb): (&[T], usize, usize),
    out: &mut [T],
) {
    assert_eq!(out.len(), m * n, "gemm output size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(T::default());
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
        T::kernel(
            (m, k, n),
            (a.as_ptr(), rsa as isize, csa as isize),
            (b.as_ptr(), rsb as isize, csb as isize),
            (out.as_mut_ptr(), n as isize, 1),
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
