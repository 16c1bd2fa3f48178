//! Reverse generation in the page: a score source (the exact spring-chain Gaussian, or the exact
//! score of the noised empirical distribution of same-size molecules from the loaded set), a
//! sampler run advanced in slices (`startGenerate` / `generateStep`), its quality against
//! reference configurations, and the kept reverse trajectory on the scrubber (`setGenerateTime`).

use super::{check_keys, js_err, now_ms, slice_budget, to_js, Held, Playground, Scene};
use crate::app::generation::{GenerateResult, Generation, Limits, Plan, Trajectory};
use crate::app::sample::{Prepared, Source};
use crate::app::AppError;
use crate::gpu::sampler::{DenoiseCall, SamplerKernel};
use crate::samplers::{Method, Symmetry};
use crate::schedules::Schedule;
use serde::Deserialize;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

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
    view: Option<Trajectory>,
    result: Option<GenerateResult>,
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
        self.view.as_ref().map(Trajectory::export)
    }

    /// The last run's samples, flat (3-D), with each sample's elements ("X" where unknown).
    pub(super) fn export_samples(&self) -> Option<(Vec<f64>, usize, Vec<Vec<String>>)> {
        let j = self.job.get().filter(|j| j.gen.run.done())?;
        let (xs, elements) = j.gen.samples_with_elements();
        Some((xs, j.gen.run.atoms(), elements))
    }
}

/// The compute device with its energy kernel, and the sampler update pass.
type GpuUpdate = (Rc<super::Gpu>, Rc<SamplerKernel>);

