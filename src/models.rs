//! Score networks with burn: a time-conditioned E(n)-equivariant graph network (EGNN, Satorras
//! et al. 2021) on fully connected point clouds, trained by denoising score matching on the VP
//! forward process (GAGA: t drawn from [1, T*] only), saved and loaded with a versioned header.
//! A network lives on burn's CPU backend (flex) or on a wgpu device (WebGPU in the page, Vulkan
//! natively), chosen when it is made; it is always initialised on the CPU from its seed and then
//! moved, so one seed gives the same weights on both. Reads that leave the device are async
//! (`into_data_async`): sync reads panic on WebGPU in the browser.
//!
//! Per layer, with h_i node features and x_i positions:
//!   m_ij = φ_e([h_i, h_j, |x_i − x_j|²])          (i ≠ j)
//!   x_i ← x_i + 1/(N−1) Σ_j (x_i − x_j) φ_x(m_ij)
//!   h_i ← h_i + φ_h([h_i, Σ_j m_ij])
//! The network output F = x_L − x_0 (mean removed) is rotation- and permutation-equivariant and
//! translation-invariant. It is preconditioned like EDM's c_skip/c_out: with v̂ the data's
//! variance per coordinate, ε̂ = σ x/(α²v̂ + σ²) + α/√(α²v̂ + σ²)·F, i.e. the exact answer for
//! Gaussian data plus a learned correction that fades where α → 0. Without it, D = (x − σ ε̂)/α
//! multiplies every error of ε̂ by 1/α (≈ 316 at t = T for EDM's schedule) and the samplers blow
//! up from the first steps (seen: |x| ~ 1e23 after three DDPM steps).

use crate::objectives::Objective;
use crate::rng::XorShift64;
use crate::schedules::{Schedule, ScheduleError, ScheduleId};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::module::linear;
use burn::tensor::{Device, Int, Tensor, TensorData, Transaction};
use serde::{Deserialize, Serialize};

/// Version of the weights format (header + burn record).
pub const WEIGHTS_VERSION: u32 = 1;

/// Bounds of a network configuration read from a weights file ([`EgnnConfig::check`]): what our
/// networks can be (`molplay train-score` takes hidden ≤ 1024 and layers ≤ 16; systems have at
/// most [`MAX_PARTICLES`](crate::energies::MAX_PARTICLES) particles; node features are one-hot
/// atom indices or elements).
pub const MAX_ATOMS: usize = crate::energies::MAX_PARTICLES;
pub const MAX_FEATURES: usize = 1024;
pub const MAX_HIDDEN: usize = 1024;
pub const MAX_LAYERS: usize = 16;
/// Most entries of one configuration's pair tensor (atoms² × hidden, f32: 1 GiB): a network
/// beyond it cannot evaluate a single configuration. Forward passes are batched within it.
pub const MAX_PAIR_WORK: usize = 1 << 28;
const MAGIC: &[u8; 8] = b"MOLPLAYW";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EgnnConfig {
    pub atoms: usize,
    /// Per-atom input features (e.g. a one-hot element vocabulary; 1 for identical particles).
    pub features: usize,
    pub hidden: usize,
    pub layers: usize,
    /// v̂: the training data's variance per coordinate (CoM-free), for the preconditioning.
    pub data_variance: f64,
    /// Node features are the atoms' indices (one-hot, `features` = `atoms`): for targets whose
    /// atoms are distinguishable, like a spring chain's ends and middle. An EGNN with identical
    /// features is permutation-equivariant and cannot represent such a target.
    #[serde(default)]
    pub atom_identity: bool,
    /// Bounded coordinate updates (the EGNN of iDEM / Adjoint Sampling): each layer moves atoms
    /// by at most `coord_range`/layers along normalised differences, tanh-squashed. None: the
    /// plain, unbounded update of the score models.
    #[serde(default)]
    pub coord_range: Option<f64>,
    /// Node features are one-hot elements over this vocabulary (`features` = its length): the
    /// network generates positions for a given list of atom types (a composition with its atom
    /// order), so its samples are molecules whose stability can be judged. Empty: not
    /// conditioned on elements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<String>,
    /// The noise schedule a score network is trained under, so it is sampled under the same
    /// noise levels. None: an Adjoint Sampling controller (no schedule), or score weights written
    /// before the field existed, all trained under [`ScheduleId::LEGACY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleId>,
    /// Whole-molecule generation (EDM's joint model, [`crate::joint`]): the node features are
    /// the *noisy* atom types (the centred one-hot block over `elements`, divided by 4) and the
    /// network predicts their ε too, through a linear head on the last node state (invariant).
    /// The value is v̂_h, the type block's variance per entry, for the types' preconditioning.
    /// `atoms` is then the largest molecule the network was trained on. None: node features
    /// are given conditions, not generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_variance: Option<f64>,
    /// Edge attributes per atom pair (conformer generation conditioned on the molecular graph:
    /// the bond order one-hot, none / single / double / triple), fed to every layer's edge MLP
    /// beside [h_i, h_j, d²_ij]. 0: none (every other network).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edge_features: usize,
    /// Not equivariant (the quotient-space paper's Proteína case, a network that can output
    /// rotations): each atom's absolute coordinates join its node features, and a per-atom
    /// linear head on the last node state adds to the position output. Trained with
    /// random-rotation augmentation ([`crate::app::conformers`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub absolute: bool,
    /// Attention-gated messages, as the EGNN of the Adjoint Sampling code (`attention: True`):
    /// each message m_ij is scaled by σ(w·m_ij + b) before it is summed and before the
    /// coordinate head reads it, so a layer can switch a pair off.
    #[serde(default, skip_serializing_if = "is_false")]
    pub attention: bool,
    /// The input configuration's pair distances d²_ij(x) join every layer's edge input as a
    /// static edge attribute (the Adjoint Sampling code's `edge_attr`), beside the current
    /// layer's d²_ij: later layers still see where the atoms started.
    #[serde(default, skip_serializing_if = "is_false")]
    pub input_distances: bool,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl EgnnConfig {
    /// A network for `atoms` identical particles (constant node features).
    pub fn identical(atoms: usize, hidden: usize, layers: usize, data_variance: f64) -> Self {
        EgnnConfig {
            atoms,
            features: 1,
            hidden,
            layers,
            data_variance,
            atom_identity: false,
            coord_range: None,
            elements: Vec::new(),
            schedule: None,
            type_variance: None,
            edge_features: 0,
            absolute: false,
            attention: false,
            input_distances: false,
        }
    }

    /// A network whose atoms are told apart by their indices (a spring chain).
    pub fn indexed(atoms: usize, hidden: usize, layers: usize, data_variance: f64) -> Self {
        EgnnConfig { features: atoms, atom_identity: true, ..Self::identical(atoms, hidden, layers, data_variance) }
    }

    /// A network conditioned on the atoms' elements, with the vocabulary of `molecules`.
    pub fn with_elements(atoms: usize, hidden: usize, layers: usize, data_variance: f64, molecules: &[Vec<String>]) -> Self {
        let elements = element_vocabulary(molecules);
        EgnnConfig { features: elements.len().max(1), elements, ..Self::identical(atoms, hidden, layers, data_variance) }
    }

    /// This configuration for a score network trained under `schedule`.
    pub fn trained_under(self, schedule: &Schedule) -> Self {
        EgnnConfig { schedule: Some(schedule.id()), ..self }
    }

    /// The schedule a score network learned (weights from before the field: the legacy one).
    pub fn trained_schedule(&self) -> ScheduleId {
        self.schedule.unwrap_or(ScheduleId::LEGACY)
    }

    /// Refuses to train or sample a score network under another schedule than the one it
    /// learned: its ε̂ at step t is only meaningful at that schedule's noise level.
    pub fn check_schedule(&self, schedule: &Schedule) -> Result<(), ModelError> {
        let (learned, asked) = (self.trained_schedule(), schedule.id());
        if learned != asked {
            return Err(ModelError::WrongSchedule { learned, asked });
        }
        Ok(())
    }

    /// A network that generates whole molecules (types and positions) over the vocabulary of
    /// `molecules`, for molecules of up to `atoms` atoms.
    pub fn joint(atoms: usize, hidden: usize, layers: usize, data_variance: f64, type_variance: f64, molecules: &[Vec<String>]) -> Self {
        EgnnConfig { type_variance: Some(type_variance), ..Self::with_elements(atoms, hidden, layers, data_variance, molecules) }
    }

    /// Whether the node features are the atoms' elements, given as conditions.
    pub fn conditioned_on_elements(&self) -> bool {
        !self.elements.is_empty() && !self.is_joint()
    }

    /// Whether the network generates the atom types with the positions.
    pub fn is_joint(&self) -> bool {
        self.type_variance.is_some()
    }

    /// What kind of network this is, in words (for errors that refuse the wrong kind).
    pub fn kind(&self) -> &'static str {
        if self.is_joint() {
            "a whole-molecule network (types and positions)"
        } else if self.conditioned_on_elements() {
            "a positions-only network conditioned on given elements"
        } else if self.coord_range.is_some() {
            "an Adjoint Sampling controller"
        } else {
            "a positions-only network"
        }
    }

    /// Refuses configurations no network of ours has (from a corrupt or foreign file).
    pub fn check(&self) -> Result<(), ModelError> {
        for (what, value, max) in [
            ("atoms", self.atoms, MAX_ATOMS),
            ("features", self.features, MAX_FEATURES),
            ("hidden", self.hidden, MAX_HIDDEN),
            ("layers", self.layers, MAX_LAYERS),
            ("elements", self.elements.len(), MAX_FEATURES),
            ("edge features", self.edge_features, 16),
        ] {
            if value > max {
                return Err(ModelError::Implausible(format!("{what} {value} is above the largest network molplay makes ({max})")));
            }
        }
        if self.atoms * self.atoms * self.hidden > MAX_PAIR_WORK {
            return Err(ModelError::Implausible(format!(
                "{} atoms with hidden {} need {} pair entries per configuration, more than {MAX_PAIR_WORK}",
                self.atoms,
                self.hidden,
                self.atoms * self.atoms * self.hidden
            )));
        }
        if self.coord_range.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err(ModelError::Implausible(format!("coord_range {:?}", self.coord_range)));
        }
        if let Some(v) = self.type_variance {
            if !(v > 0.0 && v.is_finite()) || self.elements.len() < 2 || self.coord_range.is_some() || self.atom_identity {
                return Err(ModelError::Implausible(format!("a whole-molecule network with type variance {v}, {} elements", self.elements.len())));
            }
        }
        let features_ok = if self.atom_identity {
            self.features == self.atoms && self.elements.is_empty()
        } else if !self.elements.is_empty() {
            self.features == self.elements.len() && self.elements.iter().all(|e| !e.is_empty() && e.len() <= 3)
        } else {
            true
        };
        if let Some(id) = &self.schedule {
            id.build().map_err(ModelError::ImplausibleSchedule)?;
        }
        if self.atoms == 0 || self.features == 0 || !features_ok || self.hidden == 0 || !(self.data_variance > 0.0 && self.data_variance.is_finite()) {
            return Err(ModelError::ImplausibleConfig(Box::new(self.clone())));
        }
        Ok(())
    }

    /// Float parameters of the network this configuration describes (checked sizes only).
    pub fn parameter_count(&self) -> usize {
        let (f, h) = (self.features, self.hidden);
        let linear = |i: usize, o: usize| i * o + o;
        let layer = linear(2 * h + 1 + self.edge_features + self.input_distances as usize, h)
            + linear(h, h)
            + linear(h, h)
            + linear(h, 1)
            + linear(2 * h, h)
            + linear(h, h)
            + if self.attention { linear(h, 1) } else { 0 };
        linear(f + 1 + 3 * self.absolute as usize, h) + self.layers * layer + if self.is_joint() { linear(h, f) } else { 0 } + if self.absolute { linear(h, 3) } else { 0 }
    }

    /// Parameter tensors (weights and biases) of that network.
    pub fn tensor_count(&self) -> usize {
        2 + (12 + 2 * self.attention as usize) * self.layers + if self.is_joint() { 2 } else { 0 } + if self.absolute { 2 } else { 0 }
    }

    /// Configurations one forward pass may take within [`MAX_PAIR_WORK`] (at least 1).
    pub fn max_batch(&self) -> usize {
        self.batch_for(self.atoms)
    }

    /// Configurations of `n` atoms one forward pass may take within [`MAX_PAIR_WORK`] (at least
    /// 1): networks that take several sizes batch each by its own.
    pub fn batch_for(&self, n: usize) -> usize {
        (MAX_PAIR_WORK / (n * n * self.hidden).max(1)).max(1)
    }

    /// Node features for `batch` configurations: one-hot indices, or all ones. (A network
    /// conditioned on elements needs them: [`element_features`](Self::element_features).)
    pub fn node_features(&self, batch: usize) -> Vec<f64> {
        if self.atom_identity {
            (0..batch).flat_map(|_| (0..self.atoms).flat_map(|i| (0..self.atoms).map(move |j| (i == j) as u8 as f64))).collect()
        } else {
            vec![1.0; batch * self.atoms * self.features]
        }
    }

    /// Node features of one configuration per element list: one-hot elements for a network
    /// conditioned on them, else [`node_features`](Self::node_features). Refuses a molecule of
    /// another size or with an element outside the vocabulary.
    pub fn element_features(&self, molecules: &[&[String]]) -> Result<Vec<f64>, ModelError> {
        if !self.conditioned_on_elements() {
            return Ok(self.node_features(molecules.len()));
        }
        let mut out = Vec::with_capacity(molecules.len() * self.atoms * self.features);
        for m in molecules {
            if m.len() != self.atoms {
                return Err(ModelError::Input(format!("the network is for {} atoms, a molecule has {}", self.atoms, m.len())));
            }
            for e in m.iter() {
                let k =
                    self.elements.iter().position(|v| v.eq_ignore_ascii_case(e)).ok_or_else(|| ModelError::Input(format!("the network knows the elements {}, not {e}", self.elements.join(", "))))?;
                out.extend((0..self.features).map(|j| (j == k) as u8 as f64));
            }
        }
        Ok(out)
    }
}

