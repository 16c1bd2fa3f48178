//! The native CLI: the clap command line (`Cli`, `Command`) and the dispatch to the
//! subcommands, which live in this module's files by group.

use adjoint::{adjoint_sample, bench_adjoint, train_adjoint, TrainAdjointArgs};
use bench::{bench, bench_train, info};
use clap::{Parser, Subcommand};
use generate::{gaussianity, sample_cmd, stability, train_score, SampleArgs, TrainScoreArgs};
use limits::check_knobs;
use reference::{bench_mcmc, energy, eval, reference};
use std::path::PathBuf;
use std::process::ExitCode;

mod adjoint;
mod bench;
mod generate;
mod limits;
mod reference;

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
        /// Also write the checkpoint (or weights, with --weights-only) to this file whenever an
        /// evaluation's energy W2 is the lowest of the run's history so far (needs --reference):
        /// one evaluation of 1000 samples is noisy and a run can get worse after its best.
        #[arg(long, value_name = "FILE")]
        keep_best: Option<PathBuf>,
        /// Go on from a checkpoint exactly where it stopped (buffer, Adam state, random
        /// numbers, history), or from a weights-only file with an empty buffer and --seed.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Override the configuration's learning rate.
        #[arg(long)]
        lr: Option<f64>,
        /// Override a field of the configuration for a new run (repeatable): name=value with
        /// name one of sigma_min, sigma_max, nfe, new_per_epoch, grad_steps, batch, buffer,
        /// lr, hidden, layers, clip, ema, attention, input_distances (e.g. --set hidden=64
        /// --set ema=0.999 --set attention=false).
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
        Command::TrainAdjoint { system, config, epochs, seed, output, reference, eval_every, no_final_eval, weights_only, keep_best, resume, lr, set, device, threads, json } => {
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
                keep_best: keep_best.as_deref(),
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