/// The run, with the update pass for engine "gpu".
struct Job {
    gen: Generation,
    gpu: Option<GpuUpdate>,
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
        let err = |e: AppError| js_err(format!("generate: {e}"));
        let schedule = Schedule::noising_by_name(o.schedule.as_deref().unwrap_or("polynomial2"), 1000).map_err(|e| js_err(format!("generate: {e}")))?;
        let mut s = self.inner.borrow_mut();
        let plan = Plan {
            method: Method::by_name(o.sampler.as_deref().unwrap_or("ddpm")).map_err(|e| js_err(format!("generate: {e}")))?,
            symmetry: Symmetry::by_name(o.symmetry.as_deref().unwrap_or("equivariant")).map_err(|e| js_err(format!("generate: {e}")))?,
            steps: o.steps.unwrap_or(200),
            samples: o.samples.unwrap_or(200),
            seed: o.seed.unwrap_or(0),
            gaga: o.gaga.unwrap_or(false),
            t_star: o.t_star.unwrap_or_else(|| s.forward.t_star().unwrap_or(650.0)),
        };
        // an explicit tStar is checked even without GAGA (the scrubber marks it); the Forward
        // panel's T* only when GAGA starts there
        let name = |k: &str| if k == "t_star" { "tStar".into() } else { k.into() };
        plan.check(Limits::PAGE, &schedule, name).map_err(err)?;
        if o.t_star.is_some() {
            plan.check_t_star(&schedule, name).map_err(err)?;
        }
        let count = plan.samples;
        let prepared = match o.target.as_deref().unwrap_or("chain") {
            "network" => network_source(&s.generate, &o, count, &schedule)?,
            "chain" => Source::chain(o.atoms.unwrap_or(8), 2000).map_err(err)?,
            which @ ("molecules" | "orbits") => {
                let data = s.forward.dataset().ok_or_else(|| js_err("generate: load a molecule set first"))?;
                let points = o.points.unwrap_or(300);
                if !(1..=2000).contains(&points) {
                    return Err(js_err(format!("generate: points must be between 1 and 2000, got {points}")));
                }
                let g = data.same_size(o.atoms, points).map_err(|e| js_err(format!("generate: {e}")))?;
                Source::molecules(g.positions, g.atoms, g.elements, which == "orbits").map_err(err)?
            }
            other => return Err(js_err(format!("generate: target must be \"chain\", \"molecules\", \"orbits\" or \"network\", got \"{other}\""))),
        };
        let gen = Generation::start(prepared, schedule, plan, o.show.unwrap_or(9)).map_err(err)?;
        let gpu = match o.engine.as_deref().unwrap_or("cpu") {
            "cpu" => None,
            "gpu" => {
                if gen.run.gpu_step(&gen.schedule).is_none() {
                    return Err(js_err("generate: the GPU update covers DDPM, Euler–Maruyama and Heun with the equivariant treatment; use engine \"cpu\" for align or quotient"));
                }
                let c = s.compute.clone().ok_or_else(|| js_err("generate: engine \"gpu\" needs WebGPU, and this page runs on the CPU"))?;
                let kernel = s.generate.sampler_kernel.get_or_insert_with(|| Rc::new(SamplerKernel::new(&c.ctx.device))).clone();
                Some((c, kernel))
            }
            other => return Err(js_err(format!("generate: engine must be \"cpu\" or \"gpu\", got \"{other}\""))),
        };
        let opts = gen.run.options();
        let out = serde_json::json!({
            "atoms": gen.run.atoms(), "points": gen.reference_points(), "t_start": opts.t_start, "steps": opts.steps, "samples": count, "label": gen.label,
            "start_variance": opts.start_variance, "t_star": gen.plan.t_star, "gaga": gen.plan.gaga, "engine": if gpu.is_some() { "gpu" } else { "cpu" },
        });
        s.generate.job.set(Job { gen, gpu });
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

/// The trained network a network source samples with (None: no network is trained).
fn model(score: Option<&ScoreTraining>) -> Option<&crate::app::sample::ScoreNetwork> {
    score.map(|sc| sc.sampling_model())
}

impl Playground {
    /// GPU engine: per step, the denoiser on the CPU, then the update pass
    /// (`SamplerKernel::advance`). The job is out of the state while a pass is in flight (a
    /// second caller meanwhile is told to await it), and a run started meanwhile replaces it.
    async fn advance_on_gpu(&self, budget: f64) -> Result<(), JsValue> {
        let t0 = now_ms();
        while now_ms() - t0 < budget {
            let mut job = self.inner.borrow_mut().generate.job.take(STEP_RUNNING, "generateStep: call startGenerate first").map_err(js_err)?;
            // a job moved to the CPU (a lost device) goes back for the CPU engine's next slice
            let Some((ctx, kernel)) = job.gpu.clone() else {
                self.inner.borrow_mut().generate.job.put_back(job);
                return Ok(());
            };
            let t1 = now_ms();
            let Generation { run, schedule, source, .. } = &mut job.gen;
            let inner = &self.inner;
            let lend = |f: DenoiseCall| source.with_denoiser(model(inner.borrow().generate.score.get()), f);
            let stepped = kernel.advance(&ctx.ctx, run, schedule, lend).await;
            job.gen.ms += now_ms() - t1;
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
        while !j.gen.run.done() && now_ms() - t0 < budget {
            if let Err(e) = j.gen.advance(model(score.get()), 1) {
                job.clear();
                return Err(js_err(format!("generate: {e}")));
            }
        }
        j.gen.ms += now_ms() - t0;
        Ok(())
    }

    /// Shows the run's newest frame and reports `{done, step, steps, nfe, ms, result, engine}`,
    /// finishing the result once the run is done.
    fn generate_report(&self) -> Result<JsValue, JsValue> {
        let mut guard = self.inner.borrow_mut();
        let GenerateState { job, result, .. } = &mut guard.generate;
        let gen = &job_mut(job)?.gen;
        let (step, steps) = gen.run.progress();
        let (done, nfe, ms) = (gen.run.done(), gen.run.nfe(), gen.ms);
        if done && result.is_none() {
            *result = Some(gen.result());
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
        // through JSON values, as generateStep's copy: a diverged run's NaN figures are null
        to_js(&serde_json::to_value(&self.inner.borrow().generate.result).map_err(js_err)?)
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
        let frame = self.inner.borrow().generate.view.as_ref().map(|v| v.frame_at(t)).ok_or_else(|| js_err("setGenerateTime: run the sampler first"))?;
        self.show_generated(Some(frame))?;
        let s = self.inner.borrow();
        let v = s.generate.view.as_ref().expect("checked above");
        to_js(&serde_json::json!({
            "t": v.time_of(v.frame), "frame": v.frame, "frames": v.frame_count(), "t_start": v.t_start, "full_t": v.full_t,
            "t_star": v.t_star, "gaga": v.gaga, "jumped": v.gaga && t > v.t_start - 1e-9 && v.frame == 0,
            "past_t_star": s.draw.past_t_star,
        }))
    }
}

impl Playground {
    /// Puts the job's kept trajectory on the viewer (`frame` None: the newest frame; the layout
    /// and atom styles are set when the trajectory is new or the run has just finished).
    fn show_generated(&self, frame: Option<usize>) -> Result<(), JsValue> {
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let g = &mut s.generate;
        let restyled = match g.job.get() {
            Some(job) => job.gen.sync_view(&mut g.view, g.runs),
            None => None,
        };
        let Some(v) = g.view.as_mut() else { return Ok(()) };
        v.select(frame);
        let mut scene = Scene { past_t_star: v.past_t_star(), ..Scene::moved(v.positions(v.frame).to_vec()) };
        // a new layout frames the newest frame (copied only then: this runs on every scrub)
        let last;
        if let Some((styles, groups)) = &restyled {
            last = v.positions(v.frame_count() - 1).to_vec();
            scene = Scene { atoms: Some((styles, 3, groups)), fit: Some((&last, 3, 1.0)), ..scene };
        }
        s.show(super::Shown::Generated, scene)
    }
}
