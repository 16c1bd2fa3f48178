//! Adjoint Sampling (Havens et al., ICML 2025; spec adjoint-sampling.md): a diffusion sampler for
//! exp(−E) learned from the energy alone by Reciprocal Adjoint Matching with a replay buffer.
//!
//! * Base process dX = σ(u) dW from a Dirac at 0, u ∈ [0, 1], geometric σ(u) = σ_min r^{1−u}
//!   √(2 ln r), r = σ_max/σ_min; ν(u) = σ_max²(1 − r^{−2u}), κ(u) = ν(u)/ν(1).
//! * Controlled process dX = σ(u)² v_θ(u, X) du + σ(u) dW, simulated by Euler–Maruyama on the
//!   uniform grid of `nfe` points, CoM-projected noise and state (no gradient).
//! * Adjoint a(X₁) = P[clip₁₀₀(∇E(X₁))] − X₁/ν(1): per-particle force clip, centred, plus the
//!   unclipped base score; computed once when X₁ enters the replay buffer.
//! * Loss: mean |v_θ(u, X_u) + a(X₁)|² over buffer items with fresh u ~ U[0,1] and a fresh
//!   bridge draw X_u = κ X₁ + √(ν(1) κ(1 − κ)) Pε; Adam.
//!
//! An epoch = `refresh_buffer` (N new samples, N energy-gradient evaluations, N(nfe − 1) network
//! evaluations) + `grad_steps` regression steps: many gradient steps per energy evaluation.

use crate::energies::{InputError, System};
use crate::geometry::remove_com;
use crate::gpu::energy::{EnergyError, EnergyKernel};
use crate::gpu::GpuContext;
use crate::models::{read_container, read_vec, tensor3, to_vec, write_container, Compute, EgnnConfig, ModelError, Network};
use crate::rng::XorShift64;
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Bounds of an Adjoint Sampling configuration ([`AdjointConfig::validate`]); the paper's
/// settings are nfe 1000, 512 new samples and batch 512, buffer 10 000, 100 gradient steps.
pub const MAX_ADJOINT_PARTICLES: usize = 64;
pub const MAX_ADJOINT_NFE: usize = 10_000;
pub const MAX_ADJOINT_BATCH: usize = 4096;
pub const MAX_ADJOINT_BUFFER: usize = 100_000;
pub const MAX_ADJOINT_GRAD_STEPS: usize = 100_000;

/// Version of the Adjoint Sampling weights format (header + network weights).
pub const ADJOINT_WEIGHTS_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"MOLPLAYA";

/// Why a configuration was refused or the learner's work failed. Messages are shown to users as
/// they are; a lost GPU stays matchable below [`Energy`](Self::Energy) (the energy pass,
/// [`GpuError::Readback`](crate::gpu::GpuError::Readback)) and [`Model`](Self::Model) (the
/// controller's read-backs, [`ModelError::Readback`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AdjointError {
    /// The system's name, or a batch the energy refused.
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("the paper configuration covers dw4, lj13 and lj55, not {0}")]
    NoPaperConfig(String),
    #[error("unknown configuration '{0}': use paper or demo")]
    UnknownConfig(String),
    /// A `name=value` override that cannot apply, in words.
    #[error("{0}")]
    Override(String),
    /// A configuration no learner of ours has ([`AdjointConfig::validate`]): what is wrong.
    #[error("implausible Adjoint Sampling configuration: {0}")]
    Implausible(String),
    #[error("the copy is not this learner's network")]
    NotThisNetwork,
    #[error("the sampler's states exploded at u = {u:.3} (|x| = {norm:.3e}): the controller diverged")]
    Exploded { u: f64, norm: f64 },
    #[error("non-finite energy gradient in the adjoint")]
    NonFiniteGradient,
    /// The controller network (a diverged step, a failed read-back).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The GPU energy pass of a buffer refresh.
    #[error(transparent)]
    Energy(#[from] EnergyError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdjointConfig {
    /// "dw4", "lj13", "lj55" (any system molplay knows).
    pub system: String,
    pub sigma_min: f64,
    pub sigma_max: f64,
    /// Integration points of the simulation grid (nfe − 1 Euler–Maruyama steps).
    pub nfe: usize,
    /// New SDE samples (= energy-gradient evaluations) per epoch.
    pub new_per_epoch: usize,
    /// Regression (gradient) steps per epoch.
    pub grad_steps: usize,
    pub batch: usize,
    /// Replay buffer capacity (keeps the most recent).
    pub buffer: usize,
    pub lr: f64,
    pub hidden: usize,
    pub layers: usize,
    /// Per-particle norm limit of ∇E in the adjoint.
    pub clip: f64,
    /// Decay of an exponential moving average of the controller's weights, updated after every
    /// gradient step k with decay min(ema, (1 + k)/(10 + k)) (e.g. 0.999); 0: none. With one, evaluations, samples and the weights a
    /// preset ships are the average's, while buffer refreshes simulate the trained weights.
    #[serde(default)]
    pub ema: f64,
    /// The controller's EGNN gates its messages ([`EgnnConfig::attention`]), as the official
    /// code's does. Files written before the field existed: false (the network they hold).
    #[serde(default)]
    pub attention: bool,
    /// The controller's EGNN sees the input pair distances in every layer
    /// ([`EgnnConfig::input_distances`]), as the official code's does. Older files: false.
    #[serde(default)]
    pub input_distances: bool,
}

impl AdjointConfig {
    /// The spec's table (§1.2, §1.6): what the published numbers were trained with.
    pub fn paper(system: &str) -> Result<Self, AdjointError> {
        let sys = System::by_name(system)?;
        let (sigma_max, nfe, n_new, batch) = match sys.name.as_str() {
            "dw4" => (1.5, 200, 512, 512),
            "lj13" => (2.0, 1000, 512, 512),
            "lj55" => (2.0, 1000, 200, 200),
            other => return Err(AdjointError::NoPaperConfig(other.to_string())),
        };
        Ok(AdjointConfig {
            system: sys.name,
            sigma_min: 1e-3,
            sigma_max,
            nfe,
            new_per_epoch: n_new,
            grad_steps: 100,
            batch,
            buffer: 10_000,
            lr: 1e-4,
            hidden: 128,
            layers: 5,
            clip: 100.0,
            ema: 0.0,
            attention: true,
            input_distances: true,
        })
    }

    /// Small enough to learn visibly in minutes on a CPU or in a page: a smaller network and
    /// batch, fewer integration points, a larger learning rate; same schedule, loss and clip.
    pub fn demo(system: &str) -> Result<Self, AdjointError> {
        let mut c = Self::paper(system)?;
        c.nfe = if c.system == "dw4" { 100 } else { 200 };
        c.new_per_epoch = 64;
        c.grad_steps = 20;
        c.batch = 64;
        c.buffer = 2000;
        c.lr = 1e-3;
        c.hidden = 32;
        c.layers = 3;
        Ok(c)
    }

