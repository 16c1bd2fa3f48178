//! The forward process and the Gaussianity step in the page: a molecule set (`loadDataset`), the
//! T* study in slices (`startGaussianity` / `gaussianityStep`), and the forward trajectory of 1–64
//! molecules computed as one GPU pass (or on the CPU) and scrubbed frame by frame (`showForward`,
//! `setFrame`), with frames past T* drawn desaturated.

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Playground, Scene};
use crate::app::forward::{system_samples_as_molecules, Frame, Scene as ForwardScene};
use crate::app::gaussianity::{Job as StudyJob, Plan};
use crate::gpu::forward::{cpu_trajectory, Batch, ForwardKernel, Trajectory};
use crate::molecules::Dataset;
use crate::schedules::Schedule;
use crate::viewer::AtomSource;
use serde::Deserialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Atoms per molecule the page's T* study tests (bigger ones are left out and counted).
pub const MAX_STUDY_ATOMS: usize = 64;

#[derive(Default)]
pub(super) struct ForwardState {
    dataset: Option<(String, Dataset)>,
    /// The T* study (the tests, then the pooled measure), with its report once done.
    study: Option<StudyJob>,
    t_star: Option<f64>,
    view: Option<View>,
}

struct View {
    schedule: Schedule,
    gpu: Option<Rc<Trajectory>>,
    cpu: Vec<f32>,
    atoms: usize,
    t: usize,
    /// Element of each shown atom (for export).
    elements: Vec<String>,
    /// The pass's input and seed, so that the CPU twin can take over after a device loss.
    batch: Batch,
    seed: u64,
}

impl ForwardState {
    pub(super) fn dataset(&self) -> Option<&Dataset> {
        self.dataset.as_ref().map(|(_, d)| d)
    }

    /// T* of the last study on this set.
    pub(super) fn t_star(&self) -> Option<f64> {
        self.t_star
    }

    /// Forgets the shown trajectory (another panel took the viewer).
    pub(super) fn drop_view(&mut self) {
        self.view = None;
    }

    /// The GPU was lost: the trajectory's frames come from the CPU twin of the pass (same
    /// Philox draws, so the same frames up to f32 rounding).
    pub(super) fn move_to_cpu(&mut self) {
        if let Some(v) = self.view.as_mut().filter(|v| v.gpu.is_some()) {
            // the pass accepted this batch, and the twin refuses only what the pass refuses
            match cpu_trajectory(&v.batch, &v.schedule, v.seed) {
                Ok(frames) => {
                    v.cpu = frames.iter().map(|&a| a as f32).collect();
                    v.gpu = None;
                }
                Err(_) => self.view = None,
            }
        }
    }

