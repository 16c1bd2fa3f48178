//! The reference sampler and sample sets in the page: `startReference` / `referenceStep`
//! (an [`app::reference`](crate::app::reference) run in slices), `loadSamples`, `metrics`.

use super::{check_keys, js_err, now_ms, samples_object, slice_budget, to_js, LoadedSet, Playground, ReferenceOptions};
use crate::app::reference::{advance_for, newest, Engine, Limits, Plan};
use crate::energies::{preset_configuration, System};
use crate::io::read_configurations;
use crate::metrics::compare;
use crate::reference::Phase;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl Playground {
    /// Starts a reference-sampler run (parallel-tempering MALA) and shows the system; the
    /// page then calls `referenceStep` until the phase is "done". Options: `{system, samples,
    /// chains, levels, tMax, burnIn, thin, seed, engine}` (see README). Returns the progress.
    #[wasm_bindgen(js_name = startReference)]
    pub fn start_reference(&self, options: JsValue) -> Result<JsValue, JsValue> {
        check_keys(&options, &["system", "samples", "chains", "levels", "tMax", "burnIn", "thin", "seed", "engine"], "startReference")?;
        let o: ReferenceOptions = serde_wasm_bindgen::from_value(options).map_err(|e| js_err(format!("startReference: {e}")))?;
        let plan = Plan {
            system: o.system,
            samples: o.samples.unwrap_or(2000),
            chains: o.chains.unwrap_or(100),
            levels: o.levels,
            t_max: o.t_max.unwrap_or(2.0),
            burn_in: o.burn_in.unwrap_or(1000),
            thin: o.thin.unwrap_or(50),
            seed: o.seed.unwrap_or(0),
        };
        let camel = |k: &str| match k {
            "t_max" => "tMax".to_string(),
            "burn_in" => "burnIn".to_string(),
            k => k.to_string(),
        };
        let err = |e: crate::app::AppError| js_err(format!("startReference: {e}"));
        let checked = plan.check(Limits::PAGE, camel).map_err(err)?;
        let sys = checked.system.clone();
        let engine = Engine::by_name(o.engine.as_deref().unwrap_or("auto")).map_err(err)?;
        let mut s = self.inner.borrow_mut();
        if s.reference.busy() {
            return Err(js_err("startReference: a sampler step is still running; stop it first"));
        }
        let on_gpu = engine.on_gpu(s.software_adapter()).map_err(|e| js_err(format!("startReference: engine \"gpu\" {e}")))?;
        let gpu = s.compute.as_ref().filter(|_| on_gpu).map(|c| &c.ctx);
        let run = checked.start(gpu).map_err(err)?;
        let progress = run.progress();
        s.reference.set(run);
        s.reference_chunk = 1;
        drop(s);
        if self.inner.borrow().system.name != sys.name {
            self.show_configuration(&sys, &preset_configuration(&sys).iter().map(|&v| v as f32).collect::<Vec<_>>(), f64::NAN, false)?;
        }
        to_js(&progress)
    }

    /// Advances the reference run for about `budget_ms` milliseconds, shows its newest sample,
    /// and resolves to the progress `{phase, engine, samples, target, fraction, report}`.
    #[wasm_bindgen(js_name = referenceStep)]
    pub fn reference_step(&self, budget_ms: f64) -> js_sys::Promise {
        let inner = self.inner.clone();
        let this = Playground { inner: inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let (mut run, mut chunk) = {
                let mut s = inner.borrow_mut();
                let run = s.reference.take("referenceStep: the previous step has not finished", "referenceStep: no reference run; call startReference first").map_err(js_err)?;
                (run, s.reference_chunk)
            };
            let result = advance_for(&mut run, slice_budget(budget_ms), &mut chunk, &now_ms).await;
            let progress = run.progress();
            let newest: Option<(Vec<f32>, f64)> = newest(&run).map(|(x, e)| (x.iter().map(|&v| v as f32).collect(), e));
            // the run's last sample is framed: a thermal sample can be smaller or larger than
            // the preset's configuration the viewer was framed on
            let finished = run.phase() == Phase::Done;
            let sys = run.system().clone();
            {
                let mut s = inner.borrow_mut();
                s.reference.put_back(run);
                s.reference_chunk = chunk;
            }
            result.map_err(|e| js_err(format!("reference sampler: {e}")))?;
            if let Some((x, e)) = newest {
                this.show_configuration(&sys, &x, e, finished)?;
            }
            to_js(&progress)
        })
    }

    /// Drops the reference run (its samples too).
    #[wasm_bindgen(js_name = stopReference)]
    pub fn stop_reference(&self) -> Result<(), JsValue> {
        let mut s = self.inner.borrow_mut();
        if s.reference.busy() {
            return Err(js_err("stopReference: a step is running; call it again when the step resolves"));
        }
        s.reference.clear();
        Ok(())
    }

    /// The reference run's samples so far: `{system, n, d, positions: Float64Array (flat,
    /// CoM-free), energies: Float64Array}`, or null without a run.
    #[wasm_bindgen(js_name = referenceSamples)]
    pub fn reference_samples(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let Some(run) = s.reference.get() else { return Ok(JsValue::NULL) };
        let (xs, es) = run.samples();
        samples_object(run.system(), xs, es, None)
    }

    /// Reads a sample file (`.npy` float32/float64 of shape (N, n·d) or (N, n, d), or
    /// multi-frame `.xyz`) as configurations of `system`, keeps it as the loaded set (the
    /// histogram overlay and `metrics()` use it) and returns it like `referenceSamples`.
    #[wasm_bindgen(js_name = loadSamples)]
    pub fn load_samples(&self, system: String, file_name: String, bytes: Vec<u8>) -> Result<JsValue, JsValue> {
        let sys = System::by_name(&system).map_err(js_err)?;
        let at = |e: String| js_err(format!("{file_name}: {e}"));
        let xs = read_configurations(&file_name, &bytes, sys.n, sys.d).map_err(|e| at(e.to_string()))?;
        let energies = sys.energies(&xs).map_err(|e| at(e.to_string()))?;
        let out = samples_object(&sys, &xs, &energies, Some(&file_name))?;
        self.inner.borrow_mut().loaded = Some(LoadedSet { file: file_name, system: sys, xs, energies });
        Ok(out)
    }

    /// The loaded set, or null.
    #[wasm_bindgen(js_name = loadedSamples)]
    pub fn loaded_samples(&self) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        match s.loaded.as_ref() {
            Some(l) => samples_object(&l.system, &l.xs, &l.energies, Some(&l.file)),
            None => Ok(JsValue::NULL),
        }
    }

    /// The field's metrics of the reference run's samples against the loaded set (energy W2,
    /// distance W2, sample W2 on `sample_w2_n` configurations per side, virial, configurational
    /// temperature). Rejects with a reason when one side is missing or the systems differ.
    pub fn metrics(&self, sample_w2_n: usize) -> Result<JsValue, JsValue> {
        let s = self.inner.borrow();
        let run = s.reference.get().ok_or_else(|| js_err("metrics: run the reference sampler first"))?;
        let loaded = s.loaded.as_ref().ok_or_else(|| js_err("metrics: load a reference set (.npy or .xyz) to compare with"))?;
        if loaded.system.name != run.system().name {
            return Err(js_err(format!("metrics: the loaded set is {} but the sampler runs {}", loaded.system.name, run.system().name)));
        }
        let (xs, _) = run.samples();
        if xs.is_empty() {
            return Err(js_err("metrics: the sampler has no samples yet (still in burn-in)"));
        }
        let c = compare(run.system(), xs, &loaded.xs, sample_w2_n.min(2000)).map_err(js_err)?;
        to_js(&c)
    }

    /// Shows the sample of `source` ("adjoint": the learner's newest samples; "reference": the
    /// reference sampler's) whose energy is nearest `energy`: what a click on an energy
    /// histogram does. Returns `{index, energy, count}`.
    #[wasm_bindgen(js_name = showSampleNear)]
    pub fn show_sample_near(&self, source: String, energy: f64) -> Result<JsValue, JsValue> {
        if !energy.is_finite() {
            return Err(js_err("showSampleNear: the energy must be a number"));
        }
        // only the picked configuration is copied out of the set
        let (sys, x, index, e, count) = {
            let s = self.inner.borrow();
            let (sys, xs, es) = match source.as_str() {
                #[cfg(feature = "nets")]
                "adjoint" => {
                    let n = s.adjoint.newest().ok_or_else(|| js_err("showSampleNear: no Adjoint Sampling learner"))?;
                    (&n.sampler.system, &n.samples[..], &n.energies[..])
                }
                "reference" => {
                    let run = s.reference.get().ok_or_else(|| js_err("showSampleNear: no reference sampler run"))?;
                    let (xs, es) = run.samples();
                    (run.system(), xs, es)
                }
                other => return Err(js_err(format!("showSampleNear: source must be \"adjoint\" or \"reference\", got \"{other}\""))),
            };
            let index = es
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_finite())
                .min_by(|a, b| (a.1 - energy).abs().total_cmp(&(b.1 - energy).abs()))
                .map(|(i, _)| i)
                .ok_or_else(|| js_err(format!("showSampleNear: the {source} set has no samples yet")))?;
            let dim = sys.dim();
            let x: Vec<f32> = xs[index * dim..(index + 1) * dim].iter().map(|&v| v as f32).collect();
            (sys.clone(), x, index, es[index], es.len())
        };
        self.show_configuration(&sys, &x, e, false)?;
        to_js(&serde_json::json!({ "index": index, "energy": e, "count": count }))
    }
}