impl EgnnConfig {
    /// One-hot elements of molecules of any size up to the network's (one size per batch):
    /// for networks that take molecules of several sizes (conformers conditioned on the graph).
    pub fn element_features_sized(&self, molecules: &[&[String]]) -> Result<Vec<f64>, ModelError> {
        let n = molecules.first().map_or(0, |m| m.len());
        if molecules.iter().any(|m| m.len() != n) || n > self.atoms {
            return Err(ModelError::Input(format!("a batch holds molecules of one size up to {} atoms", self.atoms)));
        }
        EgnnConfig { atoms: n, ..self.clone() }.element_features(molecules)
    }

    /// Node features for configurations `picks` of a pool whose molecules have `elements`
    /// (empty for the chain): their one-hot elements for a network conditioned on them, else
    /// [`node_features`](Self::node_features).
    pub fn features_of(&self, elements: &[Vec<String>], picks: &[usize]) -> Result<Vec<f64>, ModelError> {
        if !self.conditioned_on_elements() {
            return Ok(self.node_features(picks.len()));
        }
        let ms: Vec<&[String]> = picks
            .iter()
            .map(|&i| elements.get(i).map(Vec::as_slice).ok_or_else(|| ModelError::Input("the data set has no elements for a network conditioned on them".into())))
            .collect::<Result<_, _>>()?;
        self.element_features(&ms)
    }
}

/// Which of `molecules` data molecules lends its atom types to each of `count` samples of a
/// network conditioned on elements: uniform draws from `seed` (the CLI and the page draw the
/// same for the same seed).
pub fn composition_picks(molecules: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut rng = XorShift64::new(seed ^ 0xE1E);
    (0..count).map(|_| rng.below(molecules)).collect()
}

/// The elements of `molecules`, QM9's H, C, N, O, F first in that order, any others after them
/// alphabetically.
pub fn element_vocabulary(molecules: &[Vec<String>]) -> Vec<String> {
    const FIRST: [&str; 5] = ["H", "C", "N", "O", "F"];
    let mut seen: Vec<String> = Vec::new();
    for e in molecules.iter().flatten() {
        if !seen.iter().any(|s| s.eq_ignore_ascii_case(e)) {
            seen.push(e.clone());
        }
    }
    let rank = |e: &String| FIRST.iter().position(|f| f.eq_ignore_ascii_case(e)).unwrap_or(FIRST.len());
    seen.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    seen
}

/// Adam as PyTorch defines it (β = 0.9, 0.999; ε = 1e-8), the optimiser every paper we follow
/// trained with; burn's default ε is 1e-5, a thousandfold larger floor under the step's
/// denominator that damps updates of parameters whose gradients are small.
fn adam() -> AdamConfig {
    AdamConfig::new().with_epsilon(1e-8)
}

#[derive(Module, Debug)]
pub struct Mlp {
    a: Linear,
    b: Linear,
}

