//! The `molplay` command line: the same Rust core as the page, natively (wgpu on Vulkan,
//! lavapipe without a GPU), for benchmarks and reproducible numbers.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use molplay::energies::{perturbed_batch, System};
    use molplay::gpu::energy::{cpu_energies_grads, EnergyKernel};
    use molplay::gpu::GpuContext;
    use std::process::ExitCode;
    use std::time::Instant;

    #[derive(Parser)]
    #[command(name = "molplay", version, about = "Energies, samplers and diffusion models for 3D molecules (native CLI)")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Show the GPU adapter the kernels would run on (or why there is none).
        Info {
            /// Machine-readable output.
            #[arg(long)]
            json: bool,
        },
        /// Energy + gradient throughput, GPU path vs CPU path, measured in the same run.
        Bench {
            /// Systems to time (dw4, lj13, lj55, lj<n>).
            #[arg(long, value_delimiter = ',', default_value = "lj13,lj55")]
            systems: Vec<String>,
            /// Configurations per batch.
            #[arg(long, default_value_t = 1024)]
            batch: usize,
            /// Timed repetitions per path (after one warm-up).
            #[arg(long, default_value_t = 10)]
            reps: usize,
            /// Machine-readable output (one JSON object).
            #[arg(long)]
            json: bool,
        },
    }

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        let result = match cli.command {
            Command::Info { json } => info(json),
            Command::Bench { systems, batch, reps, json } => bench(&systems, batch, reps, json),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => {
                eprintln!("molplay: {msg}");
                ExitCode::FAILURE
            }
        }
    }

    fn info(json: bool) -> Result<(), String> {
        match GpuContext::new_blocking() {
            Ok(ctx) if json => println!("{}", serde_json::json!({ "gpu": ctx.summary })),
            Ok(ctx) => {
                let s = &ctx.summary;
                println!("GPU adapter: {} ({}, {}, driver: {})", s.name, s.backend, s.device_type, s.driver);
            }
            Err(e) if json => println!("{}", serde_json::json!({ "gpu": null, "reason": e.to_string() })),
            Err(e) => println!("no GPU adapter ({e}); every computation runs on the CPU"),
        }
        Ok(())
    }

    fn bench(systems: &[String], batch: usize, reps: usize, json: bool) -> Result<(), String> {
        if batch == 0 || reps == 0 {
            return Err("--batch and --reps must be at least 1".into());
        }
        let systems = systems.iter().map(|s| System::by_name(s).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
        let gpu = GpuContext::new_blocking().map(|ctx| {
            let kernel = EnergyKernel::new(&ctx.device);
            (ctx, kernel)
        });
        if let Err(e) = &gpu {
            eprintln!("molplay: no GPU ({e}); timing the CPU path only");
        }
        let mut rows = Vec::new();
        for sys in &systems {
            let xs = perturbed_batch(sys, batch, 0.1, 1);
            let cpu_ms = time_ms(reps, || {
                cpu_energies_grads(sys, &xs, true).map(|_| ()).map_err(|e| e.to_string())
            })?;
            // two GPU figures: end to end (upload, pass, read-back, as callers see it) and
            // resident (positions already on the GPU: the pass and its read-back only)
            let (gpu_ms, resident_ms) = match &gpu {
                Ok((ctx, kernel)) => {
                    let end_to_end = time_ms(reps, || {
                        pollster::block_on(kernel.evaluate(ctx, sys, &xs, true)).map(|_| ()).map_err(|e| e.to_string())
                    })?;
                    let resident_batch = kernel.new_batch(ctx, sys, batch).map_err(|e| e.to_string())?;
                    resident_batch.upload(ctx, &xs);
                    let resident = time_ms(reps, || {
                        pollster::block_on(kernel.run(ctx, &resident_batch, true)).map(|_| ()).map_err(|e| e.to_string())
                    })?;
                    (Some(end_to_end), Some(resident))
                }
                Err(_) => (None, None),
            };
            let row = serde_json::json!({
                "system": sys.name, "n": sys.n, "batch": batch, "reps": reps,
                "cpu_ms": cpu_ms, "gpu_ms": gpu_ms, "gpu_resident_ms": resident_ms,
                "cpu_configs_per_s": batch as f64 / cpu_ms * 1e3,
                "gpu_configs_per_s": gpu_ms.map(|g| batch as f64 / g * 1e3),
                "cpu_over_gpu": gpu_ms.map(|g| cpu_ms / g),
            });
            if !json {
                match gpu_ms {
                    Some(g) => println!(
                        "{:>5} B={batch}: CPU f64 {cpu_ms:8.2} ms | GPU {g:8.2} ms end-to-end, {:8.2} ms resident | CPU/GPU time ratio {:.2}",
                        sys.name,
                        resident_ms.unwrap_or(f64::NAN),
                        cpu_ms / g
                    ),
                    None => println!("{:>5} B={batch}: CPU f64 {cpu_ms:8.2} ms (no GPU)", sys.name),
                }
            }
            rows.push(row);
        }
        let adapter = gpu.as_ref().ok().map(|(c, _)| c.summary.clone());
        if json {
            println!("{}", serde_json::json!({ "adapter": adapter, "results": rows }));
        } else if let Some(a) = adapter {
            println!("adapter: {} ({}, {})", a.name, a.backend, a.device_type);
        }
        Ok(())
    }

    /// Mean wall time of `reps` runs after one warm-up run.
    fn time_ms(reps: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
        f()?;
        let t0 = Instant::now();
        for _ in 0..reps {
            f()?;
        }
        Ok(t0.elapsed().as_secs_f64() * 1e3 / reps as f64)
    }
}
