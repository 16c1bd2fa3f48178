//! The forward process as the page shows it: which molecules of a set go on the viewer and how
//! they are laid out ([`Scene::pick`]: a centred grid, as many whole molecules as the viewer
//! holds), and each frame's facts (t, α, σ, SNR, past T*) for the scrubber and the export.

use crate::app::AppError;
use crate::energies::System;
use crate::gpu::forward::Batch;
use crate::molecules::{Dataset, Modality, Molecule};
use crate::schedules::Schedule;
use crate::viewer::{layout, AtomStyle};
use serde::Serialize;

/// Molecules one forward view shows at most.
pub const MAX_MOLECULES: usize = 64;

/// The molecules of one forward view, laid out: the pass's input and what the viewer draws.
pub struct Scene {
    /// Positions blocks with their grid offsets (the forward pass's input).
    pub batch: Batch,
    pub styles: Vec<AtomStyle>,
    /// Each atom's element (for export).
    pub elements: Vec<String>,
    /// Atoms per molecule.
    pub groups: Vec<usize>,
    /// Why fewer molecules than asked are shown, if so.
    pub limited: Option<String>,
}

impl Scene {
    /// `count` molecules of `data` from index `first` on (wrapping around), at most as many
    /// whole molecules as `max_atoms` atoms hold (at least one), in a centred grid.
    pub fn pick(data: &Dataset, first: usize, count: usize, max_atoms: usize) -> Result<Scene, AppError> {
        if !(1..=MAX_MOLECULES).contains(&count) {
            return Err(AppError::Invalid(format!("count must be between 1 and {MAX_MOLECULES}, got {count}")));
        }
        let n = data.molecules.len();
        if n == 0 {
            return Err(AppError::Invalid("the molecule set is empty".into()));
        }
        let first = first % n;
        let mut picked: Vec<usize> = (0..count.min(n)).map(|i| (first + i) % n).collect();
        let mut limited = None;
        while picked.len() > 1 && picked.iter().map(|&i| data.molecules[i].elements.len()).sum::<usize>() > max_atoms {
            picked.pop();
            limited = Some(format!("this viewer draws at most {max_atoms} atoms: showing {} molecules", picked.len()));
        }
        let blocks: Vec<Vec<f64>> = picked.iter().map(|&i| data.block(i, Modality::Positions).0).collect();
        let reach = blocks.iter().map(|b| crate::geometry::radius_about_com(b, 3)).fold(0.0, f64::max);
        let spacing = layout::spacing(reach, 4.0);
        let mut scene = Scene { batch: Batch::positions(), styles: Vec::new(), elements: Vec::new(), groups: Vec::new(), limited };
        for (k, (&i, b)) in picked.iter().zip(&blocks).enumerate() {
            scene.batch.push(b, &layout::grid_shift(k, picked.len(), spacing));
            scene.styles.extend(data.molecules[i].elements.iter().map(|e| AtomStyle::element(e)));
            scene.elements.extend(data.molecules[i].elements.iter().cloned());
            scene.groups.push(b.len() / 3);
        }
        Ok(scene)
    }

    /// Molecules shown.
    pub fn molecules(&self) -> usize {
        self.groups.len()
    }

    /// Frame 0 (the data) as the viewer draws it: each block at its offset, f32.
    pub fn frame0(&self) -> Vec<f32> {
        let b = &self.batch;
        b.layout.iter().zip(&b.shift).flat_map(|(&(first, n), sh)| b.z0[first * 3..(first + n) * 3].chunks(3).flat_map(move |p| (0..3).map(move |k| (p[k] + sh[k]) as f32))).collect()
    }
}

/// One frame of the forward process: the scrubber's readout.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Frame {
    pub t: usize,
    pub steps: usize,
    pub alpha: f64,
    pub sigma: f64,
    pub snr: f64,
    pub t_star: Option<f64>,
    pub past_t_star: bool,
}

impl Frame {
    /// Frame `t` (rounded, clamped to the schedule's steps) with the mark `t_star`.
    pub fn at(schedule: &Schedule, t: f64, t_star: Option<f64>) -> Result<Frame, AppError> {
        if !t.is_finite() {
            return Err(AppError::Invalid("t must be a number".into()));
        }
        let t = (t.round().max(0.0) as usize).min(schedule.steps());
        let tf = t as f64;
        Ok(Frame { t, steps: schedule.steps(), alpha: schedule.alpha(tf), sigma: schedule.sigma(tf), snr: schedule.snr(tf), t_star, past_t_star: t_star.is_some_and(|ts| tf > ts) })
    }