impl Mlp {
    fn new(d_in: usize, d_hidden: usize, d_out: usize, device: &Device) -> Self {
        Mlp { a: LinearConfig::new(d_in, d_hidden).init(device), b: LinearConfig::new(d_hidden, d_out).init(device) }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.b.forward(silu(self.a.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct EgnnLayer {
    edge: Mlp,
    coord: Mlp,
    node: Mlp,
    /// The message gate of an attention EGNN ([`EgnnConfig::attention`]).
    gate: Option<Linear>,
}

#[derive(Module, Debug)]
pub struct Egnn {
    embed: Linear,
    layers: Vec<EgnnLayer>,
    /// The types' ε head of a whole-molecule network (last node state → features).
    types_out: Option<Linear>,
    /// A non-equivariant network's per-atom position head (last node state → 3).
    absolute_out: Option<Linear>,
    /// The input pair distances are a static edge attribute ([`EgnnConfig::input_distances`]).
    input_distances: bool,
}

impl Egnn {
    pub fn new(cfg: &EgnnConfig, device: &Device) -> Self {
        let h = cfg.hidden;
        let edge_in = 2 * h + 1 + cfg.edge_features + cfg.input_distances as usize;
        let mut layers: Vec<EgnnLayer> = (0..cfg.layers)
            .map(|_| EgnnLayer {
                edge: Mlp::new(edge_in, h, h, device),
                coord: Mlp::new(h, h, 1, device),
                node: Mlp::new(2 * h, h, h, device),
                gate: cfg.attention.then(|| LinearConfig::new(h, 1).init(device)),
            })
            .collect();
        if cfg.coord_range.is_some() {
            // the bounded EGNN of iDEM / Adjoint Sampling starts with its coordinate heads at
            // 1/1000 of their usual scale (EDM's EGNN: xavier gain 0.001 on that layer), so a
            // fresh controller is about the base process (no drift) rather than a random drift
            // that σ(u)² at u ≈ 0 (≈ 60) amplifies into exploded configurations
            for layer in &mut layers {
                let head = &mut layer.coord.b;
                head.weight = new_leaf(head.weight.clone(), |t| (t * 1e-3).detach());
                head.bias = head.bias.take().map(|b| new_leaf(b, |t| (t * 1e-3).detach()));
            }
        }
        let embed = LinearConfig::new(cfg.features + 1 + 3 * cfg.absolute as usize, h).init(device);
        let types_out = cfg.is_joint().then(|| LinearConfig::new(h, cfg.features).init(device));
        let absolute_out = cfg.absolute.then(|| LinearConfig::new(h, 3).init(device));
        Egnn { embed, layers, types_out, absolute_out, input_distances: cfg.input_distances }
    }

    /// ε̂ for positions x [B, N, 3] (CoM-free), features h [B, N, F], time t/T [B, 1].
    pub fn forward(&self, x: Tensor<3>, h: Tensor<3>, t: Tensor<2>) -> Tensor<3> {
        self.forward_with(x, h, t, None)
    }

    /// As `forward`; with `coord_range` each layer's update is (x_i − x_j)/(|x_i − x_j| + 1)
    /// · tanh(φ_x(m_ij)) · coord_range/layers, summed over j (bounded, as iDEM's EGNN).
    ///
    /// Messages run over the n(n−1) directed pairs only (no masked diagonal), kept as
    /// [B, N, N−1, ·] so a sum over a node's edges is a sum over one axis; and the edge MLP's
    /// first layer on [h_i, h_j, d²_ij] is split into W_i·h_i + W_j·h_j + w·d²_ij, computed
    /// per node (N rows) and broadcast over edges (N(N−1) rows) instead of on concatenated
    /// edge rows. Same parameters, same function as the dense formulation.
    pub fn forward_with(&self, x: Tensor<3>, h: Tensor<3>, t: Tensor<2>, coord_range: Option<f64>) -> Tensor<3> {
        self.run(x, h, t, coord_range, None).0
    }

    /// `forward` with edge attributes [B, N, N − 1, E] over the directed pairs (i, j ≠ i) in
    /// the order of [`other_atoms`]: a network conditioned on the molecular graph.
    pub fn forward_graph(&self, x: Tensor<3>, h: Tensor<3>, edges: Tensor<4>, t: Tensor<2>) -> Tensor<3> {
        self.run(x, h, t, None, Some(edges)).0
    }

    /// A whole-molecule network's outputs: (position output [B, N, 3], mean-free over the atoms;
    /// type output [B, N, F], the head on the last node state, mean-free over the atoms as the
    /// GAGA fork keeps every feature). N may be any size ≥ 2: the messages are averaged.
    pub fn forward_joint(&self, x: Tensor<3>, h: Tensor<3>, t: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        let (out, hc) = self.run(x, h, t, None, None);
        let head = self.types_out.as_ref().expect("forward_joint on a whole-molecule network");
        let types = head.forward(hc);
        (out, types.clone() - types.mean_dim(1))
    }

    /// The layers: (position output, last node state).
    fn run(&self, x: Tensor<3>, h: Tensor<3>, t: Tensor<2>, coord_range: Option<f64>, edges: Option<Tensor<4>>) -> (Tensor<3>, Tensor<3>) {
        let [b, n, d] = x.dims();
        let device = x.device();
        if n < 2 {
            // no pairs, no messages: the coordinates do not move
            let hidden = self.embed.weight.dims()[1];
            return (Tensor::zeros([b, n, d], &device), Tensor::zeros([b, n, hidden], &device));
        }
        let e = n - 1;
        let others: Vec<i64> = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i)).map(|j| j as i64).collect();
        let others: Tensor<1, Int> = Tensor::from_data(TensorData::new(others, [n * e]), &device);
        let tt: Tensor<3> = t.unsqueeze_dim::<3>(1).repeat_dim(1, n);
        let inputs = if self.absolute_out.is_some() { vec![h, tt, x.clone()] } else { vec![h, tt] };
        let mut hc = self.embed.forward(Tensor::cat(inputs, 2));
        let x0 = x.clone();
        let mut xc = x;
        let mut edges = edges;
        for (k, layer) in self.layers.iter().enumerate() {
            let xj: Tensor<4> = xc.clone().select(1, others.clone()).reshape([b, n, e, d]);
            let diff = xc.clone().unsqueeze_dim::<4>(2) - xj;
            let d2 = diff.clone().powf_scalar(2.0).sum_dim(3);
            if k == 0 && self.input_distances {
                // the input's d² (this first layer's) rides with the edge attributes, last
                edges = Some(match edges {
                    Some(given) => Tensor::cat(vec![given, d2.clone()], 3),
                    None => d2.clone(),
                });
            }
            let mut m = silu(layer.edge.b.forward(silu(layer.edge_input(hc.clone(), d2.clone(), edges.clone(), &others, [b, n, e]))));
            if let Some(gate) = &layer.gate {
                m = m.clone() * sigmoid(gate.forward(m));
            }
            let w = layer.coord.forward(m.clone());
            let shift: Tensor<3> = match coord_range {
                None => (diff * w).sum_dim(2).squeeze_dim::<3>(2) / e as f64,
                Some(range) => {
                    // +1e-8 keeps the norm's gradient finite for coincident atoms
                    let unit = diff / ((d2 + 1e-8).sqrt() + 1.0);
                    (unit * w.tanh() * (range / self.layers.len().max(1) as f64)).sum_dim(2).squeeze_dim::<3>(2)
                }
            };
            xc = xc + shift;
            let agg: Tensor<3> = m.sum_dim(2).squeeze_dim::<3>(2);
            hc = hc.clone() + layer.node.forward(Tensor::cat(vec![hc, agg], 2));
        }
        let out = match &self.absolute_out {
            Some(head) => xc - x0 + head.forward(hc.clone()),
            None => xc - x0,
        };
        (out.clone() - out.mean_dim(1), hc)
    }
}

impl EgnnLayer {
    /// The edge MLP's first linear layer on the pairs [h_i, h_j, d²_ij] (i ≠ j), [B, N, N−1, H]:
    /// its weight's rows split into the blocks acting on h_i, h_j and d², the node blocks
    /// applied once per node and the h_j block gathered onto the edges.
    fn edge_input(&self, hc: Tensor<3>, d2: Tensor<4>, edges: Option<Tensor<4>>, others: &Tensor<1, Int>, [b, n, e]: [usize; 3]) -> Tensor<4> {
        let first = &self.edge.a;
        let weight = first.weight.val();
        let [_, hidden] = weight.dims();
        let width = hc.dims()[2];
        let on_i = linear(hc.clone(), weight.clone().slice([0..width, 0..hidden]), first.bias.as_ref().map(|p| p.val()));
        let on_j: Tensor<4> = linear(hc, weight.clone().slice([width..2 * width, 0..hidden]), None).select(1, others.clone()).reshape([b, n, e, hidden]);
        let on_d2: Tensor<4> = weight.clone().slice([2 * width..2 * width + 1, 0..hidden]).unsqueeze::<4>();
        let out = on_i.unsqueeze_dim::<4>(2) + on_j + d2 * on_d2;
        match edges {
            // edge attributes [B, N, N − 1, E] through the weight's last E rows
            Some(edges) => {
                let k = edges.dims()[3];
                let w: Tensor<2> = weight.slice([2 * width + 1..2 * width + 1 + k, 0..hidden]);
                out + edges.reshape([b * n * e, k]).matmul(w).reshape([b, n, e, hidden])
            }
            None => out,
        }
    }
}

/// The other atoms j ≠ i of each atom i in the order the EGNN's pair tensors use
/// ([B, N, N − 1, ·]): for i, j = 0, …, i − 1, i + 1, …, N − 1.
pub fn other_atoms(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(move |i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
}

/// Flat f64 values → a tensor of `shape`.
pub fn tensor4(v: &[f64], shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), shape), device)
}

/// Flat f64 rows → a [B, N, C] tensor.
pub fn tensor3(v: &[f64], b: usize, n: usize, c: usize, device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), [b, n, c]), device)
}

/// A tensor's values (sync read: the CPU backend, or wgpu natively).
pub fn to_vec(t: Tensor<3>) -> Vec<f64> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default().iter().map(|&v| v as f64).collect()
}

/// A tensor's values, read asynchronously (works on every backend, WebGPU in the browser too).
/// A failed read (a lost device) is [`ModelError::Readback`].
pub async fn read_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>, ModelError> {
    let data = t.into_data_async().await.map_err(|e| ModelError::Readback(format!("{e:?}")))?;
    Ok(data.try_to_vec::<f32>().map_err(|e| ModelError::TensorData(format!("{e:?}")))?.iter().map(|&v| v as f64).collect())
}

/// Where networks run: burn's CPU backend, or a wgpu device (WebGPU, Vulkan, …).
#[derive(Clone, Debug)]
pub enum Compute {
    Cpu,
    Gpu(Device),
}

impl Compute {
    /// "cpu" or "gpu".
    pub fn name(&self) -> &'static str {
        match self {
            Compute::Cpu => "cpu",
            Compute::Gpu(_) => "gpu",
        }
    }

    fn device(&self) -> Device {
        match self {
            Compute::Cpu => Device::flex(),
            Compute::Gpu(d) => d.clone().inner(),
        }
    }

    /// burn on an existing wgpu device (the page's WebGPU device, or a native one), so that
    /// networks, our compute kernels and the viewer share one device. Register once per device
    /// and clone the result.
    #[cfg(any(target_arch = "wasm32", feature = "gpu-nets"))]
    pub fn on_wgpu(ctx: &crate::gpu::GpuContext) -> Result<Compute, ModelError> {
        crate::run_static_constructors();
        let setup = burn::backend::wgpu::WgpuSetup {
            instance: ctx.instance.clone(),
            adapter: ctx.adapter.clone(),
            device: ctx.device.clone(),
            queue: ctx.queue.clone(),
            backend: ctx.adapter.get_info().backend,
        };
        let device = Device::wgpu_options().setup(setup).init().map_err(|e| ModelError::Device(e.to_string()))?;
        Ok(Compute::Gpu(device))
    }

    /// Natively: burn on the process-wide GPU context (lavapipe without a GPU), made once.
    #[cfg(all(not(target_arch = "wasm32"), feature = "gpu-nets"))]
    pub fn native_gpu() -> Result<Compute, ModelError> {
        use std::sync::OnceLock;
        static GPU: OnceLock<Result<Compute, ModelError>> = OnceLock::new();
        GPU.get_or_init(|| {
            let ctx = crate::gpu::native_context().map_err(|_| ModelError::NoAdapter)?;
            Compute::on_wgpu(ctx)
        })
        .clone()
    }

    /// By name: "cpu" or "gpu" (natively).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn by_name(name: &str) -> Result<Compute, ModelError> {
        match name {
            "cpu" => Ok(Compute::Cpu),
            #[cfg(feature = "gpu-nets")]
            "gpu" => Compute::native_gpu(),
            #[cfg(not(feature = "gpu-nets"))]
            "gpu" => Err(ModelError::CpuOnly),
            other => Err(ModelError::UnknownDevice(other.to_string())),
        }
    }
}

/// Collects a module's float parameters, flattened, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().flatten(0, D - 1));
    }
}

/// Collects the parameters' ids in visiting order (the optimiser's state is keyed by them).
struct Ids(Vec<u64>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

/// burn-autodiff frees the graphs of dropped tensors only when some backward pass ends (burn
/// issue #4970): networks built or loaded and dropped without training (a page loading weight
/// files, the fuzzer) left their construction graphs behind, about 17 KB for even a tiny
/// network, gigabytes over a fuzzing run. A backward pass through one scalar sweeps them.
fn sweep_autodiff_graphs(device: &Device) {
    let one = Tensor::<1>::from_floats([1.0f32], device).require_grad();
    let _ = one.sum().backward();
}

/// The parameters' shapes in visiting order (the order of [`Ids`]).
struct Shapes(Vec<Vec<usize>>);

impl ModuleVisitor for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.lazy_shape().iter().copied().collect());
    }
}

/// Gives the parameters, in visiting order, the ids of a checkpoint's network, so the optimiser
/// state saved with them finds its parameters.
struct SetIds(std::vec::IntoIter<u64>);

impl ModuleMapper for SetIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(id) = self.0.next() {
            param.id = burn::module::ParamId::from(id);
        }
        param
    }
}

/// What a network needs besides its weights to go on training exactly where it stopped: the
/// optimiser's state (Adam's moments and step counts, burn's record bytes), the parameter ids
/// that state is keyed by (in visiting order), and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    pub param_ids: Vec<u64>,
    pub optimizer: Vec<u8>,
    pub steps: usize,
}

