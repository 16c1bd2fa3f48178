//! The thin wasm-bindgen facade: owns the GPU context, the energy kernel and the viewer for
//! one canvas, and turns Rust errors into JS errors. No math lives here.

use crate::app::bench::{EnergyBench, Limits as BenchLimits, McmcBench};
use crate::app::held::Held;
use crate::app::AppError;
use crate::energies::{PresetBuild, System};
use crate::gpu::energy::{cpu_energies_grads, repair_non_finite, EnergyKernel, ParticleBatch};
use crate::gpu::{GpuContext, GpuError};
#[cfg(feature = "nets")]
use crate::models::Compute;
use crate::reference::ReferenceRun;
pub(crate) use crate::viewer::screen::later;
use crate::viewer::screen::Screen;
use crate::viewer::{AtomSource, AtomStyle, Camera, DrawOptions};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

/// Version of the `window.molplay` scripting API (bumped on breaking changes).
pub const API_VERSION: u32 = 1;

#[cfg(feature = "nets")]
mod adjoint;
#[cfg(feature = "nets")]
mod conformers;
mod export;
mod forward;
mod generate;
#[cfg(feature = "nets")]
mod molecules;
mod reference;

/// The message of a panic inside the module, once one happened: the state it interrupted
/// (a `RefCell` borrow, a half-done step) cannot be trusted, so the page stops and says so.
static CRASH: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen(start)]
pub fn start() {
    crate::run_static_constructors();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut crash) = CRASH.lock() {
            let message = info.payload().downcast_ref::<&str>().map(|m| m.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned()).unwrap_or_else(|| "a panic".into());
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            crash.get_or_insert_with(|| format!("{}{at}", message.replace('\n', " ")));
        }
        console_error_panic_hook::hook(info);
    }));
}

/// The first internal error (a panic) of this module, if one happened: the page shows it and
/// asks for a reload instead of calling on into a broken state (issue: a panic left a borrow
/// held and every later call panicked, a frozen tab).
/// Panics on purpose: the end-to-end test of the page's answer to an internal error (there is
/// no known input that panics; this is how the test makes one).
#[wasm_bindgen(js_name = __simulateInternalError)]
pub fn simulate_internal_error() {
    panic!("simulated internal error (test hook)");
}

#[wasm_bindgen(js_name = internalError)]
pub fn internal_error() -> Option<String> {
    CRASH.lock().ok().and_then(|c| c.clone())
}

#[wasm_bindgen(js_name = apiVersion)]
pub fn api_version() -> u32 {
    API_VERSION
}

/// What a network call answers in a module built without the networks (the page's first
/// module): the page loads the full module before it makes one, so this is a caller's error.
#[cfg(not(feature = "nets"))]
const NO_NETWORKS: &str = "this module was built without the networks (burn): the page loads the full module (pkg/) before it trains or samples a network";

/// Whether this module has the networks (burn): the page's first module does not, and the page
/// loads the full one on the first call that needs them.
#[wasm_bindgen(js_name = hasNetworks)]
pub fn has_networks() -> bool {
    cfg!(feature = "nets")
}

#[wasm_bindgen(js_name = crateVersion)]
pub fn crate_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

/// What the viewer shows: each panel that puts something on it says so here, and the others
/// know their trajectory no longer matches the viewer's atoms.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shown {
    Nothing,
    /// A configuration of the benchmark system of this name (a preset, a reference sample).
    System(String),
    /// The forward process of a molecule set.
    Forward,
    /// The reverse sampler's kept trajectories.
    Generated,
    /// Whole molecules (types and positions) on their way from noise.
    #[cfg(feature = "nets")]
    WholeMolecules,
    /// The Adjoint Sampling learner's newest paths.
    #[cfg(feature = "nets")]
    Adjoint,
    /// A generated conformer on its reference.
    #[cfg(feature = "nets")]
    Conformers,
}

