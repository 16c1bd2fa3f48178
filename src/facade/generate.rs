//! Reverse generation in the page: a score source (the exact spring-chain Gaussian, or the exact
//! score of the noised empirical distribution of same-size molecules from the loaded set), a
//! sampler run advanced in slices (`startGenerate` / `generateStep`), its quality against
//! reference configurations, and the kept reverse trajectory on the scrubber (`setGenerateTime`).

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Held, Playground, Scene};
use crate::gpu::sampler::{DenoiseCall, SamplerKernel};
use crate::metrics::{pairwise_distances, subsample};
use crate::samplers::{Denoiser, Method, SampleOptions, SamplerError, SamplerRun, Symmetry};
use crate::schedules::Schedule;
use crate::viewer::AtomStyle;
use serde::Deserialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

use crate::app::sample::{Prepared, RunFacts, Source};
use crate::app::AppError;

#[cfg(feature = "nets")]
mod score;
#[cfg(feature = "nets")]
use score::{network_source, ScoreTraining};

/// Without the networks (the page's first module, built without burn) there is no score
/// network to hold: the stand-in has no values, and target "network" says what is missing.
#[cfg(not(feature = "nets"))]
enum ScoreTraining {}

#[cfg(not(feature = "nets"))]
impl ScoreTraining {
    fn move_to_cpu(&mut self) {
        match *self {}
    }

    fn sampling_model(&self) -> &crate::app::sample::ScoreNetwork {
        match *self {}
    }
}

#[cfg(not(feature = "nets"))]
fn network_source(_: &GenerateState, _: &GenerateOpts, _: usize, _: &Schedule) -> Result<Prepared, JsValue> {
    Err(js_err(super::NO_NETWORKS))
}

#[derive(Default)]
pub(super) struct GenerateState {
    /// The sampler run; out of the state while a GPU pass is in flight.
    job: Held<Job>,
    /// The trajectory on the scrubber (the job's, once it has frames).
    view: Option<View>,
    result: Option<serde_json::Value>,
    /// Counts runs, so the viewer knows a trajectory is new.
    runs: u64,
    /// The score network being trained (and sampled with target "network"); out of the state
    /// while a training slice awaits the GPU.
    score: Held<ScoreTraining>,
    /// The sampler update pass, compiled on first use.
    sampler_kernel: Option<Rc<SamplerKernel>>,
}

impl GenerateState {
    /// Forgets the shown trajectory (another panel took the viewer).
    pub(super) fn drop_view(&mut self) {
        self.view = None;
    }

    /// The GPU was lost: a run on the GPU engine goes on with CPU updates (its samples live on
    /// the host between steps), a network training on WebGPU goes on from its CPU copy (taken
    /// after every slice; Adam's moments restart).
    pub(super) fn move_to_cpu(&mut self) {
        if let Some(j) = self.job.get_mut() {
            j.gpu = None;
        }
        self.sampler_kernel = None;
        if let Some(sc) = self.score.get_mut() {
            sc.move_to_cpu();
        }
    }

    /// The shown reverse trajectory for export: flat frames, elements, comment per frame.
    pub(super) fn export_trajectory(&self) -> Option<(Vec<f64>, Vec<String>, Vec<String>)> {
        let v = self.view.as_ref()?;
        let count = v.frames.len() / (3 * v.atoms);
        let comments =
            (0..count).map(|k| format!("molplay reverse t={:.3}{}", v.t_start * (1.0 - k as f64 / v.steps as f64), if v.gaga && k == 0 { " gaga_gaussian_start=true" } else { "" })).collect();
        Some((v.frames.iter().map(|&a| a as f64).collect(), v.elements.clone(), comments))
    }

