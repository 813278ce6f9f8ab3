//! A uniform grid over the map's points for hover and click picking: built once per layout,
//! it answers "the nearest item within this radius" by looking only at the cells the radius
//! touches, not at every item.

/// Average items per cell the grid aims for.
const ITEMS_PER_CELL: usize = 4;
/// Most cells along one side.
const MAX_CELLS_PER_SIDE: usize = 2048;

/// Items bucketed by grid cell (compressed rows: `starts[c]..starts[c + 1]` of `items`).
#[derive(Clone, Debug, Default)]
pub struct PointGrid {
    min: [f64; 2],
    cell: [f64; 2],
    side: usize,
    starts: Vec<u32>,
    items: Vec<u32>,
    xy: Vec<[f32; 2]>,
}

impl PointGrid {
    /// Indexes `xy` (item `i` at `xy[i]`); non-finite positions are left out.
    pub fn new(xy: &[[f32; 2]]) -> Self {
        let finite = |p: &&[f32; 2]| p[0].is_finite() && p[1].is_finite();
        let (mut min, mut max) = ([f64::MAX; 2], [f64::MIN; 2]);
        for p in xy.iter().filter(finite) {
            for a in 0..2 {
                min[a] = min[a].min(f64::from(p[a]));
                max[a] = max[a].max(f64::from(p[a]));
            }
        }
        if min[0] > max[0] {
            return PointGrid::default();
        }
        let side = ((xy.len() / ITEMS_PER_CELL) as f64)
            .sqrt()
            .ceil()
            .clamp(1.0, MAX_CELLS_PER_SIDE as f64) as usize;
        let cell = [0, 1].map(|a| ((max[a] - min[a]) / side as f64).max(f64::MIN_POSITIVE));
        let mut grid = PointGrid {
            min,
            cell,
            side,
            starts: vec![0; side * side + 1],
            items: Vec::new(),
            xy: xy.to_vec(),
        };
        let cells: Vec<Option<usize>> = xy
            .iter()
            .map(|p| finite(&p).then(|| grid.cell_of([f64::from(p[0]), f64::from(p[1])])))
            .collect();
        for c in cells.iter().flatten() {
            grid.starts[c + 1] += 1;
        }
        for c in 0..side * side {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut next = grid.starts.clone();
        grid.items = vec![0; grid.starts[side * side] as usize];
        for (i, c) in cells.iter().enumerate() {
            if let Some(c) = c {
                grid.items[next[*c] as usize] = i as u32;
                next[*c] += 1;
            }
        }
        grid
    }

    /// Column and row of `p`, clamped to the grid.
    fn col_row(&self, p: [f64; 2]) -> [usize; 2] {
        [0, 1].map(|a| {
            ((p[a] - self.min[a]) / self.cell[a])
                .floor()
                .clamp(0.0, (self.side - 1) as f64) as usize
        })
    }

    fn cell_of(&self, p: [f64; 2]) -> usize {
        let [c, r] = self.col_row(p);
        r * self.side + c
    }

    /// The item nearest to `p` no farther than `radius` (map units), if any.
    pub fn nearest(&self, p: [f64; 2], radius: f64) -> Option<usize> {
        if self.side == 0 {
            return None;
        }
        let [c0, r0] = self.col_row([p[0] - radius, p[1] - radius]);
        let [c1, r1] = self.col_row([p[0] + radius, p[1] + radius]);
        let mut best: Option<(usize, f64)> = None;
        for r in r0..=r1 {
            let row = r * self.side;
            let (from, to) = (self.starts[row + c0], self.starts[row + c1 + 1]);
            for &i in &self.items[from as usize..to as usize] {
                let q = self.xy[i as usize];
                let d = (f64::from(q[0]) - p[0]).hypot(f64::from(q[1]) - p[1]);
                if d <= radius && best.is_none_or(|(_, b)| d < b) {
                    best = Some((i as usize, d));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_a_scan_of_every_point() {
        let mut state = 11u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 10.0 - 5.0
        };
        let xy: Vec<[f32; 2]> = (0..3000).map(|_| [next(), next() * 0.3]).collect();
        let grid = PointGrid::new(&xy);
        for _ in 0..300 {
            let (p, radius) = ([f64::from(next()), f64::from(next())], 0.4);
            let scan = xy
                .iter()
                .enumerate()
                .map(|(i, q)| (i, (f64::from(q[0]) - p[0]).hypot(f64::from(q[1]) - p[1])))
                .filter(|(_, d)| *d <= radius)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i);
            assert_eq!(grid.nearest(p, radius), scan, "at {p:?}");
        }
    }

    #[test]
    fn nothing_is_found_beyond_the_radius_or_in_an_empty_grid() {
        let grid = PointGrid::new(&[[0.0, 0.0], [1.0, 1.0], [f32::NAN, 0.0]]);
        assert_eq!(grid.nearest([0.1, 0.0], 0.2), Some(0));
        assert_eq!(grid.nearest([0.5, 0.5], 0.2), None);
        assert_eq!(PointGrid::new(&[]).nearest([0.0, 0.0], 1.0), None);
    }
}
