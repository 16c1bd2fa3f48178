//! Whole-molecule generation in the page (issue 17): a thin face over `app::molecules` and
//! `joint::Generation`. A model is loaded from bytes (the bundled preset or a file), a run is
//! started and advanced in slices, and its kept trajectories are shown with each atom grey until
//! its type is decided on the way to t = 0 (then in its element's colour).

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Playground, Scene, Shown};
use crate::app::molecules::{evaluate, MoleculeModel, MAX_SAMPLES};
use crate::joint::{GagaVariance, GenerateOptions, Generation};
use crate::samplers::Method;
use crate::schedules::Schedule;
use crate::viewer::AtomStyle;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[derive(Default)]
pub(super) struct MoleculesState {
    model: Option<(String, MoleculeModel)>,
    job: Option<Job>,
    result: Option<serde_json::Value>,
}

struct Job {
    gen: Generation,
    schedule: Schedule,
    label: String,
    ms: f64,
    t_star_positions: f64,
    t_star_types: f64,
    /// Once done: the frame from which each kept atom's type stays its final one.
    decided: Option<Vec<usize>>,
    frame: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opts {
    gaga: Option<bool>,
    t_star: Option<f64>,
    variance: Option<String>,
    sampler: Option<String>,
    steps: Option<usize>,
    samples: Option<usize>,
    show: Option<usize>,
    seed: Option<u64>,
    t_star_positions: Option<f64>,
    t_star_types: Option<f64>,
}

const KEYS: [&str; 10] = ["gaga", "tStar", "variance", "sampler", "steps", "samples", "show", "seed", "tStarPositions", "tStarTypes"];
/// T* of positions and of types on the bundled QM9 subset (the Gaussianity study's 95 % marks),
/// when the page has not run the study.
const T_STAR_POSITIONS: f64 = 650.0;
const T_STAR_TYPES: f64 = 350.0;

#[wasm_bindgen]
impl Playground {
    /// Loads a whole-molecule network (`molplay train-molecules` output); refuses a positions-only
    /// network or an Adjoint Sampling controller by what it is. Returns `{name, elements, steps,
    /// cpu_hours, t_max, hidden, layers, largest, sizes}`.
    #[wasm_bindgen(js_name = loadMoleculeModel)]
    pub fn load_molecule_model(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
        let m = MoleculeModel::from_bytes(&bytes).map_err(|e| js_err(format!("{name}: {e}")))?;
        let out = serde_json::json!({
            "name": name, "elements": m.net.config.elements, "steps": m.counters.steps, "cpu_hours": m.counters.seconds / 3600.0,
            "t_max": m.train.t_max, "hidden": m.train.hidden, "layers": m.train.layers, "largest": m.net.config.atoms, "sizes": m.stats.histogram,
        });
        let mut s = self.inner.borrow_mut();
        s.molecules.model = Some((name, m));
        s.molecules.job = None;
        to_js(&out)
    }