    /// The last run's samples, flat (3-D), with each sample's elements (`Job::elements_of`;
    /// "X" where unknown).
    pub(super) fn export_samples(&self) -> Option<(Vec<f64>, usize, Vec<Vec<String>>)> {
        let j = self.job.get().filter(|j| j.run.done())?;
        let n = j.run.atoms();
        let xs = j.run.samples().to_vec();
        let elements = match j.elements_of(&xs, None) {
            Some(els) => els.iter().map(|e| e.to_vec()).collect(),
            None => vec![vec!["X".to_string(); n]; xs.len() / (3 * n)],
        };
        Some((xs, n, elements))
    }
}

/// The compute device with its energy kernel, and the sampler update pass.
type GpuUpdate = (Rc<super::Gpu>, Rc<SamplerKernel>);

struct Job {
    run: SamplerRun,
    source: Source,
    schedule: Schedule,
    reference: Vec<f64>,
    ms: f64,
    label: String,
    t_star: Option<f64>,
    gaga: bool,
    /// The update pass, for engine "gpu".
    gpu: Option<GpuUpdate>,
}

impl Job {
    /// The elements of the samples `xs` (`Source::elements_of`).
    fn elements_of(&self, xs: &[f64], nearest: Option<&[usize]>) -> Option<Vec<&[String]>> {
        self.source.elements_of(xs, self.run.options().symmetry, nearest)
    }
}

