//! Quotient-space training judged on conformers (issue 18): one EGNN conditioned on the
//! molecular graph (elements as node features, bond orders as edge attributes) trained with
//! each of the paper's four objectives on the same data, budget and seed, sampled with the
//! matching sampler (the quotient objective with the quotient sampler, the others with the
//! standard equivariant one), and judged by COV / AMR on held-out molecules.

use crate::conformers::{coverage, heavy_rmsd, Conformer, Coverage, EDGE_FEATURES};
use crate::models::{element_vocabulary, EgnnConfig, ModelError, Network};
use crate::objectives::Objective;
use crate::rng::XorShift64;
use crate::samplers::{Denoiser, Method, SampleOptions, SamplerRun, Symmetry};
use crate::schedules::Schedule;
use serde::Serialize;
use std::collections::BTreeMap;

/// A graph-conditioned network as a score source for k conformers of one molecule.
pub struct GraphDenoiser<'a> {
    pub model: &'a Network,
    /// One molecule's node features (n × F) and edge attributes (n × (n − 1) × E).
    pub feats: Vec<f64>,
    pub edges: Vec<f64>,
    pub atoms: usize,
}

impl Denoiser for GraphDenoiser<'_> {
    fn atoms(&self) -> usize {
        self.atoms
    }

    fn denoise(&mut self, x: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        self.denoise_batch(x, t, s)
    }

    fn denoise_batch(&mut self, xs: &[f64], t: f64, s: &Schedule) -> Vec<f64> {
        let b = xs.len() / (3 * self.atoms);
        let feats: Vec<f64> = (0..b).flat_map(|_| self.feats.iter().copied()).collect();
        let edges: Vec<f64> = (0..b).flat_map(|_| self.edges.iter().copied()).collect();
        let eps = self.model.predict_graph(xs, &feats, &edges, self.atoms, &vec![t; b], s);
        let (a, sg) = (s.alpha(t), s.sigma(t));
        xs.iter().zip(&eps).map(|(x, e)| (x - sg * e) / a).collect()
    }
}

/// How the four objectives train and are judged.
#[derive(Clone, Debug, Serialize)]
pub struct ConformerConfig {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub lr: f64,
    pub steps: usize,
    /// Generated conformers per held-out molecule.
    pub k: usize,
    /// Held-out molecules judged (evenly spaced through the split; 0: all).
    pub test: usize,
    /// Sampler steps (DDPM from T).
    pub sample_steps: usize,
    /// RMSD threshold of COV (Å).
    pub threshold: f64,
}

/// One trained network.
pub struct ConformerTraining {
    pub objective: Objective,
    pub net: Network,
    pub seed: u64,
    pub losses: Vec<f64>,
    pub seconds: f64,
    rng: XorShift64,
}

/// The network configuration for training conformers `train` (largest molecule, vocabulary,
/// positions' variance).
pub fn network_config(train: &[Conformer], hidden: usize, layers: usize, schedule: &Schedule) -> EgnnConfig {
    let elements: Vec<Vec<String>> = train.iter().map(|c| c.elements.clone()).collect();
    let largest = train.iter().map(Conformer::atoms).max().unwrap_or(3);
    let (sq, count) = train.iter().fold((0.0, 0usize), |(s, k), c| (s + c.positions.iter().map(|v| v * v).sum::<f64>(), k + c.positions.len()));
    let variance = sq / count.max(1) as f64;
    EgnnConfig { edge_features: EDGE_FEATURES, ..EgnnConfig::with_elements(largest, hidden, layers, variance, &elements) }.trained_under(schedule)
}

impl ConformerTraining {
    pub fn new(objective: Objective, config: EgnnConfig, seed: u64) -> Self {
        ConformerTraining { objective, net: Network::new(config, seed), seed, losses: Vec::new(), seconds: 0.0, rng: XorShift64::new(seed ^ 0xC0F0) }
    }

    /// `steps` gradient steps: each draws an atom count with the training set's weights, then
    /// `batch` molecules of that size.
    pub async fn train(&mut self, train: &[Conformer], by_size: &BTreeMap<usize, Vec<usize>>, schedule: &Schedule, c: &ConformerConfig, steps: usize) -> Result<(), ModelError> {
        let histogram: Vec<(usize, usize)> = by_size.iter().map(|(&n, v)| (n, v.len())).collect();
        for _ in 0..steps {
            let n = crate::joint::draw_size(&histogram, &mut self.rng);
            let pool = &by_size[&n];
            let picks: Vec<&Conformer> = (0..c.batch).map(|_| &train[pool[self.rng.below(pool.len())]]).collect();
            let x0: Vec<f64> = picks.iter().flat_map(|m| m.positions.iter().copied()).collect();
            let elements: Vec<&[String]> = picks.iter().map(|m| m.elements.as_slice()).collect();
            let feats = self.net.config.element_features_sized(&elements).map_err(ModelError::Input)?;
            let edges: Vec<f64> = picks.iter().flat_map(|m| m.edge_attributes()).collect();
            let loss = self.net.train_step_graph(self.objective, &x0, &feats, &edges, n, schedule, schedule.steps() as f64, c.lr, &mut self.rng).await?;
            self.losses.push(loss);
        }
        Ok(())
    }