    /// The frame's comment line in an exported trajectory.
    pub fn comment(&self) -> String {
        let past = if self.past_t_star { " past_t_star=true" } else { "" };
        format!("molplay forward t={} alpha={:.6} sigma={:.6}{past}", self.t, self.alpha, self.sigma)
    }
}

/// A benchmark system's samples as a molecule set (every particle the system's element; 2-D
/// systems get z = 0): the forward process of the reference sampler's samples.
pub fn system_samples_as_molecules(sys: &System, xs: &[f64]) -> Result<Dataset, AppError> {
    if xs.is_empty() {
        return Err(AppError::Invalid("the reference sampler has no samples yet".into()));
    }
    sys.check_batch(xs)?;
    let symbol = sys.particle_symbol();
    let molecules = xs
        .chunks(sys.dim())
        .map(|x| Molecule {
            elements: vec![symbol.into(); sys.n],
            positions: x.chunks(sys.d).flat_map(|p| [p[0], p[1], if sys.d == 3 { p[2] } else { 0.0 }]).collect(),
            charges: None,
            label: sys.name.clone(),
        })
        .collect();
    Ok(Dataset { molecules, types: vec![symbol.into()], skipped: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_picks_whole_molecules_that_fit_in_a_grid_from_frame_zero() {
        let data = Dataset::from_xyz(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/qm9_subset.xyz")).unwrap(), 4).unwrap();
        let n = data.molecules.len();
        let s = Scene::pick(&data, n + 2, 4, usize::MAX).unwrap();
        assert_eq!((s.molecules(), s.limited.clone()), (4, None));
        // wraps around the set: molecule 2 first
        assert_eq!(s.groups[0], data.molecules[2].elements.len());
        assert_eq!(s.elements.len(), s.groups.iter().sum::<usize>());
        assert_eq!(s.styles.len(), s.elements.len());
        let f0 = s.frame0();
        assert_eq!(f0.len(), 3 * s.batch.atoms());
        // the molecules do not overlap: each one's centre is its grid offset
        let centre = |k: usize| {
            let (first, m) = s.batch.layout[k];
            (0..3).map(|c| f0[first * 3..(first + m) * 3].iter().skip(c).step_by(3).map(|&v| v as f64).sum::<f64>() / m as f64).collect::<Vec<_>>()
        };
        for k in 0..4 {
            assert!(centre(k).iter().zip(&s.batch.shift[k]).all(|(a, b)| (a - b).abs() < 1e-4));
        }
        // a viewer of 30 atoms holds the first molecule or two, and says so
        let small = Scene::pick(&data, 0, 4, 30).unwrap();
        assert!(small.molecules() < 4 && small.limited.as_deref().unwrap().starts_with("this viewer draws at most 30 atoms"));
        assert_eq!(Scene::pick(&data, 0, 65, 512).err().unwrap().to_string(), "count must be between 1 and 64, got 65");
    }

    #[test]
    fn a_frame_is_clamped_marked_and_commented() {
        let sch = Schedule::polynomial2(1000, 1e-5);
        let f = Frame::at(&sch, 700.4, Some(650.0)).unwrap();
        assert_eq!((f.t, f.steps, f.past_t_star), (700, 1000, true));
        assert!(f.comment().starts_with("molplay forward t=700 alpha=") && f.comment().ends_with(" past_t_star=true"));
        assert_eq!(Frame::at(&sch, 5000.0, None).unwrap().t, 1000);
        assert!(!Frame::at(&sch, -3.0, Some(650.0)).unwrap().past_t_star);
        assert!(Frame::at(&sch, f64::NAN, None).is_err());
    }

    #[test]
    fn reference_samples_become_a_molecule_set() {
        let sys = System::by_name("dw4").unwrap();
        let xs: Vec<f64> = (0..16).map(|v| v as f64 * 0.1).collect();
        let d = system_samples_as_molecules(&sys, &xs).unwrap();
        assert_eq!((d.molecules.len(), d.types.clone()), (2, vec![sys.particle_symbol().to_string()]));
        assert_eq!(&d.molecules[1].positions[..3], &[0.8, 0.9, 0.0]);
        assert!(system_samples_as_molecules(&sys, &[]).is_err());
        assert!(system_samples_as_molecules(&sys, &xs[..7]).is_err());
    }
}