struct View {
    run: u64,
    /// Frames (kept samples laid out side by side), f32, `atoms` × 3 each.
    frames: Vec<f32>,
    atoms: usize,
    t_start: f64,
    steps: usize,
    full_t: f64,
    t_star: Option<f64>,
    gaga: bool,
    frame: usize,
    /// Element of each shown atom (for export): a molecule sample's nearest data point's once
    /// the run is done, else "X".
    elements: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateOpts {
    target: Option<String>,
    atoms: Option<usize>,
    points: Option<usize>,
    sampler: Option<String>,
    steps: Option<usize>,
    symmetry: Option<String>,
    gaga: Option<bool>,
    t_star: Option<f64>,
    samples: Option<usize>,
    show: Option<usize>,
    seed: Option<u64>,
    schedule: Option<String>,
    engine: Option<String>,
}

const KEYS: [&str; 13] = ["target", "atoms", "points", "sampler", "steps", "symmetry", "gaga", "tStar", "samples", "show", "seed", "schedule", "engine"];

#[wasm_bindgen]
impl Playground {
    /// Starts a reverse-sampling run. Options (all optional): `target` "chain" (the exact Gaussian
    /// spring chain of `atoms` beads, 8), "molecules" (the exact empirical score of the loaded
    /// set's molecules with `atoms` atoms, default the most common size, at most `points` of them,
    /// 300) or "orbits" (the same molecules under every rotation: the rotation-invariant data
    /// set's exact score, `EmpiricalTarget::over_orbits`); `sampler` "ddpm" | "em" | "heun"; `steps` (200); `symmetry` "equivariant" | "align" |
    /// "quotient"; `gaga` (false) with `tStar` (default the study's T*, else 650); `samples` (200);
    /// `show` (samples kept for the viewer, 9); `seed` (0); `schedule` ("polynomial2"); `engine`
    /// "cpu" (default) or "gpu": each update as a WebGPU pass (DDPM, EM or both Heun stages,
    /// equivariant only; the denoiser stays on the CPU; Philox noise, so DDPM and EM numbers
    /// differ from the CPU run's, while Heun, noise-free, agrees to f32 rounding).
    /// Returns `{atoms, points, t_start, steps, samples, label}`.
    #[wasm_bindgen(js_name = startGenerate)]
    pub fn start_generate(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &KEYS, "generate")?;
        let o: GenerateOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("generate: {e}")))?;
        let schedule = Schedule::noising_by_name(o.schedule.as_deref().unwrap_or("polynomial2"), 1000).map_err(|e| js_err(format!("generate: {e}")))?;
        let method = Method::by_name(o.sampler.as_deref().unwrap_or("ddpm")).map_err(|e| js_err(format!("generate: {e}")))?;
        let symmetry = Symmetry::by_name(o.symmetry.as_deref().unwrap_or("equivariant")).map_err(|e| js_err(format!("generate: {e}")))?;
        let steps = o.steps.unwrap_or(200);
        let count = o.samples.unwrap_or(200);
        if !(1..=5000).contains(&steps) || !(1..=5000).contains(&count) {
            return Err(js_err(format!("generate: steps and samples must be between 1 and 5000, got {steps} and {count}")));
        }
        let mut s = self.inner.borrow_mut();
        let Prepared { source, reference, v_hat, label } = match o.target.as_deref().unwrap_or("chain") {
            "network" => network_source(&s.generate, &o, count, &schedule)?,
            "chain" => Source::chain(o.atoms.unwrap_or(8), 2000).map_err(|e| js_err(format!("generate: {e}")))?,
            which @ ("molecules" | "orbits") => {
                let data = s.forward.dataset().ok_or_else(|| js_err("generate: load a molecule set first"))?;
                let points = o.points.unwrap_or(300);
                if !(1..=2000).contains(&points) {
                    return Err(js_err(format!("generate: points must be between 1 and 2000, got {points}")));
                }
                let g = data.same_size(o.atoms, points).map_err(|e| js_err(format!("generate: {e}")))?;
                Source::molecules(g.positions, g.atoms, g.elements, which == "orbits").map_err(|e| js_err(format!("generate: {e}")))?
            }
            other => return Err(js_err(format!("generate: target must be \"chain\", \"molecules\", \"orbits\" or \"network\", got \"{other}\""))),
        };
        let gaga = o.gaga.unwrap_or(false);
        let t_star = match o.t_star {
            Some(t) if !(t.is_finite() && t > 0.0 && t <= schedule.steps() as f64) => {
                return Err(js_err(format!("generate: tStar must be in (0, {}], got {t}", schedule.steps())));
            }
            Some(t) => Some(t),
            None => Some(s.forward.t_star().unwrap_or(650.0)),
        };
        let n = source.atoms();
        let mut opts = SampleOptions::new(method, symmetry, steps, &schedule);
        opts.seed = o.seed.unwrap_or(0);
        if gaga {
            opts = opts.gaga(&schedule, t_star.expect("set above"), v_hat, n);
        }
        let show = o.show.unwrap_or(9).clamp(1, 16).min(count);
        let run = SamplerRun::new(n, &schedule, &opts, count, show).map_err(|e| js_err(format!("generate: {e}")))?;
        let gpu = match o.engine.as_deref().unwrap_or("cpu") {
            "cpu" => None,
            "gpu" => {
                if run.gpu_step(&schedule).is_none() {
                    return Err(js_err("generate: the GPU update covers DDPM, Euler–Maruyama and Heun with the equivariant treatment; use engine \"cpu\" for align or quotient"));
                }
                let c = s.compute.clone().ok_or_else(|| js_err("generate: engine \"gpu\" needs WebGPU, and this page runs on the CPU"))?;
                let kernel = s.generate.sampler_kernel.get_or_insert_with(|| Rc::new(SamplerKernel::new(&c.ctx.device))).clone();
                Some((c, kernel))
            }
            other => return Err(js_err(format!("generate: engine must be \"cpu\" or \"gpu\", got \"{other}\""))),
        };
        let out = serde_json::json!({
            "atoms": n, "points": reference.len() / (3 * n), "t_start": opts.t_start, "steps": steps, "samples": count, "label": label,
            "start_variance": opts.start_variance, "t_star": t_star, "gaga": gaga, "engine": if gpu.is_some() { "gpu" } else { "cpu" },
        });
        s.generate.job.set(Job { run, source, schedule, reference, ms: 0.0, label, t_star, gaga, gpu });
        s.generate.runs += 1;
        s.generate.result = None;
        to_js(&out)
    }

    /// Advances the run for about `budget_ms` and shows its newest frame; `{done, step, steps,
    /// nfe, ms, result}` (`result` when done: NFE, wall time, distance W2 and E[R²] against the
    /// reference, and interatomic distances of samples and reference for the histograms).
    /// A promise (the GPU engine awaits each pass).
    #[wasm_bindgen(js_name = generateStep)]
    pub fn generate_step(&self, budget_ms: f64) -> js_sys::Promise {
        let budget = slice_budget(budget_ms);
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            if job_on_gpu(&pg.inner.borrow().generate) {
                pg.advance_on_gpu(budget).await?;
            } else {
                pg.advance_on_cpu(budget)?;
            }
            pg.generate_report()
        })
    }
}

