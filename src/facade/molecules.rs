//! Whole-molecule generation in the page (issue 17): a thin face over `app::molecules` and
//! `joint::Generation`. A model is loaded from bytes (the bundled preset or a file), a run is
//! started and advanced in slices, and its kept trajectories are shown with each atom grey until
//! its type is decided on the way to t = 0 (then in its element's colour).

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Playground, Scene, Shown};
use crate::app::molecules::{MoleculeModel, Run, RunPlan};
use crate::joint::GagaVariance;
use crate::samplers::Method;
use crate::schedules::Schedule;
use crate::viewer::AtomStyle;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[derive(Default)]
pub(super) struct MoleculesState {
    model: Option<(String, MoleculeModel)>,
    run: Option<Run>,
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
/// Steps and samples of a run in the page, at most.
const PAGE_MAX: usize = 5000;

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
        s.molecules.run = None;
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
        let d = RunPlan::for_model(model, &schedule);
        let plan = RunPlan {
            method: Method::by_name(o.sampler.as_deref().unwrap_or("ddpm")).map_err(err)?,
            variance: GagaVariance::by_name(o.variance.as_deref().unwrap_or("per-modality")).map_err(err)?,
            steps: o.steps.unwrap_or(d.steps),
            samples: o.samples.unwrap_or(d.samples),
            show: o.show.unwrap_or(d.show),
            seed: o.seed.unwrap_or(d.seed),
            gaga: o.gaga.unwrap_or(d.gaga),
            t_star: o.t_star.unwrap_or(d.t_star),
            t_star_positions: o.t_star_positions.unwrap_or(d.t_star_positions),
            t_star_types: o.t_star_types.unwrap_or(d.t_star_types),
        };
        let run = Run::start(model, schedule, plan, PAGE_MAX).map_err(|e| err(e.to_string()))?;
        let out = serde_json::json!({
            "samples": run.plan.samples, "steps": run.gen.options.steps, "t_start": run.gen.frame_time(0), "t_star_positions": run.plan.t_star_positions,
            "t_star_types": run.plan.t_star_types, "label": run.label, "model": name,
        });
        s.molecules.run = Some(run);
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
            let run = st.run.as_mut().ok_or_else(|| js_err("generateMolecules: nothing is running"))?;
            let t0 = now_ms();
            run.advance_while(model, || now_ms() - t0 < budget, &now_ms).map_err(|e| js_err(format!("generateMolecules: {e}")))?;
        }
        self.show_molecules(None)?;
        let s = self.inner.borrow();
        let run = s.molecules.run.as_ref().expect("checked above");
        let (step, steps) = run.gen.progress();
        to_js(&serde_json::json!({ "done": run.gen.done(), "step": step, "steps": steps, "nfe": run.gen.nfe(), "ms": run.ms, "result": run.report() }))
    }

    /// Shows the kept trajectories at time t (the nearest stored frame); `{t, frame, frames,
    /// t_start, full_t, decided, atoms}` (`decided`: atoms whose type is decided at this frame).
    #[wasm_bindgen(js_name = setMoleculesTime)]
    pub fn set_molecules_time(&self, t: f64) -> Result<JsValue, JsValue> {
        let frame = self.inner.borrow().molecules.run.as_ref().map(|r| r.frame_at(t)).ok_or_else(|| js_err("setMoleculesTime: no run yet"))?;
        let decided = self.show_molecules(Some(frame))?;
        let s = self.inner.borrow();
        let run = s.molecules.run.as_ref().expect("checked above");
        to_js(&serde_json::json!({
            "t": run.gen.frame_time(frame), "frame": frame, "frames": run.gen.frames(), "t_start": run.gen.frame_time(0), "full_t": run.schedule.steps(),
            "decided": decided, "atoms": run.gen.kept_sizes().iter().sum::<usize>(), "t_star_positions": run.plan.t_star_positions, "t_star_types": run.plan.t_star_types,
        }))
    }

    /// The finished run's report (null before).
    #[wasm_bindgen(js_name = moleculesResult)]
    pub fn molecules_result(&self) -> Result<JsValue, JsValue> {
        // through JSON values, as moleculesStep's copy: NaN figures are null
        to_js(&serde_json::to_value(self.inner.borrow().molecules.run.as_ref().and_then(Run::report)).map_err(js_err)?)
    }
}

impl MoleculesState {
    /// The shown run's kept trajectories as the viewer lays them out (`Run::export`).
    pub(super) fn export_trajectory(&self) -> Option<(Vec<f64>, Vec<String>, Vec<String>)> {
        self.run.as_ref().map(Run::export)
    }
}

impl Playground {
    /// Puts frame `frame` (None: the newest) of the kept trajectories on the viewer, laid out in
    /// a row; atoms are grey until their type is decided (known once the run is done). Returns
    /// how many atoms show their element.
    fn show_molecules(&self, frame: Option<usize>) -> Result<usize, JsValue> {
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let Some(run) = s.molecules.run.as_ref() else { return Ok(0) };
        let k = frame.unwrap_or(usize::MAX).min(run.gen.frames() - 1);
        let view = run.frame_view(k);
        let styles: Vec<AtomStyle> = view.elements.iter().map(|e| e.as_deref().map_or_else(AtomStyle::undecided, AtomStyle::element)).collect();
        let positions: Vec<f32> = view.positions.iter().map(|&v| v as f32).collect();
        let new_view = s.shown != Shown::WholeMolecules || k == 0;
        let fit = new_view.then_some((positions.as_slice(), 3, 1.0));
        s.show(Shown::WholeMolecules, Scene { atoms: Some((&styles, 3, &view.sizes)), fit, ..Scene::moved(positions.clone()) })?;
        Ok(view.decided())
    }
}