impl Shown {
    /// As `state().preset` names it.
    fn name(&self) -> &str {
        match self {
            Shown::Nothing => "",
            Shown::System(name) => name,
            Shown::Forward => "molecules",
            Shown::Generated => "generated",
            #[cfg(feature = "nets")]
            Shown::WholeMolecules => "whole-molecules",
            #[cfg(feature = "nets")]
            Shown::Adjoint => "adjoint",
            #[cfg(feature = "nets")]
            Shown::Conformers => "conformers",
        }
    }
}

/// The page's WebGPU device and the energy pass compiled on it.
struct Gpu {
    ctx: GpuContext,
    energy: EnergyKernel,
}

struct Inner {
    compute: Option<Rc<Gpu>>,
    /// burn on the compute device, registered on first use (once per device).
    #[cfg(feature = "nets")]
    burn_gpu: Option<Compute>,
    render: Option<Screen>,
    notice: Option<String>,
    camera: Camera,
    draw: DrawOptions,
    /// What the viewer shows (one owner at a time).
    shown: Shown,
    system: System,
    positions: Vec<f32>,
    batch: Option<ParticleBatch>,
    energy: f64,
    dirty: bool,
    frames: u64,
    render_error: Option<String>,
    /// The reference sampler's run; taken out while a step is awaiting the GPU.
    reference: Held<ReferenceRun>,
    /// Sweeps per slice, tuned so one slice takes a fraction of the step's time budget.
    reference_chunk: usize,
    /// A sample set the user loaded (file picker, drag-and-drop or `loadSamples`).
    loaded: Option<LoadedSet>,
    /// The molecule set of the forward / Gaussianity panel, its study and trajectory.
    forward: forward::ForwardState,
    /// The reverse sampler's run and its trajectory.
    generate: generate::GenerateState,
    /// Whole-molecule generation (types and positions).
    #[cfg(feature = "nets")]
    molecules: molecules::MoleculesState,
    /// The Adjoint Sampling learner.
    #[cfg(feature = "nets")]
    adjoint: adjoint::AdjointState,
    /// The conformer networks of the quotient-training comparison, and their judgement.
    #[cfg(feature = "nets")]
    conformers: conformers::ConformersState,
    /// Set by the compute device's lost callback (the reason); handled on the next frame.
    lost: Arc<Mutex<Option<String>>>,
    /// The viewer's device was lost and a new one is being found (`frame` draws nothing).
    rebuilding_viewer: bool,
    /// loadPreset calls so far: one that finds a later one started while it relaxed gives way.
    preset_loads: u64,
    /// The viewer's look (`setStyle`).
    style: &'static str,
    /// The backend or the renderer changed since the page last drew (`frame` returns it).
    changed: bool,
}

/// What a panel puts on the viewer ([`Inner::show`]).
struct Scene<'a> {
    /// New atoms: one style each, coordinates per atom, atoms per molecule; None: the atoms
    /// drawn already, moved.
    atoms: Option<(&'a [AtomStyle], usize, &'a [usize])>,
    /// The positions drawn (flat), kept on the host (`state()`, a lost device's new viewer).
    positions: Vec<f32>,
    /// Frames these flat positions (coordinates per atom, padding); None keeps the camera.
    fit: Option<(&'a [f32], usize, f32)>,
    /// The GPU batch holding `positions`, drawn from its buffer where the viewer can.
    batch: Option<ParticleBatch>,
    /// The configuration's energy (NaN where there is none).
    energy: f64,
    /// The reverse trajectory is above T* (the viewer marks it).
    past_t_star: bool,
}

impl<'a> Scene<'a> {
    /// `positions` of atoms already drawn, no energy, the camera kept.
    fn moved(positions: Vec<f32>) -> Self {
        Scene { atoms: None, positions, fit: None, batch: None, energy: f64::NAN, past_t_star: false }
    }
}

struct LoadedSet {
    file: String,
    system: System,
    xs: Vec<f64>,
    energies: Vec<f64>,
}

/// Options of `startReference` (JS object; all but `system` optional).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceOptions {
    system: String,
    samples: Option<usize>,
    chains: Option<usize>,
    levels: Option<usize>,
    t_max: Option<f64>,
    burn_in: Option<usize>,
    thin: Option<usize>,
    seed: Option<u64>,
    /// "auto" (the GPU pass when WebGPU is on), "gpu" or "cpu".
    engine: Option<String>,
}