    /// k conformers of each of `test`, sampled with the objective's matching sampler; each
    /// molecule's heavy-atom RMSDs to its reference.
    pub fn judge(&self, test: &[Conformer], schedule: &Schedule, c: &ConformerConfig) -> Result<Vec<Vec<f64>>, String> {
        let symmetry = if self.objective == Objective::Quotient { Symmetry::Quotient } else { Symmetry::Equivariant };
        let mut out = Vec::with_capacity(test.len());
        for (i, m) in test.iter().enumerate() {
            let n = m.atoms();
            let feats = self.net.config.element_features_sized(&[m.elements.as_slice()])?;
            let mut den = GraphDenoiser { model: &self.net, feats, edges: m.edge_attributes(), atoms: n };
            let opts = SampleOptions { seed: self.seed.wrapping_mul(1_000_003).wrapping_add(i as u64), ..SampleOptions::new(Method::Ddpm, symmetry, c.sample_steps, schedule) };
            let mut run = SamplerRun::new(n, schedule, &opts, c.k, 0)?;
            run.advance(&mut den, schedule, c.sample_steps)?;
            out.push(run.samples().chunks(3 * n).map(|x| heavy_rmsd(x, &m.positions, &m.elements)).collect());
        }
        Ok(out)
    }
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct ConformerRow {
    pub objective: Objective,
    pub sampler: Symmetry,
    pub seed: u64,
    pub steps: usize,
    pub seconds: f64,
    pub last_loss: f64,
    pub coverage: Coverage,
}

/// Molecule indices of `train` by atom count.
pub fn by_size(train: &[Conformer]) -> BTreeMap<usize, Vec<usize>> {
    let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, m) in train.iter().enumerate() {
        out.entry(m.atoms()).or_default().push(i);
    }
    out
}

/// Trains `objective` with `seed` and judges it on `test` (the CLI's and the tests' loop;
/// `clock` in seconds).
pub async fn run(
    objective: Objective,
    seed: u64,
    train: &[Conformer],
    test: &[Conformer],
    schedule: &Schedule,
    c: &ConformerConfig,
    clock: &dyn Fn() -> f64,
) -> Result<(ConformerTraining, ConformerRow), String> {
    if train.is_empty() || test.is_empty() {
        return Err("conformers need training and held-out molecules".into());
    }
    let config = network_config(train, c.hidden, c.layers, schedule);
    let mut t = ConformerTraining::new(objective, config, seed);
    let sizes = by_size(train);
    let t0 = clock();
    t.train(train, &sizes, schedule, c, c.steps).await.map_err(|e| e.to_string())?;
    t.seconds = clock() - t0;
    let picked: Vec<Conformer> = if c.test == 0 || c.test >= test.len() { test.to_vec() } else { (0..c.test).map(|i| test[i * test.len() / c.test].clone()).collect() };
    let rmsds = t.judge(&picked, schedule, c)?;
    let last = t.losses.iter().rev().take(100).copied().collect::<Vec<_>>();
    let row = ConformerRow {
        objective,
        sampler: if objective == Objective::Quotient { Symmetry::Quotient } else { Symmetry::Equivariant },
        seed,
        steps: t.net.steps,
        seconds: t.seconds,
        last_loss: last.iter().sum::<f64>() / last.len().max(1) as f64,
        coverage: coverage(&rmsds, c.threshold),
    };
    Ok((t, row))
}

/// Per objective: the mean and spread (half the range) over seeds of AMR-R mean and COV-R mean.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectiveSummary {
    pub objective: Objective,
    pub seeds: usize,
    pub amr_r_mean: f64,
    pub amr_r_spread: f64,
    pub cov_r_mean: f64,
    pub cov_r_spread: f64,
    pub amr_p_mean: f64,
    pub cov_p_mean: f64,
}

pub fn summarise(rows: &[ConformerRow]) -> Vec<ObjectiveSummary> {
    Objective::ALL
        .into_iter()
        .filter_map(|o| {
            let r: Vec<&ConformerRow> = rows.iter().filter(|r| r.objective == o).collect();
            if r.is_empty() {
                return None;
            }
            let stat = |f: &dyn Fn(&Coverage) -> f64| {
                let v: Vec<f64> = r.iter().map(|x| f(&x.coverage)).collect();
                let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                (v.iter().sum::<f64>() / v.len() as f64, 0.5 * (hi - lo))
            };
            let (amr, amr_s) = stat(&|c| c.amr_r_mean);
            let (cov, cov_s) = stat(&|c| c.cov_r_mean);
            Some(ObjectiveSummary {
                objective: o,
                seeds: r.len(),
                amr_r_mean: amr,
                amr_r_spread: amr_s,
                cov_r_mean: cov,
                cov_r_spread: cov_s,
                amr_p_mean: stat(&|c| c.amr_p_mean).0,
                cov_p_mean: stat(&|c| c.cov_p_mean).0,
            })
        })
        .collect()
}

/// The element vocabulary of a conformer set (for a network's node features).
pub fn vocabulary(set: &[Conformer]) -> Vec<String> {
    element_vocabulary(&set.iter().map(|c| c.elements.clone()).collect::<Vec<_>>())
}