    /// Starts generating whole molecules from the loaded network. Options (all optional):
    /// `gaga` (false) with `tStar` (default the T* the network was trained up to, else 650) and
    /// `variance` "per-modality" (default) | "pooled"; `sampler` "ddpm" | "em" | "heun"; `steps` (200, of
    /// the full trajectory: GAGA takes T* / T of them); `samples` (32); `show` (trajectories kept
    /// for the viewer, 6); `seed`; `tStarPositions`, `tStarTypes` (the scrubber's marks; default
    /// the study's values on the bundled set, 650 and 350). Returns `{samples, steps, t_start,
    /// t_star_positions, t_star_types, label}`.
    #[wasm_bindgen(js_name = startMolecules)]
    pub fn start_molecules(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &KEYS, "generateMolecules")?;
        let o: Opts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("generateMolecules: {e}")))?;
        let err = |e: String| js_err(format!("generateMolecules: {e}"));
        let mut s = self.inner.borrow_mut();
        let (name, model) = s.molecules.model.as_ref().ok_or_else(|| err("load a whole-molecule network first".into()))?;
        let schedule = Schedule::polynomial2(1000, 1e-5);
        let full_t = schedule.steps() as f64;
        let method = Method::by_name(o.sampler.as_deref().unwrap_or("ddpm")).map_err(err)?;
        let variance = match o.variance.as_deref().unwrap_or("per-modality") {
            "pooled" => GagaVariance::Pooled,
            "per-modality" => GagaVariance::PerModality,
            v => return Err(err(format!("variance must be \"pooled\" or \"per-modality\", got \"{v}\""))),
        };
        let (steps, count, show) = (o.steps.unwrap_or(200), o.samples.unwrap_or(32), o.show.unwrap_or(6));
        if !(1..=5000).contains(&steps) || !(1..=MAX_SAMPLES.min(5000)).contains(&count) || !(1..=16).contains(&show) {
            return Err(err(format!("steps and samples must be between 1 and 5000 and show between 1 and 16, got {steps}, {count} and {show}")));
        }
        let bad = |t: f64| !(t.is_finite() && t >= 1.0 && t <= full_t);
        let t_star = o.t_star.unwrap_or(if model.train.t_max < full_t { model.train.t_max } else { 650.0 });
        let (tp, tt) = (o.t_star_positions.unwrap_or(T_STAR_POSITIONS), o.t_star_types.unwrap_or(T_STAR_TYPES));
        if [t_star, tp, tt].into_iter().any(bad) {
            return Err(err(format!("T* values must be within [1, {full_t}]")));
        }
        let gaga = o.gaga.unwrap_or(false);
        let short = ((steps as f64 * t_star / full_t).round() as usize).max(1);
        let opts = GenerateOptions { method, steps: if gaga { short } else { steps }, t_star: gaga.then_some(t_star), variance, seed: o.seed.unwrap_or(0) };
        let gen = Generation::new(model.sampling_net(), &model.stats, &schedule, &opts, count, show).map_err(|e| err(e.to_string()))?;
        let label = if gaga { format!("GAGA from T* = {t_star:.0}{}", if variance == GagaVariance::PerModality { ", ṽ per modality" } else { "" }) } else { "full from T".to_string() };
        let out = serde_json::json!({
            "samples": count, "steps": opts.steps, "t_start": gen.frame_time(0), "t_star_positions": tp, "t_star_types": tt, "label": label, "model": name,
        });
        s.molecules.job = Some(Job { gen, schedule, label, ms: 0.0, t_star_positions: tp, t_star_types: tt, decided: None, frame: 0 });
        s.molecules.result = None;
        drop(s);
        self.show_molecules(None)?;
        to_js(&out)
    }

    /// Advances the run for about `budget_ms` (the CPU) and shows its newest frame; `{done, step,
    /// steps, nfe, ms, result}`, `result` when done (the report: stability, validity,
    /// uniqueness, distance W2, NFE and time).
    #[wasm_bindgen(js_name = moleculesStep)]
    pub fn molecules_step(&self, budget_ms: f64) -> Result<JsValue, JsValue> {
        let budget = slice_budget(budget_ms);
        {
            let mut s = self.inner.borrow_mut();
            let st = &mut s.molecules;
            let model = &st.model.as_ref().ok_or_else(|| js_err("generateMolecules: no network"))?.1;
            let job = st.job.as_mut().ok_or_else(|| js_err("generateMolecules: nothing is running"))?;
            let t0 = now_ms();
            while !job.gen.done() && now_ms() - t0 < budget {
                job.gen.advance(model.sampling_net(), &job.schedule, 1).map_err(|e| js_err(format!("generateMolecules: {e}")))?;
            }
            job.ms += now_ms() - t0;
            if job.gen.done() && st.result.is_none() {
                job.decided = Some(job.gen.decided_frames());
                let report = evaluate(&job.label, &job.gen.current(), &job.gen.options, &job.schedule, job.ms / 1000.0, None);
                st.result = Some(serde_json::to_value(&report).map_err(js_err)?);
            }
        }
        self.show_molecules(None)?;
        let s = self.inner.borrow();
        let job = s.molecules.job.as_ref().expect("checked above");
        let (step, steps) = job.gen.progress();
        to_js(&serde_json::json!({ "done": job.gen.done(), "step": step, "steps": steps, "nfe": job.gen.nfe(), "ms": job.ms, "result": s.molecules.result }))
    }

    /// Shows the kept trajectories at time t (the nearest stored frame); `{t, frame, frames,
    /// t_start, full_t, decided, atoms}` (`decided`: atoms whose type is decided at this frame).
    #[wasm_bindgen(js_name = setMoleculesTime)]
    pub fn set_molecules_time(&self, t: f64) -> Result<JsValue, JsValue> {
        let frame = {
            let s = self.inner.borrow();
            let job = s.molecules.job.as_ref().ok_or_else(|| js_err("setMoleculesTime: no run yet"))?;
            let t_start = job.gen.frame_time(0);
            let steps = job.gen.options.steps as f64;
            let t = if t.is_finite() { t.clamp(0.0, t_start) } else { t_start };
            (((t_start - t) / t_start.max(1e-9) * steps).round() as usize).min(job.gen.frames() - 1)
        };
        let decided = self.show_molecules(Some(frame))?;
        let s = self.inner.borrow();
        let job = s.molecules.job.as_ref().expect("checked above");
        to_js(&serde_json::json!({
            "t": job.gen.frame_time(frame), "frame": frame, "frames": job.gen.frames(), "t_start": job.gen.frame_time(0), "full_t": job.schedule.steps(),
            "decided": decided, "atoms": job.gen.kept_sizes().iter().sum::<usize>(), "t_star_positions": job.t_star_positions, "t_star_types": job.t_star_types,
        }))
    }

    /// The finished run's report (null before).
    #[wasm_bindgen(js_name = moleculesResult)]
    pub fn molecules_result(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.borrow().molecules.result)
    }
}

