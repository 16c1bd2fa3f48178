//! `energy`, `reference`, `eval` and `bench-mcmc`: the benchmark systems' energies, reference
//! samples by parallel tempering, and the sample files they read and write.

use molplay::app::bench::{Limits as BenchLimits, McmcBench};
use molplay::app::reference::{Engine, Limits, Plan};
use molplay::energies::System;
use molplay::gpu::GpuContext;
use molplay::io::{read_configurations, write_samples, SampleFormat};
use molplay::mcmc::PtReport;
use molplay::metrics::{compare, Comparison};
use molplay::reference::Phase;
use std::path::Path;
use std::time::Instant;

/// Reads a sample file as a flat batch of `sys` configurations (CoM untouched).
pub(super) fn load_samples(sys: &System, path: &Path) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |e: String| format!("{}: {e}", path.display());
    let xs = read_configurations(&path.to_string_lossy(), &bytes, sys.n, sys.d).map_err(|e| at(e.to_string()))?;
    sys.check_batch(&xs).map_err(|e| at(e.to_string()))?;
    Ok(xs)
}

pub(super) fn energy(system: &str, input: &Path, forces: bool, json: bool) -> Result<(), String> {
    let sys = System::by_name(system).map_err(|e| e.to_string())?;
    let xs = load_samples(&sys, input)?;
    let (e, g) = if forces { sys.energies_grads(&xs).map_err(|e| e.to_string())? } else { (sys.energies(&xs).map_err(|e| e.to_string())?, Vec::new()) };
    // never an `inf` line or a JSON null with success
    if let Some((b, v)) = e.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(format!("{}: the energy of configuration {b} is {v}", input.display()));
    }
    if let Some((k, v)) = g.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(format!("{}: a force of configuration {} is {v}", input.display(), k / sys.dim()));
    }
    if json {
        let mut out = serde_json::json!({ "system": sys.name, "energies": e });
        if forces {
            let f: Vec<f64> = g.iter().map(|v| -v).collect();
            out["forces"] = serde_json::json!(f.chunks(sys.dim()).collect::<Vec<_>>());
        }
        outln!("{out}");
        return Ok(());
    }
    let mut out = String::new();
    for (b, en) in e.iter().enumerate() {
        out.push_str(&format!("{en:.10}"));
        if forces {
            for v in &g[b * sys.dim()..(b + 1) * sys.dim()] {
                out.push_str(&format!(" {:.10}", -v));
            }
        }
        outln!("{out}");
        out.clear();
    }
    Ok(())
}

/// The GPU to run the MCMC pass on (`app::reference::Engine`): `gpu` insists, `auto` takes
/// real GPUs only.
fn mcmc_gpu(backend: &str) -> Result<Option<GpuContext>, String> {
    let engine = Engine::by_name(backend).map_err(|e| e.to_string())?;
    if engine == Engine::Cpu {
        return Ok(None);
    }
    let ctx = match GpuContext::new_blocking() {
        Ok(ctx) => Some(ctx),
        Err(e) if engine == Engine::Gpu => return Err(format!("--backend gpu: {e}")),
        Err(_) => None,
    };
    let software = ctx.as_ref().map(|c| c.summary.device_type == "Cpu");
    if engine.on_gpu(software).map_err(|e| format!("--backend gpu {e}"))? {
        return Ok(ctx);
    }
    if let Some(c) = ctx {
        eprintln!("molplay: {} is a software adapter, slower than the CPU path: sampling on the CPU (--backend gpu to override)", c.summary.name);
    }
    Ok(None)
}

