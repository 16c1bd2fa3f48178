//! Where the viewer puts several molecules or configurations side by side: the one rule every
//! panel lays its batch out with (a square grid, or a row), centred on the origin.

/// The shift of item `k` of `count` in a square grid (⌈√count⌉ × ⌈√count⌉, filled row by row
/// from the top left) with `spacing` between neighbouring centres, the full square centred on
/// the origin.
pub fn grid_shift(k: usize, count: usize, spacing: f64) -> [f64; 3] {
    let side = (count.max(1) as f64).sqrt().ceil() as usize;
    let centre = (side as f64 - 1.0) / 2.0;
    let (row, col) = (k / side, k % side);
    [(col as f64 - centre) * spacing, (centre - row as f64) * spacing, 0.0]
}

/// The shift of item `k` of `count` in a row along x with `spacing` between centres, centred.
pub fn row_shift(k: usize, count: usize, spacing: f64) -> [f64; 3] {
    [(k as f64 - (count.max(1) as f64 - 1.0) / 2.0) * spacing, 0.0, 0.0]
}

/// The spacing for items reaching `reach` from their centres with `gap` between them.
pub fn spacing(reach: f64, gap: f64) -> f64 {
    2.0 * reach + gap
}

/// Molecules of different sizes (flat 3-D, each about its centre) side by side along x, each
/// given its own width (its reach, at most `cap`, on either side) and `gap` between them, the
/// row centred on the origin: the molecules laid out, flat.
pub fn side_by_side(molecules: &[&[f64]], gap: f64, cap: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut left = 0.0;
    for x in molecules {
        let reach = crate::geometry::radius_about_com(x, 3).min(cap);
        let shift = left + reach;
        left += spacing(reach, gap);
        out.extend(x.chunks(3).flat_map(|p| [p[0] + shift, p[1], p[2]]));
    }
    let mid = (left - gap) / 2.0;
    for p in out.chunks_mut(3) {
        p[0] -= mid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_and_rows_are_centred_and_fill_row_by_row() {
        // 5 items: the first two rows of a 3 × 3 square centred on the origin
        let s = 2.0;
        let shifts: Vec<[f64; 3]> = (0..5).map(|k| grid_shift(k, 5, s)).collect();
        assert_eq!(shifts[0], [-2.0, 2.0, 0.0]);
        assert_eq!(shifts[2], [2.0, 2.0, 0.0]);
        assert_eq!(shifts[3], [-2.0, 0.0, 0.0]);
        assert_eq!(grid_shift(3, 4, s), [1.0, -1.0, 0.0]);
        assert_eq!(grid_shift(0, 1, s), [0.0, 0.0, 0.0]);
        let row: Vec<f64> = (0..4).map(|k| row_shift(k, 4, 3.0)[0]).collect();
        assert_eq!(row, vec![-4.5, -1.5, 1.5, 4.5]);
        assert_eq!(spacing(1.5, 3.0), 6.0);
        // two molecules of reach 1 and 2 with a gap of 3: centres 6 apart, the row centred
        let a = [-1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let b = [-2.0, 0.0, 0.0, 2.0, 0.0, 0.0];
        let laid = side_by_side(&[&a, &b], 3.0, 8.0);
        let (ca, cb) = ((laid[0] + laid[3]) / 2.0, (laid[6] + laid[9]) / 2.0);
        assert!((cb - ca - 6.0).abs() < 1e-12, "reach 1 + gap 3 + reach 2");
        assert!((laid[0] + laid[9]).abs() < 1e-12, "the row is centred");
    }
}