/// Calls `f` with the job's score source as a denoiser (the trained network from `score`).
fn with_denoiser<R>(source: &mut Source, score: Option<&ScoreTraining>, f: impl FnOnce(&mut dyn Denoiser) -> Result<R, SamplerError>) -> Result<R, AppError> {
    source.with_denoiser(score.map(|sc| sc.sampling_model()), f)
}

impl Playground {
    /// GPU engine: per step, the denoiser on the CPU, then the update pass
    /// (`SamplerKernel::advance`). The job is out of the state while a pass is in flight (a
    /// second caller meanwhile is told to await it), and a run started meanwhile replaces it.
    async fn advance_on_gpu(&self, budget: f64) -> Result<(), JsValue> {
        let t0 = now_ms();
        while now_ms() - t0 < budget {
            let mut job = self.inner.borrow_mut().generate.job.take(STEP_RUNNING, "generateStep: call startGenerate first")?;
            // a job moved to the CPU (a lost device) goes back for the CPU engine's next slice
            let Some((ctx, kernel)) = job.gpu.clone() else {
                self.inner.borrow_mut().generate.job.put_back(job);
                return Ok(());
            };
            let t1 = now_ms();
            let Job { run, schedule, source, .. } = &mut job;
            let inner = &self.inner;
            let lend = |f: DenoiseCall| with_denoiser(source, inner.borrow().generate.score.get(), f);
            let stepped = kernel.advance(&ctx.ctx, run, schedule, lend).await;
            job.ms += now_ms() - t1;
            let mut s = self.inner.borrow_mut();
            match stepped {
                // stop when the run is done or another replaced it meanwhile
                Ok(stepped) => {
                    if !(s.generate.job.put_back(job) && stepped) {
                        return Ok(());
                    }
                }
                Err(e) => {
                    return if s.generate.job.release() { Err(js_err(format!("generate: {e}"))) } else { Ok(()) };
                }
            }
        }
        Ok(())
    }

    /// CPU engine: advances the run for about `budget` ms.
    fn advance_on_cpu(&self, budget: f64) -> Result<(), JsValue> {
        let mut guard = self.inner.borrow_mut();
        let GenerateState { job, score, .. } = &mut guard.generate;
        let j = job_mut(job)?;
        let t0 = now_ms();
        while !j.run.done() && now_ms() - t0 < budget {
            let (run, schedule) = (&mut j.run, &j.schedule);
            if let Err(e) = with_denoiser(&mut j.source, score.get(), |d| run.advance(d, schedule, 1)) {
                job.clear();
                return Err(js_err(format!("generate: {e}")));
            }
        }
        j.ms += now_ms() - t0;
        Ok(())
    }

    /// Shows the run's newest frame and reports `{done, step, steps, nfe, ms, result, engine}`,
    /// finishing the result once the run is done.
    fn generate_report(&self) -> Result<JsValue, JsValue> {
        let mut guard = self.inner.borrow_mut();
        let GenerateState { job, result, .. } = &mut guard.generate;
        let job = job_mut(job)?;
        let (step, steps) = job.run.progress();
        let done = job.run.done();
        let nfe = job.run.nfe();
        let ms = job.ms;
        if done && result.is_none() {
            *result = Some(finish(job));
        }
        drop(guard);
        self.show_generated(None)?;
        let s = self.inner.borrow();
        to_js(&serde_json::json!({ "done": done, "step": step, "steps": steps, "nfe": nfe, "ms": ms, "result": s.generate.result, "engine": if job_on_gpu(&s.generate) { "gpu" } else { "cpu" } }))
    }
}