/// A parameter whose tensor `make` replaces by a fresh leaf, trainable where the old one was.
fn new_leaf<const D: usize>(param: Param<Tensor<D>>, make: impl FnOnce(Tensor<D>) -> Tensor<D>) -> Param<Tensor<D>> {
    param.map(|t| {
        let grad = t.is_require_grad();
        let v = make(t);
        if grad {
            v.require_grad()
        } else {
            v
        }
    })
}

/// Moves a module's float parameters to a device as fresh leaves.
struct MoveTo(Device);

impl ModuleMapper for MoveTo {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        new_leaf(param, |t| t.detach().to_device(&self.0).detach())
    }
}

/// Replaces a module's float parameters, in visiting order, by `values` (same shapes).
struct Fill(std::vec::IntoIter<TensorData>);

impl ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let data = self.0.next().expect("one value per parameter");
        new_leaf(param, |t| Tensor::<1>::from_data(data, &t.device()).reshape(t.shape()))
    }
}

/// Moves each parameter θ̄ towards the other network's θ (same visiting order):
/// θ̄ ← decay·θ̄ + (1 − decay)·θ, as fresh leaves (no graph kept).
struct Blend {
    with: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let now = self.with.next().expect("one value per parameter");
        let decay = self.decay;
        new_leaf(param, |t| {
            let shape = t.shape();
            (t.detach() * decay + now.detach().reshape(shape) * (1.0 - decay)).detach()
        })
    }
}

/// Adds the parts' gradients parameter by parameter, in part order.
struct SumGrads {
    parts: Vec<GradientsParams>,
    total: GradientsParams,
}

impl ModuleVisitor for SumGrads {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let sum = self.parts.iter_mut().filter_map(|g| g.remove::<D>(param.id)).reduce(|a, b| a + b);
        if let Some(sum) = sum {
            self.total.register(param.id, sum);
        }
    }
}

/// Why a network, its weights or its inputs were refused, or its work failed. Messages are shown
/// to users as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ModelError {
    #[error("not molplay weights (the header is missing)")]
    NotWeights,
    #[error("weights version {got} is not supported (this build reads version {supported})")]
    Version { got: u32, supported: u32 },
    #[error("the weights are truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("the weights are for {got:?}, but {want:?} was asked for")]
    Mismatch { got: Box<EgnnConfig>, want: Box<EgnnConfig> },
    #[error("training diverged at step {step} (loss {loss}); the last good weights are kept")]
    Diverged { step: usize, loss: f64 },
    #[error("{0}")]
    Input(String),
    /// A score network asked to train or sample under another schedule than the one it learned.
    #[error("this network was trained under the {learned} schedule and cannot be used under {asked}: its noise levels differ (sample it with the schedule it learned)")]
    WrongSchedule { learned: ScheduleId, asked: ScheduleId },
    /// A configuration no network of ours has ([`EgnnConfig::check`]): what is out of range.
    #[error("implausible configuration: {0}")]
    Implausible(String),
    /// A configuration whose recorded schedule is no schedule of ours.
    #[error("implausible configuration: {0}")]
    ImplausibleSchedule(#[source] ScheduleError),
    /// A configuration that is wrong as a whole (sizes, features or data variance).
    #[error("implausible configuration {0:?}")]
    ImplausibleConfig(Box<EgnnConfig>),
    /// A tensor could not be read back from its device (a lost GPU): burn's words.
    #[error("reading a tensor back from the device failed: {0}")]
    Readback(String),
    /// A tensor read back that does not hold f32 values: burn's words.
    #[error("{0}")]
    TensorData(String),
    /// burn could not take over a wgpu device.
    #[error("burn could not use the GPU device: {0}")]
    Device(String),
    /// Natively, no GPU adapter for the networks.
    #[error("no GPU adapter")]
    NoAdapter,
    #[error("this build trains networks on the CPU only: build with `--features gpu-nets` for burn on wgpu")]
    CpuOnly,
    #[error("unknown device \"{0}\" (cpu or gpu)")]
    UnknownDevice(String),
}

/// A fresh EGNN on `device` from `seed`, every parameter initialised under one process-wide
/// lock: burn seeds one RNG per device kind, shared by the whole process, and initialises
/// parameters lazily, so two networks built at once (parallel tests, a page and a worker) would
/// otherwise interleave their draws.
fn seeded_egnn(config: &EgnnConfig, device: &Device, seed: u64) -> Egnn {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let model = Egnn::new(config, device);
    let _ = model.clone().into_record(); // reads, hence initialises, every parameter
    model
}

/// An EGNN with its configuration, device and (when training) optimiser: the score network of
/// the reverse samplers (DSM methods below) and Adjoint Sampling's controller (`adjoint`).
pub struct Network {
    pub config: EgnnConfig,
    pub model: Egnn,
    device: Device,
    compute: Compute,
    optim: Option<ModuleOptimizer>,
    /// The weights before the latest update: they produced the last finite loss.
    last_good: Option<Egnn>,
    pub steps: usize,
}

/// The denoising score model is the network with the DSM methods.
pub type ScoreModel = Network;

impl Network {
    /// A fresh network; the same seed gives the same weights ([`seeded_egnn`]).
    pub fn new(config: EgnnConfig, seed: u64) -> Self {
        crate::run_static_constructors();
        let device = Device::flex().autodiff();
        let model = seeded_egnn(&config, &device, seed);
        sweep_autodiff_graphs(&device);
        Network { config, model, device, compute: Compute::Cpu, optim: None, last_good: None, steps: 0 }
    }

    /// A fresh network on `compute`: initialised on the CPU from `seed` (the same weights as
    /// [`new`](Self::new)), then moved.
    pub fn new_on(config: EgnnConfig, seed: u64, compute: &Compute) -> Self {
        Network::new(config, seed).moved_to(compute)
    }

    /// This network (weights and step count; the optimiser state restarts) on `compute`.
    pub fn moved_to(mut self, compute: &Compute) -> Self {
        self.move_to(compute);
        self
    }

    /// Moves the weights to `compute` (the step count stays; the optimiser state restarts).
    /// From the CPU this is a sync copy; off a GPU in the browser use [`snapshot`](Self::snapshot).
    pub fn move_to(&mut self, compute: &Compute) {
        self.optim = None;
        self.last_good = None;
        if matches!((compute, &self.compute), (Compute::Cpu, Compute::Cpu)) {
            return;
        }
        self.device = compute.device().autodiff();
        self.compute = compute.clone();
        // each weight becomes a leaf on the new device: a plain `to_device` records the move in
        // the graph, and the second backward pass then finds that node consumed
        self.model = self.model.clone().map(&mut MoveTo(self.device.clone()));
    }

