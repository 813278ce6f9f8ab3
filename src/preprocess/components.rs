//! Connected components of a mask (8-connectivity), for telling a digit's strokes from the
//! clumps of noise around them on a noisy page.
//!
//! A flood fill over an explicit stack: a few dozen lines for the one labelling the MNIST
//! recipe needs, where a crate such as `imageproc` would bring its own `rand`, `nalgebra` and
//! `image` requirements along.

/// Label of a pixel outside the mask.
pub const BACKGROUND: u32 = u32::MAX;

/// The 8-connected components of `mask` (`w` x `h`, row-major): a label per pixel (0.. in
/// the order of each component's first pixel in row-major order; [`BACKGROUND`] outside the
/// mask) and the number of components. A mask of the wrong size has no components.
pub fn label_components(mask: &[bool], w: usize, h: usize) -> (Vec<u32>, usize) {
    let mut labels = vec![BACKGROUND; mask.len()];
    if mask.len() != w * h {
        return (labels, 0);
    }
    let mut count = 0usize;
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != BACKGROUND {
            continue;
        }
        let label = count as u32;
        count += 1;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let j = ny * w + nx;
                    if mask[j] && labels[j] == BACKGROUND {
                        labels[j] = label;
                        stack.push(j);
                    }
                }
            }
        }
    }
    (labels, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> (Vec<bool>, usize, usize) {
        let w = rows[0].len();
        let m = rows
            .iter()
            .flat_map(|r| r.chars().map(|c| c == '#'))
            .collect();
        (m, w, rows.len())
    }

    #[test]
    fn diagonal_neighbours_join_and_gaps_separate() {
        let (m, w, h) = mask(&[
            "#....#", //
            ".#...#", //
            "..#...", //
            "......", //
            "##..#.", //
        ]);
        let (labels, n) = label_components(&m, w, h);
        assert_eq!(n, 4);
        // The diagonal is one component, labelled first (its first pixel comes first).
        assert_eq!((labels[0], labels[w + 1], labels[2 * w + 2]), (0, 0, 0));
        assert_eq!((labels[5], labels[w + 5]), (1, 1));
        assert_eq!((labels[4 * w], labels[4 * w + 1]), (2, 2));
        assert_eq!(labels[4 * w + 4], 3);
        assert_eq!(labels[3 * w], BACKGROUND);
    }

    #[test]
    fn empty_and_wrong_sized_masks_have_no_components() {
        assert_eq!(label_components(&[false; 6], 3, 2).1, 0);
        assert_eq!(label_components(&[true; 5], 3, 2).1, 0);
    }
}
