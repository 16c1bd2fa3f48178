//! Export from the page: the trajectory the viewer shows as multi-frame XYZ (`exportTrajectory`)
//! and samples as .npy or XYZ (`exportSamples`). Files users drop on the page come back in
//! through `loadDataset`, `loadSamples` and the weights loaders.

use super::{js_err, Playground, Shown};
use crate::energies::System;
use crate::io::{write_samples, write_xyz_thinned as xyz_of, SampleFormat};
use wasm_bindgen::prelude::*;

/// Frames kept by default: a 1000-step forward trajectory exports every 5th frame.
const DEFAULT_FRAMES: usize = 201;

fn stride_for(count: usize, every: Option<usize>) -> Result<usize, JsValue> {
    match every {
        Some(0) => Err(js_err("exportTrajectory: every must be a whole number ≥ 1")),
        Some(k) => Ok(k),
        None => Ok(count.div_ceil(DEFAULT_FRAMES).max(1)),
    }
}

#[wasm_bindgen]
impl Playground {
    /// A promise of the trajectory the viewer shows as multi-frame XYZ text: the forward
    /// process (comments carry t, α, σ and whether the frame is past T*), the reverse sampler's
    /// trajectory (t per frame), the newest Adjoint Sampling paths (u per frame), or the one
    /// configuration of a benchmark system. `every` keeps every k-th frame (default: at most
    /// 201 frames; the last frame is always kept).
    #[wasm_bindgen(js_name = exportTrajectory)]
    pub fn export_trajectory(&self, every: Option<usize>) -> js_sys::Promise {
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let shown = pg.inner.borrow().shown.clone();
            let text = match shown {
                Shown::Forward => {
                    let (frames, elements, comment, ctx) = {
                        let s = pg.inner.borrow();
                        let (frames, elements, comment) = s.forward.export_source().ok_or_else(|| js_err("exportTrajectory: no forward trajectory is shown"))?;
                        (frames, elements, comment, s.compute.clone())
                    };
                    let flat = match frames {
                        Ok(flat) => flat,
                        Err(traj) => {
                            let ctx = ctx.ok_or_else(|| js_err("exportTrajectory: the GPU that holds the trajectory is gone"))?;
                            traj.read(&ctx.ctx).await.map_err(js_err)?
                        }
                    };
                    let count = flat.len() / (3 * elements.len()).max(1);
                    let comments: Vec<String> = (0..count).map(comment).collect();
                    xyz_of(&flat, &elements, 3, &comments, stride_for(count, every)?)
                }
                Shown::Generated => {
                    let s = pg.inner.borrow();
                    let (flat, elements, comments) = s.generate.export_trajectory().ok_or_else(|| js_err("exportTrajectory: no reverse trajectory is shown"))?;
                    xyz_of(&flat, &elements, 3, &comments, stride_for(comments.len(), every)?)
                }
                #[cfg(feature = "nets")]
                Shown::WholeMolecules => {
                    let s = pg.inner.borrow();
                    let (flat, elements, comments) = s.molecules.export_trajectory().ok_or_else(|| js_err("exportTrajectory: no whole-molecule run is shown"))?;
                    xyz_of(&flat, &elements, 3, &comments, stride_for(comments.len(), every)?)
                }
                #[cfg(feature = "nets")]
                Shown::Conformers => {
                    let s = pg.inner.borrow();
                    let (flat, elements, comments) = s.conformers.export_shown().ok_or_else(|| js_err("exportTrajectory: no conformer is shown"))?;
                    xyz_of(&flat, &elements, 3, &comments, 1)
                }
                #[cfg(feature = "nets")]
                Shown::Adjoint => {
                    let s = pg.inner.borrow();
                    let n = s.adjoint.newest().ok_or_else(|| js_err("exportTrajectory: no Adjoint Sampling paths are shown"))?;
                    n.export_trajectory(stride_for(n.frame_count(), every)?)
                }
                _ => {
                    let s = pg.inner.borrow();
                    if s.positions.is_empty() {
                        return Err(js_err("exportTrajectory: nothing is shown yet"));
                    }
                    let flat: Vec<f64> = s.positions.iter().map(|&v| v as f64).collect();
                    let elements = vec![s.system.particle_symbol().to_string(); s.system.n];
                    xyz_of(&flat, &elements, s.system.d, &[format!("molplay {} energy={}", s.system.name, s.energy)], 1)
                }
            };
            Ok(JsValue::from_str(&text))
        })
    }

    /// Samples as a file: `source` "generate" (the last finished reverse-sampler run),
    /// "adjoint" (the learner's newest samples) or "reference" (the reference sampler's);
    /// `format` "npy" (float32, shape (samples, n·d): the field's layout, bytes) or "xyz"
    /// (multi-frame text; 2-D systems get z = 0).
    #[wasm_bindgen(js_name = exportSamples)]
    pub fn export_samples(&self, source: String, format: String) -> Result<JsValue, JsValue> {
        let format = match format.as_str() {
            "npy" => SampleFormat::Npy,
            "xyz" => SampleFormat::Xyz,
            other => return Err(js_err(format!("exportSamples: format must be \"npy\" or \"xyz\", got \"{other}\""))),
        };
        let s = self.inner.borrow();
        // a benchmark system's samples: every particle the system's element
        let particles = |sys: &System, xs: &[f64]| (xs.to_vec(), sys.dim(), sys.d, vec![vec![sys.particle_symbol().to_string(); sys.n]; xs.len() / sys.dim()]);
        let (xs, dim, d, elements): (Vec<f64>, usize, usize, Vec<Vec<String>>) = match source.as_str() {
            "generate" => {
                let (xs, n, els) = s.generate.export_samples().ok_or_else(|| js_err("exportSamples: no finished sampler run: generate first"))?;
                (xs, 3 * n, 3, els)
            }
            #[cfg(feature = "nets")]
            "adjoint" => {
                let n = s.adjoint.newest().ok_or_else(|| js_err("exportSamples: no Adjoint Sampling learner"))?;
                particles(&n.sampler.system, &n.samples)
            }
            "reference" => {
                let run = s.reference.get().ok_or_else(|| js_err("exportSamples: no reference sampler run"))?;
                particles(run.system(), run.samples().0)
            }
            other => return Err(js_err(format!("exportSamples: source must be \"generate\", \"adjoint\" or \"reference\", got \"{other}\""))),
        };
        if xs.is_empty() {
            return Err(js_err(format!("exportSamples: the {source} set has no samples yet")));
        }
        let bytes = write_samples(&xs, dim, d, format, |k| (elements[k].clone(), format!("molplay {source} sample {k}")));
        if format == SampleFormat::Npy {
            return Ok(js_sys::Uint8Array::from(bytes.as_slice()).into());
        }
        let text = String::from_utf8(bytes).map_err(js_err)?;
        Ok(JsValue::from_str(&text))
    }
}