    /// Where this network runs.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// A copy of this network on the CPU backend, read back asynchronously (one transfer for all
    /// weights): to save weights or to sample from a network that trains on WebGPU.
    pub async fn snapshot(&self) -> Result<Network, ModelError> {
        let mut collect = Collect(Vec::new());
        self.model.visit(&mut collect);
        let tx = collect.0.into_iter().fold(Transaction::default(), |tx, t| tx.register(t));
        let data = tx.execute_async().await.map_err(|e| ModelError::Corrupt(format!("reading the weights back from the device failed: {e:?}")))?;
        let mut copy = Network::new(self.config.clone(), 0);
        copy.model = copy.model.map(&mut Fill(data.into_iter()));
        copy.steps = self.steps;
        Ok(copy)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A copy of the weights (fresh leaves on the same device, no optimiser state): the start
    /// of an exponential moving average ([`average_towards`](Self::average_towards)).
    pub fn weights_copy(&self) -> Network {
        Network { config: self.config.clone(), model: self.parameters_copy(), device: self.device.clone(), compute: self.compute.clone(), optim: None, last_good: None, steps: self.steps }
    }

    /// The model with its parameters as fresh leaves (same ids and values): one for each
    /// thread of a regression step in parts. burn's autodiff merges graphs that share nodes,
    /// and threads whose graphs share the parameter leaves deadlock in its graph locks
    /// (one backward holds its graph and waits for the locator, the other the reverse).
    pub fn parameters_copy(&self) -> Egnn {
        self.model.clone().map(&mut MoveTo(self.device.clone()))
    }

    /// One step of an exponential moving average of `current`'s weights (same configuration
    /// and device): θ̄ ← decay·θ̄ + (1 − decay)·θ.
    pub fn average_towards(&mut self, current: &Network, decay: f64) {
        let mut now = Collect(Vec::new());
        current.model.visit(&mut now);
        self.model = self.model.clone().map(&mut Blend { with: now.0.into_iter(), decay });
        self.steps = current.steps;
    }

    /// The network and device without autodiff, for inference: forward passes on the autodiff
    /// device keep their graph until a backward pass, so a sampler that only evaluates grows
    /// without bound (seen: 6 GB for 800 DW-4 samples × 99 steps).
    pub fn inference(&self) -> (Egnn, Device) {
        (self.model.valid(), self.device.clone().inner())
    }

    /// The optimiser state for an exact checkpoint (None before the first step). A sync read of
    /// the state tensors: natively on any device, in the browser only on the CPU.
    pub fn training_state(&self) -> Result<Option<TrainingState>, ModelError> {
        let Some(optim) = &self.optim else {
            return Ok(None);
        };
        let optimizer = optim.into_bytes().map_err(|e| ModelError::Corrupt(format!("the optimiser state: {e:?}")))?.to_vec();
        let mut ids = Ids(Vec::new());
        self.model.visit(&mut ids);
        Ok(Some(TrainingState { param_ids: ids.0, optimizer, steps: self.steps }))
    }

    /// Goes on from a checkpoint's [`TrainingState`] (saved with these weights): the parameters
    /// take the ids the state is keyed by, and the next step continues the same Adam run.
    pub fn restore_training_state(&mut self, state: TrainingState) -> Result<(), ModelError> {
        let want = self.config.tensor_count();
        if state.param_ids.len() != want {
            return Err(ModelError::Corrupt(format!("the optimiser state names {} parameters, the network has {want}", state.param_ids.len())));
        }
        // two parameters under one id would share (burn: swap) their gradients
        if state.param_ids.iter().collect::<std::collections::HashSet<_>>().len() != want {
            return Err(ModelError::Corrupt("the optimiser state names a parameter id twice".into()));
        }
        let mut shapes = Shapes(Vec::new());
        self.model.visit(&mut shapes);
        check_optimizer_record(&state.optimizer, &state.param_ids, &shapes.0)?;
        let optim: ModuleOptimizer = adam().init();
        let optim = optim.from_bytes(burn::tensor::Bytes::from_bytes_vec(state.optimizer)).map_err(|e| ModelError::Corrupt(format!("the optimiser state: {e:?}")))?;
        self.model = self.model.clone().map(&mut SetIds(state.param_ids.into_iter()));
        self.optim = Some(optim);
        self.last_good = None;
        self.steps = state.steps;
        Ok(())
    }

    /// Puts back the weights from before the latest update (when they made things worse in a
    /// way the loss did not show, e.g. an exploding simulation).
    pub fn revert(&mut self) {
        if let Some(good) = self.last_good.take() {
            self.model = good;
        }
    }

    /// One Adam step on `loss` (a scalar built from this network's forward passes). A
    /// non-finite loss changes nothing but puts back the weights that gave the last finite one
    /// and returns `Diverged`; otherwise returns the loss.
    pub async fn apply(&mut self, loss: Tensor<1>, lr: f64) -> Result<f64, ModelError> {
        let value = read_vec(loss.clone()).await.map_err(|e| ModelError::Corrupt(e.to_string()))?.first().copied().unwrap_or(f64::NAN);
        if !value.is_finite() {
            self.revert();
            return Err(ModelError::Diverged { step: self.steps, loss: value });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.step(grads, lr);
        Ok(value)
    }

    /// One Adam step on a loss computed in parts (each part's value and gradients, e.g. from
    /// [`parallel::map_parts`](crate::parallel::map_parts)): the loss is the parts' sum and
    /// its gradient the sum of theirs, added in part order. Non-finite: as [`apply`](Self::apply).
    pub fn apply_parts(&mut self, parts: Vec<(f64, GradientsParams)>, lr: f64) -> Result<f64, ModelError> {
        let value: f64 = parts.iter().map(|(v, _)| v).sum();
        if !value.is_finite() {
            self.revert();
            return Err(ModelError::Diverged { step: self.steps, loss: value });
        }
        let mut sum = SumGrads { parts: parts.into_iter().map(|(_, g)| g).collect(), total: GradientsParams::new() };
        self.model.visit(&mut sum);
        self.step(sum.total, lr);
        Ok(value)
    }

    fn step(&mut self, grads: GradientsParams, lr: f64) {
        let optim = self.optim.get_or_insert_with(|| adam().init());
        self.last_good = Some(self.model.clone());
        self.model = optim.step(lr, self.model.clone(), grads);
        self.steps += 1;
    }

    /// ε̂ (preconditioned) for a batch: x [B, N, 3] at steps `ts` of the schedule.
    #[allow(clippy::too_many_arguments)]
    fn eps_hat(&self, model: &Egnn, d: &Device, x: Tensor<3>, feats: Tensor<3>, edges: Option<Tensor<4>>, ts: &[f64], schedule: &Schedule) -> Tensor<3> {
        let [c_in, c_skip, c_out] = preconditioning(self.config.data_variance, ts, schedule, d);
        let tn = time_input(ts, schedule, d);
        let f = match edges {
            Some(edges) => model.forward_graph(x.clone() * c_in, feats, edges, tn),
            None => model.forward(x.clone() * c_in, feats, tn),
        };
        x * c_skip + f * c_out
    }

    /// ε̂ for a batch of flat positions (B × N × 3) with features (B × N × F) at steps `ts`.
    pub fn predict(&self, xs: &[f64], feats: &[f64], ts: &[f64], schedule: &Schedule) -> Vec<f64> {
        let (n, f) = (self.config.atoms, self.config.features);
        let b = ts.len();
        let (model, d) = self.inference();
        // in batches within MAX_PAIR_WORK: the pair tensors grow with batch × atoms² × hidden
        let chunk = self.config.max_batch();
        let mut out = Vec::with_capacity(xs.len());
        for start in (0..b).step_by(chunk) {
            let m = chunk.min(b - start);
            let x = &xs[start * n * 3..(start + m) * n * 3];
            let h = &feats[start * n * f..(start + m) * n * f];
            out.extend(to_vec(self.eps_hat(&model, &d, tensor3(x, m, n, 3, &d), tensor3(h, m, n, f, &d), None, &ts[start..start + m], schedule)));
        }
        out
    }

    /// ε̂ of a network conditioned on the molecular graph for B molecules of `n` atoms: flat
    /// positions (B × n × 3), node features (B × n × F) and edge attributes (B × n × (n − 1) ×
    /// E, pairs in [`other_atoms`] order) at steps `ts`.
    pub fn predict_graph(&self, xs: &[f64], feats: &[f64], edges: &[f64], n: usize, ts: &[f64], schedule: &Schedule) -> Vec<f64> {
        let (f, k) = (self.config.features, self.config.edge_features);
        let (b, e) = (ts.len(), n.saturating_sub(1));
        let (model, d) = self.inference();
        let chunk = self.config.batch_for(n);
        let mut out = Vec::with_capacity(xs.len());
        for start in (0..b).step_by(chunk) {
            let m = chunk.min(b - start);
            let x = tensor3(&xs[start * n * 3..(start + m) * n * 3], m, n, 3, &d);
            let h = tensor3(&feats[start * n * f..(start + m) * n * f], m, n, f, &d);
            let g = tensor4(&edges[start * n * e * k..(start + m) * n * e * k], [m, n, e, k], &d);
            out.extend(to_vec(self.eps_hat(&model, &d, x, h, Some(g), &ts[start..start + m], schedule)));
        }
        out
    }

    /// One step of denoising score matching on a batch of clean CoM-free configurations `x0`
    /// (B × N × 3) with features: t uniform in [1, t_max], x_t = α x0 + σ Pε, loss |ε̂ − ε|²
    /// (mean). A non-finite loss keeps the previous weights and returns `Diverged`.
    pub async fn train_step(&mut self, x0: &[f64], feats: &[f64], schedule: &Schedule, t_max: f64, lr: f64, rng: &mut XorShift64) -> Result<f64, ModelError> {
        self.train_step_with(Objective::Conventional, x0, feats, schedule, t_max, lr, rng).await
    }

    /// [`train_step`](Self::train_step) with one of the quotient-space paper's four training
    /// objectives ([`crate::objectives`]): the same draws of t and ε, the loss against the
    /// objective's target, projected at x_t for the quotient one. Returns the loss.
    #[allow(clippy::too_many_arguments)]
    pub async fn train_step_with(&mut self, objective: Objective, x0: &[f64], feats: &[f64], schedule: &Schedule, t_max: f64, lr: f64, rng: &mut XorShift64) -> Result<f64, ModelError> {
        self.train_step_sized(objective, x0, feats, None, self.config.atoms, schedule, t_max, lr, rng).await
    }

    /// [`train_step_with`](Self::train_step_with) for a network conditioned on the molecular
    /// graph: B molecules of `n` atoms (any n up to the configuration's), each with its edge
    /// attributes (B × n × (n − 1) × E, pairs in [`other_atoms`] order).
    #[allow(clippy::too_many_arguments)]
    pub async fn train_step_graph(
        &mut self,
        objective: Objective,
        x0: &[f64],
        feats: &[f64],
        edges: &[f64],
        n: usize,
        schedule: &Schedule,
        t_max: f64,
        lr: f64,
        rng: &mut XorShift64,
    ) -> Result<f64, ModelError> {
        let k = self.config.edge_features;
        if k == 0 || n < 2 || n > self.config.atoms || edges.len() != x0.len() / (3 * n) * n * (n - 1) * k {
            return Err(ModelError::Input(format!("a graph batch needs a network with edge features and molecules of 2 to {} atoms with {k} attributes per pair", self.config.atoms)));
        }
        self.train_step_sized(objective, x0, feats, Some(edges), n, schedule, t_max, lr, rng).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn train_step_sized(
        &mut self,
        objective: Objective,
        x0: &[f64],
        feats: &[f64],
        edges: Option<&[f64]>,
        n: usize,
        schedule: &Schedule,
        t_max: f64,
        lr: f64,
        rng: &mut XorShift64,
    ) -> Result<f64, ModelError> {
        let f = self.config.features;
        if x0.is_empty() || !x0.len().is_multiple_of(3 * n) || feats.len() != x0.len() / 3 * f {
            return Err(ModelError::Input(format!("a batch must hold configurations of {n} atoms with {f} features each")));
        }
        if !(t_max >= 1.0 && t_max <= schedule.steps() as f64) {
            return Err(ModelError::Input(format!("t_max must be within [1, {}]", schedule.steps())));
        }
        self.config.check_schedule(schedule)?;
        if objective == Objective::Quotient && !(3..=MAX_QUOTIENT_ATOMS).contains(&n) {
            // P at x_t is a dense 3N × 3N matrix per configuration (N < 3: degenerate)
            return Err(ModelError::Input(format!("the quotient objective trains networks of 3 to {MAX_QUOTIENT_ATOMS} atoms, not {n}")));
        }
        let b = x0.len() / (3 * n);
        let (ts, eps) = draw_noise(b, n, t_max, rng);
        let xt = noised_rows(x0, &eps, &ts, 3 * n, schedule);
        let d = &self.device;
        let edges = edges.map(|g| tensor4(g, [b, n, n - 1, self.config.edge_features], d));
        let pred = self.eps_hat(&self.model, d, tensor3(&xt, b, n, 3, d), tensor3(feats, b, n, f, d), edges, &ts, schedule);
        let loss = self.objective_loss(objective, pred, x0, &eps, &xt, &ts, schedule).await?;
        self.apply(loss, lr).await
    }

    /// The objective's loss (mean over B·N·3) as a tensor on the prediction `pred` = ε̂. Targets
    /// are built on the host from data, noise and x_t, and for AF3 from a stop-gradient copy of
    /// `pred` read back: no gradient flows through a target.
    #[allow(clippy::too_many_arguments)]
    async fn objective_loss(&self, objective: Objective, pred: Tensor<3>, x0: &[f64], eps: &[f64], xt: &[f64], ts: &[f64], schedule: &Schedule) -> Result<Tensor<1>, ModelError> {
        let (b, n, d) = (ts.len(), pred.dims()[1], &self.device);
        let per = 3 * n;
        Ok(match objective {
            Objective::Conventional => (pred - tensor3(eps, b, n, 3, d)).powf_scalar(2.0).mean(),
            Objective::Geodiff | Objective::Af3 => {
                let stop = if objective.needs_prediction() { Some(read_vec(pred.clone().detach()).await.map_err(|e| ModelError::Corrupt(e.to_string()))?) } else { None };
                let target: Vec<f64> = (0..b)
                    .flat_map(|i| {
                        let r = i * per..(i + 1) * per;
                        let (a, s) = (schedule.alpha(ts[i]), schedule.sigma(ts[i]));
                        crate::objectives::eps_target(objective, &x0[r.clone()], &eps[r.clone()], &xt[r.clone()], a, s, stop.as_ref().map(|p| &p[r]))
                    })
                    .collect();
                (pred - tensor3(&target, b, n, 3, d)).powf_scalar(2.0).mean()
            }
            Objective::Quotient => {
                let p: Vec<f32> = xt.chunks(per).flat_map(crate::objectives::projector).map(|v| v as f32).collect();
                let p = Tensor::<3>::from_data(TensorData::new(p, [b, per, per]), d);
                let resid = (pred - tensor3(eps, b, n, 3, d)).reshape([b, per, 1]);
                p.matmul(resid).powf_scalar(2.0).mean()
            }
        })
    }

    /// ε̂ of a whole-molecule network for B molecules of n atoms: positions x [B, n, 3] and
    /// types h [B, n, F] at steps `ts`, each modality preconditioned with its own data variance
    /// (v̂ for positions, v̂_h for the type block), as [`eps_hat`](Self::eps_hat) does for
    /// positions alone.
    #[allow(clippy::too_many_arguments)]
    fn eps_hat_joint(&self, model: &Egnn, d: &Device, x: Tensor<3>, h: Tensor<3>, ts: &[f64], schedule: &Schedule) -> (Tensor<3>, Tensor<3>) {
        let [in_x, skip_x, out_x] = preconditioning(self.config.data_variance, ts, schedule, d);
        let [in_h, skip_h, out_h] = preconditioning(self.config.type_variance.unwrap_or(1.0), ts, schedule, d);
        let tn = time_input(ts, schedule, d);
        let (fx, fh) = model.forward_joint(x.clone() * in_x, h.clone() * in_h, tn);
        (x * skip_x + fx * out_x, h * skip_h + fh * out_h)
    }

    /// ε̂ of a whole-molecule network for B molecules of `n` atoms (flat positions B × n × 3 and
    /// type blocks B × n × F at steps `ts`): (ε̂ positions, ε̂ types).
    pub fn predict_joint(&self, xs: &[f64], hs: &[f64], n: usize, ts: &[f64], schedule: &Schedule) -> (Vec<f64>, Vec<f64>) {
        let f = self.config.features;
        let b = ts.len();
        let (model, d) = self.inference();
        let chunk = self.config.batch_for(n);
        let (mut ex, mut eh) = (Vec::with_capacity(xs.len()), Vec::with_capacity(hs.len()));
        for start in (0..b).step_by(chunk) {
            let m = chunk.min(b - start);
            let x = tensor3(&xs[start * n * 3..(start + m) * n * 3], m, n, 3, &d);
            let h = tensor3(&hs[start * n * f..(start + m) * n * f], m, n, f, &d);
            let (px, ph) = self.eps_hat_joint(&model, &d, x, h, &ts[start..start + m], schedule);
            ex.extend(to_vec(px));
            eh.extend(to_vec(ph));
        }
        (ex, eh)
    }

    /// One denoising step of a whole-molecule network on B clean molecules of `n` atoms
    /// (CoM-free positions `x0`, B × n × 3, and centred type blocks `h0`, B × n × F): t uniform
    /// in [1, t_max] (GAGA: t_max = T*), both modalities noised at the same t with noise of
    /// zero mean over the atoms, loss the mean of |ε̂ − ε|² over every entry of both (EDM's l2).
    #[allow(clippy::too_many_arguments)]
    pub async fn train_step_joint(&mut self, x0: &[f64], h0: &[f64], n: usize, schedule: &Schedule, t_max: f64, lr: f64, rng: &mut XorShift64) -> Result<f64, ModelError> {
        let f = self.config.features;
        if !self.config.is_joint() {
            return Err(ModelError::Input(format!("{} cannot be trained on whole molecules", self.config.kind())));
        }
        if n < 2 || n > self.config.atoms || x0.is_empty() || !x0.len().is_multiple_of(3 * n) || h0.len() != x0.len() / 3 * f {
            return Err(ModelError::Input(format!("a batch must hold molecules of 2 to {} atoms, positions and {f} type columns each", self.config.atoms)));
        }
        if !(t_max >= 1.0 && t_max <= schedule.steps() as f64) {
            return Err(ModelError::Input(format!("t_max must be within [1, {}]", schedule.steps())));
        }
        self.config.check_schedule(schedule)?;
        let b = x0.len() / (3 * n);
        let (ts, eps_x) = draw_noise(b, n, t_max, rng);
        let mut eps_h: Vec<f64> = (0..b * n * f).map(|_| rng.normal()).collect();
        for e in eps_h.chunks_mut(n * f) {
            crate::molecules::centre_columns(e, n, f);
        }
        let (xt, ht) = (noised_rows(x0, &eps_x, &ts, 3 * n, schedule), noised_rows(h0, &eps_h, &ts, f * n, schedule));
        let d = &self.device;
        let (px, ph) = self.eps_hat_joint(&self.model, d, tensor3(&xt, b, n, 3, d), tensor3(&ht, b, n, f, d), &ts, schedule);
        let sx = (px - tensor3(&eps_x, b, n, 3, d)).powf_scalar(2.0).sum();
        let sh = (ph - tensor3(&eps_h, b, n, f, d)).powf_scalar(2.0).sum();
        let loss = (sx + sh) / (b * n * (3 + f)) as f64;
        self.apply(loss, lr).await
    }

    /// x_t = α_t x0 + σ_t ε row by row (one t per configuration).
    fn noised(&self, x0: &[f64], eps: &[f64], ts: &[f64], schedule: &Schedule) -> Vec<f64> {
        noised_rows(x0, eps, ts, 3 * self.config.atoms, schedule)
    }

    /// The denoising loss mean |ε̂(α x0 + σ ε, t) − ε|² on a fixed batch (no update): for
    /// validation curves and tests.
    pub fn dsm_loss(&self, x0: &[f64], feats: &[f64], eps: &[f64], ts: &[f64], schedule: &Schedule) -> f64 {
        let xt = self.noised(x0, eps, ts, schedule);
        let pred = self.predict(&xt, feats, ts, schedule);
        pred.iter().zip(eps).map(|(p, e)| (p - e).powi(2)).sum::<f64>() / pred.len() as f64
    }

    /// Header (magic, version, config) + burn's record bytes. A sync read: for a network on
    /// WebGPU in the browser, save its [`snapshot`](Self::snapshot).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let cfg = serde_json::to_vec(&WeightsHeader { config: self.config.clone(), trained_steps: self.steps }).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        let record = self.model.clone().into_record().into_bytes().map_err(|e| ModelError::Corrupt(e.to_string()))?;
        Ok(write_container(MAGIC, WEIGHTS_VERSION, &cfg, &record))
    }

    /// Reads weights; `want` (if given) must match the stored configuration.
    pub fn from_bytes(bytes: &[u8], want: Option<&EgnnConfig>) -> Result<Self, ModelError> {
        if bytes.starts_with(b"MOLPLAYJ") {
            return Err(ModelError::Input(
                "these weights are a whole-molecule network (types and positions), not a positions-only one: generate with `molplay generate-molecules` or the page's whole-molecule panel".into(),
            ));
        }
        let (cfg_bytes, record) = read_container(bytes, MAGIC, WEIGHTS_VERSION)?;
        let WeightsHeader { config, trained_steps } = serde_json::from_slice(cfg_bytes).map_err(|e| ModelError::Corrupt(format!("configuration: {e}")))?;
        config.check().map_err(|e| ModelError::Corrupt(e.to_string()))?;
        if let Some(w) = want {
            if *w != config {
                return Err(ModelError::Mismatch { got: Box::new(config), want: Box::new(w.clone()) });
            }
        }
        // the payload must hold the configuration's weights (f32) before a network is built for it
        let need = 4 * config.parameter_count();
        let most = need + 1024 * config.tensor_count() + 64 * 1024;
        if !(need..=most).contains(&record.len()) {
            return Err(ModelError::Corrupt(format!("the header describes a network of {} weights ({need} bytes), but the payload has {} bytes", config.parameter_count(), record.len())));
        }
        check_record(record)?;
        let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(record.to_vec())).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        let mut m = Network::new(config, 0);
        m.model = m.model.try_load_record(record).map_err(|e| ModelError::Corrupt(e.to_string()))?;
        m.steps = trained_steps;
        Ok(m)
    }
}

/// Every tensor of a weights file's record (burn's container) must be f32 with as many bytes as
/// its shape needs: burn panics when it loads anything else (found by the fuzzer), so a record
/// read from a file is checked before it reaches burn. Shapes are then checked by burn's load.
fn check_record(record: &[u8]) -> Result<(), ModelError> {
    check_pack(record, "the weights' record", |_, _, _| Ok(())).map(|_| ())
}

/// The optimiser state of a checkpoint is burn's container too, and burn panics on a tensor
/// without a parameter id or whose shape is not its parameter's: each tensor must belong to
/// one of `param_ids` (visiting order) with that parameter's shape in `shapes`.
fn check_optimizer_record(record: &[u8], param_ids: &[u64], shapes: &[Vec<usize>]) -> Result<(), ModelError> {
    let scalars = check_pack(record, "the optimiser state", |name, id, shape| {
        let id = id.ok_or("a tensor without a parameter id")?;
        // burn finds a parameter's state by the name "{id}.…"
        if name.split_once('.').map(|(prefix, _)| prefix) != Some(id.to_string().as_str()) {
            return Err(format!("its name does not start with its parameter id {id}"));
        }
        let k = param_ids.iter().position(|&p| p == id).ok_or_else(|| format!("a tensor for parameter {id}, which the network does not have"))?;
        if shapes.get(k).map(Vec::as_slice) != Some(shape) {
            return Err(format!("a tensor of shape {shape:?} for a parameter of shape {:?}", shapes.get(k)));
        }
        Ok(())
    })?;
    // each parameter's rank, "{id}.__rank", is what burn builds its state tensors with
    for (name, value) in &scalars {
        let Some(id) = name.strip_suffix(".__rank").and_then(|id| id.parse::<u64>().ok()) else { continue };
        let rank = param_ids.iter().position(|&p| p == id).and_then(|k| shapes.get(k)).map(Vec::len);
        if rank.is_none() || usize::try_from(*value).ok() != rank {
            return Err(ModelError::Corrupt(format!("the optimiser state: parameter {id} has rank {value:?} in the state, {rank:?} in the network")));
        }
    }
    Ok(())
}

/// Reads burn's container `pack` and checks that every tensor is f32 with as many bytes as
/// its shape needs, and whatever `each(name, param_id, shape)` adds; errors name `what`.
/// Returns the container's scalars (for the checks that need them).
fn check_pack(pack: &[u8], what: &str, each: impl Fn(&str, Option<u64>, &[usize]) -> Result<(), String>) -> Result<std::collections::BTreeMap<String, burn_pack::Scalar>, ModelError> {
    let corrupt = |e: String| ModelError::Corrupt(format!("{what}: {e}"));
    let reader = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(pack.to_vec())).map_err(|e| corrupt(e.to_string()))?;
    let scalars = reader.scalars().clone();
    for tensor in reader.into_tensors().map_err(|e| corrupt(e.to_string()))? {
        let (name, dtype, shape, id, bytes) = tensor.into_parts().map_err(|e| corrupt(e.to_string()))?;
        let shown = crate::io::printable(&name);
        let shape: Vec<usize> = shape.iter().copied().collect();
        if dtype != burn::tensor::DType::F32 {
            return Err(corrupt(format!("tensor {shown} is {dtype:?}, not f32")));
        }
        let need = shape.iter().try_fold(4usize, |n, &d| n.checked_mul(d));
        if need != Some(bytes.len()) {
            return Err(corrupt(format!("tensor {shown} has {} bytes for shape {shape:?}", bytes.len())));
        }
        each(&name, id, &shape).map_err(|e| corrupt(format!("tensor {shown}: {e}")))?;
    }
    Ok(scalars)
}