    /// This configuration with `name=value` overrides (any field but `system`, e.g.
    /// `hidden=64`, `lr=3e-4`, `grad_steps=50`): what a recipe sweep varies. Validated.
    pub fn with_overrides(self, overrides: &[String]) -> Result<Self, AdjointError> {
        let mut v = serde_json::to_value(&self).map_err(|e| AdjointError::Override(e.to_string()))?;
        for o in overrides {
            let (name, value) = o.split_once('=').ok_or_else(|| AdjointError::Override(format!("--set {o}: expected name=value")))?;
            let (name, value) = (name.trim(), value.trim());
            let slot = match v.get_mut(name) {
                Some(slot) if name != "system" => slot,
                _ => {
                    return Err(AdjointError::Override(format!(
                        "--set {name}: not a configuration field (sigma_min, sigma_max, nfe, new_per_epoch, grad_steps, batch, buffer, lr, hidden, layers, clip, ema, attention, input_distances)"
                    )))
                }
            };
            if slot.is_boolean() {
                *slot = serde_json::Value::Bool(match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(AdjointError::Override(format!("--set {name}={value}: expected true or false"))),
                });
                continue;
            }
            let not_a_number = || AdjointError::Override(format!("--set {name}={value}: not a number"));
            let number: serde_json::Value = serde_json::from_str(value).map_err(|_| not_a_number())?;
            if !number.is_number() || number.as_f64().is_some_and(|x| !x.is_finite()) {
                return Err(not_a_number());
            }
            *slot = number;
        }
        let c: AdjointConfig = serde_json::from_value(v).map_err(|e| AdjointError::Override(format!("--set: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    pub fn by_name(config: &str, system: &str) -> Result<Self, AdjointError> {
        match config {
            "paper" => Self::paper(system),
            "demo" => Self::demo(system),
            other => Err(AdjointError::UnknownConfig(other.to_string())),
        }
    }

    /// Refuses configurations no learner of ours has (from a corrupt or hostile file), before
    /// anything is sized from them: at most [`MAX_ADJOINT_PARTICLES`] particles, the counts
    /// within the `MAX_ADJOINT_*` bounds, and one simulation or regression batch within
    /// [`MAX_PAIR_WORK`](crate::models::MAX_PAIR_WORK) pair entries.
    pub fn validate(&self) -> Result<(), AdjointError> {
        let sys = System::by_name(&self.system)?;
        if sys.n > MAX_ADJOINT_PARTICLES {
            return Err(AdjointError::Implausible(format!("{} has {} particles, more than the {MAX_ADJOINT_PARTICLES} Adjoint Sampling is set up for (dw4, lj13, lj55)", sys.name, sys.n)));
        }
        for (what, value, max) in [
            ("nfe", self.nfe, MAX_ADJOINT_NFE),
            ("new_per_epoch", self.new_per_epoch, MAX_ADJOINT_BATCH),
            ("batch", self.batch, MAX_ADJOINT_BATCH),
            ("buffer", self.buffer, MAX_ADJOINT_BUFFER),
            ("grad_steps", self.grad_steps, MAX_ADJOINT_GRAD_STEPS),
        ] {
            if value > max {
                return Err(AdjointError::Implausible(format!("{what} {value} is above {max}")));
            }
        }
        // u64: the product of bounded counts can pass 2³² (wasm32's usize)
        let pairs = (self.new_per_epoch.max(self.batch) * sys.n * sys.n) as u64 * self.hidden.min(1024) as u64;
        if pairs > crate::models::MAX_PAIR_WORK as u64 {
            return Err(AdjointError::Implausible(format!(
                "batches of {} {} configurations with hidden {} need {pairs} pair entries, more than {}",
                self.new_per_epoch.max(self.batch),
                sys.name,
                self.hidden,
                crate::models::MAX_PAIR_WORK
            )));
        }
        let ok = self.sigma_min > 0.0
            && self.sigma_max > self.sigma_min
            && self.sigma_max.is_finite()
            && self.nfe >= 2
            && self.new_per_epoch >= 1
            && self.batch >= 1
            && self.buffer >= self.new_per_epoch
            && self.lr > 0.0
            && self.lr < 1.0
            && (1..=1024).contains(&self.hidden)
            && (1..=16).contains(&self.layers)
            && self.clip > 0.0
            && self.clip.is_finite()
            && (0.0..1.0).contains(&self.ema);
        if ok {
            Ok(())
        } else {
            Err(AdjointError::Implausible(format!("{self:?}")))
        }
    }

    fn network(&self, sys: &System) -> EgnnConfig {
        EgnnConfig { coord_range: Some(15.0), attention: self.attention, input_distances: self.input_distances, ..EgnnConfig::identical(sys.n, self.hidden, self.layers, 1.0) }
    }
}

/// The geometric base process of Adjoint Sampling, on the unit clock u ∈ [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeometricNoise {
    pub sigma_min: f64,
    pub sigma_max: f64,
}

impl GeometricNoise {
    fn r(&self) -> f64 {
        self.sigma_max / self.sigma_min
    }

    /// σ(u), largest at u = 0.
    pub fn sigma(&self, u: f64) -> f64 {
        let r = self.r();
        self.sigma_min * r.powf(1.0 - u) * (2.0 * r.ln()).sqrt()
    }

    /// ν(u) = ∫₀ᵘ σ² = σ_max²(1 − r^{−2u}).
    pub fn nu(&self, u: f64) -> f64 {
        self.sigma_max * self.sigma_max * (1.0 - self.r().powf(-2.0 * u))
    }

    /// κ(u) = ν(u)/ν(1): the bridge's weight on X₁.
    pub fn kappa(&self, u: f64) -> f64 {
        self.nu(u) / self.nu(1.0)
    }
}

/// Counters of the method's costs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    pub epochs: usize,
    pub energy_evaluations: usize,
    pub model_evaluations: usize,
    pub gradient_steps: usize,
    pub buffer: usize,
}

/// One evaluation during training: fresh samples' energies, and W2s against a reference set
/// when one was given.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub epoch: usize,
    /// Wall time of the whole run so far, every session together (s).
    pub seconds: f64,
    /// The epoch's mean regression loss.
    pub loss: f64,
    pub samples: usize,
    pub energy_mean: f64,
    pub energy_sd: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_w2: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_w2: Option<f64>,
    /// What this evaluation cost (s; included in `seconds`).
    pub eval_seconds: f64,
    pub counters: Counters,
}

/// A training run's history across sessions, kept in every controller file: the mean loss of
/// each epoch, the evaluations, and the wall time spent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    pub losses: Vec<f64>,
    pub evaluations: Vec<Evaluation>,
    pub seconds: f64,
}

/// The header of a controller file. `state` is there in a checkpoint (an exact resume point):
/// the payload then holds, after the weights, the optimiser's state and the replay buffer.
#[derive(Serialize, Deserialize)]
struct Header {
    config: AdjointConfig,
    #[serde(default)]
    counters: Option<Counters>,
    #[serde(default)]
    history: History,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StateHeader>,
}

#[derive(Serialize, Deserialize)]
struct StateHeader {
    /// The sampler's xorshift state.
    rng: u64,
    /// The buffer's next slot to overwrite, and how many items it holds.
    next: usize,
    buffer_items: usize,
    /// Byte lengths of the payload's sections: weights, then optimiser state (0: none yet),
    /// then the buffer (items × (X₁, a) × dim f64, little-endian).
    weights_len: usize,
    optimizer_len: usize,
    /// Then the weights' moving average (0: none yet, or none configured).
    #[serde(default)]
    average_len: usize,
    param_ids: Vec<u64>,
    network_steps: usize,
}

/// A controlled-SDE simulation in progress: the states, and the first `keep` samples' frames.
pub struct Simulation {
    /// Whether it runs the weights' moving average (the sampler one evaluates and shows) rather
    /// than the weights being trained (a buffer refresh); the same without an average.
    pub averaged: bool,
    pub xs: Vec<f64>,
    pub frames: Vec<f64>,
    pub keep: usize,
    pub step: usize,
    pub steps: usize,
}

impl Simulation {
    pub fn done(&self) -> bool {
        self.step >= self.steps
    }
}

