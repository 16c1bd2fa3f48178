//! Adjoint Sampling in the page: a learner for a benchmark system (from scratch, or from weights
//! such as the bundled presets), advanced in slices by `adjointStep` in one of three modes —
//! "train" (buffer refreshes and regression steps in turn, as the method does), or one sub-step
//! at a time, "refresh" (simulate new samples, evaluate their energies, fill the buffer) and
//! "regress" (one epoch's regression steps) — with its counters, losses, the newest samples'
//! energies and the newest simulated trajectory on the scrubber (`setAdjointFrame`).

use super::{check_keys, device_name, js_err, now_ms, slice_budget, to_js, Held, Playground, Scene, Shown};
use crate::adjoint::{time_training, AdjointConfig, AdjointSampler};
use crate::app::adjoint::{Learner as Core, Mode};
use crate::models::Compute;
use crate::viewer::AtomStyle;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// Samples whose trajectories are kept for the viewer.
const KEEP: usize = 4;

#[derive(Default)]
pub(super) struct AdjointState {
    /// Out of the state while a slice or a weights read awaits the GPU.
    learner: Held<Learner>,
}

impl AdjointState {
    /// Coordinates per particle of the learner's system (None without a learner at hand).
    pub(super) fn dim(&self) -> Option<usize> {
        self.learner.get().map(|l| l.core.sampler.system.d)
    }
}

/// The app's learner with what the page keeps beside it.
struct Learner {
    core: Core,
    /// The newest finished trajectory laid out for the viewer (KEEP samples side by side), and
    /// the shown frame.
    frames: Vec<f32>,
    frame: usize,
    ms: f64,
    stopped: Option<String>,
    /// A CPU copy of a controller that runs on WebGPU, taken after every slice: what the
    /// learner goes on from if the device is lost.
    cpu_copy: Option<crate::models::Network>,
}