pub(super) fn reference(system: &str, n: usize, seed: u64, output: &Path, knobs: (usize, Option<usize>, f64, usize, usize), backend: &str, json: bool) -> Result<(), String> {
    let (chains, levels, t_max, burn_in, thin) = knobs;
    sample_format(output)?;
    let plan = Plan { system: system.to_string(), samples: n, chains, levels, t_max, burn_in, thin, seed };
    let flag = |k: &str| format!("--{}", k.replace('_', "-"));
    let checked = plan.check(Limits::NATIVE, flag).map_err(|e| e.to_string())?;
    let sys = checked.system.clone();
    let t0 = Instant::now();
    let gpu = mcmc_gpu(backend)?;
    let mut run = checked.start(gpu.as_ref()).map_err(|e| format!("reference: {e}"))?;
    let fmt = |r: &PtReport| {
        let acc: Vec<String> = r.acceptance.iter().map(|a| format!("{a:.2}")).collect();
        let sw: Vec<String> = r.swap_acceptance.iter().map(|a| format!("{a:.2}")).collect();
        format!("acceptance [{}], swaps [{}], resets {}", acc.join(" "), sw.join(" "), r.resets)
    };
    // progress on stderr: one rewritten line on a terminal, a line per 10 % otherwise
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_decile = usize::MAX;
    while run.phase() != Phase::Done {
        pollster::block_on(run.advance(thin.max(50))).map_err(|e| format!("reference: {e}"))?;
        let p = run.progress();
        let what = match p.phase {
            Phase::BurnIn => format!("burn-in sweep {}/{burn_in} ({}): {}", p.report.sweeps, p.engine, fmt(&p.report)),
            _ => format!("samples {}/{n} (sweep {}, {}): {}", p.samples, p.report.sweeps, p.engine, fmt(&p.report)),
        };
        let decile = (p.fraction * 10.0) as usize;
        if tty {
            eprint!("\r{what}   ");
        } else if decile != last_decile {
            eprintln!("{what}");
        }
        last_decile = decile;
    }
    if tty {
        eprintln!();
    }
    write_system_samples(&sys, run.samples().0, output)?;
    let secs = t0.elapsed().as_secs_f64();
    let r = run.report();
    let engine = run.engine().name();
    if json {
        outln!("{}", serde_json::json!({ "system": sys.name, "samples": n, "output": output, "seconds": secs, "engine": engine, "report": r }));
    } else {
        outln!("{n} {} samples → {} in {secs:.1} s on the {engine} ({} sweeps, {} energy evaluations; {})", sys.name, output.display(), r.sweeps, r.energy_evaluations, fmt(r));
    }
    Ok(())
}

/// A samples output's format by its extension: checked before a run, so that no run's work is
/// lost to a misnamed file.
pub(super) fn sample_format(output: &Path) -> Result<SampleFormat, String> {
    SampleFormat::of_path(output).ok_or_else(|| format!("{}: the output must end in .npy or .xyz", output.display()))
}

/// Writes samples of a benchmark system as .npy (float32) or XYZ (with energies in the
/// comment lines), by the output's extension.
pub(super) fn write_system_samples(sys: &System, xs: &[f64], output: &Path) -> Result<(), String> {
    let format = sample_format(output)?;
    let energies = if format == SampleFormat::Xyz { sys.energies(xs).map_err(|e| e.to_string())? } else { Vec::new() };
    let bytes = write_samples(xs, sys.dim(), sys.d, format, |i| (vec![sys.particle_symbol().into(); sys.n], format!("{} sample {i} energy={:.6}", sys.name, energies[i])));
    std::fs::write(output, bytes).map_err(|e| format!("{}: {e}", output.display()))
}