/// The learner: system, controller network, replay buffer and counters.
pub struct AdjointSampler {
    pub config: AdjointConfig,
    pub system: System,
    pub noise: GeometricNoise,
    net: Network,
    /// The moving average of `net`'s weights (`config.ema` > 0; from the first gradient step).
    average: Option<Network>,
    /// Ring buffer of (X₁, a(X₁)), each `dim` long.
    items: Vec<(Vec<f64>, Vec<f64>)>,
    next: usize,
    rng: XorShift64,
    pub counters: Counters,
    /// Losses and evaluations so far (kept in the controller's file).
    pub history: History,
    /// Whether this learner was read from a checkpoint and so continues exactly (its buffer,
    /// optimiser and random numbers as they were).
    resumed_exactly: bool,
    /// Where buffer refreshes evaluate ∇E: our WGSL kernel on this device, or (None) the f64
    /// CPU path.
    energy_gpu: Option<(GpuContext, EnergyKernel)>,
    /// Threads for the CPU controller's batches (simulation and regression split into
    /// [`parallel::parts`](crate::parallel::parts); results do not depend on it).
    threads: usize,
}

impl AdjointSampler {
    pub fn new(config: AdjointConfig, seed: u64) -> Result<Self, AdjointError> {
        Self::new_on(config, seed, &Compute::Cpu)
    }

    /// A fresh learner whose controller runs on `compute` (same initial weights as on the CPU).
    pub fn new_on(config: AdjointConfig, seed: u64, compute: &Compute) -> Result<Self, AdjointError> {
        config.validate()?;
        let system = System::by_name(&config.system)?;
        let net = Network::new_on(config.network(&system), seed, compute);
        Ok(Self::with_network(config, system, net, seed))
    }

    /// A learner around a controller built elsewhere (fresh, or read from a file); empty buffer.
    fn with_network(config: AdjointConfig, system: System, net: Network, seed: u64) -> Self {
        let noise = GeometricNoise { sigma_min: config.sigma_min, sigma_max: config.sigma_max };
        AdjointSampler {
            config,
            system,
            noise,
            net,
            average: None,
            items: Vec::new(),
            next: 0,
            rng: XorShift64::new(seed ^ 0xAD701),
            counters: Counters::default(),
            history: History::default(),
            resumed_exactly: false,
            energy_gpu: None,
            threads: crate::parallel::default_threads(),
        }
    }

    /// Moves the controller to `compute` (weights kept, the optimiser restarts).
    pub fn move_to(&mut self, compute: &Compute) {
        self.net.move_to(compute);
        if let Some(average) = &mut self.average {
            average.move_to(compute);
        }
    }

    /// A CPU copy of the controller (read back asynchronously from a GPU).
    pub async fn snapshot(&self) -> Result<Network, ModelError> {
        self.net.snapshot().await
    }

    /// A copy of the controller while it is on the CPU (a sync read); None on a GPU (there:
    /// [`snapshot`](Self::snapshot)).
    pub fn cpu_copy(&self) -> Option<Network> {
        if !matches!(self.net.compute(), Compute::Cpu) {
            return None;
        }
        Network::from_bytes(&self.net.to_bytes().ok()?, None).ok()
    }

    /// Goes on with `copy` as the controller (a [`snapshot`](Self::snapshot), e.g. after the
    /// GPU it ran on was lost); the optimiser restarts. Refuses a network of another shape.
    pub fn continue_with(&mut self, copy: Network) -> Result<(), AdjointError> {
        if copy.config != self.net.config {
            return Err(AdjointError::NotThisNetwork);
        }
        self.net = copy;
        // an average on a lost device is gone with it: it starts again from these weights
        self.average = None;
        Ok(())
    }

    /// The network that samples: the weights' moving average when there is one, else the
    /// trained weights.
    fn sampling_net(&self) -> &Network {
        self.average.as_ref().unwrap_or(&self.net)
    }

    /// Threads for the CPU controller's batches (at least 1; default every core). Results do
    /// not depend on it: batches are cut into the same parts whatever the threads.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Where the controller runs.
    pub fn compute(&self) -> &Compute {
        self.net.compute()
    }

    /// Puts back the controller from before the latest gradient step.
    pub fn revert(&mut self) {
        self.net.revert();
    }