impl AdjointState {
    /// The GPU was lost: a learner whose network was on it goes on on the CPU from the copy
    /// taken after its latest slice (Adam's moments restart; buffer, counters, losses and
    /// samples are kept), with forces from the CPU path.
    pub(super) fn device_lost(&mut self) {
        if let Some(l) = self.learner.get_mut() {
            l.core.sampler.drop_gpu_energies();
            if matches!(l.core.sampler.compute(), Compute::Gpu(_)) {
                match l.cpu_copy.take().map(|copy| l.core.sampler.continue_with(copy)) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => l.stopped = Some(format!("its network was on the lost GPU device ({e})")),
                    None => l.stopped = Some("its network was on the lost GPU device, and no copy was left: load weights or train from scratch (on the CPU)".into()),
                }
            }
        }
    }

    /// The learner: its newest samples, their energies and trajectory (for export and for
    /// picking a sample); None without a learner.
    pub(super) fn newest(&self) -> Option<&Core> {
        self.learner.get().map(|l| &l.core)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartOpts {
    system: Option<String>,
    config: Option<String>,
    seed: Option<u64>,
    device: Option<String>,
}

impl Learner {
    fn new(sampler: AdjointSampler) -> Self {
        Learner { core: Core::new(sampler, KEEP), frames: Vec::new(), frame: 0, ms: 0.0, stopped: None, cpu_copy: None }
    }
}

impl Playground {
    /// A learner whose network runs on WebGPU evaluates energies and forces with our WGSL
    /// kernel on the same device (a learner on the CPU, on the f64 CPU path).
    fn energies_beside(&self, sampler: &mut AdjointSampler) {
        let s = self.inner.borrow();
        if let (Compute::Gpu(_), Some(c)) = (sampler.compute(), s.compute.as_ref()) {
            sampler.use_gpu_energies(c.ctx.clone(), c.energy.clone());
        }
    }
}

impl Playground {
    /// The new learner: `sampler` (on the CPU) moves to `compute`; a learner on WebGPU keeps a
    /// CPU copy of its starting weights, so even a device lost before its first slice leaves
    /// it something to go on from.
    fn install_learner(&self, mut sampler: AdjointSampler, compute: &Compute) {
        let copy = if matches!(compute, Compute::Gpu(_)) { sampler.cpu_copy() } else { None };
        sampler.move_to(compute);
        self.energies_beside(&mut sampler);
        let mut learner = Learner::new(sampler);
        learner.cpu_copy = copy;
        self.inner.borrow_mut().adjoint.learner.set(learner);
    }
}

#[wasm_bindgen]
impl Playground {
    /// A fresh learner: options `{system: "dw4" | "lj13" | "lj55", config: "demo" | "paper", seed,
    /// device: "auto" | "webgpu" | "cpu"}` (where the controller runs; see `network_compute`).
    #[wasm_bindgen(js_name = startAdjoint)]
    pub fn start_adjoint(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["system", "config", "seed", "device"], "trainAdjoint")?;
        let o: StartOpts = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("trainAdjoint: {e}")))?;
        let system = o.system.unwrap_or_else(|| "dw4".into());
        let cfg = AdjointConfig::by_name(o.config.as_deref().unwrap_or("demo"), &system).map_err(|e| js_err(format!("trainAdjoint: {e}")))?;
        let compute = self.inner.borrow_mut().network_compute(o.device.as_deref().unwrap_or("auto")).map_err(|e| js_err(format!("trainAdjoint: {e}")))?;
        // made on the CPU (the same weights as made on the GPU), copied, then moved
        let sampler = AdjointSampler::new_on(cfg, o.seed.unwrap_or(0), &Compute::Cpu).map_err(|e| js_err(format!("trainAdjoint: {e}")))?;
        self.install_learner(sampler, &compute);
        self.adjoint_status()
    }

    /// A learner from weights (`molplay train-adjoint` output or `adjointWeights()`), for
    /// `system` if given (a mismatch is refused). The buffer starts empty.
    #[wasm_bindgen(js_name = loadAdjointWeights)]
    pub fn load_adjoint_weights(&self, name: String, bytes: Vec<u8>, system: Option<String>) -> Result<JsValue, JsValue> {
        let sampler = AdjointSampler::from_bytes(&bytes, system.as_deref()).map_err(|e| js_err(format!("{name}: {e}")))?;
        let compute = self.inner.borrow_mut().network_compute("auto").map_err(|e| js_err(format!("{name}: {e}")))?;
        self.install_learner(sampler, &compute);
        self.adjoint_status()
    }

    /// Works for about `budget_ms` in `mode` ("train", "refresh" or "regress"; the sub-step modes
    /// stop when their sub-step completes); a promise of the status. A diverging run stops with
    /// the last good weights and says so in `stopped`. While a slice awaits the GPU the learner
    /// is out of the playground: a second call is refused, and a learner started or loaded
    /// meanwhile wins.
    #[wasm_bindgen(js_name = adjointStep)]
    pub fn adjoint_step(&self, budget_ms: f64, mode: String) -> js_sys::Promise {
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let mode = Mode::by_name(&mode).map_err(|e| js_err(format!("adjointStep: {e}")))?;
            let budget = slice_budget(budget_ms);
            let mut l = {
                let mut s = pg.inner.borrow_mut();
                let l = s.adjoint.learner.take("adjointStep: a slice is already running", "adjointStep: start or load a learner first").map_err(js_err)?;
                if let Some(msg) = &l.stopped {
                    let msg = format!("adjointStep: the run stopped ({msg}); start again or load weights");
                    s.adjoint.learner.put_back(l);
                    return Err(js_err(msg));
                }
                l
            };
            let t0 = now_ms();
            let on_gpu = matches!(l.core.sampler.compute(), Compute::Gpu(_));
            // a device gone under a network on it is not a divergence: the learner goes on from
            // its copy (below)
            let device_gone = || on_gpu && pg.inner.borrow().compute.is_none();
            let out = l.core.slice(mode, budget, &now_ms, &device_gone).await;
            let refreshed = out.refreshed;
            if out.refreshed {
                l.frames = l.core.laid_out();
                l.frame = l.core.frame_count().saturating_sub(1);
            }
            if out.stopped.is_some() {
                l.stopped = out.stopped;
            }
            let device_lost = pg.inner.borrow().compute.is_none();
            if matches!(l.core.sampler.compute(), Compute::Gpu(_)) && l.stopped.is_none() && !device_lost {
                // what the learner goes on from should this device be lost
                match l.core.sampler.snapshot().await {
                    Ok(copy) => l.cpu_copy = Some(copy),
                    Err(e) => l.stopped = Some(format!("reading the network back from the GPU failed: {e}")),
                }
            }
            l.ms += now_ms() - t0;
            let kept = {
                let mut s = pg.inner.borrow_mut();
                let kept = s.adjoint.learner.put_back(l);
                if s.compute.is_none() {
                    // the device was lost while this slice was out
                    s.adjoint.device_lost();
                }
                kept
            };
            if kept && refreshed {
                pg.show_adjoint_frame(None)?;
            }
            pg.adjoint_status()
        })
    }

    /// `{system, config, counters, gradient_steps_per_energy_evaluation, losses, energies,
    /// phase, frames, ms, stopped, history}`; null without a learner. `history` is the run's
    /// record kept in the controller's file (a preset's native training): each epoch's mean
    /// loss, the evaluations (epoch, energy and distance W2 against the field's test set, wall
    /// time) and the wall time in all.
    #[wasm_bindgen(js_name = adjointStatus)]
    pub fn adjoint_status(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let Some(l) = s.adjoint.learner.get() else { return Ok(JsValue::NULL) };
        let c = &l.core.sampler.counters;
        let per = l.core.sampler.system.dim();
        let phase = l.core.phase();
        to_js(&serde_json::json!({
            "system": l.core.sampler.system.name, "config": l.core.sampler.config, "counters": c,
            "gradient_steps_per_energy_evaluation": c.gradient_steps as f64 / c.energy_evaluations.max(1) as f64,
            "losses": l.core.losses, "energies": l.core.energies, "samples": l.core.samples.len() / per, "phase": phase,
            "frames": l.core.frame_count(), "frame": l.frame, "ms": l.ms, "stopped": l.stopped,
            "device": device_name(l.core.sampler.compute()), "energies_on": l.core.sampler.energy_engine(),
            "history": l.core.sampler.history,
        }))
    }

    /// Shows frame `k` (0 = u = 0, the Dirac at the origin; last = u = 1, the samples) of the
    /// newest simulated trajectory. Returns `{frame, frames, u}`.
    #[wasm_bindgen(js_name = setAdjointFrame)]
    pub fn set_adjoint_frame(&self, k: f64) -> Result<JsValue, JsValue> {
        if !k.is_finite() {
            return Err(js_err("setAdjointFrame: the frame must be a number"));
        }
        self.show_adjoint_frame(Some(k.max(0.0) as usize))
    }

    /// A promise of burn's training speed on WebGPU and on its CPU backend, measured in this tab
    /// in one run: `{reps, cpu: {dsm_step_ms, adjoint: {regression_step_ms, simulation_step_ms}},
    /// webgpu: {...} | null, cpu_over_webgpu_time: {dsm, regression_step, simulation_step}}`.
    #[wasm_bindgen(js_name = benchNetworks)]
    pub fn bench_networks(&self, reps: u32) -> js_sys::Promise {
        let gpu = self.inner.borrow_mut().network_compute("webgpu").ok();
        wasm_bindgen_futures::future_to_promise(async move {
            let reps = (reps as usize).clamp(1, 100);
            let clock = now_ms;
            let cpu = time_training(&Compute::Cpu, reps, &clock).await.map_err(js_err)?;
            let webgpu = match gpu {
                Some(g) => Some(time_training(&g, reps, &clock).await.map_err(js_err)?),
                None => None,
            };
            let ratios = webgpu.map_or(serde_json::json!({ "dsm": null, "regression_step": null, "simulation_step": null }), |w| serde_json::json!(cpu.over(&w)));
            to_js(&serde_json::json!({ "reps": reps, "cpu": cpu, "webgpu": webgpu, "cpu_over_webgpu_time": ratios }))
        })
    }

    /// A promise of the controller's weights (to save; `loadAdjointWeights` reads them back).
    #[wasm_bindgen(js_name = adjointWeights)]
    pub fn adjoint_weights(&self) -> js_sys::Promise {
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let l = pg.inner.borrow_mut().adjoint.learner.take("adjointWeights: pause training first", "adjointWeights: start or load a learner first").map_err(js_err)?;
            let bytes = l.core.sampler.to_bytes().await;
            pg.inner.borrow_mut().adjoint.learner.put_back(l);
            let bytes = bytes.map_err(js_err)?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }
}