    /// What exporting the shown trajectory needs: its frames (on the CPU, or the GPU buffer to
    /// read back), elements, and the comment of frame t.
    #[allow(clippy::type_complexity)] // the impl Fn cannot be named in a type alias
    pub(super) fn export_source(&self) -> Option<(Result<Vec<f64>, Rc<Trajectory>>, Vec<String>, impl Fn(usize) -> String + use<>)> {
        let v = self.view.as_ref()?;
        let frames = match &v.gpu {
            Some(t) => Err(t.clone()),
            None => Ok(v.cpu.iter().map(|&a| a as f64).collect()),
        };
        let (sch, t_star) = (v.schedule.clone(), self.t_star);
        let comment = move |t: usize| Frame::at(&sch, t as f64, t_star).map(|f| f.comment()).unwrap_or_default();
        Some((frames, v.elements.clone(), comment))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StudyOpts {
    schedule: Option<String>,
    steps: Option<usize>,
    check_from: Option<usize>,
    check_to: Option<usize>,
    check_every: Option<usize>,
    seed: Option<u64>,
    molecules: Option<usize>,
    pooled: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForwardOpts {
    count: Option<usize>,
    first: Option<usize>,
    schedule: Option<String>,
    steps: Option<usize>,
    seed: Option<u64>,
}

#[wasm_bindgen]
impl Playground {
    /// Sets the molecule set: `source` "xyz" (multi-frame XYZ `text`, e.g. the bundled QM9
    /// subset or a user's file; frames with < 4 atoms are skipped and listed) or "reference" (the
    /// reference sampler's samples). Returns `{name, molecules, skipped, types, modalities}`.
    #[wasm_bindgen(js_name = loadDataset)]
    pub fn load_dataset(&self, source: String, name: String, text: Option<String>) -> Result<JsValue, JsValue> {
        let data = match source.as_str() {
            "xyz" => Dataset::from_xyz(text.as_deref().unwrap_or(""), 4).map_err(|e| js_err(format!("{name}: {e}")))?,
            "reference" => {
                let s = self.inner.borrow();
                let run = s.reference.get().ok_or_else(|| js_err("loadDataset: run the reference sampler first"))?;
                system_samples_as_molecules(run.system(), run.samples().0).map_err(|e| js_err(format!("loadDataset: {e}")))?
            }
            other => return Err(js_err(format!("loadDataset: source must be \"xyz\" or \"reference\", got \"{other}\""))),
        };
        let out = serde_json::json!({
            "name": name, "molecules": data.molecules.len(), "skipped": data.skipped, "types": data.types,
            "modalities": data.modalities().iter().map(|m| m.name()).collect::<Vec<_>>(),
        });
        let mut s = self.inner.borrow_mut();
        s.forward = super::forward::ForwardState { dataset: Some((name, data)), ..Default::default() };
        s.draw.past_t_star = false;
        to_js(&out)
    }

    /// Starts the T* study on the current set. Options (all optional): `schedule`
    /// ("polynomial2", "cosine", "linear"), `steps` (1000), `checkFrom` (300), `checkTo` (800),
    /// `checkEvery` (50), `seed` (0), `molecules` (evenly spaced subset, 0 = all; default 1000),
    /// `pooled` (molecules in the calibrated pooled measure, 300; 0 skips it).
    #[wasm_bindgen(js_name = startGaussianity)]
    pub fn start_gaussianity(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["schedule", "steps", "checkFrom", "checkTo", "checkEvery", "seed", "molecules", "pooled"], "gaussianity")?;
        let o: StudyOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("gaussianity: {e}")))?;
        let d = Plan::default();
        let plan = Plan {
            schedule: o.schedule.unwrap_or(d.schedule),
            steps: o.steps.unwrap_or(d.steps),
            from: o.check_from.unwrap_or(d.from),
            to: o.check_to.unwrap_or(d.to),
            every: o.check_every.unwrap_or(d.every),
            seed: o.seed.unwrap_or(d.seed),
            molecules: o.molecules.unwrap_or(d.molecules),
            pooled: o.pooled.unwrap_or(d.pooled),
        };
        let camel = |k: &str| match k {
            "check_from" => "checkFrom".to_string(),
            "check_to" => "checkTo".to_string(),
            "check_every" => "checkEvery".to_string(),
            k => k.to_string(),
        };
        let mut s = self.inner.borrow_mut();
        let (_, data) = s.forward.dataset.as_ref().ok_or_else(|| js_err("gaussianity: load a molecule set first"))?;
        // one molecule's test cannot stop halfway and grows as atoms³ (400 atoms: 82 s on the
        // main thread); 64 atoms is about 0.1 s in the page (the CLI has no bound)
        let job = plan.check(camel).and_then(|c| c.job(data, Some(MAX_STUDY_ATOMS))).map_err(|e| js_err(format!("gaussianity: {e}")))?;
        let (done, total) = job.progress();
        s.forward.study = Some(job);
        to_js(&serde_json::json!({ "done": false, "tested": done, "total": total }))
    }

    /// Tests molecules for about `budget_ms`; `{done, tested, total, result}` (`result` when done:
    /// the study's T*, T* per modality, curves, and the pooled measure).
    #[wasm_bindgen(js_name = gaussianityStep)]
    pub fn gaussianity_step(&self, budget_ms: f64) -> Result<JsValue, JsValue> {
        let mut s = self.inner.borrow_mut();
        let f = &mut s.forward;
        let job = f.study.as_mut().ok_or_else(|| js_err("gaussianityStep: call startGaussianity first"))?;
        let t_star = job.advance_for(slice_budget(budget_ms), &now_ms).map_err(js_err)?.map(|r| r.study.t_star);
        if let Some(t) = t_star {
            f.t_star = t;
        }
        let (tested, total) = job.progress();
        to_js(&serde_json::json!({ "done": job.report().is_some(), "tested": tested, "total": total, "pooled_progress": job.pooled_progress(), "result": job.report() }))
    }

    /// The last complete T* study, or null.
    #[wasm_bindgen(js_name = gaussianityResult)]
    pub fn gaussianity_result(&self) -> Result<JsValue, JsValue> {
        match self.inner.borrow().forward.study.as_ref().and_then(StudyJob::report) {
            Some(r) => to_js(r),
            None => Ok(JsValue::NULL),
        }
    }

    /// Marks T* (frames past it are drawn desaturated); null clears the mark.
    #[wasm_bindgen(js_name = setTStar)]
    pub fn set_t_star(&self, t: Option<f64>) {
        let mut s = self.inner.borrow_mut();
        s.forward.t_star = t.filter(|v| v.is_finite());
        let t_now = s.forward.view.as_ref().map(|v| v.t as f64);
        s.draw.past_t_star = matches!((t_now, s.forward.t_star), (Some(a), Some(b)) if a > b);
        s.dirty = true;
    }