/// A weights file's JSON header: the network's configuration and the gradient steps the weights
/// had (older readers ignore the field; files from before it read as 0, "not recorded").
#[derive(Serialize, Deserialize)]
struct WeightsHeader {
    #[serde(flatten)]
    config: EgnnConfig,
    #[serde(default)]
    trained_steps: usize,
}

/// The weights files' container: 8-byte magic, version (u32 LE), JSON header length (u32 LE),
/// the JSON header, then the payload.
pub fn write_container(magic: &[u8; 8], version: u32, header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + header.len() + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    out
}

/// Splits a container written by [`write_container`] into (header, payload), checking the magic
/// and the version.
pub fn read_container<'a>(bytes: &'a [u8], magic: &[u8; 8], version: u32) -> Result<(&'a [u8], &'a [u8]), ModelError> {
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err(ModelError::NotWeights);
    }
    let got = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if got != version {
        return Err(ModelError::Version { got, supported: version });
    }
    let len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    // checked: 16 + a u32 length overflows a 32-bit usize (wasm32)
    let end = len.checked_add(16).filter(|&end| end <= bytes.len()).ok_or_else(|| ModelError::Corrupt("the header is cut short".into()))?;
    Ok((&bytes[16..end], &bytes[end..]))
}

/// EDM's c_in, c_skip, c_out ([B, 1, 1] each) for a modality of data variance `v` at steps `ts`:
/// with total = α²v + σ², c_in = 1/√total, c_skip = σ/total, c_out = α/√total.
fn preconditioning(v: f64, ts: &[f64], schedule: &Schedule, d: &Device) -> [Tensor<3>; 3] {
    let col = |f: &dyn Fn(f64) -> f64| -> Tensor<3> { Tensor::from_data(TensorData::new(ts.iter().map(|&t| f(t) as f32).collect::<Vec<f32>>(), [ts.len(), 1, 1]), d) };
    let total = |t: f64| schedule.alpha2(t) * v + schedule.sigma2(t);
    [col(&|t| 1.0 / total(t).sqrt()), col(&|t| schedule.sigma(t) / total(t)), col(&|t| schedule.alpha(t) / total(t).sqrt())]
}