impl Inner {
    /// Whether the page's WebGPU adapter is a software one (SwiftShader: WebGPU on the CPU);
    /// None without WebGPU.
    fn software_adapter(&self) -> Option<bool> {
        self.compute.as_ref().map(|c| c.ctx.adapter.get_info().device_type == wgpu::DeviceType::Cpu)
    }

    /// Coordinates per atom of `positions`: 3 for molecules (the forward and generate views),
    /// the system's for its configurations and the Adjoint Sampling paths.
    fn positions_dim(&self) -> usize {
        match self.shown {
            Shown::Forward | Shown::Generated => 3,
            #[cfg(feature = "nets")]
            Shown::WholeMolecules | Shown::Conformers => 3,
            #[cfg(feature = "nets")]
            Shown::Adjoint => self.adjoint.dim().unwrap_or(self.system.d),
            _ => self.system.d,
        }
    }

    /// `what` takes the viewer with `scene`: its atoms (when new), its positions, the camera
    /// framing them (when asked), and the other panels' trajectories dropped, since they no
    /// longer match the viewer's atoms (each panel puts its own back when its mode returns).
    /// Every panel shows through here, so `shown` always names what is drawn.
    fn show(&mut self, what: Shown, scene: Scene) -> Result<(), JsValue> {
        if let Some(r) = self.render.as_mut() {
            if let Some((styles, d, groups)) = scene.atoms {
                r.viewer.set_molecules(&r.device, &r.queue, styles, d, groups).map_err(js_err)?;
            }
            match &scene.batch {
                Some(b) if r.viewer.source == AtomSource::Storage => r.viewer.show_storage(&r.device, b.positions(), 0),
                _ => r.viewer.upload_positions(&r.device, &r.queue, &scene.positions).map_err(js_err)?,
            }
        }
        if let Some((x, d, pad)) = scene.fit {
            self.camera.fit_flat(x, d, pad);
        }
        if what != Shown::Forward {
            self.forward.drop_view();
        }
        if what != Shown::Generated {
            self.generate.drop_view();
        }
        self.shown = what;
        self.positions = scene.positions;
        self.batch = scene.batch;
        self.energy = scene.energy;
        self.draw.past_t_star = scene.past_t_star;
        self.dirty = true;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        if self.compute.is_some() {
            "webgpu"
        } else {
            "cpu"
        }
    }

    #[cfg(feature = "nets")]
    /// Where a network trains: "webgpu" (burn on the page's WebGPU device, shared with our
    /// kernels and the viewer), "cpu" (burn's CPU backend), or "auto": WebGPU on a hardware
    /// adapter, the CPU when WebGPU is off or a software fallback (SwiftShader runs WebGPU on
    /// the CPU, and burn's CPU backend is faster there).
    fn network_compute(&mut self, want: &str) -> Result<Compute, String> {
        let software = self.software_adapter().unwrap_or(true);
        match want {
            "cpu" => Ok(Compute::Cpu),
            "auto" if software => Ok(Compute::Cpu),
            "webgpu" | "auto" => {
                let ctx = self.compute.clone().ok_or("WebGPU is not available in this page (the CPU backend is)")?;
                if self.burn_gpu.is_none() {
                    self.burn_gpu = Some(Compute::on_wgpu(&ctx.ctx).map_err(|e| e.to_string())?);
                }
                Ok(self.burn_gpu.clone().expect("set above"))
            }
            other => Err(format!("device must be \"auto\", \"webgpu\" or \"cpu\", got \"{other}\"")),
        }
    }
}

/// "webgpu" or "cpu", as the page names where a network runs.
#[cfg(feature = "nets")]
fn device_name(c: &Compute) -> &'static str {
    match c {
        Compute::Cpu => "cpu",
        Compute::Gpu(_) => "webgpu",
    }
}