/// The molecules of one frame side by side along x, the row centred (the viewer's layout).
fn in_a_row(molecules: &[(Vec<String>, Vec<f64>)]) -> Vec<f64> {
    crate::viewer::layout::side_by_side(&molecules.iter().map(|m| m.1.as_slice()).collect::<Vec<_>>(), 3.0, 8.0)
}

impl MoleculesState {
    /// The shown run's kept trajectories as the viewer lays them out, every frame labelled with
    /// the types decided at t = 0: (frames flat, elements, a comment per frame).
    pub(super) fn export_trajectory(&self) -> Option<(Vec<f64>, Vec<String>, Vec<String>)> {
        let job = self.job.as_ref()?;
        let frames = job.gen.frames();
        let elements: Vec<String> = job.gen.frame(frames - 1).into_iter().flat_map(|m| m.0).collect();
        let flat: Vec<f64> = (0..frames).flat_map(|k| in_a_row(&job.gen.frame(k))).collect();
        let comments = (0..frames).map(|k| format!("molplay whole-molecules {} t={:.2} (elements as decided at t = 0)", job.label, job.gen.frame_time(k))).collect();
        Some((flat, elements, comments))
    }
}

impl Playground {
    /// Puts frame `frame` (None: the newest) of the kept trajectories on the viewer, laid out in
    /// a row; atoms are grey until their type is decided (known once the run is done). Returns
    /// how many atoms show their element.
    fn show_molecules(&self, frame: Option<usize>) -> Result<usize, JsValue> {
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let Some(job) = s.molecules.job.as_mut() else { return Ok(0) };
        let k = frame.unwrap_or(job.gen.frames() - 1).min(job.gen.frames() - 1);
        job.frame = k;
        let molecules = job.gen.frame(k);
        let decided = job.decided.as_deref();
        let mut styles = Vec::new();
        let mut sizes = Vec::new();
        let mut shown = 0;
        let mut atom = 0;
        for (elements, _) in &molecules {
            for (a, e) in elements.iter().enumerate() {
                let known = decided.is_some_and(|d| d[atom + a] <= k);
                shown += known as usize;
                styles.push(if known { AtomStyle::element(e) } else { AtomStyle::undecided() });
            }
            atom += elements.len();
            sizes.push(elements.len());
        }
        let positions: Vec<f32> = in_a_row(&molecules).iter().map(|&v| v as f32).collect();
        let new_view = s.shown != Shown::WholeMolecules || k == 0;
        let fit = new_view.then_some((positions.as_slice(), 3, 1.0));
        s.show(Shown::WholeMolecules, Scene { atoms: Some((&styles, 3, &sizes)), fit, ..Scene::moved(positions.clone()) })?;
        Ok(shown)
    }
}