pub(super) fn eval(system: &str, samples: &Path, reference: &Path, sample_w2_n: usize, json: bool) -> Result<(), String> {
    let sys = System::by_name(system).map_err(|e| e.to_string())?;
    let xs = load_samples(&sys, samples)?;
    let ys = load_samples(&sys, reference)?;
    let c = compare(&sys, &xs, &ys, sample_w2_n).map_err(|e| e.to_string())?;
    let asked = sample_w2_n.min(c.samples).min(c.reference);
    if c.sample_w2_n < asked {
        eprintln!(
            "molplay: the sample W2 uses {} configurations per side, not {asked}: {} matchings of {} particles are the most allowed (molplay::metrics::MAX_SAMPLE_W2_WORK)",
            c.sample_w2_n,
            c.sample_w2_n * c.sample_w2_n,
            sys.n
        );
    }
    if c.distance_w2_n < c.samples.max(c.reference) {
        eprintln!(
            "molplay: the distance W2 pools {} evenly spaced configurations per side ({} distances each at most, molplay::metrics::MAX_POOLED_DISTANCES)",
            c.distance_w2_n,
            molplay::metrics::MAX_POOLED_DISTANCES
        );
    }
    let Comparison { energy_w2, distance_w2, sample_w2, sample_w2_n: k, energy_mean: ms, energy_sd: ss, reference_energy_mean: mr, reference_energy_sd: sr, .. } = c;
    let (vs, vr, dof, ts, tr) = (c.virial, c.reference_virial, c.virial_expected, c.temperature, c.reference_temperature);
    let report = serde_json::to_value(&c).map_err(|e| e.to_string())?;
    if json {
        outln!("{report}");
    } else {
        outln!("{}: {} samples vs {} reference", sys.name, c.samples, c.reference);
        outln!("  energy W2            {energy_w2:.4}   (E mean {ms:.3} ± {ss:.3} vs {mr:.3} ± {sr:.3})");
        outln!("  distance W2          {distance_w2:.4}");
        match sample_w2 {
            Some(w) => outln!("  sample W2            {w:.4}   ({k} vs {k}: Hungarian + Kabsch + exact OT)"),
            None => outln!("  sample W2            skipped (--sample-w2 0)"),
        }
        outln!("  virial ⟨x·∇E⟩        {vs:.3}   (reference {vr:.3}; (n−1)·d·τ = {dof})");
        outln!("  temperature ⟨|∇E|²⟩/⟨ΔE⟩ {ts:.4} (reference {tr:.4}; τ = {})", sys.temperature);
    }
    Ok(())
}

pub(super) fn bench_mcmc(systems: &[String], chains: usize, sweeps: usize, json: bool) -> Result<(), String> {
    McmcBench::check(chains, sweeps, BenchLimits::NATIVE, |k| format!("--{k}")).map_err(|e| e.to_string())?;
    let systems = systems.iter().map(|s| System::by_name(s).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
    let gpu = GpuContext::new_blocking();
    if let Err(e) = &gpu {
        eprintln!("molplay: no GPU ({e}); timing the CPU path only");
    }
    let mut rows = Vec::new();
    for sys in &systems {
        let t0 = Instant::now();
        let clock = || t0.elapsed().as_secs_f64() * 1e3;
        let t = pollster::block_on(McmcBench::run(gpu.as_ref().ok(), sys, chains, sweeps, clock)).map_err(|e| e.to_string())?;
        if !json {
            match t.gpu_sweeps_per_s {
                Some(g) => outln!(
                    "{:>5} {} replicas: CPU {:8.1} sweeps/s ({:.3e} evals/s) | GPU {g:8.1} sweeps/s ({:.3e} evals/s) | GPU/CPU {:.2}",
                    sys.name,
                    t.replicas,
                    t.cpu_sweeps_per_s,
                    t.cpu_evals_per_s,
                    t.gpu_evals_per_s.unwrap_or(f64::NAN),
                    g / t.cpu_sweeps_per_s
                ),
                None => outln!("{:>5} {} replicas: CPU {:8.1} sweeps/s (no GPU)", sys.name, t.replicas, t.cpu_sweeps_per_s),
            }
        }
        rows.push(t);
    }
    let adapter = gpu.as_ref().ok().map(|c| c.summary.clone());
    if json {
        outln!("{}", serde_json::json!({ "adapter": adapter, "results": rows }));
    } else if let Some(a) = adapter {
        outln!("adapter: {} ({}, {})", a.name, a.backend, a.device_type);
    }
    Ok(())
}