#[derive(Serialize)]
struct State<'a> {
    api_version: u32,
    preset: &'a str,
    system: &'a str,
    backend: &'static str,
    adapter: Option<&'a str>,
    renderer: Option<&'a str>,
    notice: Option<&'a str>,
    n_atoms: usize,
    dim: usize,
    energy: f64,
    positions: &'a [f32],
    /// The fractions of the viewer's width and height the projected bounding box of
    /// `positions` (atom centres) spans.
    view_fill: [f32; 2],
    /// The viewer's look: "default" or "projector".
    style: &'static str,
    frames: u64,
    render_error: Option<&'a str>,
}

/// One playground bound to one canvas.
#[wasm_bindgen]
pub struct Playground {
    inner: Rc<RefCell<Inner>>,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

impl Playground {
    /// A GPU computation failed. A failed readback is what a lost device gives (during the
    /// page's start too, before its lost callback has fired), so the page moves to the CPU as
    /// [`frame`](Self::frame) does after a loss, and this returns true: the caller redoes its work
    /// on the CPU. Any other GPU error is the caller's to report (false).
    fn lost_during(&self, e: &GpuError) -> bool {
        if !matches!(e, GpuError::Readback(_)) {
            return false;
        }
        let reason = self.inner.borrow().lost.lock().ok().and_then(|mut f| f.take()).unwrap_or_else(|| e.to_string());
        self.fall_back_to_cpu(reason);
        true
    }

    /// Energies of `xs` on the page's WebGPU pass (its particle batch kept, for the viewer to
    /// draw from), or on the CPU oracle without WebGPU or when the device is lost during the pass.
    async fn energies_of(&self, sys: &System, xs: &[f32]) -> Result<(Vec<f64>, Option<ParticleBatch>), JsValue> {
        let compute = self.inner.borrow().compute.clone();
        if let Some(c) = compute {
            let batch = c.energy.new_batch(&c.ctx, sys, sys.check_batch_f32(xs).map_err(js_err)?).map_err(js_err)?;
            batch.upload(&c.ctx, xs);
            match c.energy.run(&c.ctx, &batch, false).await {
                Ok(mut out) => {
                    repair_non_finite(sys, xs, &mut out);
                    return Ok((out.energies, Some(batch)));
                }
                Err(e) if self.lost_during(&e) => {}
                Err(e) => return Err(js_err(e)),
            }
        }
        Ok((cpu_energies_grads(sys, xs, false).map_err(js_err)?.energies, None))
    }

    /// After a WebGPU device loss: compute moves to the CPU path and every panel keeps its
    /// state (the forward trajectory from the pass's CPU twin, a sampler run with CPU updates, a
    /// score network from its CPU copy); the viewer is rebuilt on a fresh device of the same
    /// canvas, or turned off with a notice.
    fn fall_back_to_cpu(&self, reason: String) {
        let mut s = self.inner.borrow_mut();
        let Some(c) = s.compute.take() else { return };
        s.batch = None;
        s.forward.move_to_cpu();
        s.generate.move_to_cpu();
        #[cfg(feature = "nets")]
        {
            s.burn_gpu = None;
            s.adjoint.device_lost();
        }
        s.notice = Some(format!("The GPU device was lost ({reason}): running on the CPU from here; what was on the page is kept"));
        s.changed = true;
        s.dirty = true;
        // the viewer stays in place, on its lost device, while a new device is found: the panels
        // go on setting molecules and positions in it (on a lost device the GPU side of those
        // calls does nothing, the viewer keeps its host copies), and `frame` draws nothing
        s.rebuilding_viewer = s.render.is_some();
        let rebuild = s.rebuilding_viewer;
        drop(s);
        if rebuild {
            let inner = self.inner.clone();
            let instance = c.ctx.instance.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let fresh = Screen::fresh_device(&instance).await;
                let mut s = inner.borrow_mut();
                s.rebuilding_viewer = false;
                let outcome = match (fresh, s.render.take()) {
                    (Ok(fresh), Some(old)) => old.on_device(fresh),
                    (Err(e), _) => Err(e),
                    (Ok(_), None) => Err("it was gone".into()),
                };
                match outcome {
                    Ok(mut r) => {
                        // a frame the lost viewer drew from GPU-held positions has no host copy:
                        // what the page shows is uploaded again (the panels' tracks re-show theirs)
                        let _ = r.viewer.upload_positions(&r.device, &r.queue, &s.positions);
                        s.render = Some(r);
                    }
                    Err(e) => {
                        let n = s.notice.take().unwrap_or_default();
                        s.notice = Some(format!("{n}; the viewer is off ({e})"));
                    }
                }
                s.changed = true;
                s.dirty = true;
            });
        }
    }
}

