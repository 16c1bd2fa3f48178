//! The `molplay` command line: the same Rust core as the page, natively (wgpu on Vulkan,
//! lavapipe without a GPU), for benchmarks and reproducible numbers.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// glibc's malloc serves large blocks (past an adaptive threshold, 32 MiB at most) with fresh
/// `mmap`s and hands them back on free, so a network's forward/backward, allocating and freeing
/// the same megabyte-sized tensors thousands of times, spent half its time in page faults
/// (measured: one paper-size DW-4 epoch at 1/10 of its steps, 14.0 s wall of which 7.7 s
/// system, against 7.0 s and 0.4 s with this). Freed memory stays in the heap for reuse.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets malloc's parameters; called before any thread exists
    let (mmap, trim) = unsafe { (libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30), libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30)) };
    if mmap == 0 || trim == 0 {
        eprintln!("molplay: note: could not tune malloc (mallopt refused); training may be slower");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// `println!` that ends the program quietly when stdout is closed (`molplay energy ... | head`).
#[cfg(not(target_arch = "wasm32"))]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("molplay: cannot write output: {e}");
            std::process::exit(1);
        }
    }};
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use molplay::energies::{perturbed_batch, System};
    use molplay::gpu::energy::{time_paths, EnergyKernel, PathTimes};
    use molplay::gpu::GpuContext;
    use molplay::io::{read_configurations, write_npy_f32, write_xyz, XyzFrame};
    use molplay::mcmc::{PtConfig, PtReport};
    use molplay::metrics::{compare, Comparison};
    use molplay::reference::{Phase, ReferenceRun};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::time::Instant;

    #[derive(Parser)]
    #[command(name = "molplay", version, about = "Energies, samplers and diffusion models for 3D molecules (native CLI)")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    mod conformers;
    mod molecules;

    #[derive(Subcommand)]
    enum Command {
        /// Trains a whole-molecule network (atom types and positions diffused jointly, EDM as
        /// GAGA runs it; `--t-max T*` for GAGA) with exact checkpoints (`--resume`).
        TrainMolecules(molecules::TrainArgs),
        /// The quotient-space paper's conformer experiment: trains the four objectives
        /// (conventional, GeoDiff alignment, AF3 alignment, quotient) on a graph-conditioned
        /// EGNN, samples each with its matching sampler and prints COV / AMR on held-out molecules.
        Conformers(conformers::ConformerArgs),
        /// Generates whole molecules from a `train-molecules` network (full or GAGA) and reports
        /// stability, validity, uniqueness, distance W2, NFE and time; `--compare T*` prints
        /// the table full vs GAGA.
        GenerateMolecules(molecules::GenerateArgs),
        /// Energies of the configurations in a file (.npy or .xyz), one per line.
        Energy {
            /// dw4, lj13, lj55 or lj<n>.
            #[arg(long)]
            system: String,
            /// Samples: .npy (N, n·d) or (N, n, d), float32/float64; or multi-frame .xyz.
            #[arg(long)]
            input: PathBuf,
            /// Also print the forces −∇E (flat, after the energy on each line).
            #[arg(long)]
            forces: bool,
            /// One JSON object instead of lines.
            #[arg(long)]
            json: bool,
        },
        /// Reference samples by parallel-tempering MALA (CoM-free, seeded), written to .npy or .xyz.
        Reference {
            #[arg(long)]
            system: String,
            /// Samples to write (at the system's temperature).
            #[arg(long, default_value_t = 10_000)]
            samples: usize,
            #[arg(long, default_value_t = 0)]
            seed: u64,
            /// Output file: .npy (float32, (N, n·d)) or .xyz.
            #[arg(long)]
            output: PathBuf,
            /// Chains per temperature.
            #[arg(long, default_value_t = 100)]
            chains: usize,
            /// Temperatures in the geometric ladder (1 = plain MALA); default max(4, 4·√(n/13)).
            #[arg(long)]
            levels: Option<usize>,
            /// Highest temperature, in units of the system's temperature.
            #[arg(long, default_value_t = 2.0)]
            t_max: f64,
            #[arg(long, default_value_t = 2000)]
            burn_in: usize,
            /// Sweeps between two kept samples of a chain.
            #[arg(long, default_value_t = 100)]
            thin: usize,
            /// auto: the GPU pass on a real GPU, the CPU otherwise (a software adapter such as
            /// lavapipe is slower than the CPU path); gpu or cpu to choose.
            #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
            backend: String,
            #[arg(long)]
            json: bool,
        },
        /// The characteristic Gaussianity step T* (GAGA) of a molecule set along the forward process,
        /// by the released code's per-molecule test (KS p > 0.05, KSG MI < 0.1 nats), per modality.
        Gaussianity {
            /// Multi-frame (extended) XYZ; charges are read from a `charge` column when present.
            #[arg(long)]
            input: PathBuf,
            #[arg(long, default_value = "polynomial2", value_parser = ["polynomial2", "cosine", "linear"])]
            schedule: String,
            #[arg(long, default_value_t = 1000)]
            steps: usize,
            #[arg(long, default_value_t = 300)]
            check_from: usize,
            #[arg(long, default_value_t = 800)]
            check_to: usize,
            #[arg(long, default_value_t = 50)]
            check_every: usize,
            #[arg(long, default_value_t = 0)]
            seed: u64,
            /// Test N molecules evenly spaced through the file, as the page does (0: all).
            #[arg(long, default_value_t = 0)]
            limit: usize,
            /// Molecules in the calibrated pooled measure (spec §5.2; 0 skips it).
            #[arg(long, default_value_t = 300)]
            pooled: usize,
            /// T*, T* per modality and the curves as one JSON object.
            #[arg(long)]
            json: bool,
        },
        /// Reverse-time sampling with an exact score (no training): a Gaussian spring chain
        /// (`--score chain`, invariant statistics known exactly) or the noised empirical
        /// distribution of a data set (`--score empirical --data FILE.xyz`; `--score orbits`: of
        /// the data set under every rotation, exact and rotation-invariant), or a trained network
        /// (`--score MODEL`, weights from `molplay train-score`).
        Sample {
            /// `chain`, `empirical` and `orbits` are exact; anything else is a weights file
            /// (`model` with `--model FILE` means the same).
            #[arg(long, default_value = "chain")]
            score: String,
            /// Weights from `molplay train-score` (with `--score model`; the reference statistics
            /// come from `--data`, as in training), or an Adjoint Sampling controller from
            /// `molplay train-adjoint` (with `--system`).
            #[arg(long)]
            model: Option<PathBuf>,
            /// With an Adjoint Sampling controller (`--model`): the benchmark system it samples.
            #[arg(long)]
            system: Option<String>,
            /// Atoms of the spring chain (`--score chain`, default 4), or which molecules of a mixed
            /// `--data` file to use (default: the most common size).
            #[arg(long)]
            atoms: Option<usize>,
            /// Data set for `--score empirical`: multi-frame XYZ (molecules of one size are used).
            #[arg(long)]
            data: Option<PathBuf>,
            #[arg(long, default_value = "ddpm", value_parser = ["ddpm", "em", "heun"])]
            sampler: String,
            #[arg(long, default_value_t = 1000)]
            steps: usize,
            #[arg(long, default_value = "polynomial2", value_parser = ["polynomial2", "cosine", "linear"])]
            schedule: String,
            /// Start at T* from the closed-form Gaussian (GAGA) instead of at T.
            #[arg(long)]
            gaga: bool,
            /// T* for --gaga (schedule steps).
            #[arg(long, default_value_t = 650.0)]
            t_star: f64,
            /// Also run GAGA from --t-star with the same step size, in the same run, and report
            /// both (NFE, time, E[R²], distance W2) under "compare".
            #[arg(long)]
            compare_gaga: bool,
            #[arg(long, default_value = "equivariant", value_parser = ["equivariant", "align", "quotient"])]
            symmetry: String,
            #[arg(long, default_value_t = 1000)]
            samples: usize,
            #[arg(long, default_value_t = 0)]
            seed: u64,
            /// .xyz or .npy (float32, (N, 3n)); optional.
            #[arg(long)]
            output: Option<PathBuf>,
            #[arg(long)]
            json: bool,
        },
        /// Trains the EGNN score network (burn, CPU) by denoising score matching on a Gaussian
        /// spring chain (`--data chain`) or a multi-frame XYZ of one atom count; writes weights.
        TrainScore {
            /// `chain` or an XYZ file (molecules of one size are used).
            #[arg(long)]
            data: String,
            /// Beads of the chain (default 4), or which molecules of the file (default: the most
            /// common size).
            #[arg(long)]
            atoms: Option<usize>,
            #[arg(long, default_value_t = 1000)]
            steps: usize,
            #[arg(long, default_value_t = 64)]
            batch: usize,
            #[arg(long, default_value_t = 3e-3)]
            lr: f64,
            #[arg(long, default_value_t = 64)]
            hidden: usize,
            #[arg(long, default_value_t = 4)]
            layers: usize,
            /// GAGA: draw t only from [1, T*] (default: the whole schedule).
            #[arg(long)]
            t_max: Option<f64>,
            /// The training objective (the quotient-space paper's Table 1): `conventional`
            /// ‖D − x₁‖², `geodiff` (x₁ aligned onto x_t), `af3` (x₁ aligned onto the
            /// stop-gradient prediction) or `quotient` ‖P_{x_t}(D − x₁)‖². Sample a quotient
            /// network with the quotient sampler (`sample --symmetry quotient`).
            #[arg(long, default_value = "conventional", value_parser = ["conventional", "geodiff", "af3", "quotient"])]
            objective: String,
            /// A molecule network ignores the atoms' elements (by default it is conditioned on
            /// them: positions for a given list of atom types, so samples are whole molecules).
            #[arg(long)]
            positions_only: bool,
            /// Where the network trains: `cpu` (burn's CPU backend) or `gpu` (burn on wgpu:
            /// Vulkan, Metal, DX12; lavapipe without a GPU).
            #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
            device: String,
            #[arg(long, default_value_t = 0)]
            seed: u64,
            #[arg(long)]
            output: PathBuf,
            #[arg(long)]
            json: bool,
        },
        /// Adjoint Sampling: learns a sampler of exp(−E) for a benchmark system from the energy
        /// alone and writes the controller's weights.
        TrainAdjoint {
            #[arg(long, value_parser = ["dw4", "lj13", "lj55"])]
            system: String,
            /// `paper` (the published settings) or `demo` (small, minutes on a CPU).
            #[arg(long, default_value = "demo", value_parser = ["paper", "demo"])]
            config: String,
            #[arg(long, default_value_t = 100)]
            epochs: usize,
            #[arg(long, default_value_t = 0)]
            seed: u64,
            #[arg(long)]
            output: PathBuf,
            /// Reference samples (.npy / .xyz) for the periodic energy and distance W2.
            #[arg(long)]
            reference: Option<PathBuf>,
            /// Evaluate (1000 fresh samples, with their own random numbers) every this many
            /// epochs of the run (counted across resumes); each writes the output.
            #[arg(long, default_value_t = 10)]
            eval_every: usize,
            /// Skip the evaluation after the last epoch when it is not on the --eval-every grid
            /// (it costs about as much as the 1000 samples' simulation: seconds to minutes).
            #[arg(long)]
            no_final_eval: bool,
            /// Write the controller's weights, counters and history only (a preset for the page),
            /// not the default exact checkpoint (which adds the replay buffer, the optimiser state
            /// and the random generator's state).
            #[arg(long)]
            weights_only: bool,
            /// Go on from a checkpoint exactly where it stopped (buffer, Adam state, random
            /// numbers, history), or from a weights-only file with an empty buffer and --seed.
            #[arg(long)]
            resume: Option<PathBuf>,
            /// Override the configuration's learning rate.
            #[arg(long)]
            lr: Option<f64>,
            /// Override a field of the configuration for a new run (repeatable): name=value with
            /// name one of sigma_min, sigma_max, nfe, new_per_epoch, grad_steps, batch, buffer,
            /// lr, hidden, layers, clip, ema (e.g. --set hidden=64 --set ema=0.999).
            #[arg(long = "set", value_name = "NAME=VALUE")]
            set: Vec<String>,
            /// Where the network trains: `cpu` (burn's CPU backend) or `gpu` (burn on wgpu:
            /// Vulkan, Metal, DX12; lavapipe without a GPU).
            #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
            device: String,
            /// Threads for the CPU network's batches (default: every core). The run is the same
            /// bit for bit whatever the number: batches are cut into the same parts.
            #[arg(long)]
            threads: Option<usize>,
            #[arg(long)]
            json: bool,
        },
        /// Atom and molecule stability, validity and uniqueness of molecules in an XYZ file
        /// (EDM's bond-length rules for H, C, N, O, F).
        Stability {
            #[arg(long)]
            input: PathBuf,
            /// Per molecule: bonds, validity, canonical name (JSON, for tests/bench/rdkit_check.py).
            #[arg(long)]
            details: Option<PathBuf>,
            #[arg(long)]
            json: bool,
        },
        /// MCMC throughput (sweeps/s, energy evaluations/s), GPU pass vs CPU path in one run.
        BenchMcmc {
            #[arg(long, value_delimiter = ',', default_value = "lj13,lj55")]
            systems: Vec<String>,
            /// Chains per temperature (replicas = levels × chains).
            #[arg(long, default_value_t = 100)]
            chains: usize,
            /// Timed sweeps per path (after 10 warm-up sweeps).
            #[arg(long, default_value_t = 100)]
            sweeps: usize,
            #[arg(long)]
            json: bool,
        },
        /// Compare samples with reference samples: energy W2, interatomic-distance W2, and the
        /// equilibrium checks (virial ⟨x·∇E⟩ ≈ (n−1)·d·τ, configurational temperature ≈ τ).
        Eval {
            #[arg(long)]
            system: String,
            /// Samples to judge (.npy or .xyz).
            #[arg(long)]
            samples: PathBuf,
            /// Reference samples (.npy or .xyz), e.g. ../shared/reference/test_split_LJ13-1000.npy.
            #[arg(long)]
            reference: PathBuf,
            /// Configurations per side for the sample W2 (Hungarian + Kabsch + exact OT, N² pairs;
            /// the field uses 2000), evenly spaced subsamples; 0 skips it.
            #[arg(long, default_value_t = 500)]
            sample_w2: usize,
            #[arg(long)]
            json: bool,
        },
        /// Show the GPU adapter the kernels would run on (or why there is none).
        Info {
            /// Machine-readable output.
            #[arg(long)]
            json: bool,
        },
        /// Times burn's training of the networks on each device, in one run: DSM steps of a
        /// score network, Adjoint Sampling's regression and simulation steps (DW-4, demo).
        BenchTrain {
            /// Devices to time: cpu, gpu (gpu needs a build with `--features gpu-nets`).
            #[arg(long, value_delimiter = ',', default_value = "cpu,gpu")]
            devices: Vec<String>,
            /// Timed repetitions per figure (after one warm-up).
            #[arg(long, default_value_t = 20)]
            reps: usize,
            #[arg(long)]
            json: bool,
        },
        /// Seconds per Adjoint Sampling epoch on the CPU, on one thread and on every core, in
        /// one run (a configuration's whole epoch: buffer refresh with energies, regression).
        BenchAdjoint {
            #[arg(long, default_value = "dw4", value_parser = ["dw4", "lj13", "lj55"])]
            system: String,
            /// `paper` (the published settings) or `demo`.
            #[arg(long, default_value = "demo", value_parser = ["paper", "demo"])]
            config: String,
            /// Override a configuration field (repeatable), as train-adjoint's --set.
            #[arg(long = "set", value_name = "NAME=VALUE")]
            set: Vec<String>,
            /// Epochs timed per thread count (after one warm-up epoch).
            #[arg(long, default_value_t = 3)]
            epochs: usize,
            /// The thread counts to compare (default: 1 and every core).
            #[arg(long, value_delimiter = ',')]
            threads: Vec<usize>,
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
        if let Err(msg) = check_knobs(&cli.command) {
            eprintln!("molplay: {msg}");
            return ExitCode::FAILURE;
        }
        let result = match cli.command {
            Command::Info { json } => info(json),
            Command::TrainMolecules(a) => molecules::train(a),
            Command::Conformers(a) => conformers::conformers(a),
            Command::GenerateMolecules(a) => molecules::generate_cmd(a),
            Command::Energy { system, input, forces, json } => energy(&system, &input, forces, json),
            Command::Reference { system, samples, seed, output, chains, levels, t_max, burn_in, thin, backend, json } => {
                reference(&system, samples, seed, &output, (chains, levels, t_max, burn_in, thin), &backend, json)
            }
            Command::BenchMcmc { systems, chains, sweeps, json } => bench_mcmc(&systems, chains, sweeps, json),
            Command::Stability { input, details, json } => stability(&input, details.as_deref(), json),
            Command::TrainAdjoint { system, config, epochs, seed, output, reference, eval_every, no_final_eval, weights_only, resume, lr, set, device, threads, json } => {
                train_adjoint(TrainAdjointArgs {
                    system: &system,
                    config: &config,
                    epochs,
                    seed,
                    output: &output,
                    reference: reference.as_deref(),
                    eval_every,
                    final_eval: !no_final_eval,
                    weights_only,
                    resume: resume.as_deref(),
                    lr,
                    set: &set,
                    device: &device,
                    threads,
                    json,
                })
            }
            Command::Sample { system: Some(system), model, samples, seed, output, json, .. } => adjoint_sample(&system, model.as_deref(), samples, seed, output.as_deref(), json),
            Command::Sample { score, model, atoms, data, sampler, steps, schedule, gaga, t_star, compare_gaga, symmetry, samples, seed, output, json, system: None } => {
                sample_cmd(SampleArgs { score, model, atoms, data, sampler, steps, schedule, gaga, t_star, compare_gaga, symmetry, samples, seed, output, json })
            }
            Command::TrainScore { data, atoms, steps, batch, lr, hidden, layers, t_max, objective, positions_only, device, seed, output, json } => {
                train_score(TrainScoreArgs { data, atoms, steps, batch, lr, hidden, layers, t_max, objective, positions_only, device, seed, output, json })
            }
            Command::Gaussianity { input, schedule, steps, check_from, check_to, check_every, seed, limit, pooled, json } => {
                gaussianity(&input, &schedule, steps, (check_from, check_to, check_every), seed, (limit, pooled), json)
            }
            Command::Eval { system, samples, reference, sample_w2, json } => eval(&system, &samples, &reference, sample_w2, json),
            Command::Bench { systems, batch, reps, json } => bench(&systems, batch, reps, json),
            Command::BenchTrain { devices, reps, json } => bench_train(&devices, reps, json),
            Command::BenchAdjoint { system, config, set, epochs, threads, json } => bench_adjoint(&system, &config, &set, epochs, &threads, json),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => {
                eprintln!("molplay: {msg}");
                ExitCode::FAILURE
            }
        }
    }

    /// Upper bounds of the count knobs: work and memory are sized from them, so a typo such as
    /// `--samples 10000000000` is a range error up front instead of an abort minutes later.
    const MAX_SAMPLES: usize = 100_000;
    const MAX_STEPS: usize = 100_000;
    const MAX_REFERENCE_SAMPLES: usize = 1_000_000;
    const MAX_CHAINS: usize = 10_000;
    const MAX_SWEEPS: usize = 10_000_000;
    const MAX_TRAIN_STEPS: usize = 10_000_000;
    const MAX_BATCH: usize = 4096;
    const MAX_BENCH_BATCH: usize = 65_536;
    const MAX_REPS: usize = 10_000;
    const MAX_EPOCHS: usize = 1_000_000;
    /// Most numbers (f64) a knob may make a command hold at once: 400 MB.
    const MAX_FLOATS: usize = 50_000_000;

    fn at_most(flag: &str, value: usize, max: usize) -> Result<(), String> {
        if value > max {
            return Err(format!("{flag} {value} is out of range: at most {max}"));
        }
        Ok(())
    }

    /// `--threads` values: 1 to 1024.
    fn thread_counts<'a>(mut counts: impl Iterator<Item = &'a usize>) -> Result<(), String> {
        if counts.any(|&t| t == 0 || t > 1024) {
            return Err("--threads takes counts from 1 to 1024".into());
        }
        Ok(())
    }

    /// Range checks of the count knobs and score names, before any work (see the limits above).
    fn check_knobs(cmd: &Command) -> Result<(), String> {
        let floats = |what: &str, count: usize, per: usize| -> Result<(), String> {
            match count.checked_mul(per) {
                Some(v) if v <= MAX_FLOATS => Ok(()),
                _ => Err(format!("{what} would hold {count} × {per} numbers, more than the {MAX_FLOATS} allowed: ask for fewer")),
            }
        };
        match cmd {
            Command::Reference { system, samples, chains, levels, burn_in, thin, .. } => {
                at_most("--samples", *samples, MAX_REFERENCE_SAMPLES)?;
                at_most("--chains", *chains, MAX_CHAINS)?;
                at_most("--levels", levels.unwrap_or(0), molplay::mcmc::MAX_LEVELS)?;
                at_most("--burn-in", *burn_in, MAX_SWEEPS)?;
                at_most("--thin", *thin, MAX_SWEEPS)?;
                if let Ok(sys) = System::by_name(system) {
                    floats("--samples", *samples, sys.dim())?;
                    let levels = levels.unwrap_or_else(|| PtConfig::default_levels(&sys));
                    floats("--chains × --levels", chains.saturating_mul(levels), sys.dim())?;
                }
            }
            Command::Sample { system: Some(_), samples, .. } => at_most("--samples", *samples, MAX_REFERENCE_SAMPLES)?,
            Command::Sample { score, samples, steps, .. } => {
                at_most("--samples", *samples, MAX_SAMPLES)?;
                at_most("--steps", *steps, MAX_STEPS)?;
                // a name that is neither a score nor a file: a misspelt score, not a path
                let known = ["chain", "empirical", "orbits", "model"];
                if !known.contains(&score.as_str()) && !Path::new(score).exists() && !score.contains(['/', '\\', '.']) {
                    return Err(format!("unknown score '{}': use chain, empirical, orbits or a weights file", molplay::io::printable(score)));
                }
            }
            Command::Gaussianity { steps, pooled, .. } => {
                at_most("--steps", *steps, MAX_STEPS)?;
                at_most("--pooled", *pooled, MAX_SAMPLES)?;
            }
            Command::TrainScore { steps, batch, .. } => {
                at_most("--steps", *steps, MAX_TRAIN_STEPS)?;
                at_most("--batch", *batch, MAX_BATCH)?;
            }
            Command::TrainAdjoint { epochs, threads, .. } => {
                at_most("--epochs", *epochs, MAX_EPOCHS)?;
                thread_counts(threads.iter())?;
            }
            Command::Eval { sample_w2, .. } => at_most("--sample-w2", *sample_w2, molplay::metrics::MAX_SAMPLE_W2_N)?,
            Command::Bench { systems, batch, reps, .. } => {
                at_most("--batch", *batch, MAX_BENCH_BATCH)?;
                at_most("--reps", *reps, MAX_REPS)?;
                for sys in systems.iter().filter_map(|s| System::by_name(s).ok()) {
                    floats("--batch", *batch, sys.dim())?;
                }
            }
            Command::BenchMcmc { chains, sweeps, .. } => {
                at_most("--chains", *chains, MAX_CHAINS)?;
                at_most("--sweeps", *sweeps, MAX_SWEEPS)?;
            }
            Command::BenchTrain { reps, .. } => at_most("--reps", *reps, MAX_REPS)?,
            Command::BenchAdjoint { epochs, threads, .. } => {
                at_most("--epochs", *epochs, MAX_REPS)?;
                thread_counts(threads.iter())?;
            }
            Command::Energy { .. } | Command::Stability { .. } | Command::Info { .. } => {}
            // their limits live in the application layer (`app::molecules`)
            Command::TrainMolecules(_) | Command::GenerateMolecules(_) | Command::Conformers(_) => {}
        }
        Ok(())
    }

    /// Reads a sample file as a flat batch of `sys` configurations (CoM untouched).
    fn load_samples(sys: &System, path: &Path) -> Result<Vec<f64>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let at = |e: String| format!("{}: {e}", path.display());
        let xs = read_configurations(&path.to_string_lossy(), &bytes, sys.n, sys.d).map_err(|e| at(e.to_string()))?;
        sys.check_batch(&xs).map_err(|e| at(e.to_string()))?;
        Ok(xs)
    }

    fn energy(system: &str, input: &Path, forces: bool, json: bool) -> Result<(), String> {
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

    /// The GPU to run the MCMC pass on: `gpu` insists, `auto` takes real GPUs only.
    fn mcmc_gpu(backend: &str) -> Result<Option<GpuContext>, String> {
        match (backend, GpuContext::new_blocking()) {
            ("cpu", _) => Ok(None),
            ("gpu", Err(e)) => Err(format!("--backend gpu: {e}")),
            ("gpu", Ok(ctx)) => Ok(Some(ctx)),
            (_, Ok(ctx)) if ctx.summary.device_type != "Cpu" => Ok(Some(ctx)),
            (_, Ok(ctx)) => {
                eprintln!("molplay: {} is a software adapter, slower than the CPU path: sampling on the CPU (--backend gpu to override)", ctx.summary.name);
                Ok(None)
            }
            (_, Err(_)) => Ok(None),
        }
    }

    fn reference(system: &str, n: usize, seed: u64, output: &Path, knobs: (usize, Option<usize>, f64, usize, usize), backend: &str, json: bool) -> Result<(), String> {
        let (chains, levels, t_max, burn_in, thin) = knobs;
        let sys = System::by_name(system).map_err(|e| e.to_string())?;
        let levels = levels.unwrap_or_else(|| PtConfig::default_levels(&sys));
        if n == 0 || chains == 0 || levels == 0 || thin == 0 {
            return Err("--samples, --chains, --levels and --thin must be at least 1".into());
        }
        if !(t_max.is_finite() && t_max >= 1.0) {
            return Err(format!("--t-max must be a finite number ≥ 1, got {t_max}"));
        }
        let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext != "npy" && ext != "xyz" {
            return Err(format!("{}: the output must end in .npy or .xyz", output.display()));
        }
        let mut cfg = PtConfig::geometric(&sys, levels, t_max, chains, seed);
        cfg.burn_in_sweeps = burn_in;
        cfg.thin = thin;
        let t0 = Instant::now();
        let gpu = mcmc_gpu(backend)?;
        let mut run = match &gpu {
            Some(ctx) => ReferenceRun::gpu(ctx, &sys, cfg, n),
            None => ReferenceRun::cpu(&sys, cfg, n),
        }
        .map_err(|e| format!("reference: {e}"))?;
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

    /// Writes samples of a benchmark system as .npy (float32) or XYZ (with energies in the
    /// comment lines), by the output's extension.
    fn write_system_samples(sys: &System, xs: &[f64], output: &Path) -> Result<(), String> {
        let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let bytes = match ext.as_str() {
            "npy" => write_npy_f32(xs.len() / sys.dim(), sys.dim(), &xs.iter().map(|&v| v as f32).collect::<Vec<f32>>()),
            "xyz" => {
                let symbol = sys.particle_symbol();
                let energies = sys.energies(xs).map_err(|e| e.to_string())?;
                let frames: Vec<XyzFrame> = xs
                    .chunks(sys.dim())
                    .zip(&energies)
                    .enumerate()
                    .map(|(i, (x, e))| XyzFrame { elements: vec![symbol.into(); sys.n], positions: x.to_vec(), comment: format!("{} sample {i} energy={e:.6}", sys.name), charges: None })
                    .collect();
                write_xyz(&frames, sys.d).into_bytes()
            }
            _ => return Err(format!("{}: the output must end in .npy or .xyz", output.display())),
        };
        std::fs::write(output, bytes).map_err(|e| format!("{}: {e}", output.display()))
    }

    /// What `train-adjoint` was given.
    struct TrainAdjointArgs<'a> {
        system: &'a str,
        config: &'a str,
        epochs: usize,
        seed: u64,
        output: &'a Path,
        reference: Option<&'a Path>,
        eval_every: usize,
        final_eval: bool,
        weights_only: bool,
        resume: Option<&'a Path>,
        lr: Option<f64>,
        set: &'a [String],
        device: &'a str,
        threads: Option<usize>,
        json: bool,
    }

    /// Adjoint Sampling from the energy alone: epochs of (buffer refresh + regression steps),
    /// progress on stderr, an evaluation line every `eval_every` epochs (energy W2 and distance
    /// W2 of 1000 fresh samples against `reference` when given, else the mean energy).
    fn train_adjoint(args: TrainAdjointArgs) -> Result<(), String> {
        use molplay::adjoint::{AdjointConfig, AdjointSampler, Evaluation};
        use pollster::block_on;
        let TrainAdjointArgs { system, epochs, seed, output, eval_every, json, .. } = args;
        let compute = molplay::models::Compute::by_name(args.device)?;
        if epochs == 0 && args.resume.is_none() {
            return Err("--epochs must be at least 1 (0 only with --resume: the file written again as asked, e.g. --weights-only for a preset)".into());
        }
        if args.resume.is_some() && !args.set.is_empty() {
            return Err("--set changes a new run's configuration; a resumed run keeps its own (only --lr can change)".into());
        }
        let mut a = match args.resume {
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut a = AdjointSampler::from_bytes(&bytes, Some(system)).map_err(|e| format!("{}: {e}", p.display()))?;
                if a.resumed_exactly() {
                    eprintln!(
                        "{}: a checkpoint: going on exactly from epoch {} (replay buffer of {}, optimiser state, random numbers; --seed is not used)",
                        p.display(),
                        a.counters.epochs,
                        a.counters.buffer
                    );
                } else {
                    eprintln!("{}: weights only: going on from epoch {} with an empty buffer, a fresh optimiser and --seed {seed}", p.display(), a.counters.epochs);
                    a.reseed(seed);
                }
                a
            }
            None => AdjointSampler::new(AdjointConfig::by_name(args.config, system)?.with_overrides(args.set)?, seed)?,
        };
        if a.resumed_exactly() && !matches!(compute, molplay::models::Compute::Cpu) {
            eprintln!("note: moving to {} restarts the optimiser (its state is resumed on the CPU only)", compute.name());
        }
        a.move_to(&compute);
        if let Some(t) = args.threads {
            a.set_threads(t);
        }
        // a network on the GPU: the buffer refreshes' forces from our kernel on the same device
        if let (molplay::models::Compute::Gpu(_), Some(ctx)) = (&compute, molplay::gpu::shared_native_context()) {
            a.use_gpu_energies(ctx.clone(), molplay::gpu::energy::EnergyKernel::new(&ctx.device));
        }
        if let Some(lr) = args.lr {
            if !(lr > 0.0 && lr < 1.0) {
                return Err("--lr must be in (0, 1)".into());
            }
            a.config.lr = lr;
        }
        let sys = a.system.clone();
        let reference = match args.reference {
            Some(p) => {
                let mut ys = load_samples(&sys, p)?;
                ys.chunks_mut(sys.dim()).for_each(|c| molplay::geometry::remove_com(c, sys.d));
                Some(ys)
            }
            None => None,
        };
        let t0 = Instant::now();
        // wall time of the sessions before this one (a resumed run's history)
        let before = a.history.seconds;
        let first_eval = a.history.evaluations.len();
        let mut stopped = None;
        let mut last_loss = f64::NAN;
        // 1000 fresh samples with their own random numbers (evaluating never changes training)
        let evaluate = |a: &mut AdjointSampler, loss: f64| -> Result<Evaluation, String> {
            let t = Instant::now();
            let epoch = a.counters.epochs;
            let xs = block_on(a.simulate_detached(1000, epoch as u64))?;
            let e = sys.energies(&xs).map_err(|e| e.to_string())?;
            let (energy_mean, energy_sd) = molplay::metrics::mean_sd(&e);
            let (energy_w2, distance_w2) = match &reference {
                Some(ys) => {
                    let c = compare(&sys, &xs, ys, 0).map_err(|e| e.to_string())?;
                    (Some(c.energy_w2), Some(c.distance_w2))
                }
                None => (None, None),
            };
            let seconds = before + t0.elapsed().as_secs_f64();
            Ok(Evaluation { epoch, seconds, loss, samples: 1000, energy_mean, energy_sd, energy_w2, distance_w2, eval_seconds: t.elapsed().as_secs_f64(), counters: a.counters.clone() })
        };
        let save = |a: &mut AdjointSampler| -> Result<(), String> {
            a.history.seconds = before + t0.elapsed().as_secs_f64();
            let bytes = if args.weights_only { block_on(a.to_bytes()) } else { block_on(a.checkpoint_bytes()) };
            std::fs::write(output, bytes.map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", output.display()))
        };
        for epoch in 1..=epochs {
            match block_on(a.epoch()) {
                Ok(l) => last_loss = l,
                Err(e) => {
                    stopped = Some(format!("epoch {epoch}: {e}"));
                    break;
                }
            }
            let on_grid = a.counters.epochs % eval_every.max(1) == 0;
            if on_grid || (epoch == epochs && args.final_eval) {
                let v = evaluate(&mut a, last_loss)?;
                let w2 = v.energy_w2.map(|w| format!(", energy W2 {w:.3}, distance W2 {:.4}", v.distance_w2.unwrap_or(f64::NAN))).unwrap_or_default();
                eprintln!(
                    "epoch {} ({epoch}/{epochs} this run): loss {last_loss:.3}, E {:.2} ± {:.2}{w2} · {} energy evals, {} gradient steps, {} model evals · {:.0} s in all (this evaluation {:.1} s)",
                    v.epoch, v.energy_mean, v.energy_sd, a.counters.energy_evaluations, a.counters.gradient_steps, a.counters.model_evaluations, v.seconds, v.eval_seconds
                );
                a.history.evaluations.push(v);
                // a checkpoint at every evaluation: an interrupted run loses at most this much
                save(&mut a)?;
            }
        }
        // on divergence the network already holds the last good weights
        save(&mut a)?;
        let secs = t0.elapsed().as_secs_f64();
        let c = &a.counters;
        let report = serde_json::json!({
            "system": sys.name, "config": a.config, "device": compute.name(), "counters": c, "seconds": secs, "total_seconds": a.history.seconds,
            "resumed_exactly": a.resumed_exactly(), "last_loss": last_loss, "evaluations": &a.history.evaluations[first_eval..],
            "gradient_steps_per_energy_evaluation": c.gradient_steps as f64 / c.energy_evaluations.max(1) as f64,
            "energies_on": a.energy_engine(), "checkpoint": !args.weights_only,
            "gradient_steps_per_s": c.gradient_steps as f64 / secs, "stopped": stopped, "output": output,
        });
        if json {
            outln!("{report}");
        } else {
            let what = if args.weights_only { "weights" } else { "checkpoint" };
            outln!(
                "{} epochs on {} ({epochs} in {secs:.1} s here, {:.1} s in all): {} gradient steps for {} energy evaluations → {} ({what})",
                c.epochs,
                sys.name,
                a.history.seconds,
                c.gradient_steps,
                c.energy_evaluations,
                output.display()
            );
        }
        match stopped {
            Some(msg) => Err(format!("{msg} (the last good weights were written to {})", output.display())),
            None => Ok(()),
        }
    }

    /// Samples from a trained Adjoint Sampling controller.
    fn adjoint_sample(system: &str, model: Option<&Path>, samples: usize, seed: u64, output: Option<&Path>, json: bool) -> Result<(), String> {
        let path = model.ok_or("--system samples from an Adjoint Sampling controller: give it with --model FILE")?;
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut a = molplay::adjoint::AdjointSampler::from_bytes(&bytes, Some(system)).map_err(|e| format!("{}: {e}", path.display()))?;
        if samples == 0 {
            return Err("--samples must be at least 1".into());
        }
        a.reseed(seed);
        let t0 = Instant::now();
        // simulate batches within the controller's pair-tensor bound itself
        let (xs, _) = pollster::block_on(a.simulate(samples, 0))?;
        let secs = t0.elapsed().as_secs_f64();
        if let Some(out) = output {
            write_system_samples(&a.system, &xs, out)?;
        }
        let e = a.system.energies(&xs).map_err(|e| e.to_string())?;
        let (mean, sd) = molplay::metrics::mean_sd(&e);
        if !(mean.is_finite() && sd.is_finite()) {
            return Err(format!("the samples' energies are not finite (mean {mean}, spread {sd}): the controller diverged"));
        }
        if json {
            outln!(
                "{}",
                serde_json::json!({ "system": a.system.name, "samples": samples, "nfe": samples * (a.config.nfe - 1), "seconds": secs, "energy_mean": mean, "energy_sd": sd, "output": output })
            );
        } else {
            outln!("{samples} {} samples from the controller ({} steps each) in {secs:.2} s: E {mean:.3} ± {sd:.3}", a.system.name, a.config.nfe - 1);
        }
        Ok(())
    }

    fn eval(system: &str, samples: &Path, reference: &Path, sample_w2_n: usize, json: bool) -> Result<(), String> {
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

    fn info(json: bool) -> Result<(), String> {
        match GpuContext::new_blocking() {
            Ok(ctx) if json => outln!("{}", serde_json::json!({ "gpu": ctx.summary })),
            Ok(ctx) => {
                let s = &ctx.summary;
                outln!("GPU adapter: {} ({}, {}, driver: {})", s.name, s.backend, s.device_type, s.driver);
            }
            Err(e) if json => outln!("{}", serde_json::json!({ "gpu": null, "reason": e.to_string() })),
            Err(e) => outln!("no GPU adapter ({e}); every computation runs on the CPU"),
        }
        Ok(())
    }

    fn bench_train(devices: &[String], reps: usize, json: bool) -> Result<(), String> {
        use molplay::models::Compute;
        if reps == 0 {
            return Err("--reps must be at least 1".into());
        }
        let t0 = Instant::now();
        let clock = move || t0.elapsed().as_secs_f64() * 1e3;
        let mut rows = serde_json::Map::new();
        let (mut cpu, mut gpu) = (None, None);
        for name in devices {
            let compute = match Compute::by_name(name) {
                Ok(c) => c,
                Err(e) if devices.len() > 1 => {
                    eprintln!("molplay: skipping {name}: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let t = pollster::block_on(molplay::adjoint::time_training(&compute, reps, &clock))?;
            let (dsm, adj) = (t.dsm_step_ms, t.adjoint);
            if !json {
                outln!(
                    "{name:>4}: DSM step {dsm:8.2} ms ({:6.1}/s) | AS regression step {:8.2} ms ({:6.1}/s) | AS simulation step (64 samples) {:8.2} ms",
                    1e3 / dsm,
                    adj.regression_step_ms,
                    1e3 / adj.regression_step_ms,
                    adj.simulation_step_ms
                );
            }
            rows.insert(name.clone(), serde_json::json!({ "dsm_step_ms": dsm, "dsm_steps_per_s": 1e3 / dsm, "adjoint": adj, "adjoint_gradient_steps_per_s": 1e3 / adj.regression_step_ms }));
            *(if name == "cpu" { &mut cpu } else { &mut gpu }) = Some(t);
        }
        let ratios = cpu.zip(gpu).map(|(c, g)| c.over(&g));
        if json {
            let ratios = ratios.map_or(serde_json::json!({ "dsm": null, "regression_step": null, "simulation_step": null }), |r| serde_json::json!(r));
            outln!("{}", serde_json::json!({ "reps": reps, "devices": rows, "cpu_over_gpu_time": ratios }));
        } else if let Some(r) = ratios {
            outln!("CPU/GPU time ratios (> 1: the GPU is faster): DSM {:.2}, AS regression {:.2}, AS simulation {:.2}", r.dsm, r.regression_step, r.simulation_step);
        }
        Ok(())
    }

    fn bench_adjoint(system: &str, config: &str, set: &[String], epochs: usize, threads: &[usize], json: bool) -> Result<(), String> {
        use molplay::adjoint::{time_epochs, AdjointConfig};
        if epochs == 0 {
            return Err("--epochs must be at least 1".into());
        }
        let cfg = AdjointConfig::by_name(config, system)?.with_overrides(set)?;
        let all = molplay::parallel::default_threads();
        let counts = if threads.is_empty() {
            if all > 1 {
                vec![1, all]
            } else {
                vec![1]
            }
        } else {
            threads.to_vec()
        };
        let t0 = Instant::now();
        let clock = move || t0.elapsed().as_secs_f64();
        let mut rows = Vec::new();
        for &t in &counts {
            let seconds = pollster::block_on(time_epochs(&cfg, t, epochs, &clock))?;
            if !json {
                outln!("{system} {config}: {t:>3} thread{} {seconds:8.3} s/epoch", if t == 1 { " " } else { "s" });
            }
            rows.push(serde_json::json!({ "threads": t, "seconds_per_epoch": seconds }));
        }
        let one = rows.first().and_then(|r| r["seconds_per_epoch"].as_f64());
        let speedups: Vec<f64> = rows.iter().filter_map(|r| Some(one? / r["seconds_per_epoch"].as_f64()?)).collect();
        if json {
            outln!("{}", serde_json::json!({ "system": system, "config": cfg, "epochs": epochs, "cores": all, "rows": rows, "speedup_over_first": speedups }));
        } else if counts.len() > 1 {
            let list: Vec<String> = counts.iter().zip(&speedups).skip(1).map(|(t, s)| format!("{s:.2}× on {t}")).collect();
            outln!("speed-up over {} thread{}: {}", counts[0], if counts[0] == 1 { "" } else { "s" }, list.join(", "));
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
            let t0 = Instant::now();
            let clock = || t0.elapsed().as_secs_f64() * 1e3;
            let times = pollster::block_on(time_paths(gpu.as_ref().ok().map(|(c, k)| (c, k)), sys, &xs, reps, clock)).map_err(|e| e.to_string())?;
            let PathTimes { gpu_ms, gpu_resident_ms: resident_ms, cpu_ms } = times;
            let row = serde_json::json!({
                "system": sys.name, "n": sys.n, "batch": batch, "reps": reps,
                "cpu_ms": cpu_ms, "gpu_ms": gpu_ms, "gpu_resident_ms": resident_ms,
                "cpu_configs_per_s": batch as f64 / cpu_ms * 1e3,
                "gpu_configs_per_s": gpu_ms.map(|g| batch as f64 / g * 1e3),
                "cpu_over_gpu": gpu_ms.map(|g| cpu_ms / g),
            });
            if !json {
                match gpu_ms {
                    Some(g) => outln!(
                        "{:>5} B={batch}: CPU f64 {cpu_ms:8.2} ms | GPU {g:8.2} ms end-to-end, {:8.2} ms resident | CPU/GPU time ratio {:.2}",
                        sys.name,
                        resident_ms.unwrap_or(f64::NAN),
                        cpu_ms / g
                    ),
                    None => outln!("{:>5} B={batch}: CPU f64 {cpu_ms:8.2} ms (no GPU)", sys.name),
                }
            }
            rows.push(row);
        }
        // one reverse-sampler update (DDPM/EM, equivariant) of `batch` QM9-sized molecules
        let sampler = gpu.as_ref().ok().map(|(ctx, _)| (ctx, molplay::gpu::sampler::SamplerKernel::new(&ctx.device)));
        let t0 = Instant::now();
        let (step_gpu, step_cpu) = pollster::block_on(molplay::gpu::sampler::time_steps(sampler.as_ref().map(|(c, k)| (*c, k)), batch, 19, reps, || t0.elapsed().as_secs_f64() * 1e3))?;
        if !json {
            match step_gpu {
                Some(g) => outln!("sampler update, {batch} × 19 atoms: CPU f64 {step_cpu:8.2} ms | GPU {g:8.2} ms end-to-end | CPU/GPU time ratio {:.2}", step_cpu / g),
                None => outln!("sampler update, {batch} × 19 atoms: CPU f64 {step_cpu:8.2} ms (no GPU)"),
            }
        }
        let sampler_row = serde_json::json!({ "molecules": batch, "atoms": 19, "cpu_ms": step_cpu, "gpu_ms": step_gpu, "cpu_over_gpu": step_gpu.map(|g| step_cpu / g) });
        let adapter = gpu.as_ref().ok().map(|(c, _)| c.summary.clone());
        if json {
            outln!("{}", serde_json::json!({ "adapter": adapter, "results": rows, "sampler_update": sampler_row }));
        } else if let Some(a) = adapter {
            outln!("adapter: {} ({}, {})", a.name, a.backend, a.device_type);
        }
        Ok(())
    }

    fn bench_mcmc(systems: &[String], chains: usize, sweeps: usize, json: bool) -> Result<(), String> {
        if chains == 0 || sweeps == 0 {
            return Err("--chains and --sweeps must be at least 1".into());
        }
        let systems = systems.iter().map(|s| System::by_name(s).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
        let gpu = GpuContext::new_blocking();
        if let Err(e) = &gpu {
            eprintln!("molplay: no GPU ({e}); timing the CPU path only");
        }
        let mut rows = Vec::new();
        for sys in &systems {
            let cfg = PtConfig::geometric(sys, PtConfig::default_levels(sys), 2.0, chains, 1);
            let t0 = Instant::now();
            let clock = || t0.elapsed().as_secs_f64() * 1e3;
            let t = pollster::block_on(molplay::reference::time_sweeps(gpu.as_ref().ok(), sys, &cfg, sweeps, clock))?;
            let row = serde_json::json!({
                "system": sys.name, "replicas": cfg.replicas(), "sweeps": sweeps,
                "cpu_sweeps_per_s": t.cpu_sweeps_per_s, "gpu_sweeps_per_s": t.gpu_sweeps_per_s,
                "cpu_evals_per_s": t.cpu_sweeps_per_s * cfg.replicas() as f64,
                "gpu_evals_per_s": t.gpu_sweeps_per_s.map(|g| g * cfg.replicas() as f64),
                "gpu_over_cpu": t.gpu_sweeps_per_s.map(|g| g / t.cpu_sweeps_per_s),
            });
            if !json {
                let r = cfg.replicas() as f64;
                match t.gpu_sweeps_per_s {
                    Some(g) => outln!(
                        "{:>5} {} replicas: CPU {:8.1} sweeps/s ({:.3e} evals/s) | GPU {:8.1} sweeps/s ({:.3e} evals/s) | GPU/CPU {:.2}",
                        sys.name,
                        cfg.replicas(),
                        t.cpu_sweeps_per_s,
                        t.cpu_sweeps_per_s * r,
                        g,
                        g * r,
                        g / t.cpu_sweeps_per_s
                    ),
                    None => outln!("{:>5} {} replicas: CPU {:8.1} sweeps/s (no GPU)", sys.name, cfg.replicas(), t.cpu_sweeps_per_s),
                }
            }
            rows.push(row);
        }
        let adapter = gpu.as_ref().ok().map(|c| c.summary.clone());
        if json {
            outln!("{}", serde_json::json!({ "adapter": adapter, "results": rows }));
        } else if let Some(a) = adapter {
            outln!("adapter: {} ({}, {})", a.name, a.backend, a.device_type);
        }
        Ok(())
    }

    fn gaussianity(input: &Path, schedule: &str, steps: usize, grid: (usize, usize, usize), seed: u64, sizes: (usize, usize), json: bool) -> Result<(), String> {
        use molplay::gaussianity::{pooled, study, StudyOptions};
        let (limit, pooled_n) = sizes;
        let (from, to, every) = grid;
        if every == 0 || from >= to {
            return Err("--check-every must be ≥ 1 and --check-from below --check-to".into());
        }
        let schedule = molplay::schedules::Schedule::noising_by_name(schedule, steps)?;
        if to > steps {
            return Err(format!("--check-to {to} is beyond the schedule's {steps} steps"));
        }
        let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
        // an evenly spaced subset, as the page takes: a data set's order need not be random (QM9's
        // puts small molecules first)
        let data = molplay::molecules::Dataset::from_xyz(&text, 4).map_err(|e| format!("{}: {e}", input.display()))?.evenly_spaced(limit);
        let opts = StudyOptions { schedule, grid: (from..=to).step_by(every).collect(), seed };
        let t0 = Instant::now();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let r = study(&data, &opts, |done, total| {
            if tty && (done % 50 == 0 || done == total) {
                eprint!("\rtested {done}/{total} molecules   ");
            }
        })?;
        if tty {
            eprintln!();
        }
        let secs = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let pool = if pooled_n > 0 { Some(pooled(&data, &opts, pooled_n)?) } else { None };
        let pooled_secs = t1.elapsed().as_secs_f64();
        if json {
            let mut v = serde_json::to_value(&r).map_err(|e| e.to_string())?;
            v["pooled"] = serde_json::to_value(&pool).map_err(|e| e.to_string())?;
            v["pooled_seconds"] = serde_json::json!(pooled_secs);
            v["seconds"] = serde_json::json!(secs);
            v["schedule"] = serde_json::json!(opts.schedule.kind);
            outln!("{v}");
            return Ok(());
        }
        let show = |v: Option<f64>| v.map(|t| format!("{t:.0}")).unwrap_or_else(|| "never".into());
        outln!("{} molecules tested ({} skipped: fewer than 4 atoms), grid {from}..={to} step {every}, {secs:.1} s", r.molecules_tested, r.molecules_skipped);
        outln!("T* (95 % quantile over molecules, positions and types): {}   mean: {}", show(r.t_star), show(r.t_star_mean));
        for (m, t) in &r.t_star_by_modality {
            outln!("  {m:<10} T* {:>6}   mean {:>6}   never passed: {}", show(*t), show(r.t_star_mean_by_modality[m]), r.never_passed[m]);
        }
        for c in &r.curves {
            let rates: Vec<String> = c.t.iter().zip(&c.pass_rate).map(|(t, p)| format!("{t}:{p:.2}")).collect();
            outln!("  {:<10} pass rate {}", c.modality, rates.join(" "));
        }
        if let Some(p) = &pool {
            outln!("calibrated pooled measure ({} molecules, thresholds from pure noise, {pooled_secs:.1} s): T* {}", p.molecules, show(p.t_star.map(|t| t as f64)));
            for c in &p.curves {
                let ks: Vec<String> = c.t.iter().zip(&c.ks_distance).map(|(t, v)| format!("{t}:{v:.3}")).collect();
                let mi: Vec<String> = c.t.iter().zip(&c.mi).map(|(t, v)| format!("{t}:{v:.3}")).collect();
                outln!(
                    "  {:<10} T_DS {} (KS ≤ {:.3}), T_ID {} (MI ≤ {:.3}), T* {}",
                    c.modality,
                    show(c.t_ds.map(|t| t as f64)),
                    c.null_ks_distance,
                    show(c.t_id.map(|t| t as f64)),
                    c.null_mi,
                    show(c.t_star.map(|t| t as f64))
                );
                outln!("  {:<10} KS {}", "", ks.join(" "));
                outln!("  {:<10} MI {}", "", mi.join(" "));
            }
        }
        Ok(())
    }

    struct SampleArgs {
        score: String,
        model: Option<PathBuf>,
        atoms: Option<usize>,
        data: Option<PathBuf>,
        sampler: String,
        steps: usize,
        schedule: String,
        gaga: bool,
        t_star: f64,
        compare_gaga: bool,
        symmetry: String,
        samples: usize,
        seed: u64,
        output: Option<PathBuf>,
        json: bool,
    }

    type Configurations = (Vec<f64>, usize, Vec<Vec<String>>);

    /// Training / reference configurations: `chain` (`count` draws of the Gaussian spring chain
    /// of `atoms`, 4 by default) or the molecules of an XYZ file with `atoms` atoms (default: the
    /// most common size; CoM removed). Returns (flat configurations, atoms, elements of each
    /// molecule: empty for the chain).
    fn configurations(data: &str, atoms: Option<usize>, count: usize, seed: u64) -> Result<Configurations, String> {
        if data == "chain" {
            let atoms = atoms.unwrap_or(4);
            molplay::samplers::check_chain_beads(atoms).map_err(|e| format!("--atoms: {e}"))?;
            let mut g = molplay::samplers::GaussianTarget::spring_chain(atoms);
            for _ in 0..seed % 97 {
                g.draw();
            }
            return Ok(((0..count).flat_map(|_| g.draw()).collect(), atoms, Vec::new()));
        }
        let path = Path::new(data);
        let at = |e: String| format!("{}: {e}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
        let set = molplay::molecules::Dataset::from_xyz(&text, 3).map_err(at)?;
        let molplay::molecules::SizeGroup { atoms: n, positions: xs, elements } = set.same_size(atoms, 0).map_err(at)?;
        if atoms.is_none() && set.molecules.len() > elements.len() {
            eprintln!("{}: using the {} molecules with {n} atoms (the most common size; --atoms picks another)", path.display(), elements.len());
        }
        Ok((xs, n, elements))
    }

    struct TrainScoreArgs {
        data: String,
        atoms: Option<usize>,
        steps: usize,
        batch: usize,
        lr: f64,
        hidden: usize,
        layers: usize,
        t_max: Option<f64>,
        objective: String,
        positions_only: bool,
        device: String,
        seed: u64,
        output: PathBuf,
        json: bool,
    }

    fn train_score(a: TrainScoreArgs) -> Result<(), String> {
        use molplay::app::score::{Knobs, Limits, ScoreTraining, TrainingSet};
        let TrainScoreArgs { steps, batch, lr, hidden, layers, seed, json, .. } = a;
        let output = a.output.as_path();
        let objective = molplay::objectives::Objective::by_name(&a.objective)?;
        let knobs = Knobs { hidden, layers, batch, lr, t_max: a.t_max.unwrap_or(1000.0), objective, seed };
        if steps == 0 {
            return Err("need --steps ≥ 1".into());
        }
        knobs.check(Limits::NATIVE, |k| format!("--{}", k.replace('_', "-")))?;
        let (positions, atoms, elements) = configurations(&a.data, a.atoms, 20_000, seed)?;
        let set = TrainingSet { positions, atoms, elements, label: a.data.clone() };
        let compute = molplay::models::Compute::by_name(&a.device)?;
        let mut training = ScoreTraining::fresh(set, knobs, a.positions_only, &compute)?;
        let t0 = Instant::now();
        let clock = || t0.elapsed().as_secs_f64();
        while training.stopped.is_none() && training.model().steps < steps {
            let k = training.model().steps;
            let chunk = (100 - k % 100).min(steps - k);
            pollster::block_on(training.train(chunk, f64::INFINITY, &clock));
            let k = training.model().steps;
            if k % 100 == 0 && training.losses.len() >= 100 {
                let window = &training.losses[training.losses.len() - 100..];
                eprintln!("step {k}/{steps}: loss {:.4} (mean of the last 100)", window.iter().sum::<f64>() / 100.0);
            }
        }
        let st = training.status();
        std::fs::write(output, training.to_bytes().map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", output.display()))?;
        let secs = training.seconds;
        let last = st.loss.unwrap_or(f64::NAN);
        let report = serde_json::json!({ "steps": st.steps, "device": st.device, "seconds": secs, "steps_per_s": st.steps as f64 / secs, "last_loss": last, "objective": st.objective, "config": st.config, "t_max": st.t_max, "stopped": st.stopped, "output": output });
        if json {
            outln!("{report}");
        } else {
            outln!("{} steps in {secs:.1} s ({:.1} steps/s), last loss {last:.4} → {}", st.steps, st.steps as f64 / secs, output.display());
        }
        match st.stopped {
            Some(msg) => Err(msg),
            None => Ok(()),
        }
    }

    fn stability_json(s: &molplay::metrics::Stability) -> serde_json::Value {
        serde_json::json!({ "atom": s.atom_fraction(), "molecule": s.molecule_fraction(), "molecules": s.molecules, "skipped": s.skipped })
    }

    fn sample_cmd(a: SampleArgs) -> Result<(), String> {
        use molplay::app::sample::{Prepared, Source};
        use molplay::metrics::GenerationQuality;
        use molplay::samplers::{sample, Method, SampleOptions, Symmetry};
        let sch = molplay::schedules::Schedule::noising_by_name(&a.schedule, 1000)?;
        let method: Method = serde_json::from_value(serde_json::json!(a.sampler)).map_err(|e| e.to_string())?;
        let symmetry: Symmetry = serde_json::from_value(serde_json::json!(a.symmetry)).map_err(|e| e.to_string())?;
        // the target, its per-coordinate variance (for GAGA's Gaussian) and the reference pairs
        let model_path = match (&a.score[..], &a.model) {
            ("model", Some(p)) => Some(p.clone()),
            ("model", None) => return Err("--score model needs --model FILE (or --score FILE)".into()),
            ("chain" | "empirical" | "orbits", _) => None,
            (file, _) => Some(PathBuf::from(file)),
        };
        let loaded = match &model_path {
            Some(p) => {
                let m = molplay::models::ScoreModel::from_bytes(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?, None).map_err(|e| format!("{}: {e}", p.display()))?;
                m.config.check_schedule(&sch).map_err(|e| format!("{}: {e} (--schedule)", p.display()))?;
                Some(m)
            }
            None => None,
        };
        // the score source (app::sample, as the page builds it), the reference pairs and
        // GAGA's variance
        let Prepared { mut source, reference, v_hat, .. } = match a.score.as_str() {
            _ if loaded.is_some() => {
                let m = loaded.as_ref().expect("loaded above");
                let data = a.data.as_ref().map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| "chain".into());
                let (reference, n, el) = configurations(&data, Some(m.config.atoms), a.samples.max(200), a.seed ^ 1)?;
                if n != m.config.atoms {
                    return Err(format!("the model is for {} atoms, the data has {n}", m.config.atoms));
                }
                if m.config.conditioned_on_elements() && el.is_empty() {
                    return Err("this network generates positions for given elements: --data must be a molecule file (XYZ) to draw them from".into());
                }
                // each sample gets the atom types of a data molecule of its size, drawn with the seed
                let mut p = Source::network(&m.config, reference, &el, a.samples, a.seed, String::new())?;
                // GAGA starts from the variance of the data the samples are judged against (the
                // page: the network's training data, as recorded in its weights)
                p.v_hat = molplay::metrics::mean_square(&p.reference);
                p
            }
            "chain" => Source::chain(a.atoms.unwrap_or(4), a.samples.max(200)).map_err(|e| format!("--atoms: {e}"))?,
            _ => {
                let path = a.data.as_ref().ok_or("--score empirical (or orbits) needs --data FILE.xyz")?;
                let (xs, n, el) = configurations(&path.to_string_lossy(), a.atoms, 0, 0)?;
                Source::molecules(xs, n, el, a.score == "orbits").map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        let n = source.atoms();
        let mut opts = SampleOptions::new(method, symmetry, a.steps, &sch);
        opts.seed = a.seed;
        if a.gaga {
            opts = opts.gaga(&sch, a.t_star, v_hat, n);
        }
        let t0 = Instant::now();
        let r = source.with_denoiser(loaded.as_ref(), |d| sample(d, &sch, &opts, a.samples))?;
        let secs = t0.elapsed().as_secs_f64();
        let q = GenerationQuality::new(&r.samples, &reference, n);
        // each sample's elements: given to the network, or (an empirical sample) those of the data
        // point it ends nearest to; None for the chain and a positions-only network
        let sample_elements = |source: &Source, xs: &[f64]| source.elements_of(xs, symmetry, None).map(|els| els.iter().map(|e| e.to_vec()).collect::<Vec<Vec<String>>>());
        let stability = |xs: &[f64], els: &Option<Vec<Vec<String>>>| els.as_ref().map(|el| molplay::metrics::Stability::of(xs, n, el));
        // found once: for the stability and for the XYZ output
        let els = sample_elements(&source, &r.samples);
        let stable = stability(&r.samples, &els);
        if let Some(out) = &a.output {
            let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            let bytes = match ext.as_str() {
                "npy" => write_npy_f32(a.samples, 3 * n, &r.samples.iter().map(|&v| v as f32).collect::<Vec<_>>()),
                "xyz" => {
                    let frames: Vec<XyzFrame> = r
                        .samples
                        .chunks(3 * n)
                        .enumerate()
                        .map(|(i, x)| XyzFrame { elements: els.as_ref().map_or_else(|| vec!["C".into(); n], |e| e[i].clone()), positions: x.to_vec(), comment: format!("sample {i}"), charges: None })
                        .collect();
                    write_xyz(&frames, 3).into_bytes()
                }
                _ => return Err(format!("{}: the output must end in .npy or .xyz", out.display())),
            };
            std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
        }
        let mut report = serde_json::json!({
            "score": a.score, "sampler": method, "symmetry": symmetry, "steps": a.steps, "gaga": a.gaga,
            "t_start": opts.t_start, "start_variance": opts.start_variance, "samples": a.samples, "atoms": n,
            "nfe": r.nfe, "nfe_per_sample": r.nfe as f64 / a.samples as f64, "seconds": secs,
            "mean_r2": q.mean_r2, "reference_mean_r2": q.reference_mean_r2, "distance_w2": q.distance_w2,
            "stability": stable.as_ref().map(stability_json), "elements": if source.elements_given() { Some("given (drawn from the data)") } else if stable.is_some() { Some("nearest data molecule") } else { None },
        });
        if !a.json {
            outln!(
                "{} samples ({} atoms) by {:?}/{:?} from t = {}: {} network evaluations ({:.0} per sample), {secs:.2} s",
                a.samples,
                n,
                method,
                symmetry,
                opts.t_start,
                r.nfe,
                r.nfe as f64 / a.samples as f64
            );
            outln!("  E[R²] {:.4} (reference {:.4}), distance W2 {:.4}", q.mean_r2, q.reference_mean_r2, q.distance_w2);
            if let Some(st) = &stable {
                outln!("  atom stability {:.1} %, molecule stability {:.1} % ({})", 100.0 * st.atom_fraction(), 100.0 * st.molecule_fraction(), report["elements"].as_str().unwrap_or(""));
            }
        }
        if a.compare_gaga {
            if a.gaga {
                return Err("--compare-gaga runs the full and the GAGA sampler itself: leave out --gaga".into());
            }
            // same step size: T*/T of the steps
            let steps = ((a.steps as f64 * a.t_star / sch.steps() as f64).round() as usize).max(1);
            let g_opts = SampleOptions { steps, ..opts.clone().gaga(&sch, a.t_star, v_hat, n) };
            let t1 = Instant::now();
            let g = source.with_denoiser(loaded.as_ref(), |d| sample(d, &sch, &g_opts, a.samples))?;
            let g_secs = t1.elapsed().as_secs_f64();
            let gq = GenerationQuality::new(&g.samples, &reference, n);
            let g_stable = stability(&g.samples, &sample_elements(&source, &g.samples));
            report["compare"] = serde_json::json!({
                "full": { "t_start": opts.t_start, "steps": a.steps, "nfe": r.nfe, "seconds": secs, "mean_r2": q.mean_r2, "distance_w2": q.distance_w2, "stability": stable.as_ref().map(stability_json) },
                "gaga": { "t_start": a.t_star, "steps": steps, "nfe": g.nfe, "seconds": g_secs, "mean_r2": gq.mean_r2, "distance_w2": gq.distance_w2, "start_variance": g_opts.start_variance, "stability": g_stable.as_ref().map(stability_json) },
                "nfe_ratio": g.nfe as f64 / r.nfe as f64, "time_ratio": g_secs / secs,
            });
            if !a.json {
                outln!(
                    "GAGA from T* = {}: {} network evaluations ({:.0} % of full), {g_secs:.2} s ({:.0} % of full); E[R²] {:.4}, distance W2 {:.4}",
                    a.t_star,
                    g.nfe,
                    100.0 * g.nfe as f64 / r.nfe as f64,
                    100.0 * g_secs / secs,
                    gq.mean_r2,
                    gq.distance_w2
                );
                if let Some(st) = &g_stable {
                    outln!("  atom stability {:.1} %, molecule stability {:.1} %", 100.0 * st.atom_fraction(), 100.0 * st.molecule_fraction());
                }
            }
        }
        if a.json {
            outln!("{report}");
        }
        Ok(())
    }

    fn stability(input: &Path, details: Option<&Path>, json: bool) -> Result<(), String> {
        let text = std::fs::read_to_string(input).map_err(|e| format!("{}: {e}", input.display()))?;
        let frames = molplay::io::read_xyz(&text).map_err(|e| format!("{}: {e}", input.display()))?;
        let mut s = molplay::metrics::Stability::default();
        for f in &frames {
            s.add(&f.elements, &f.positions);
        }
        let molecules: Vec<(Vec<String>, Vec<f64>)> = frames.into_iter().map(|f| (f.elements, f.positions)).collect();
        let validity = molplay::chemistry::validity(molecules.iter().map(|(e, x)| (e.as_slice(), x.as_slice())));
        if let Some(p) = details {
            molecules::write_details(p, &molecules)?;
        }
        if json {
            let mut v = serde_json::to_value(&s).map_err(|e| e.to_string())?;
            v["atom_stability"] = serde_json::json!(s.atom_fraction());
            v["molecule_stability"] = serde_json::json!(s.molecule_fraction());
            v["validity"] = serde_json::to_value(&validity).map_err(|e| e.to_string())?;
            outln!("{v}");
        } else {
            outln!(
                "{} molecules ({} skipped: elements outside H, C, N, O, F): atom stability {:.2} %, molecule stability {:.2} %, validity {:.2} %, uniqueness {:.2} %",
                s.molecules,
                s.skipped,
                100.0 * s.atom_fraction(),
                100.0 * s.molecule_fraction(),
                100.0 * validity.validity,
                100.0 * validity.uniqueness
            );
        }
        Ok(())
    }
}