    /// Restarts the sampler's random numbers (simulation noise, minibatches, bridge draws).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = XorShift64::new(seed ^ 0xAD701);
    }

    /// v_θ(u, x) for a batch of flat configurations, one u each.
    fn drift_tensor(&self, xs: &[f64], us: &[f64]) -> Tensor<3> {
        self.drift_with(&self.net.model, self.net.device(), xs, us)
    }

    /// v_θ with a given copy of the network (the autodiff one to train, an inference one to
    /// simulate).
    fn drift_with(&self, model: &crate::models::Egnn, dev: &burn::tensor::Device, xs: &[f64], us: &[f64]) -> Tensor<3> {
        let (n, d) = (self.system.n, self.system.d);
        let b = us.len();
        let feats: Tensor<3> = Tensor::ones([b, n, 1], dev);
        let t: Tensor<2> = Tensor::from_data(TensorData::new(us.iter().map(|&u| u as f32).collect::<Vec<f32>>(), [b, 1]), dev);
        model.forward_with(tensor3(xs, b, n, d, dev), feats, t, self.net.config.coord_range)
    }

    fn centred_normals(&mut self, count: usize) -> Vec<f64> {
        let per = self.system.dim();
        let mut z: Vec<f64> = (0..count * per).map(|_| self.rng.normal()).collect();
        z.chunks_mut(per).for_each(|c| remove_com(c, self.system.d));
        z
    }

    /// Simulates `count` samples of the controlled SDE from 0 to 1 (no gradient). With `keep` > 0
    /// also returns the trajectory of the first `keep` samples (nfe frames). Fails on exploding
    /// or non-finite states. More samples than [`max_simulation_batch`](Self::max_simulation_batch)
    /// are simulated one such batch after the other, so the pair tensors stay within
    /// [`MAX_PAIR_WORK`](crate::models::MAX_PAIR_WORK) (fewer are one batch, as always).
    /// The sampler's simulation: the weights' moving average when there is one.
    pub async fn simulate(&mut self, count: usize, keep: usize) -> Result<(Vec<f64>, Vec<f64>), AdjointError> {
        self.simulate_with(count, keep, true).await
    }

    async fn simulate_with(&mut self, count: usize, keep: usize, averaged: bool) -> Result<(Vec<f64>, Vec<f64>), AdjointError> {
        let batch = self.max_simulation_batch();
        let mut sim = Simulation { averaged, ..self.start_simulation(count.min(batch), keep) };
        self.advance_simulation(&mut sim, usize::MAX).await?;
        let (mut xs, frames) = (sim.xs, sim.frames);
        while xs.len() < count * self.system.dim() {
            let done = xs.len() / self.system.dim();
            let mut more = Simulation { averaged, ..self.start_simulation((count - done).min(batch), 0) };
            self.advance_simulation(&mut more, usize::MAX).await?;
            xs.extend(more.xs);
        }
        Ok((xs, frames))
    }

    /// Like [`simulate`](Self::simulate), with its own random numbers from `seed` and outside
    /// the counters: an evaluation leaves the training run's random stream and its cost as they
    /// were, so evaluating (or not) never changes what training does or what it reports.
    pub async fn simulate_detached(&mut self, count: usize, seed: u64) -> Result<Vec<f64>, AdjointError> {
        let training = std::mem::replace(&mut self.rng, XorShift64::new(seed ^ 0xE7A1));
        let evaluations = self.counters.model_evaluations;
        let out = self.simulate(count, 0).await;
        self.rng = training;
        self.counters.model_evaluations = evaluations;
        out.map(|(xs, _)| xs)
    }

    /// Whether this learner came from a checkpoint and continues exactly where it stopped.
    pub fn resumed_exactly(&self) -> bool {
        self.resumed_exactly
    }

    /// Most samples one simulation should take: its pair tensors (count × n² × hidden) within
    /// [`MAX_PAIR_WORK`](crate::models::MAX_PAIR_WORK); more samples are simulated in batches.
    pub fn max_simulation_batch(&self) -> usize {
        self.net.config.max_batch()
    }

    /// A simulation to advance a few steps at a time ([`advance_simulation`](Self::advance_simulation)),
    /// of the weights being trained (a buffer refresh's; set `averaged` for the average's).
    pub fn start_simulation(&self, count: usize, keep: usize) -> Simulation {
        let keep = keep.min(count);
        let xs = vec![0.0; count * self.system.dim()];
        let frames = xs[..keep * self.system.dim()].to_vec();
        Simulation { averaged: false, xs, frames, keep, step: 0, steps: self.config.nfe - 1 }
    }

    /// Takes up to `steps` Euler–Maruyama steps of `sim`.
    pub async fn advance_simulation(&mut self, sim: &mut Simulation, steps: usize) -> Result<(), AdjointError> {
        let per = self.system.dim();
        let dt = 1.0 / sim.steps as f64;
        let count = sim.xs.len() / per;
        // bigger than any sensible sample of these systems (LJ-55's radius is ~3)
        let limit = 1e3 * (self.system.n as f64).sqrt();
        let end = sim.step.saturating_add(steps).min(sim.steps);
        let (model, dev) = if sim.averaged { self.sampling_net().inference() } else { self.net.inference() };
        while sim.step < end {
            let u = sim.step as f64 * dt;
            let s = self.noise.sigma(u);
            let v = match self.net.compute() {
                // on the CPU the batch runs in parts, on every thread
                Compute::Cpu => {
                    let xs = &sim.xs;
                    let parts = crate::parallel::parts(count);
                    let drift = crate::parallel::map_parts(parts.len(), self.threads, |p| {
                        let r = parts[p].clone();
                        to_vec(self.drift_with(&model, &dev, &xs[r.start * per..r.end * per], &vec![u; r.len()]))
                    });
                    drift.concat()
                }
                Compute::Gpu(_) => read_vec(self.drift_with(&model, &dev, &sim.xs, &vec![u; count])).await?,
            };
            self.counters.model_evaluations += count;
            let z = self.centred_normals(count);
            for ((x, vi), zi) in sim.xs.iter_mut().zip(&v).zip(&z) {
                *x += s * s * vi * dt + s * dt.sqrt() * zi;
            }
            for x in sim.xs.chunks_mut(per) {
                remove_com(x, self.system.d);
                let r2: f64 = x.iter().map(|v| v * v).sum();
                if !r2.is_finite() || r2.sqrt() > limit {
                    return Err(AdjointError::Exploded { u, norm: r2.sqrt() });
                }
            }
            sim.frames.extend_from_slice(&sim.xs[..sim.keep * per]);
            sim.step += 1;
        }
        Ok(())
    }

    /// Buffer refreshes evaluate energies and forces with our GPU kernel on `ctx` (f32, with
    /// the kernel's f64 repair of non-finite rows) instead of the CPU path.
    pub fn use_gpu_energies(&mut self, ctx: GpuContext, kernel: EnergyKernel) {
        self.energy_gpu = Some((ctx, kernel));
    }

    /// Stops using the GPU for energies (its device was lost).
    pub fn drop_gpu_energies(&mut self) {
        self.energy_gpu = None;
    }

    /// The replay buffer: (X₁, a(X₁)) pairs, oldest overwritten first once full.
    pub fn buffer(&self) -> &[(Vec<f64>, Vec<f64>)] {
        &self.items
    }

    /// Where refreshes evaluate ∇E: "gpu" or "cpu".
    pub fn energy_engine(&self) -> &'static str {
        if self.energy_gpu.is_some() {
            "gpu"
        } else {
            "cpu"
        }
    }

    /// A refresh: energies and forces of a finished simulation's samples (on the GPU kernel
    /// when set), their adjoints into the buffer; returns the energies.
    pub async fn refresh_with(&mut self, x1: &[f64]) -> Result<Vec<f64>, AdjointError> {
        let (energies, grads) = match &self.energy_gpu {
            Some((ctx, kernel)) => {
                let xs: Vec<f32> = x1.iter().map(|&v| v as f32).collect();
                let out = kernel.evaluate(ctx, &self.system, &xs, true).await?;
                (out.energies, out.grads)
            }
            None => self.system.energies_grads(x1)?,
        };
        let a = self.adjoint_of(x1, grads)?;
        self.push_adjoints(x1, &a);
        Ok(energies)
    }

    /// Puts a finished simulation's samples with their adjoints in the buffer (a refresh, on
    /// the CPU path).
    pub fn push_samples(&mut self, x1: &[f64]) -> Result<(), AdjointError> {
        let a = self.adjoint(x1)?;
        self.push_adjoints(x1, &a);
        Ok(())
    }

    fn push_adjoints(&mut self, x1: &[f64], a: &[f64]) {
        let per = self.system.dim();
        for (x, g) in x1.chunks(per).zip(a.chunks(per)) {
            if self.items.len() < self.config.buffer {
                self.items.push((x.to_vec(), g.to_vec()));
            } else {
                self.items[self.next] = (x.to_vec(), g.to_vec());
            }
            self.next = (self.next + 1) % self.config.buffer;
        }
        self.counters.buffer = self.items.len();
    }

    /// a(X₁) = P[clip(∇E)] − X₁/ν(1) for a batch (counts one energy evaluation per sample).
    pub fn adjoint(&mut self, x1: &[f64]) -> Result<Vec<f64>, AdjointError> {
        let (_, g) = self.system.energies_grads(x1)?;
        self.adjoint_of(x1, g)
    }

    /// The adjoint from the energy gradients `g` of `x1` (counts the energy evaluations).
    fn adjoint_of(&mut self, x1: &[f64], mut g: Vec<f64>) -> Result<Vec<f64>, AdjointError> {
        self.counters.energy_evaluations += x1.len() / self.system.dim();
        let d = self.system.d;
        for p in g.chunks_mut(d) {
            let norm = p.iter().map(|v| v * v).sum::<f64>().sqrt();
            let f = (self.config.clip / (norm + 1e-6)).min(1.0);
            p.iter_mut().for_each(|v| *v *= if f.is_finite() { f } else { 0.0 });
        }
        let nu1 = self.noise.nu(1.0);
        let per = self.system.dim();
        for (gc, xc) in g.chunks_mut(per).zip(x1.chunks(per)) {
            remove_com(gc, d);
            gc.iter_mut().zip(xc).for_each(|(a, x)| *a -= x / nu1);
        }
        if g.iter().any(|v| !v.is_finite()) {
            return Err(AdjointError::NonFiniteGradient);
        }
        Ok(g)
    }

    /// Simulates `new_per_epoch` samples and puts them with their adjoints in the buffer.
    pub async fn refresh_buffer(&mut self) -> Result<(), AdjointError> {
        let (x1, _) = self.simulate_with(self.config.new_per_epoch, 0, false).await?;
        self.refresh_with(&x1).await.map(|_| ())
    }

    /// One RAM regression step on a minibatch drawn uniformly from the buffer.
    pub async fn regression_step(&mut self) -> Result<f64, ModelError> {
        if self.items.is_empty() {
            return Err(ModelError::Input("the replay buffer is empty: refresh it first".into()));
        }
        let per = self.system.dim();
        let b = self.config.batch;
        let nu1 = self.noise.nu(1.0);
        let eps = self.centred_normals(b);
        let (mut xt, mut target, mut us) = (Vec::with_capacity(b * per), Vec::with_capacity(b * per), Vec::with_capacity(b));
        for e in eps.chunks(per) {
            let (x1, a) = &self.items[self.rng.below(self.items.len())];
            let u = self.rng.uniform();
            let k = self.noise.kappa(u);
            let sd = (nu1 * k * (1.0 - k)).max(0.0).sqrt();
            xt.extend(x1.iter().zip(e).map(|(x, z)| k * x + sd * z));
            target.extend_from_slice(a);
            us.push(u);
        }
        let (n, d) = (self.system.n, self.system.d);
        let value = match self.net.compute() {
            // on the CPU: the minibatch in parts, each part's loss (its share of the mean) and
            // gradients on a thread, the gradients summed
            Compute::Cpu => {
                let parts = crate::parallel::parts(b);
                let dev = self.net.device();
                let share = 1.0 / (b * per) as f64;
                let grads = crate::parallel::map_parts(parts.len(), self.threads, |p| {
                    let model = &self.net.parameters_copy();
                    let r = parts[p].clone();
                    let (rows, len) = (r.start * per..r.end * per, r.len());
                    let pred = self.drift_with(model, dev, &xt[rows.clone()], &us[r]);
                    let loss = (pred + tensor3(&target[rows], len, n, d, dev)).powf_scalar(2.0).sum() * share;
                    let value = loss.clone().into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).map_or(f64::NAN, f64::from);
                    (value, GradientsParams::from_grads(loss.backward(), model))
                });
                self.net.apply_parts(grads, self.config.lr)?
            }
            Compute::Gpu(_) => {
                let pred = self.drift_tensor(&xt, &us);
                let loss = (pred + tensor3(&target, b, n, d, self.net.device())).powf_scalar(2.0).mean();
                self.net.apply(loss, self.config.lr).await?
            }
        };
        if self.config.ema > 0.0 {
            // warmed up as is usual, min(ema, (1 + k)/(10 + k)) at step k: a plain 0.999 would
            // still give the first weights 60 % of the average after 500 steps
            let k = self.net.steps as f64;
            let decay = self.config.ema.min((1.0 + k) / (10.0 + k));
            let average = self.average.get_or_insert_with(|| self.net.weights_copy());
            average.average_towards(&self.net, decay);
        }
        self.counters.gradient_steps += 1;
        Ok(value)
    }

    /// One epoch: refresh the buffer, then `grad_steps` regression steps; the mean loss.
    pub async fn epoch(&mut self) -> Result<f64, AdjointError> {
        self.refresh_buffer().await?;
        let mut total = 0.0;
        for _ in 0..self.config.grad_steps {
            total += self.regression_step().await?;
        }
        self.counters.epochs += 1;
        let loss = total / self.config.grad_steps.max(1) as f64;
        self.history.losses.push(loss);
        Ok(loss)
    }

    /// Header (magic, version, configuration, counters, history) + the sampler's weights (the
    /// moving average when there is one; read back asynchronously from a GPU): what a preset
    /// ships.
    pub async fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let weights = Self::weights(self.sampling_net()).await?;
        let header = Header { config: self.config.clone(), counters: Some(self.counters.clone()), history: self.history.clone(), state: None };
        let meta = serde_json::to_vec(&header).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        Ok(write_container(MAGIC, ADJOINT_WEIGHTS_VERSION, &meta, &weights))
    }

    async fn weights(net: &Network) -> Result<Vec<u8>, ModelError> {
        match net.compute() {
            Compute::Cpu => net.to_bytes(),
            Compute::Gpu(_) => net.snapshot().await?.to_bytes(),
        }
    }

    /// An exact resume point: [`to_bytes`](Self::to_bytes) plus the optimiser's state, the
    /// replay buffer and the random generator's state, so [`from_bytes`](Self::from_bytes)
    /// continues bit for bit as if the run had never stopped. (The optimiser state is read
    /// synchronously: natively on any device, in the browser only on the CPU.)
    pub async fn checkpoint_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let weights = Self::weights(&self.net).await?;
        let average = match &self.average {
            Some(average) => Self::weights(average).await?,
            None => Vec::new(),
        };
        let (optimizer, param_ids, network_steps) = match self.net.training_state()? {
            Some(t) => (t.optimizer, t.param_ids, t.steps),
            None => (Vec::new(), Vec::new(), self.net.steps),
        };
        let state = StateHeader {
            rng: self.rng.state(),
            next: self.next,
            buffer_items: self.items.len(),
            weights_len: weights.len(),
            optimizer_len: optimizer.len(),
            average_len: average.len(),
            param_ids,
            network_steps,
        };
        let header = Header { config: self.config.clone(), counters: Some(self.counters.clone()), history: self.history.clone(), state: Some(state) };
        let meta = serde_json::to_vec(&header).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        let per = self.system.dim();
        let mut payload = Vec::with_capacity(weights.len() + optimizer.len() + average.len() + self.items.len() * 2 * per * 8);
        payload.extend_from_slice(&weights);
        payload.extend_from_slice(&optimizer);
        payload.extend_from_slice(&average);
        for (x, a) in &self.items {
            for v in x.iter().chain(a) {
                payload.extend_from_slice(&v.to_le_bytes());
            }
        }
        Ok(write_container(MAGIC, ADJOINT_WEIGHTS_VERSION, &meta, &payload))
    }

    /// Reads a controller written by [`to_bytes`](Self::to_bytes) (weights, counters and history;
    /// the buffer starts empty) or a checkpoint written by
    /// [`checkpoint_bytes`](Self::checkpoint_bytes) (everything, [`resumed_exactly`](Self::resumed_exactly));
    /// `system` (if given) must match. Every size is checked against the payload before
    /// anything is allocated from it.
    pub fn from_bytes(bytes: &[u8], system: Option<&str>) -> Result<Self, ModelError> {
        if bytes.starts_with(b"MOLPLAYW") {
            return Err(ModelError::Input("these are score-model weights (molplay train-score), not an Adjoint Sampling controller".into()));
        }
        let (meta, payload) = read_container(bytes, MAGIC, ADJOINT_WEIGHTS_VERSION)?;
        let header: Header = serde_json::from_slice(meta).map_err(|e| ModelError::Corrupt(format!("header: {e}")))?;
        header.config.validate().map_err(|e| ModelError::Corrupt(e.to_string()))?;
        if let Some(want) = system {
            let want = System::by_name(want).map_err(|e| ModelError::Input(e.to_string()))?;
            if want.name != header.config.system {
                return Err(ModelError::Input(format!("the controller was trained for {}, not {}", header.config.system, want.name)));
            }
        }
        let system = System::by_name(&header.config.system).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        let per = system.dim();
        // the payload's sections, their lengths checked before anything is built from them
        let (weights, optimizer, average, buffer) = match &header.state {
            None => (payload, &[][..], &[][..], &[][..]),
            Some(st) => {
                if st.buffer_items > header.config.buffer
                    || (st.buffer_items > 0 && st.next >= header.config.buffer)
                    || (st.buffer_items < header.config.buffer && st.next != st.buffer_items % header.config.buffer)
                {
                    return Err(ModelError::Corrupt(format!("the buffer holds {} items with the next at {}, for a capacity of {}", st.buffer_items, st.next, header.config.buffer)));
                }
                let buffer_len = st.buffer_items.checked_mul(2 * per * 8);
                let total = buffer_len.and_then(|b| b.checked_add(st.weights_len)).and_then(|b| b.checked_add(st.optimizer_len)).and_then(|b| b.checked_add(st.average_len));
                if total != Some(payload.len()) {
                    return Err(ModelError::Corrupt(format!(
                        "the checkpoint's sections ({} + {} + {} bytes and {} buffer items) do not add up to its {} bytes",
                        st.weights_len,
                        st.optimizer_len,
                        st.average_len,
                        st.buffer_items,
                        payload.len()
                    )));
                }
                let (w, rest) = payload.split_at(st.weights_len);
                let (o, rest) = rest.split_at(st.optimizer_len);
                let (a, b) = rest.split_at(st.average_len);
                (w, o, a, b)
            }
        };
        // the weights (their size checked against the configuration) before any network is built
        let net = Network::from_bytes(weights, Some(&header.config.network(&system)))?;
        let average = if average.is_empty() { None } else { Some(Network::from_bytes(average, Some(&header.config.network(&system)))?) };
        let mut s = AdjointSampler::with_network(header.config, system, net, 0);
        s.average = average;
        s.history = header.history;
        if let Some(c) = header.counters {
            s.counters = Counters { buffer: 0, ..c };
        }
        if let Some(st) = header.state {
            if !optimizer.is_empty() {
                s.net.restore_training_state(crate::models::TrainingState { param_ids: st.param_ids, optimizer: optimizer.to_vec(), steps: st.network_steps })?;
            } else {
                s.net.steps = st.network_steps;
            }
            let values: Vec<f64> = buffer.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::Corrupt("the replay buffer holds a non-finite number".into()));
            }
            s.items = values.chunks_exact(2 * per).map(|c| (c[..per].to_vec(), c[per..].to_vec())).collect();
            s.next = st.next;
            s.counters.buffer = s.items.len();
            s.rng = XorShift64::from_state(st.rng).map_err(|e| ModelError::Corrupt(e.to_string()))?;
            s.resumed_exactly = true;
        }
        Ok(s)
    }
}