const STEP_RUNNING: &str = "generateStep: a step is still running: await it before the next";

/// The run, or why there is none to step now.
fn job_mut(job: &mut Held<Job>) -> Result<&mut Job, JsValue> {
    if job.busy() {
        return Err(js_err(STEP_RUNNING));
    }
    job.get_mut().ok_or_else(|| js_err("generateStep: call startGenerate first"))
}

fn job_on_gpu(g: &GenerateState) -> bool {
    g.job.get().is_some_and(|j| j.gpu.is_some())
}

#[wasm_bindgen]
impl Playground {
    /// The last finished run's result, or null.
    #[wasm_bindgen(js_name = generateResult)]
    pub fn generate_result(&self) -> Result<JsValue, JsValue> {
        match &self.inner.borrow().generate.result {
            Some(v) => to_js(v),
            None => Ok(JsValue::NULL),
        }
    }

    /// Shows the reverse trajectory at diffusion time `t` (the nearest kept frame; above the
    /// start of a GAGA run, its start frame: the closed-form Gaussian draw). Returns `{t, frame,
    /// frames, t_start, full_t, t_star, gaga, jumped, past_t_star}`.
    #[wasm_bindgen(js_name = setGenerateTime)]
    pub fn set_generate_time(&self, t: f64) -> Result<JsValue, JsValue> {
        if !t.is_finite() {
            return Err(js_err("setGenerateTime: t must be a number"));
        }
        // another panel may have taken the viewer: the run's frames are still kept
        if self.inner.borrow().generate.view.is_none() {
            self.show_generated(None)?;
        }
        let frame = {
            let s = self.inner.borrow();
            let v = s.generate.view.as_ref().ok_or_else(|| js_err("setGenerateTime: run the sampler first"))?;
            let k = ((v.t_start - t) / v.t_start * v.steps as f64).round();
            (k.max(0.0) as usize).min(v.frames.len() / (3 * v.atoms) - 1)
        };
        self.show_generated(Some(frame))?;
        let s = self.inner.borrow();
        let v = s.generate.view.as_ref().expect("checked above");
        let t_frame = v.t_start * (1.0 - v.frame as f64 / v.steps as f64);
        to_js(&serde_json::json!({
            "t": t_frame, "frame": v.frame, "frames": v.frames.len() / (3 * v.atoms), "t_start": v.t_start, "full_t": v.full_t,
            "t_star": v.t_star, "gaga": v.gaga, "jumped": v.gaga && t > v.t_start - 1e-9 && v.frame == 0,
            "past_t_star": s.draw.past_t_star,
        }))
    }
}

/// The finished job's report (`app::sample::SampleReport`, as `molplay sample --json`), with
/// the distance histograms' values the panel plots.
fn finish(job: &mut Job) -> serde_json::Value {
    let n = job.run.atoms();
    let samples = job.run.samples();
    let facts = RunFacts { label: job.label.clone(), options: job.run.options(), nfe: job.run.nfe(), seconds: job.ms / 1000.0, gaga: job.gaga, t_star: job.t_star };
    let mut v = serde_json::to_value(job.source.report(&job.reference, samples, facts)).unwrap_or_default();
    let dist = |xs: &[f64]| pairwise_distances(&subsample(xs, 3 * n, 500), n, 3);
    v["distances"] = serde_json::json!(dist(samples));
    v["reference_distances"] = serde_json::json!(dist(&job.reference));
    v
}