impl Playground {
    fn show_adjoint_frame(&self, frame: Option<usize>) -> Result<JsValue, JsValue> {
        let mut guard = self.inner.borrow_mut();
        let s = &mut *guard;
        let l = s.adjoint.learner.get_mut().ok_or_else(|| js_err("setAdjointFrame: start or load a learner first"))?;
        let sys = l.core.sampler.system.clone();
        let stride = l.core.frame_len();
        if stride == 0 || l.frames.is_empty() {
            return Err(js_err("setAdjointFrame: no trajectory yet: refresh the buffer first"));
        }
        let count = l.frames.len() / stride;
        let k = frame.unwrap_or(count - 1).min(count - 1);
        l.frame = k;
        let u = l.core.u_of(k);
        let x = &l.frames[k * stride..(k + 1) * stride];
        let new_view = s.shown != Shown::Adjoint || s.positions.len() != x.len();
        let scene = Scene::moved(x.to_vec());
        if new_view {
            // new atoms, framed on the newest frame (built only then: this runs on every scrub)
            let styles: Vec<_> = (0..stride / sys.dim()).flat_map(|_| AtomStyle::particles_of(&sys)).collect();
            let groups = vec![sys.n; stride / sys.dim()];
            let last = l.frames[(count - 1) * stride..].to_vec();
            s.show(Shown::Adjoint, Scene { atoms: Some((&styles, sys.d, &groups)), fit: Some((&last, sys.d, 0.8)), ..scene })?;
        } else {
            s.show(Shown::Adjoint, scene)?;
        }
        to_js(&serde_json::json!({ "frame": k, "frames": count, "u": u }))
    }
}