/// What [`time_adjoint`] measures, in milliseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct AdjointTimes {
    pub regression_step_ms: f64,
    pub simulation_step_ms: f64,
}

/// Milliseconds per unit of Adjoint Sampling's work on `compute`, DW-4 with the demo
/// configuration: a regression step (batch 64, loss read back) and an Euler–Maruyama step of
/// the simulation (64 samples, drift read back), each the mean of `reps` after a warm-up.
pub async fn time_adjoint(compute: &Compute, reps: usize, clock: &dyn Fn() -> f64) -> Result<AdjointTimes, AdjointError> {
    let reps = reps.max(1);
    let mut cfg = AdjointConfig::demo("dw4")?;
    cfg.nfe = reps + 2;
    let mut a = AdjointSampler::new_on(cfg, 0, compute)?;
    let mut sim = a.start_simulation(a.config.new_per_epoch, 0);
    a.advance_simulation(&mut sim, 1).await?;
    let t0 = clock();
    a.advance_simulation(&mut sim, reps).await?;
    let simulation_step_ms = (clock() - t0) / reps as f64;
    a.advance_simulation(&mut sim, usize::MAX).await?;
    a.push_samples(&sim.xs)?;
    a.regression_step().await?;
    let t0 = clock();
    for _ in 0..reps {
        a.regression_step().await?;
    }
    Ok(AdjointTimes { regression_step_ms: (clock() - t0) / reps as f64, simulation_step_ms })
}