/// The network's time input t/T ([B, 1]).
fn time_input(ts: &[f64], schedule: &Schedule, d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(ts.iter().map(|&t| (t / schedule.steps() as f64) as f32).collect::<Vec<f32>>(), [ts.len(), 1]), d)
}

/// x_t = α_t x0 + σ_t ε for rows of `per` values (one t per row).
fn noised_rows(x0: &[f64], eps: &[f64], ts: &[f64], per: usize, schedule: &Schedule) -> Vec<f64> {
    x0.chunks(per)
        .zip(eps.chunks(per))
        .zip(ts)
        .flat_map(|((x, e), &t)| {
            let (a, s) = (schedule.alpha(t), schedule.sigma(t));
            x.iter().zip(e).map(move |(x, e)| a * x + s * e).collect::<Vec<f64>>()
        })
        .collect()
}

/// Atoms per configuration the quotient objective trains (its projector is 3N × 3N).
pub const MAX_QUOTIENT_ATOMS: usize = 128;

/// The noise of one training batch, drawn in this order from `rng`: per configuration a step t
/// uniform in [1, t_max] (whole steps), then 3N normal values made CoM-free. (ts, ε).
pub fn draw_noise(b: usize, n: usize, t_max: f64, rng: &mut XorShift64) -> (Vec<f64>, Vec<f64>) {
    let (mut eps, mut ts) = (Vec::with_capacity(b * 3 * n), Vec::with_capacity(b));
    for _ in 0..b {
        ts.push(1.0 + (rng.uniform() * t_max).floor().min(t_max - 1.0));
        let mut e: Vec<f64> = (0..3 * n).map(|_| rng.normal()).collect();
        crate::geometry::remove_com(&mut e, 3);
        eps.extend(e);
    }
    (ts, eps)
}

/// The trained network as a score source for the samplers: D = (x − σ ε̂)/α.
pub struct NetworkDenoiser<'a> {
    pub model: &'a ScoreModel,
    /// Node features: of one molecule (N × F), shared by every sample, or of each sample in the
    /// run (B × N × F, e.g. each sample's elements).
    pub feats: Vec<f64>,
}

impl crate::samplers::Denoiser for NetworkDenoiser<'_> {
    fn atoms(&self) -> usize {
        self.model.config.atoms
    }

    fn denoise(&mut self, x: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        self.denoise_batch(x, t, s)
    }

    /// One network call for the whole batch.
    fn denoise_batch(&mut self, xs: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        let b = xs.len() / (3 * self.model.config.atoms);
        let one = self.model.config.atoms * self.model.config.features;
        let eps = if self.feats.len() == b * one {
            self.model.predict(xs, &self.feats, &vec![t; b], s)
        } else {
            // one molecule's features for every sample
            debug_assert_eq!(self.feats.len(), one, "features of one molecule or of every sample");
            let feats: Vec<f64> = (0..b).flat_map(|_| self.feats[..one].iter().copied()).collect();
            self.model.predict(xs, &feats, &vec![t; b], s)
        };
        let (a, sg) = (s.alpha(t), s.sigma(t));
        xs.iter().zip(&eps).map(|(xi, e)| (xi - sg * e) / a).collect()
    }
}