impl Playground {
    /// Puts the job's kept trajectory on the viewer (`frame` None: the newest frame; the layout
    /// and atom styles are set when the trajectory is new or the run has just finished).
    fn show_generated(&self, frame: Option<usize>) -> Result<(), JsValue> {
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let g = &mut s.generate;
        let mut restyled = None;
        if let Some(job) = g.job.get() {
            let (n, keep) = (job.run.atoms(), job.run.kept());
            let raw = job.run.frames();
            let frames_now = raw.len() / (3 * n * keep);
            let run_id = g.runs;
            let was_new = g.view.as_ref().is_none_or(|v| v.run != run_id);
            // frames already converted for the viewer (the trajectory only grows within a run)
            let shown = if was_new { 0 } else { g.view.as_ref().map_or(0, |v| v.frames.len() / (3 * v.atoms)) };
            if shown != frames_now {
                // grid layout, spacing from the reference's size
                let reach = job.reference.chunks(3 * n).take(50).map(|x| crate::geometry::radius_about_com(x, 3)).fold(1.0, f64::max);
                let spacing = crate::viewer::layout::spacing(reach, 3.0);
                let shifts: Vec<[f64; 3]> = (0..keep).map(|k| crate::viewer::layout::grid_shift(k, keep, spacing)).collect();
                let added: Vec<f32> = raw[shown * 3 * n * keep..]
                    .chunks(3 * n)
                    .enumerate()
                    .flat_map(|(i, x)| {
                        let sh = shifts[i % keep];
                        x.chunks(3).flat_map(move |p| (0..3).map(move |k| (p[k] + sh[k]) as f32)).collect::<Vec<_>>()
                    })
                    .collect();
                // elements: given to the network from the start; else the data point each kept
                // sample ends nearest to (known once done)
                let known = job.source.elements_given() || (matches!(job.source, Source::Molecules { .. }) && job.run.done());
                let shown_elements: Vec<String> = if known {
                    let last = &raw[raw.len() - 3 * n * keep..];
                    job.elements_of(last, None).unwrap_or_default().concat()
                } else {
                    vec!["X".to_string(); n * keep]
                };
                let styles: Vec<AtomStyle> = match &job.source {
                    _ if known => shown_elements.iter().map(|e| AtomStyle::element(e)).collect(),
                    Source::Molecules { .. } => vec![AtomStyle::element("C"); n * keep],
                    Source::Chain(_) | Source::Network { .. } => vec![AtomStyle::particle(false); n * keep],
                };
                let restyle = was_new || job.run.done();
                match g.view.as_mut().filter(|_| !was_new) {
                    Some(v) => {
                        v.frames.extend(added);
                        v.frame = frames_now - 1;
                        v.elements = shown_elements;
                    }
                    None => {
                        let (t_start, steps) = (job.run.frame_time(0), job.run.options().steps);
                        g.view = Some(View {
                            run: run_id,
                            frames: added,
                            atoms: n * keep,
                            t_start,
                            steps,
                            full_t: job.schedule.steps() as f64,
                            t_star: job.t_star,
                            gaga: job.gaga,
                            frame: frames_now - 1,
                            elements: shown_elements,
                        });
                    }
                }
                if restyle {
                    restyled = Some((styles, vec![n; keep]));
                }
            }
        }
        let Some(v) = s.generate.view.as_mut() else { return Ok(()) };
        let count = v.frames.len() / (3 * v.atoms);
        v.frame = frame.unwrap_or(count - 1).min(count - 1);
        let stride = 3 * v.atoms;
        let positions = v.frames[v.frame * stride..(v.frame + 1) * stride].to_vec();
        let t = v.t_start * (1.0 - v.frame as f64 / v.steps as f64);
        let past_t_star = v.t_star.is_some_and(|ts| t > ts);
        let mut scene = Scene { past_t_star, ..Scene::moved(positions) };
        // a new layout frames the newest frame (copied only then: this runs on every scrub)
        let last = restyled.as_ref().map(|_| v.frames[v.frames.len() - stride..].to_vec());
        if let (Some((styles, groups)), Some(last)) = (&restyled, &last) {
            scene = Scene { atoms: Some((styles, 3, groups)), fit: Some((last, 3, 1.0)), ..scene };
        }
        s.show(super::Shown::Generated, scene)
    }
}