/// Seconds per epoch of `config` on the CPU on `threads` threads: the mean of `epochs` epochs
/// after a warm-up one (which fills the buffer's first samples), from a fresh learner (seed 0).
pub async fn time_epochs(config: &AdjointConfig, threads: usize, epochs: usize, clock: &dyn Fn() -> f64) -> Result<f64, AdjointError> {
    let mut a = AdjointSampler::new(config.clone(), 0)?;
    a.set_threads(threads);
    a.epoch().await?;
    let t0 = clock();
    for _ in 0..epochs.max(1) {
        a.epoch().await?;
    }
    Ok((clock() - t0) / epochs.max(1) as f64)
}

/// burn's training speed on one device: what `molplay bench-train` and the page's
/// `benchNetworks` report.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TrainingTimes {
    /// A DSM step of the page's default score network ([`crate::models::time_dsm_steps`]).
    pub dsm_step_ms: f64,
    pub adjoint: AdjointTimes,
}

/// Time ratios of two devices' [`TrainingTimes`] (> 1: the second is faster).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TimeRatios {
    pub dsm: f64,
    pub regression_step: f64,
    pub simulation_step: f64,
}

impl TrainingTimes {
    /// This device's times over `other`'s.
    pub fn over(&self, other: &TrainingTimes) -> TimeRatios {
        TimeRatios {
            dsm: self.dsm_step_ms / other.dsm_step_ms,
            regression_step: self.adjoint.regression_step_ms / other.adjoint.regression_step_ms,
            simulation_step: self.adjoint.simulation_step_ms / other.adjoint.simulation_step_ms,
        }
    }
}