/// Milliseconds per denoising-score-matching step on `compute` (an 8-bead chain network, hidden
/// 32, 3 layers, batch 32: the page's defaults), the mean of `reps` steps after one warm-up step
/// (which compiles the GPU kernels). Each step ends with the loss read back, so GPU work is
/// included. `clock` gives milliseconds.
pub async fn time_dsm_steps(compute: &Compute, reps: usize, clock: &dyn Fn() -> f64) -> Result<f64, ModelError> {
    let n = 8;
    let config = EgnnConfig::indexed(n, 32, 3, 1.0);
    let mut net = Network::new_on(config, 0, compute);
    let mut rng = XorShift64::new(1);
    let schedule = Schedule::polynomial2(1000, 1e-5);
    let batch = 32;
    let feats = net.config.node_features(batch);
    let x0: Vec<f64> = (0..batch * n * 3).map(|_| rng.normal()).collect();
    net.train_step(&x0, &feats, &schedule, 1000.0, 1e-3, &mut rng).await?;
    let t0 = clock();
    for _ in 0..reps.max(1) {
        net.train_step(&x0, &feats, &schedule, 1000.0, 1e-3, &mut rng).await?;
    }
    Ok((clock() - t0) / reps.max(1) as f64)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::rng::XorShift64;

    /// The EGNN as first written: dense [B, N, N, ·] pair tensors on concatenated
    /// [h_i, h_j, d²_ij] rows, the diagonal masked out. The oracle for the edge-list form.
    fn dense_forward(net: &Egnn, x: Tensor<3>, h: Tensor<3>, t: Tensor<2>, coord_range: Option<f64>) -> Tensor<3> {
        dense_forward_graph(net, x, h, None, t, coord_range)
    }

    /// As `dense_forward`, with edge attributes [B, N, N, E] concatenated to each pair's input.
    fn dense_forward_graph(net: &Egnn, x: Tensor<3>, h: Tensor<3>, edges: Option<Tensor<4>>, t: Tensor<2>, coord_range: Option<f64>) -> Tensor<3> {
        let [b, n, _] = x.dims();
        let device = x.device();
        let tt: Tensor<3> = t.unsqueeze_dim::<3>(1).repeat_dim(1, n);
        let mut hc = net.embed.forward(Tensor::cat(vec![h, tt], 2));
        let eye: Tensor<2> = Tensor::eye(n, &device);
        let mask: Tensor<4> = (Tensor::<2>::ones([n, n], &device) - eye).unsqueeze_dim::<3>(2).unsqueeze_dim::<4>(0);
        let x0 = x.clone();
        let mut xc = x;
        let mut d2_in = None;
        for layer in &net.layers {
            let diff: Tensor<4> = xc.clone().unsqueeze_dim::<4>(2).repeat_dim(2, n) - xc.clone().unsqueeze_dim::<4>(1).repeat_dim(1, n);
            let d2 = diff.clone().powf_scalar(2.0).sum_dim(3);
            let d2_in = d2_in.get_or_insert_with(|| d2.clone()).clone();
            let hi: Tensor<4> = hc.clone().unsqueeze_dim::<4>(2).repeat_dim(2, n);
            let hj: Tensor<4> = hc.clone().unsqueeze_dim::<4>(1).repeat_dim(1, n);
            let mut input = vec![hi, hj, d2.clone()];
            input.extend(edges.clone());
            if net.input_distances {
                input.push(d2_in);
            }
            let mut m = silu(layer.edge.forward(Tensor::cat(input, 3)));
            if let Some(gate) = &layer.gate {
                m = m.clone() * sigmoid(gate.forward(m));
            }
            let m = m * mask.clone().repeat_dim(0, b);
            let w = layer.coord.forward(m.clone());
            let shift: Tensor<3> = match coord_range {
                None => (diff * w).sum_dim(2).squeeze_dim::<3>(2) / (n.max(2) - 1) as f64,
                Some(range) => {
                    let unit = diff / ((d2.clone() + 1e-8).sqrt() + 1.0);
                    (unit * w.tanh() * (range / net.layers.len().max(1) as f64)).sum_dim(2).squeeze_dim::<3>(2)
                }
            };
            xc = xc + shift;
            let agg: Tensor<3> = m.sum_dim(2).squeeze_dim::<3>(2);
            hc = hc.clone() + layer.node.forward(Tensor::cat(vec![hc, agg], 2));
        }
        let out = xc - x0;
        out.clone() - out.mean_dim(1)
    }

    fn parameters(net: &Network) -> Vec<f64> {
        let mut all = Collect(Vec::new());
        net.model.visit(&mut all);
        all.0.into_iter().flat_map(|t| t.into_data().try_to_vec::<f32>().unwrap()).map(f64::from).collect()
    }

    #[test]
    fn a_weights_average_moves_each_parameter_by_the_decay() {
        let cfg = EgnnConfig { coord_range: Some(15.0), ..EgnnConfig::identical(4, 8, 2, 1.0) };
        let (first, second) = (Network::new(cfg.clone(), 1), Network::new(cfg, 2));
        let mut average = first.weights_copy();
        assert_eq!(parameters(&average), parameters(&first));
        average.average_towards(&second, 0.75);
        let (a, b, avg) = (parameters(&first), parameters(&second), parameters(&average));
        assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3), "two seeds gave the same weights: the check would be empty");
        for ((x, y), m) in a.iter().zip(&b).zip(&avg) {
            assert!((m - (0.75 * x + 0.25 * y)).abs() < 1e-6, "{m} is not 0.75·{x} + 0.25·{y}");
        }
        // the average is a copy: the averaged network's parameters are its own
        assert_eq!(parameters(&first), a);
    }

    /// Gradients summed over parts of a batch (each part's loss its share of the whole, as the
    /// threads of a CPU regression step compute them) step the network as the whole loss does.
    #[test]
    fn a_loss_in_parts_steps_as_the_whole_loss() {
        let cfg = EgnnConfig { coord_range: Some(15.0), ..EgnnConfig::identical(4, 8, 2, 1.0) };
        let (mut whole, mut split) = (Network::new(cfg.clone(), 3), Network::new(cfg, 3));
        let mut rng = XorShift64::new(9);
        let (b, per) = (6, 12);
        let xs: Vec<f64> = (0..b * per).map(|_| rng.normal()).collect();
        let loss_of = |net: &Network, r: std::ops::Range<usize>| -> Tensor<1> {
            let dev = net.device();
            let len = r.len();
            let t: Tensor<2> = Tensor::from_data(TensorData::new(vec![0.3f32; len], [len, 1]), dev);
            let out = net.model.forward_with(tensor3(&xs[r.start * per..r.end * per], len, 4, 3, dev), Tensor::ones([len, 4, 1], dev), t, Some(15.0));
            (out - 0.5).powf_scalar(2.0).sum() / (b * per) as f64
        };
        let v = pollster::block_on(whole.apply(loss_of(&whole, 0..b), 1e-2)).unwrap();
        let parts: Vec<(f64, GradientsParams)> = [0..2, 2..6]
            .into_iter()
            .map(|r| {
                let loss = loss_of(&split, r);
                let value = f64::from(loss.clone().into_data().try_to_vec::<f32>().unwrap()[0]);
                (value, GradientsParams::from_grads(loss.backward(), &split.model))
            })
            .collect();
        let w = split.apply_parts(parts, 1e-2).unwrap();
        assert!((v - w).abs() < 1e-6 * v.abs().max(1.0), "loss {v} whole, {w} in parts");
        let (a, b) = (parameters(&whole), parameters(&split));
        let moved = parameters(&Network::new(whole.config.clone(), 3)).iter().zip(&a).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(moved > 1e-3, "the step moved nothing ({moved}): the comparison would be empty");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "parameter {x} after the whole loss, {y} after its parts");
        }
        assert_eq!((whole.steps, split.steps), (1, 1));
    }

    /// A fresh bounded EGNN (an Adjoint Sampling controller) is about the zero drift: its
    /// coordinate heads start at 1/1000 of burn's usual scale, as EDM's EGNN starts them.
    #[test]
    fn a_fresh_controller_starts_near_zero_drift() {
        let device = Device::flex();
        let mut rng = XorShift64::new(3);
        let (b, n) = (8, 13);
        let xs: Vec<f64> = (0..b * n * 3).map(|_| rng.normal()).collect();
        let t: Tensor<2> = Tensor::from_data(TensorData::new(vec![0.5f32; b], [b, 1]), &device);
        let largest = |range: Option<f64>| {
            let net = seeded_egnn(&EgnnConfig { coord_range: range, ..EgnnConfig::identical(n, 64, 4, 1.0) }, &device, 0);
            to_vec(net.forward_with(tensor3(&xs, b, n, 3, &device), Tensor::ones([b, n, 1], &device), t.clone(), range)).iter().fold(0.0f64, |m, v| m.max(v.abs()))
        };
        let (bounded, plain) = (largest(Some(15.0)), largest(None));
        assert!(bounded < 0.05, "a fresh controller moves atoms by up to {bounded}");
        assert!(bounded > 0.0 && plain > 20.0 * bounded, "the score network keeps burn's scale ({plain} vs {bounded})");
    }

    /// Edge attributes (a graph-conditioned network) enter the split edge layer as they enter
    /// the dense one concatenated; and the output stays rotation-equivariant.
    #[test]
    fn edge_attributes_act_as_in_the_dense_egnn_and_keep_equivariance() {
        let device = Device::flex();
        let mut rng = XorShift64::new(11);
        let (b, n, k) = (2, 5, 4);
        let cfg = EgnnConfig { edge_features: k, ..EgnnConfig::identical(n, 12, 2, 1.0) };
        let net = seeded_egnn(&cfg, &device, 0);
        let xs: Vec<f64> = (0..b * n * 3).map(|_| rng.normal()).collect();
        let dense_e: Vec<f64> = (0..b * n * n * k).map(|_| rng.uniform()).collect();
        // the directed pairs j ≠ i, in the EGNN's order
        let list_e: Vec<f64> = (0..b).flat_map(|m| other_atoms(n).flat_map(move |(i, j)| (0..k).map(move |c| (m, i, j, c)))).map(|(m, i, j, c)| dense_e[((m * n + i) * n + j) * k + c]).collect();
        let t: Tensor<2> = Tensor::from_data(TensorData::new(vec![0.4f32; b], [b, 1]), &device);
        let h = Tensor::<3>::ones([b, n, 1], &device);
        let fast = to_vec(net.forward_graph(tensor3(&xs, b, n, 3, &device), h.clone(), tensor4(&list_e, [b, n, n - 1, k], &device), t.clone()));
        let dense = to_vec(dense_forward_graph(&net, tensor3(&xs, b, n, 3, &device), h.clone(), Some(tensor4(&dense_e, [b, n, n, k], &device)), t.clone(), None));
        let plain = to_vec(net.forward_graph(tensor3(&xs, b, n, 3, &device), h.clone(), tensor4(&vec![0.0; list_e.len()], [b, n, n - 1, k], &device), t.clone()));
        let scale = dense.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(fast.iter().zip(&plain).any(|(a, p)| (a - p).abs() > 1e-4 * scale), "the edge attributes changed nothing");
        for (a, d) in fast.iter().zip(&dense) {
            assert!((a - d).abs() <= 1e-5 * scale.max(1.0), "edge list {a} vs dense {d}");
        }
        // rotate the input: the output rotates with it
        let (c, s) = (0.8f64.cos(), 0.8f64.sin());
        let rot = |v: &[f64]| -> Vec<f64> { v.chunks(3).flat_map(|p| [c * p[0] - s * p[2], p[1], s * p[0] + c * p[2]]).collect() };
        let turned = to_vec(net.forward_graph(tensor3(&rot(&xs), b, n, 3, &device), h, tensor4(&list_e, [b, n, n - 1, k], &device), t));
        for (a, r) in turned.iter().zip(rot(&fast)) {
            assert!((a - r).abs() <= 1e-4 * scale.max(1.0), "not equivariant: {a} vs {r}");
        }
    }

    #[test]
    fn the_configuration_counts_the_parameters_every_variant_has() {
        let base = EgnnConfig { coord_range: Some(15.0), ..EgnnConfig::identical(5, 8, 3, 1.0) };
        for (attention, input_distances) in [(false, false), (true, false), (false, true), (true, true)] {
            let cfg = EgnnConfig { attention, input_distances, ..base.clone() };
            let net = Network::new(cfg.clone(), 1);
            let mut all = Collect(Vec::new());
            net.model.visit(&mut all);
            assert_eq!(all.0.len(), cfg.tensor_count(), "{attention} {input_distances}");
            assert_eq!(parameters(&net).len(), cfg.parameter_count(), "{attention} {input_distances}");
        }
    }

    #[test]
    fn the_edge_list_egnn_is_the_dense_one() {
        let device = Device::flex();
        let mut rng = XorShift64::new(7);
        let cases = [(2, 3, 1, 8, 2, None), (4, 2, 1, 16, 3, Some(15.0)), (5, 3, 5, 12, 2, None), (13, 3, 3, 8, 4, Some(15.0))];
        // and the Adjoint Sampling code's EGNN: gated messages, the input d² in every layer
        for ((n, d, features, hidden, layers, range), official) in cases.into_iter().flat_map(|c| [(c, false), (c, true)]) {
            let cfg = EgnnConfig { coord_range: range, attention: official, input_distances: official, ..EgnnConfig::identical(n, hidden, layers, 1.0) };
            let cfg = EgnnConfig { features, ..cfg };
            let net = seeded_egnn(&cfg, &device, 0);
            let b = 3;
            let xs: Vec<f64> = (0..b * n * d).map(|_| 1.5 * rng.normal()).collect();
            let hs: Vec<f64> = (0..b * n * features).map(|_| rng.uniform()).collect();
            let ts: Vec<f32> = (0..b).map(|_| rng.uniform() as f32).collect();
            let x = tensor3(&xs, b, n, d, &device);
            let h = tensor3(&hs, b, n, features, &device);
            let t: Tensor<2> = Tensor::from_data(TensorData::new(ts, [b, 1]), &device);
            let fast = to_vec(net.forward_with(x.clone(), h.clone(), t.clone(), range));
            let dense = to_vec(dense_forward(&net, x, h, t, range));
            let scale = dense.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            // (a bounded network starts with its coordinate heads at 1/1000 scale, so its outputs
            // are small, ~1e-4, by construction: the comparison is relative to them)
            assert!(scale > 1e-6, "a test whose outputs vanish checks nothing ({n} atoms: {scale})");
            for (i, (a, d)) in fast.iter().zip(&dense).enumerate() {
                assert!((a - d).abs() <= 1e-4 * scale, "{n} atoms, value {i}: edge list {a} vs dense {d} (largest {scale})");
            }
        }
    }
}