#[wasm_bindgen]
impl Playground {
    /// Starts the playground on `canvas`. `force_cpu` skips WebGPU (what the page does for
    /// `#backend=cpu`, and what happens by itself when no WebGPU adapter exists).
    pub async fn create(canvas: HtmlCanvasElement, force_cpu: bool) -> Result<Playground, JsValue> {
        let mut notice = None;
        let compute = if force_cpu {
            notice = Some("CPU backend requested — running on CPU".to_string());
            None
        } else {
            match GpuContext::new().await {
                Ok(ctx) => {
                    let kernel = EnergyKernel::new(&ctx.device);
                    Some(Rc::new(Gpu { ctx, energy: kernel }))
                }
                Err(e) => {
                    notice = Some(format!("WebGPU unavailable — running on CPU ({e})"));
                    None
                }
            }
        };
        let webgpu = compute.as_ref().map(|c| (&c.ctx.instance, &c.ctx.device, &c.ctx.queue, &c.ctx.adapter));
        let render = match Screen::for_canvas(canvas, webgpu).await {
            Ok(screen) => Some(screen),
            Err(e) => {
                let n = notice.take().map(|n| format!("{n}; ")).unwrap_or_default();
                notice = Some(format!("{n}the viewer is off ({e})"));
                None
            }
        };
        let lost = Arc::new(Mutex::new(None));
        if let Some(c) = &compute {
            let flag = lost.clone();
            c.ctx.device.set_device_lost_callback(move |reason, message| {
                if let Ok(mut f) = flag.lock() {
                    *f = Some(format!("{reason:?}: {message}"));
                }
            });
        }
        let system = System::lj13();
        let inner = Inner {
            compute,
            #[cfg(feature = "nets")]
            burn_gpu: None,
            render,
            notice,
            camera: Camera::default(),
            draw: DrawOptions::default(),
            shown: Shown::Nothing,
            positions: Vec::new(),
            system,
            batch: None,
            energy: f64::NAN,
            dirty: true,
            frames: 0,
            render_error: None,
            reference: Held::default(),
            reference_chunk: 1,
            loaded: None,
            forward: Default::default(),
            generate: Default::default(),
            #[cfg(feature = "nets")]
            molecules: Default::default(),
            #[cfg(feature = "nets")]
            adjoint: Default::default(),
            #[cfg(feature = "nets")]
            conformers: Default::default(),
            lost,
            changed: false,
            rebuilding_viewer: false,
            preset_loads: 0,
            style: "default",
        };
        Ok(Playground { inner: Rc::new(RefCell::new(inner)) })
    }

    /// "webgpu" when energies run on the GPU, "cpu" otherwise.
    pub fn backend(&self) -> String {
        self.inner.borrow().backend().into()
    }

    /// Everything shown, as a JSON-serialisable object.
    pub fn state(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let state = State {
            api_version: API_VERSION,
            preset: s.shown.name(),
            system: &s.system.name,
            backend: s.backend(),
            adapter: s.compute.as_ref().map(|c| c.ctx.summary.name.as_str()),
            renderer: s.render.as_ref().map(|r| r.api.as_str()),
            notice: s.notice.as_deref(),
            n_atoms: s.system.n,
            dim: s.system.d,
            energy: s.energy,
            positions: &s.positions,
            view_fill: s.camera.fill_flat(&s.positions, s.positions_dim()),
            style: s.style,
            frames: s.frames,
            render_error: s.render_error.as_deref(),
        };
        state.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
    }

