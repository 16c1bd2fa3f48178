//! Geometry on flat particle-major coordinates: centre of mass and its removal.
//! (Kabsch alignment and SE(3) projections join this module with the samplers.)

/// Mean position of the particles of one configuration (`x.len() = n·d`, `d ≤ 3`; unused
/// components are 0).
pub fn centre_of_mass(x: &[f64], d: usize) -> [f64; 3] {
    assert!((1..=3).contains(&d) && x.len() % d == 0, "coordinates must be n·d with d ≤ 3");
    let n = x.len() / d;
    let mut mean = [0.0; 3];
    for p in x.chunks_exact(d) {
        for k in 0..d {
            mean[k] += p[k];
        }
    }
    if n > 0 {
        for m in mean.iter_mut().take(d) {
            *m /= n as f64;
        }
    }
    mean
}

/// Shifts one configuration so that its centre of mass is at the origin.
pub fn remove_com(x: &mut [f64], d: usize) {
    let mean = centre_of_mass(x, d);
    for p in x.chunks_exact_mut(d) {
        for k in 0..d {
            p[k] -= mean[k];
        }
    }
}

/// Radius of the smallest origin-centred ball around the configuration's centre of mass.
pub fn radius_about_com(x: &[f64], d: usize) -> f64 {
    let mean = centre_of_mass(x, d);
    x.chunks_exact(d)
        .map(|p| (0..d).map(|k| (p[k] - mean[k]).powi(2)).sum::<f64>().sqrt())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn com_removal_centres_2d_and_3d() {
        let mut x = vec![1.0, 2.0, 3.0, 5.0, 6.0, 7.0];
        remove_com(&mut x, 3);
        assert_eq!(x, vec![-2.0, -2.0, -2.0, 2.0, 2.0, 2.0]);
        let mut y = vec![0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0];
        remove_com(&mut y, 2);
        assert_eq!(centre_of_mass(&y, 2), [0.0, 0.0, 0.0]);
        assert!((radius_about_com(&y, 2) - 2f64.sqrt()).abs() < 1e-15);
    }
}