/// [`TrainingTimes`] on `compute`: `reps` repetitions per figure after a warm-up.
pub async fn time_training(compute: &Compute, reps: usize, clock: &dyn Fn() -> f64) -> Result<TrainingTimes, AdjointError> {
    let dsm_step_ms = crate::models::time_dsm_steps(compute, reps, clock).await?;
    let adjoint = time_adjoint(compute, reps, clock).await?;
    Ok(TrainingTimes { dsm_step_ms, adjoint })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::models::to_vec;
    use crate::schedules::Schedule;
    use pollster::block_on;

    #[test]
    fn the_noise_matches_the_geometric_schedule_and_the_spec_numbers() {
        let g = GeometricNoise { sigma_min: 1e-3, sigma_max: 2.0 };
        let s = Schedule::geometric(1e-3, 2.0, 1000);
        for t in [0usize, 100, 250, 500, 1000] {
            let u = t as f64 / 1000.0;
            assert!((g.nu(u) - s.sigma2(t as f64)).abs() < 1e-12);
            assert!((g.sigma(u) - s.diffusion(t as f64).unwrap()).abs() < 1e-12);
        }
        // spec §1.2: σ(0) = 7.80, κ(0.25) ≈ 0.978, κ(0.5) ≈ 0.9995, bridge sd 0.30 at u = 0.25
        assert!((g.sigma(0.0) - 7.80).abs() < 0.01);
        assert!((g.kappa(0.25) - 0.978).abs() < 1e-3);
        assert!((g.kappa(0.5) - 0.9995).abs() < 1e-4);
        let k = g.kappa(0.25);
        assert!(((g.nu(1.0) * k * (1.0 - k)).sqrt() - 0.30).abs() < 0.01);
        // ν' = σ²
        let h = 1e-6;
        assert!(((g.nu(0.3 + h) - g.nu(0.3 - h)) / (2.0 * h) / g.sigma(0.3).powi(2) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_adjoint_clips_each_particle_and_adds_the_base_score() {
        let mut a = AdjointSampler::new(AdjointConfig::demo("lj13").unwrap(), 0).unwrap();
        // two particles almost on top of each other: a huge repulsion, clipped to 100
        let mut x: Vec<f64> = crate::energies::preset_configuration(&a.system);
        x[3] = x[0] + 0.3;
        x[4] = x[1];
        x[5] = x[2];
        remove_com(&mut x, 3);
        let adj = a.adjoint(&x).unwrap();
        let (_, g) = a.system.energies_grads(&x).unwrap();
        assert!(g[..3].iter().map(|v| v * v).sum::<f64>().sqrt() > 1e3, "the raw force is large");
        let nu1 = a.noise.nu(1.0);
        // the spec's recipe written out: scale each particle's force to norm ≤ 100, centre, add −x/ν(1)
        let mut want: Vec<f64> = g
            .chunks(3)
            .flat_map(|p| {
                let norm = p.iter().map(|v| v * v).sum::<f64>().sqrt();
                let f = (100.0 / (norm + 1e-6)).min(1.0);
                p.iter().map(move |v| v * f).collect::<Vec<_>>()
            })
            .collect();
        assert!((want[..3].iter().map(|v| v * v).sum::<f64>().sqrt() - 100.0).abs() < 1e-3, "the overlapping pair is clipped to 100");
        remove_com(&mut want, 3);
        assert!(adj.iter().zip(&want).zip(&x).all(|((a, w), xi)| (a - (w - xi / nu1)).abs() < 1e-9));
        assert_eq!(a.counters.energy_evaluations, 1);
        // a relaxed cluster has small forces: no clipping, exact gradient
        let mut y = crate::energies::preset_configuration(&a.system);
        remove_com(&mut y, 3);
        let adj = a.adjoint(&y).unwrap();
        let (_, g) = a.system.energies_grads(&y).unwrap();
        let mut gc = g.clone();
        remove_com(&mut gc, 3);
        assert!(adj.iter().zip(&gc).zip(&y).all(|((a, g), x)| (a - (g - x / nu1)).abs() < 1e-9));
    }

    #[test]
    fn an_epoch_fills_the_buffer_counts_its_costs_and_saves_and_loads() {
        let mut c = AdjointConfig::demo("dw4").unwrap();
        c.nfe = 20;
        c.new_per_epoch = 16;
        c.batch = 8;
        c.grad_steps = 5;
        c.buffer = 24;
        let mut a = AdjointSampler::new(c, 3).unwrap();
        let loss = block_on(a.epoch()).unwrap();
        assert!(loss.is_finite() && loss > 0.0);
        block_on(a.epoch()).unwrap();
        assert_eq!(a.counters, Counters { epochs: 2, energy_evaluations: 32, model_evaluations: 2 * 16 * 19, gradient_steps: 10, buffer: 24 });
        let (xs, frames) = block_on(a.simulate(5, 2)).unwrap();
        assert_eq!((xs.len(), frames.len()), (5 * 8, 20 * 2 * 8));
        assert!(xs.chunks(8).all(|x| (0..2).all(|k| x.chunks(2).map(|p| p[k]).sum::<f64>().abs() < 1e-9)), "CoM-free samples");
        assert_eq!(&frames[19 * 16..], &xs[..16]);
        let bytes = block_on(a.to_bytes()).unwrap();
        let mut b = AdjointSampler::from_bytes(&bytes, Some("dw4")).unwrap();
        assert_eq!(b.config, a.config);
        assert_eq!(b.counters.gradient_steps, 10);
        let probe = vec![0.3, -0.2, 1.0, 0.5, -1.1, 0.1, -0.2, -0.4];
        assert_eq!(to_vec(a.drift_tensor(&probe, &[0.4])), to_vec(b.drift_tensor(&probe, &[0.4])));
        assert!(block_on(b.simulate(2, 0)).is_ok());
        assert!(matches!(AdjointSampler::from_bytes(&bytes, Some("lj13")), Err(ModelError::Input(m)) if m.contains("trained for dw4, not lj13")));
        assert_eq!(AdjointSampler::from_bytes(b"nonsense", None).err(), Some(ModelError::NotWeights));
        assert!(matches!(AdjointSampler::from_bytes(&bytes[..40], None), Err(ModelError::Corrupt(_))));
        // a checkpoint naming one parameter id twice (two parameters would share gradients) is refused
        let ckpt = block_on(a.checkpoint_bytes()).unwrap();
        let (meta, payload) = crate::models::read_container(&ckpt, MAGIC, ADJOINT_WEIGHTS_VERSION).unwrap();
        let mut header: serde_json::Value = serde_json::from_slice(meta).unwrap();
        let ids = header["state"]["param_ids"].as_array_mut().expect("the checkpoint's parameter ids");
        ids[1] = ids[0].clone();
        let forged = crate::models::write_container(MAGIC, ADJOINT_WEIGHTS_VERSION, &serde_json::to_vec(&header).unwrap(), payload);
        assert!(matches!(AdjointSampler::from_bytes(&forged, None), Err(ModelError::Corrupt(m)) if m.contains("names a parameter id twice")));
        assert!(AdjointSampler::from_bytes(&ckpt, None).is_ok());
    }

    /// The controller on the GPU (lavapipe in CI) starts from the same weights as on the CPU,
    /// computes the same drift (f32 rounding apart), trains, and saves weights that load on the
    /// CPU with the same drift.
    #[test]
    #[cfg(feature = "gpu-nets")]
    fn the_controller_on_the_gpu_matches_the_cpu() {
        let Ok(gpu) = Compute::native_gpu() else { return }; // no adapter and MOLPLAY_ALLOW_NO_GPU set
        let mut c = AdjointConfig::demo("dw4").unwrap();
        c.nfe = 10;
        c.new_per_epoch = 8;
        c.batch = 8;
        c.grad_steps = 3;
        let cpu = AdjointSampler::new(c.clone(), 5).unwrap();
        let mut on_gpu = AdjointSampler::new_on(c, 5, &gpu).unwrap();
        assert_eq!(on_gpu.compute().name(), "gpu");
        let probe = vec![0.3, -0.2, 1.0, 0.5, -1.1, 0.1, -0.2, -0.4, 0.9, 0.2, -0.6, 0.7, 0.1, 0.0, -0.3, 0.8];
        let (a, b) = (block_on(read_vec(cpu.drift_tensor(&probe, &[0.4, 0.9]))).unwrap(), block_on(read_vec(on_gpu.drift_tensor(&probe, &[0.4, 0.9]))).unwrap());
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + x.abs())), "{a:?} vs {b:?}");
        let loss = block_on(on_gpu.epoch()).unwrap();
        assert!(loss.is_finite());
        assert_eq!((on_gpu.counters.gradient_steps, on_gpu.counters.energy_evaluations), (3, 8));
        let back = AdjointSampler::from_bytes(&block_on(on_gpu.to_bytes()).unwrap(), Some("dw4")).unwrap();
        let (a, b) = (block_on(read_vec(on_gpu.drift_tensor(&probe, &[0.4, 0.9]))).unwrap(), block_on(read_vec(back.drift_tensor(&probe, &[0.4, 0.9]))).unwrap());
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + x.abs())), "saved from the GPU: {a:?} vs {b:?}");
    }

    #[test]
    fn configurations_follow_the_spec_and_bad_ones_are_refused() {
        let p = AdjointConfig::paper("lj55").unwrap();
        assert_eq!((p.nfe, p.new_per_epoch, p.batch, p.buffer, p.hidden, p.layers, p.sigma_max), (1000, 200, 200, 10_000, 128, 5, 2.0));
        assert_eq!(AdjointConfig::paper("dw4").unwrap().sigma_max, 1.5);
        assert!(AdjointConfig::paper("lj7").unwrap_err().to_string().contains("dw4, lj13 and lj55"));
        assert!(AdjointConfig::by_name("fast", "dw4").unwrap_err().to_string().contains("paper or demo"));
        let mut c = AdjointConfig::demo("dw4").unwrap();
        c.nfe = 1;
        assert!(AdjointSampler::new(c, 0).is_err());
        // a sweep's overrides: numbers for known fields only, validated
        let set = |o: &[&str]| AdjointConfig::demo("dw4").unwrap().with_overrides(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let c = set(&["hidden=64", "lr=3e-4", " grad_steps = 50"]).unwrap();
        assert_eq!((c.hidden, c.lr, c.grad_steps, c.layers), (64, 3e-4, 50, 3));
        assert!(set(&["system=lj13"]).unwrap_err().to_string().contains("not a configuration field"));
        assert!(set(&["width=3"]).unwrap_err().to_string().contains("not a configuration field"));
        assert!(set(&["hidden"]).unwrap_err().to_string().contains("name=value"));
        assert!(set(&["hidden=big"]).unwrap_err().to_string().contains("not a number"));
        assert!(set(&["hidden=1.5"]).is_err(), "a count must be whole");
        assert!(set(&["batch=100000"]).is_err(), "bounds still apply");
        // the official EGNN by default; the plain one (older presets) by a switch
        let d = AdjointConfig::demo("dw4").unwrap();
        assert!(d.attention && d.input_distances && d.network(&System::by_name("dw4").unwrap()).attention);
        let plain = set(&["attention=false", "input_distances=0"]).unwrap();
        assert!(!plain.attention && !plain.input_distances);
        assert!(set(&["attention=maybe"]).unwrap_err().to_string().contains("expected true or false"));
        assert!(set(&["hidden=true"]).unwrap_err().to_string().contains("not a number"));
        // a file written before the fields existed holds the plain network
        let mut old = serde_json::to_value(&d).unwrap();
        old.as_object_mut().unwrap().retain(|k, _| k != "attention" && k != "input_distances");
        let old: AdjointConfig = serde_json::from_value(old).unwrap();
        assert!(!old.attention && !old.input_distances);
    }

    /// The container's header and payload, split.
    fn split(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
        let len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        (serde_json::from_slice(&bytes[16..16 + len]).unwrap(), bytes[16 + len..].to_vec())
    }

    /// Issue 16, case 4: a 96 KB .mpw whose header said hidden 4096 × 64 layers built that
    /// network first (18–28 s, 4–6 GB, then an abort); `features` u64::MAX overflowed.
    #[test]
    fn score_weights_headers_are_bounded_and_must_match_the_payload_before_a_network_is_built() {
        use crate::models::{EgnnConfig, ModelError, WEIGHTS_VERSION};
        let small = Network::new(EgnnConfig::identical(4, 8, 1, 1.0), 0);
        let bytes = small.to_bytes().unwrap();
        assert!(Network::from_bytes(&bytes, None).is_ok());
        let (header, payload) = split(&bytes);
        let with = |key: &str, value: serde_json::Value| {
            let mut h = header.clone();
            h[key] = value;
            write_container(b"MOLPLAYW", WEIGHTS_VERSION, h.to_string().as_bytes(), &payload)
        };
        let t0 = std::time::Instant::now();
        for (key, value, expect) in [
            ("hidden", serde_json::json!(4096), "hidden 4096 is above the largest network molplay makes (1024)"),
            ("layers", serde_json::json!(64), "layers 64 is above the largest network molplay makes (16)"),
            ("features", serde_json::json!(u64::MAX), "features 18446744073709551615 is above"),
            ("features", serde_json::json!(1_000_000_000u64), "features 1000000000 is above"),
            ("atoms", serde_json::json!(5000), "atoms 5000 is above"),
            ("hidden", serde_json::json!(1024), "the header describes a network of"),
            ("layers", serde_json::json!(16), "but the payload has"),
            ("coord_range", serde_json::json!(-1.0), "coord_range"),
        ] {
            let e = Network::from_bytes(&with(key, value.clone()), None).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(expect), "{key} = {value}: {e}");
        }
        assert!(EgnnConfig::identical(1024, 1024, 1, 1.0).check().unwrap_err().to_string().contains("pair entries"));
        let need = 4 * small.config.parameter_count();
        assert!(payload.len() >= need && payload.len() < need + 16 * 1024, "{} bytes for {need} bytes of weights", payload.len());
        let cut = write_container(b"MOLPLAYW", WEIGHTS_VERSION, header.to_string().as_bytes(), &payload[..need - 4]);
        assert!(matches!(Network::from_bytes(&cut, None), Err(ModelError::Corrupt(m)) if m.contains("payload has")));
        let padded = write_container(b"MOLPLAYW", WEIGHTS_VERSION, header.to_string().as_bytes(), &[payload.clone(), vec![0; 1 << 20]].concat());
        assert!(Network::from_bytes(&padded, None).is_err(), "a payload far beyond the configuration's weights");
        assert!(t0.elapsed().as_secs_f64() < 10.0, "refused before any big network was built");
        // the bounds admit the largest networks molplay trains
        let big = EgnnConfig::with_elements(29, 1024, 16, 1.0, &[vec!["H".into(), "C".into()]]);
        assert!(big.check().is_ok());
        assert!(big.max_batch() >= 1 && EgnnConfig::identical(4, 8, 1, 1.0).max_batch() > 10_000);
    }

    /// Issue 16, case 4: an .mpa header could name lj1024 and any batch or buffer; accepted,
    /// then a 3 GB allocation panicked.
    #[test]
    fn adjoint_headers_naming_big_systems_or_batches_are_refused_before_anything_is_allocated() {
        let mut c = AdjointConfig::demo("dw4").unwrap();
        (c.nfe, c.new_per_epoch, c.batch, c.buffer, c.hidden, c.layers) = (10, 8, 8, 16, 8, 1);
        let bytes = block_on(AdjointSampler::new(c, 0).unwrap().to_bytes()).unwrap();
        assert!(AdjointSampler::from_bytes(&bytes, Some("dw4")).is_ok());
        let (meta, payload) = split(&bytes);
        use serde_json::json;
        for (changes, expect) in [
            (vec![("system", json!("lj1024"))], "lj1024 has 1024 particles, more than the 64"),
            (vec![("batch", json!(10_000_000))], "batch 10000000 is above 4096"),
            (vec![("new_per_epoch", json!(1_000_000))], "new_per_epoch 1000000 is above 4096"),
            (vec![("buffer", json!(u64::MAX))], "buffer 18446744073709551615 is above 100000"),
            (vec![("nfe", json!(1_000_000))], "nfe 1000000 is above 10000"),
            (vec![("grad_steps", json!(u64::MAX))], "grad_steps"),
            (vec![("system", json!("lj55")), ("hidden", json!(128)), ("batch", json!(4096)), ("buffer", json!(4096))], "pair entries"),
            (vec![("system", json!("lj55"))], "the weights are for"),
        ] {
            let mut m = meta.clone();
            for (key, value) in &changes {
                m["config"][*key] = value.clone();
            }
            let bad = write_container(MAGIC, ADJOINT_WEIGHTS_VERSION, m.to_string().as_bytes(), &payload);
            let e = AdjointSampler::from_bytes(&bad, None).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(expect), "{changes:?}: {e}");
        }
        // the published configurations stay within the bounds
        for sys in ["dw4", "lj13", "lj55"] {
            AdjointConfig::paper(sys).unwrap().validate().unwrap();
        }
    }
}