    /// Shows a preset ("lj13", "lj55", "dw4" or any "lj<n>"): its low-energy configuration,
    /// with the energy computed by the active backend. Resolves to the energy, or null when a
    /// later call replaced this one before its relaxation (in slices between frames) finished.
    #[wasm_bindgen(js_name = loadPreset)]
    pub fn load_preset(&self, name: String) -> js_sys::Promise {
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let sys = System::by_name(&name).map_err(js_err)?;
            let (generation, showing) = {
                let mut s = pg.inner.borrow_mut();
                s.preset_loads += 1;
                (s.preset_loads, s.shown.clone())
            };
            // the relaxation in slices of ~30 ms with the event loop between them (an LJ-1024
            // link used to block the tab for seconds)
            let mut build = PresetBuild::new(&sys);
            while !build.advance_for(&sys, 30.0, now_ms) {
                later(0).await;
                if pg.inner.borrow().preset_loads != generation {
                    return Ok(JsValue::NULL); // a later loadPreset replaced this one
                }
            }
            let x: Vec<f32> = build.finish().iter().map(|&v| v as f32).collect();
            let (energies, batch) = pg.energies_of(&sys, &x).await?;
            let energy = energies[0];
            let inner = pg.inner;
            let mut s = inner.borrow_mut();
            // a later loadPreset, or another panel's view set while this one relaxed, wins
            if s.preset_loads != generation || s.shown != showing {
                return Ok(JsValue::NULL);
            }
            let s = &mut *s;
            let (styles, groups) = (AtomStyle::particles_of(&sys), [sys.n]);
            s.show(Shown::System(sys.name.clone()), Scene { atoms: Some((&styles, sys.d, &groups)), fit: Some((&x, sys.d, 0.6)), batch, energy, ..Scene::moved(x.clone()) })?;
            s.system = sys;
            Ok(JsValue::from_f64(energy))
        })
    }

    /// Energies of a batch of configurations of system `name` (flat, particle-major), on the
    /// active backend. Rejects with a clear message on bad input.
    pub fn energy(&self, name: String, flat: Vec<f64>) -> js_sys::Promise {
        let pg = Playground { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let sys = System::by_name(&name).map_err(js_err)?;
            sys.check_batch(&flat).map_err(js_err)?;
            let xs: Vec<f32> = flat.iter().map(|&v| v as f32).collect();
            let (energies, _) = pg.energies_of(&sys, &xs).await?;
            Ok(js_sys::Float64Array::from(energies.as_slice()).into())
        })
    }

    /// Times energy + gradient evaluation of `batch` perturbed configurations of `name`,
    /// `reps` times on each path (GPU first when there is one, then the CPU f64 oracle), and
    /// resolves to `app::bench::EnergyBench` (`molplay bench --json`'s rows).
    pub fn bench(&self, name: String, batch: usize, reps: usize) -> js_sys::Promise {
        let compute = self.inner.borrow().compute.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let sys = System::by_name(&name).map_err(js_err)?;
            let err = |e: AppError| js_err(format!("bench: {e}"));
            EnergyBench::check(&sys, batch, reps, BenchLimits::PAGE, |k| k.into()).map_err(err)?;
            let gpu = compute.as_deref().map(|g| (&g.ctx, &g.energy));
            to_js(&EnergyBench::run(gpu, &sys, batch, reps, now_ms).await.map_err(err)?)
        })
    }

    /// MCMC throughput on `name` with `chains` chains per level, `sweeps` timed sweeps per
    /// engine (the WebGPU pass when there is one, then the CPU): resolves to
    /// `app::bench::McmcBench` (`molplay bench-mcmc --json`'s rows).
    #[wasm_bindgen(js_name = benchMcmc)]
    pub fn bench_mcmc(&self, name: String, chains: usize, sweeps: usize) -> js_sys::Promise {
        let compute = self.inner.borrow().compute.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let sys = System::by_name(&name).map_err(js_err)?;
            let err = |e: AppError| js_err(format!("benchMcmc: {e}"));
            McmcBench::check(chains, sweeps, BenchLimits::PAGE, |k| k.into()).map_err(err)?;
            to_js(&McmcBench::run(compute.as_deref().map(|c| &c.ctx), &sys, chains, sweeps, now_ms).await.map_err(err)?)
        })
    }

    /// Draws a frame if anything changed. Call from requestAnimationFrame. Returns true when
    /// the backend or the renderer changed since the last call (after a WebGPU device loss):
    /// the page then shows its state again.
    pub fn frame(&self) -> bool {
        let lost = self.inner.borrow().lost.lock().ok().and_then(|mut f| f.take());
        if let Some(reason) = lost {
            self.fall_back_to_cpu(reason);
        }
        let mut s = self.inner.borrow_mut();
        let changed = std::mem::take(&mut s.changed);
        if !s.dirty {
            return changed;
        }
        let (camera, draw) = (s.camera, s.draw);
        if s.rebuilding_viewer {
            return changed; // its device is lost; a new one is on its way
        }
        let Some(r) = s.render.as_mut() else { return changed };
        if let Err(e) = r.draw(&camera, &draw) {
            s.render_error = Some(e);
            return changed; // try again next frame
        }
        s.dirty = false;
        s.frames += 1;
        changed
    }

    /// Destroys the WebGPU device, as a driver reset or a lost GPU would: what the page does
    /// then (`frame` falls back to the CPU, keeping the state) is testable and demonstrable.
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) -> Result<(), JsValue> {
        let s = self.inner.borrow();
        let c = s.compute.as_ref().ok_or_else(|| js_err("loseDevice: the page is not on WebGPU"))?;
        c.ctx.device.destroy();
        Ok(())
    }

    /// The canvas's drawing buffer changed size (device pixels).
    pub fn resize(&self, width: u32, height: u32) {
        let mut s = self.inner.borrow_mut();
        if let Some(r) = s.render.as_mut() {
            s.camera.aspect = r.resize(width, height);
        }
        s.dirty = true;
    }

    pub fn orbit(&self, dx: f32, dy: f32) {
        self.camera(|c, h| c.orbit(dx, dy, h));
    }

    pub fn pan(&self, dx: f32, dy: f32) {
        self.camera(|c, h| c.pan(dx, dy, h));
    }

    pub fn zoom(&self, factor: f32) {
        self.camera(|c, _| c.zoom(factor));
    }

    #[wasm_bindgen(js_name = resetView)]
    pub fn reset_view(&self) {
        let mut s = self.inner.borrow_mut();
        let s = &mut *s;
        s.camera = Camera { aspect: s.camera.aspect, ..Camera::default() };
        let d = s.positions_dim();
        s.camera.fit_flat(&s.positions, d, 0.6);
        s.dirty = true;
    }

    /// The viewer's look: "default", or "projector" (atoms and bonds drawn larger, for a hall's
    /// projector; the page adds larger type and full contrast).
    #[wasm_bindgen(js_name = setStyle)]
    pub fn set_style(&self, name: String) -> Result<(), JsValue> {
        let mut s = self.inner.borrow_mut();
        (s.draw.radius_scale, s.draw.bond_radius, s.style) = match name.as_str() {
            "default" => (1.0, 0.09, "default"),
            "projector" => (1.4, 0.14, "projector"),
            other => return Err(js_err(format!("setStyle: unknown style '{}': default or projector", crate::io::printable(other)))),
        };
        s.dirty = true;
        Ok(())
    }

    /// Enlarges the molecule (sample) drawn under the viewer position (`x`, `y`), fractions of
    /// its width and height from the top left: the camera frames that molecule alone. Returns
    /// the molecule's index in drawing order, or null when no atom is drawn there (or the view
    /// shows one molecule only). `resetView` (double-click) frames everything again.
    #[wasm_bindgen(js_name = focusAt)]
    pub fn focus_at(&self, x: f64, y: f64) -> JsValue {
        let mut s = self.inner.borrow_mut();
        if !(x.is_finite() && y.is_finite()) {
            return JsValue::NULL;
        }
        let d = s.positions_dim();
        let pts = crate::viewer::camera::points(&s.positions, d);
        let Some(groups) = s.render.as_ref().and_then(|r| r.viewer.groups()).map(<[usize]>::to_vec) else { return JsValue::NULL };
        let ndc = glam::Vec2::new((2.0 * x - 1.0) as f32, (1.0 - 2.0 * y) as f32);
        match s.camera.focus_group(&pts, &groups, ndc) {
            Some(k) => {
                s.dirty = true;
                JsValue::from_f64(k as f64)
            }
            None => JsValue::NULL,
        }
    }

    #[wasm_bindgen(js_name = setBonds)]
    pub fn set_bonds(&self, show: bool) {
        let mut s = self.inner.borrow_mut();
        s.draw.show_bonds = show;
        s.dirty = true;
    }

    /// Shows one configuration of `sys` in the viewer (setting the molecule if it changed, and
    /// framing it then or when `refit`).
    fn show_configuration(&self, sys: &System, x: &[f32], energy: f64, refit: bool) -> Result<(), JsValue> {
        let mut s = self.inner.borrow_mut();
        let s = &mut *s;
        // another panel's trajectory may hold the viewer even when the system is the same
        let changed = s.system.name != sys.name || s.shown != Shown::System(sys.name.clone()) || s.positions.len() != x.len();
        let (styles, groups) = (AtomStyle::particles_of(sys), [sys.n]);
        let scene = Scene { energy, ..Scene::moved(x.to_vec()) };
        let fit = (changed || refit).then_some((x, sys.d, 0.6));
        let scene = if changed { Scene { atoms: Some((&styles, sys.d, &groups)), fit, ..scene } } else { Scene { past_t_star: s.draw.past_t_star, fit, ..scene } };
        s.show(Shown::System(sys.name.clone()), scene)?;
        s.system = sys.clone();
        Ok(())
    }

    fn camera(&self, f: impl FnOnce(&mut Camera, f32)) {
        let mut s = self.inner.borrow_mut();
        let h = s.render.as_ref().map(|r| r.config.height as f32).unwrap_or(600.0);
        f(&mut s.camera, h);
        s.dirty = true;
    }
}