    /// Computes the forward trajectory of `count` molecules (1–64, from index `first` of the set,
    /// laid out side by side) under a schedule, on the GPU when there is one, and shows frame 0.
    /// Options: `{count, first, schedule, steps, seed}`. Resolves to `{molecules, atoms, steps, engine}`.
    #[wasm_bindgen(js_name = showForward)]
    pub fn show_forward(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["count", "first", "schedule", "steps", "seed"], "showForward")?;
        let o: ForwardOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("showForward: {e}")))?;
        let schedule = Schedule::noising_by_name(o.schedule.as_deref().unwrap_or("polynomial2"), o.steps.unwrap_or(1000)).map_err(|e| js_err(format!("showForward: {e}")))?;
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let (_, data) = s.forward.dataset.as_ref().ok_or_else(|| js_err("showForward: load a molecule set first"))?;
        // the WebGL2 viewer holds at most 512 atoms: as many whole molecules as fit
        let max_atoms = s.render.as_ref().map(|r| r.viewer.max_atoms()).unwrap_or(usize::MAX);
        let scene = ForwardScene::pick(data, o.first.unwrap_or(0), o.count.unwrap_or(1), max_atoms).map_err(|e| js_err(format!("showForward: {e}")))?;
        let seed = o.seed.unwrap_or(0);
        let (batch, atoms) = (&scene.batch, scene.batch.atoms());
        let (gpu, cpu, engine) = match (&s.compute, s.render.as_ref().map(|r| r.viewer.source)) {
            (Some(c), Some(AtomSource::Storage)) => (Some(Rc::new(ForwardKernel::new(&c.ctx.device).run(&c.ctx, batch, &schedule, seed).map_err(js_err)?)), Vec::new(), "gpu"),
            _ => (None, cpu_trajectory(batch, &schedule, seed).map_err(|e| js_err(format!("showForward: {e}")))?.iter().map(|&v| v as f32).collect(), "cpu"),
        };
        let frame0 = scene.frame0();
        s.show(super::Shown::Forward, Scene { atoms: Some((&scene.styles, 3, &scene.groups)), fit: Some((&frame0, 3, 1.5)), ..Scene::moved(frame0.clone()) })?;
        let (molecules, steps) = (scene.molecules(), schedule.steps());
        let ForwardScene { batch, elements, limited, .. } = scene;
        s.forward.view = Some(View { schedule, gpu, cpu, atoms, t: 0, elements, batch, seed });
        drop(guard);
        let _ = self.set_frame(0.0)?;
        to_js(&serde_json::json!({ "molecules": molecules, "atoms": atoms, "steps": steps, "engine": engine, "limited": limited }))
    }

    /// Shows frame `t` of the forward trajectory: `{t, alpha, sigma, snr, t_star, past_t_star}`.
    #[wasm_bindgen(js_name = setFrame)]
    pub fn set_frame(&self, t: f64) -> Result<JsValue, JsValue> {
        let mut s = self.inner.borrow_mut();
        let s = &mut *s;
        let v = s.forward.view.as_mut().ok_or_else(|| js_err("setFrame: call showForward first"))?;
        let f = Frame::at(&v.schedule, t, s.forward.t_star).map_err(|e| js_err(format!("setFrame: {e}")))?;
        v.t = f.t;
        if let Some(r) = s.render.as_mut() {
            match &v.gpu {
                Some(traj) => r.viewer.show_storage(&r.device, &traj.frames, f.t),
                None => {
                    let stride = v.atoms * 3;
                    r.viewer.upload_positions(&r.device, &r.queue, &v.cpu[f.t * stride..(f.t + 1) * stride]).map_err(js_err)?;
                }
            }
        }
        s.draw.past_t_star = f.past_t_star;
        s.dirty = true;
        to_js(&f)
    }

    /// Draws `frames` consecutive frames of the shown trajectory as fast as possible (each one a
    /// full render, waiting for the GPU at the end) and resolves to `{frames, ms, frames_per_s,
    /// atoms, engine}`: the viewer's forward-process frame rate without the display's vsync.
    #[wasm_bindgen(js_name = benchForward)]
    pub fn bench_forward(&self, frames: usize) -> js_sys::Promise {
        let this = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let (steps, atoms, engine) = {
                let s = this.inner.borrow();
                let v = s.forward.view.as_ref().ok_or_else(|| js_err("benchForward: call showForward first"))?;
                (v.schedule.steps(), v.atoms, if v.gpu.is_some() { "gpu" } else { "cpu" })
            };
            let frames = frames.clamp(1, 100_000);
            let t0 = now_ms();
            for i in 0..frames {
                this.set_frame((i % (steps + 1)) as f64)?;
                this.frame();
            }
            // WebGL2 (wgpu's GL backend) has no work-done callback worth waiting for: its calls
            // are synchronous GL calls already
            let queue = this.inner.borrow().render.as_ref().filter(|r| r.api == "WebGPU").map(|r| r.queue.clone());
            let waited = queue.is_some();
            if let Some(q) = queue {
                let (tx, rx) = futures_channel::oneshot::channel();
                q.on_submitted_work_done(move || {
                    let _ = tx.send(());
                });
                let _ = rx.await;
            }
            let ms = now_ms() - t0;
            let note = if waited { "WebGPU: until the GPU finished the last frame" } else { "WebGL2: submission only (no completion signal), an upper bound" };
            to_js(&serde_json::json!({ "frames": frames, "ms": ms, "frames_per_s": frames as f64 / ms * 1e3, "atoms": atoms, "engine": engine, "timing": note }))
        })
    }
}