/// serde-wasm-bindgen reads only the fields it knows, so a misspelt option would be ignored
/// silently: refuse unknown keys by name instead.
fn check_keys(options: &JsValue, allowed: &[&str], what: &str) -> Result<(), JsValue> {
    if !options.is_object() {
        return Err(js_err(format!("{what}: options must be an object")));
    }
    for key in js_sys::Object::keys(options.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(js_err(format!("{what}: unknown option `{key}`; expected one of {}", allowed.join(", "))));
        }
    }
    Ok(())
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
}

/// A slice's time budget from the caller's milliseconds: 1 ms to 10 s, 30 ms when not a number.
fn slice_budget(budget_ms: f64) -> f64 {
    if budget_ms.is_finite() {
        budget_ms.clamp(1.0, 10_000.0)
    } else {
        30.0
    }
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

fn samples_object(sys: &System, xs: &[f64], energies: &[f64], file: Option<&str>) -> Result<JsValue, JsValue> {
    let o = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&o, &k.into(), v).map(|_| ());
    set("system", &sys.name.as_str().into())?;
    set("n", &(sys.n as f64).into())?;
    set("d", &(sys.d as f64).into())?;
    set("count", &(energies.len() as f64).into())?;
    set("positions", &js_sys::Float64Array::from(xs).into())?;
    set("energies", &js_sys::Float64Array::from(energies).into())?;
    // interatomic distances of at most 500 evenly spaced configurations (for the histogram)
    let shown = crate::metrics::subsample(xs, sys.dim(), energies.len().min(500));
    set("distances", &js_sys::Float64Array::from(crate::metrics::pairwise_distances(&shown, sys.n, sys.d).as_slice()).into())?;
    if let Some(f) = file {
        set("file", &f.into())?;
    }
    Ok(o.into())
}
