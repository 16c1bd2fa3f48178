// The scripting API, `window.molplay` (version 1): the one definition in code of what is public,
// in the order of README's table. Every member delegates to an operation that boot.js, the
// viewer, the page or a panel returns; the argument checks of the page-level members are here,
// those of a panel's members stay with the panel's operation. No logic beyond that.

/** @typedef {"webgpu" | "cpu"} Backend */
/** @typedef {"forward" | "generate" | "learn"} Mode */

/**
 * The playground's state (JSON-serialisable).
 * @typedef {object} State
 * @property {number} api_version
 * @property {string} preset what the viewer shows: a system, "molecules", "generated", "adjoint", …
 * @property {string} system
 * @property {Backend} backend
 * @property {string | null} adapter
 * @property {string | null} renderer
 * @property {string | null} notice
 * @property {number} n_atoms
 * @property {number} dim
 * @property {number} energy
 * @property {number[]} positions
 * @property {[number, number]} view_fill the fractions of the viewer's width and height the shown atoms span
 * @property {"default" | "projector"} style
 * @property {number} frames
 * @property {string | null} render_error
 */

/**
 * GPU vs CPU timing of energies and gradients, per evaluation of the batch (app::bench::EnergyBench,
 * the rows of `molplay bench --json`).
 * @typedef {object} BenchReport
 * @property {string} system
 * @property {number} n
 * @property {number} batch
 * @property {number} reps
 * @property {number} cpu_ms
 * @property {number | null} gpu_ms end to end (upload, pass, read-back); null without WebGPU
 * @property {number | null} gpu_resident_ms positions already on the GPU
 * @property {number} cpu_configs_per_s
 * @property {number | null} gpu_configs_per_s
 * @property {number | null} cpu_over_gpu CPU time over GPU time (> 1: the GPU is faster)
 */

/**
 * Options of `runReference` (all optional).
 * @typedef {object} ReferenceOptions
 * @property {string} [system] default: the picked one
 * @property {number} [samples] 2000
 * @property {number} [chains] 100 per temperature
 * @property {number} [levels]
 * @property {number} [tMax] 2
 * @property {number} [burnIn] 1000 sweeps
 * @property {number} [thin] 50
 * @property {number} [seed] 0
 * @property {"auto" | "gpu" | "cpu"} [engine] "auto" (WebGPU unless it is a software adapter: then the CPU engine, hundreds of times faster there)
 */

/**
 * The reference sampler's progress.
 * @typedef {object} ReferenceProgress
 * @property {string} phase "burn-in", "sampling" or "done"
 * @property {"gpu" | "cpu"} engine
 * @property {number} samples
 * @property {number} target
 * @property {number} fraction
 * @property {{sweeps: number, acceptance: number[], swap_acceptance: number[], step_sizes: number[], resets: number, energy_evaluations: number}} report
 */

/**
 * A set of configurations (the reference sampler's, or a loaded file's).
 * @typedef {object} SampleSet
 * @property {string} system
 * @property {number} n
 * @property {number} d
 * @property {number} count
 * @property {Float64Array} positions
 * @property {Float64Array} energies
 */

/**
 * @typedef {object} ReferenceStatus
 * @property {boolean} running
 * @property {SampleSet | null} samples
 */

/**
 * The sampler's samples against the loaded set (the same object as `molplay eval --json`; more
 * fields than listed).
 * @typedef {object} Metrics
 * @property {number} energy_w2
 * @property {number} distance_w2
 * @property {number} sample_w2
 * @property {number} virial
 * @property {number} temperature
 */

/**
 * @typedef {object} MoleculeSetInfo
 * @property {string} name
 * @property {number} molecules
 * @property {Array<object>} skipped frames with fewer than 4 atoms
 * @property {string[]} types
 * @property {string[]} modalities
 */

/**
 * Options of `forward` (all optional).
 * @typedef {object} ForwardOptions
 * @property {number} [count] 1–64, default 1
 * @property {number} [first] 0
 * @property {string} [schedule] "polynomial2"
 * @property {number} [steps] 1000
 * @property {number} [seed] 0
 */

/**
 * @typedef {object} ForwardInfo
 * @property {number} molecules
 * @property {number} atoms
 * @property {number} steps
 * @property {string} engine
 * @property {string | null} limited
 */

/**
 * @typedef {object} ForwardFrame
 * @property {number} t
 * @property {number} alpha
 * @property {number} sigma
 * @property {number} snr
 * @property {number | null} t_star
 * @property {boolean} past_t_star
 */

/**
 * Options of the T* study (all optional).
 * @typedef {object} GaussianityOptions
 * @property {string} [schedule]
 * @property {number} [steps]
 * @property {number} [checkFrom] 300
 * @property {number} [checkTo] 800
 * @property {number} [checkEvery] 50
 * @property {number} [seed]
 * @property {number} [molecules] evenly spaced subset, 1000; 0 = all
 * @property {number} [pooled] 300
 */

/**
 * The T* study's result (more fields than listed).
 * @typedef {object} GaussianityResult
 * @property {number | null} t_star
 * @property {number | null} t_star_mean
 * @property {Object<string, number | null>} t_star_by_modality
 * @property {Object<string, number | null>} t_star_mean_by_modality
 * @property {number} never_passed
 * @property {object} block_rms
 * @property {Array<object>} curves
 * @property {object | null} pooled
 * @property {string} t_star_rule
 */

/**
 * Options of `sample` (all optional).
 * @typedef {object} SampleOptions
 * @property {"chain" | "molecules" | "orbits" | "network"} [target]
 * @property {number} [atoms] chain beads, 8; molecules: default the most common size
 * @property {number} [points] molecules used, 300
 * @property {"ddpm" | "em" | "heun"} [sampler]
 * @property {number} [steps] 200
 * @property {"equivariant" | "align" | "quotient"} [symmetry]
 * @property {boolean} [gaga] false
 * @property {number} [tStar] the study's T*, else 650
 * @property {number} [samples] 200
 * @property {number} [show] samples kept for the viewer, 9
 * @property {number} [seed]
 * @property {string} [schedule]
 * @property {"cpu" | "gpu"} [engine]
 */

/**
 * A reverse sampler's report (`app::sample::SampleReport`, as `molplay sample --json` prints
 * it), with the panel's histogram values.
 * @typedef {object} SampleReport
 * @property {string} label
 * @property {number} atoms
 * @property {number} samples
 * @property {string} sampler
 * @property {string} symmetry
 * @property {number} steps
 * @property {number} t_start
 * @property {boolean} gaga
 * @property {number} t_star
 * @property {number} start_variance
 * @property {number} nfe
 * @property {number} nfe_per_sample
 * @property {number} seconds
 * @property {{distance_w2: number, mean_r2: number, reference_mean_r2: number}} quality
 * @property {{atom: number, molecule: number, molecules: number, skipped: number, elements: "given" | "nearest data molecule"} | null} stability
 * @property {number | null} nearest_data_rmsd
 * @property {number[]} distances
 * @property {number[]} reference_distances
 */

/**
 * Options of `train` (all optional).
 * @typedef {object} TrainOptions
 * @property {"chain" | "molecules"} [target] "chain"
 * @property {number} [atoms]
 * @property {number} [points]
 * @property {number} [hidden] 32
 * @property {number} [layers] 3
 * @property {number} [batch] 32
 * @property {number} [lr] 3e-3
 * @property {number} [tMax] T* trains GAGA's truncated range
 * @property {number} [seed]
 * @property {number} [steps] 500
 * @property {"auto" | "webgpu" | "cpu"} [device] "auto"
 */

/**
 * @typedef {object} TrainStatus
 * @property {number} steps
 * @property {number | null} loss
 * @property {number[]} losses
 * @property {number} ms
 * @property {string | null} stopped
 * @property {string} label
 * @property {object} config
 * @property {"webgpu" | "cpu"} device
 */

/**
 * @typedef {object} SamplerComparison
 * @property {SampleReport[]} runs
 * @property {number} nfe_ratio
 * @property {number} time_ratio
 */

/**
 * @typedef {object} GenerateFrame
 * @property {number} t
 * @property {number} frame
 * @property {number} frames
 * @property {number} t_start
 * @property {number | null} t_star
 * @property {boolean} gaga
 * @property {boolean} jumped
 * @property {boolean} past_t_star
 */

/**
 * Options of `generateMolecules` (all optional).
 * @typedef {object} MoleculesOptions
 * @property {boolean} [gaga] true
 * @property {number} [tStar] default: the T* the network was trained to
 * @property {"pooled" | "per-modality"} [variance]
 * @property {string} [sampler]
 * @property {number} [steps] 200, of the full trajectory
 * @property {number} [samples] 32
 * @property {number} [show] 6
 * @property {number} [seed]
 * @property {number} [tStarPositions] 650
 * @property {number} [tStarTypes] 350
 */

/**
 * Whole molecules' report (the same struct as `generate-molecules --json`'s rows).
 * @typedef {object} MoleculesReport
 * @property {string} label
 * @property {number} samples
 * @property {number} t_start
 * @property {number} steps
 * @property {number} nfe_per_molecule
 * @property {number} seconds
 * @property {{atom: number, molecule: number, atoms: number, molecules: number}} stability
 * @property {{molecules: number, valid: number, unique: number, validity: number, uniqueness: number, valid_and_unique: number}} validity
 * @property {number} distance_w2
 * @property {string[]} elements
 */

/**
 * @typedef {object} MoleculesComparison
 * @property {MoleculesReport[]} rows
 * @property {number} nfe_ratio
 */

/**
 * A conformer network's record.
 * @typedef {object} ConformerModel
 * @property {string} name
 * @property {"conventional" | "geodiff" | "af3" | "quotient"} objective
 * @property {string} sampler
 * @property {number} seed
 * @property {number} steps
 * @property {number} cpu_hours
 * @property {number} hidden
 * @property {number} layers
 * @property {number} ema
 * @property {number} largest
 * @property {string[]} elements
 */

/**
 * Options of `judgeConformers` (all optional).
 * @typedef {object} JudgeOptions
 * @property {number} [test] 30
 * @property {number} [k] 2
 * @property {number} [sampleSteps] 50
 * @property {number} [seed] 0
 * @property {number} [threshold] 0.5
 */

/**
 * @typedef {object} ConformerJudgement
 * @property {Array<{objective: string, sampler: string, model: string, steps: number, coverage: {amr_r_mean: number, cov_r_mean: number, amr_p_mean: number, cov_p_mean: number, medians: object, molecules: number, k: number, threshold: number}}>} rows
 * @property {number[][]} best per objective, each molecule's best heavy-atom RMSD (Å)
 * @property {number[]} molecules their indices in the set
 * @property {number} k
 * @property {number} sample_steps
 * @property {number} threshold
 */

/**
 * @typedef {object} ConformerShown
 * @property {string} objective
 * @property {number} molecule
 * @property {number} index
 * @property {number} rmsd
 * @property {number[]} rmsds
 * @property {number} atoms
 */

/**
 * Options of `trainConformers` (all optional).
 * @typedef {object} ConformerTrainOptions
 * @property {"conventional" | "geodiff" | "af3" | "quotient"} [objective] "quotient"
 * @property {number} [steps] 300
 * @property {number} [molecules] 200
 * @property {number} [maxAtoms] 12
 * @property {number} [hidden] 32
 * @property {number} [layers] 3
 * @property {number} [batch] 16
 * @property {number} [lr] 2e-3
 * @property {number} [ema] 0.99
 * @property {number} [seed] 0
 */

/**
 * A whole-molecule network's record.
 * @typedef {object} MoleculeModel
 * @property {string} name
 * @property {string[]} elements
 * @property {number} steps
 * @property {number} cpu_hours
 * @property {number} t_max
 * @property {number} hidden
 * @property {number} layers
 * @property {number} largest
 * @property {number[]} sizes
 */

/**
 * The kept whole-molecule trajectories at t (more fields than listed).
 * @typedef {object} MoleculesFrame
 * @property {number} t
 * @property {number} frame
 * @property {number} frames
 * @property {number} decided
 * @property {number} atoms
 */

/**
 * Options of `trainAdjoint` (all optional).
 * @typedef {object} AdjointOptions
 * @property {"dw4" | "lj13" | "lj55"} [system]
 * @property {"demo" | "paper"} [config]
 * @property {number} [seed]
 * @property {"auto" | "webgpu" | "cpu"} [device]
 * @property {boolean} [resume] go on with the current learner
 * @property {number} [epochs] default: until paused
 */

/**
 * The Adjoint Sampling learner's status.
 * @typedef {object} AdjointStatus
 * @property {string} system
 * @property {object} config
 * @property {{epochs: number, energy_evaluations: number, model_evaluations: number, gradient_steps: number, buffer: number}} counters
 * @property {number} gradient_steps_per_energy_evaluation
 * @property {number[]} losses
 * @property {number[]} energies the newest samples'
 * @property {string} phase
 * @property {number} frames
 * @property {number} frame
 * @property {number} ms
 * @property {string | null} stopped
 * @property {object} history the run's record from the controller's file
 */

/**
 * @typedef {object} TransportState
 * @property {Mode | null} mode
 * @property {boolean} playing
 * @property {number | null} position forward: t; generate: T − t; learn: frame
 */

/**
 * The URL hash parsed (state.js `parseHash`).
 * @typedef {object} HashState
 * @property {object} values
 * @property {string[]} errors
 */

/**
 * The API as it is before the page has started: its version, `ready`, `internalError`.
 * `window.molplay` is this object from the page's first script on; `assembleApi` completes it.
 * @param {{version: number, ready: Promise<object>, internalError: () => string | null}} parts
 */
export function createApi({ version, ready, internalError }) {
  return {
    /** API version (`1`); bumped on breaking changes. @type {number} */
    version,
    /** Resolved (with the API) when the page is usable; rejected with the reason if it cannot start. @type {Promise<object>} */
    ready,
    /**
     * `null`, or the message of an internal error (a panic in the wasm): the page then stops.
     * @returns {string | null}
     */
    internalError: () => internalError() ?? null,
  };
}

/**
 * Completes `api` (the `window.molplay` of `createApi`) with every other public member, each
 * delegating to the operations of its part; returns `api`.
 * @param {object} api
 * @param {object} parts `pg` and `build` (boot.js), `boot` (boot.js `fullModule`), `viewer`,
 *   `page`, and the panels `reference`, `forward`, `generate`, `molecules`, `conformers`, `adjoint`
 */
export function assembleApi(api, { pg, build, boot, viewer, page, reference, forward, generate, molecules, conformers, adjoint }) {
  const members = {
    /** Crate version of the loaded wasm. @type {string} */
    build,
    /**
     * Whether the page runs on the full module (with the networks).
     * @returns {boolean}
     */
    hasNetworks: () => boot.hasNetworks(),
    /**
     * Moves the page to the full module (with the networks) now, keeping what it shows.
     * @returns {Promise<void>} resolves once it runs there
     */
    networks: () => boot.networks(),
    /**
     * Where energies run.
     * @returns {Backend}
     */
    backend: () => pg.backend(),
    /**
     * The playground's state.
     * @returns {State}
     */
    state: () => pg.state(),
    /**
     * Enlarges the sample drawn at (x, y), as a click on it does.
     * @param {number} x fraction of the viewer's width from its left
     * @param {number} y fraction of the viewer's height from its top
     * @returns {number | null} the sample's index, or null where none is drawn
     */
    focusAt: (x, y) => pg.focusAt(Number(x), Number(y)),
    /**
     * Frames everything shown again (what a double-click does).
     * @returns {void}
     */
    resetView: () => pg.resetView(),
    /**
     * The look; without an argument, the current one.
     * @param {"default" | "projector"} [name]
     * @returns {string}
     */
    style: (name) => page.style(name),
    /**
     * Energies of a batch of configurations.
     * @param {string} name "dw4", "lj13", "lj55" or "lj<n>"
     * @param {number[] | ArrayLike<number>} flatPositions flat and particle-major, B·n·d numbers
     * @returns {Promise<number[]>}
     */
    energy: (name, flat) => {
      if (typeof name !== "string") return Promise.reject(new TypeError("energy(name, flatPositions): name must be a string such as \"lj13\""));
      if (!(Array.isArray(flat) || ArrayBuffer.isView(flat))) return Promise.reject(new TypeError("energy(name, flatPositions): flatPositions must be an array or typed array of numbers"));
      if (Array.from(flat).some((v) => typeof v !== "number")) return Promise.reject(new TypeError("energy(name, flatPositions): every position must be a number"));
      return pg.energy(name, Float64Array.from(flat)).then((e) => Array.from(e));
    },
    /**
     * Shows a system's low-energy configuration (relaxed in slices).
     * @param {string} name
     * @returns {Promise<number | null>} its energy, or null if a later call replaced it first
     */
    loadPreset: (name) => viewer.loadPreset(name),
    /**
     * Times energy + gradients on the GPU and CPU paths in this tab.
     * @param {string} name
     * @param {number} [batch] 1024
     * @param {number} [reps] 5
     * @returns {BenchReport}
     */
    bench: (name, batch = 1024, reps = 5) => pg.bench(String(name), batch >>> 0, reps >>> 0),
    /**
     * Runs the reference sampler to the end in slices.
     * @param {ReferenceOptions} [options]
     * @returns {Promise<ReferenceProgress>} the final progress
     */
    runReference: (options) => reference.runReference(options),
    /**
     * Stops the reference run after the current slice (samples so far are kept).
     * @returns {Promise<void>}
     */
    stopReference: () => reference.stopReference(),
    /**
     * @returns {ReferenceStatus}
     */
    referenceStatus: () => reference.referenceStatus(),
    /**
     * Reads `.npy` or multi-frame `.xyz` as configurations of the picked system.
     * @param {string} fileName
     * @param {string | ArrayBuffer | ArrayBufferView} data
     * @returns {Promise<SampleSet>}
     */
    loadSamples: (fileName, data) => reference.loadSamples(fileName, data),
    /**
     * The sampler's samples against the loaded set; with `{of: "sample"}`, the last reverse
     * sampler run's result (as `sampleResult`).
     * @param {{sampleW2?: number, of?: "sample"}} [options] sampleW2: 200
     * @returns {Metrics | SampleReport | null}
     */
    metrics: (o = {}) => (o?.of === "sample" ? generate.sampleResult() : reference.metrics(o)),
    /**
     * MCMC sweeps/s and energy evaluations/s, WebGPU pass vs CPU engine in this tab.
     * @param {string} name
     * @param {number} [chains] 100
     * @param {number} [sweeps] 20
     * @returns {object}
     */
    benchMcmc: (name, chains, sweeps) => reference.benchMcmc(name, chains, sweeps),
    /**
     * burn training speed in this tab, WebGPU vs burn's CPU backend.
     * @param {number} [reps] 3
     * @returns {Promise<object>}
     */
    benchNetworks: (reps) => adjoint.benchNetworks(reps),
    /**
     * The forward panel's molecule set.
     * @param {string} [source] "qm9" (default), "reference", or a file name with its XYZ `text`
     * @param {string} [text]
     * @returns {Promise<MoleculeSetInfo> | MoleculeSetInfo}
     */
    loadMolecules: (source, text) => forward.loadMolecules(source, text),
    /**
     * Computes the forward trajectory of 1–64 molecules and shows frame 0.
     * @param {ForwardOptions} [options]
     * @returns {Promise<ForwardInfo>}
     */
    forward: (options) => forward.forward(options),
    /**
     * Shows step t of the forward trajectory.
     * @param {number} t
     * @returns {ForwardFrame}
     */
    setFrame: (t) => forward.setFrame(t),
    /**
     * The T* study (in slices); with no options, the last result.
     * @param {GaussianityOptions} [options]
     * @returns {Promise<GaussianityResult>}
     */
    gaussianity: (options) => forward.gaussianity(options),
    /**
     * Forward-process frames/s in the viewer for the shown molecules.
     * @param {number} [frames] 200
     * @returns {object}
     */
    benchForward: (frames) => forward.benchForward(frames),
    /**
     * Runs a reverse sampler in slices.
     * @param {SampleOptions} [options]
     * @returns {Promise<SampleReport>}
     */
    sample: (options) => generate.sample(options),
    /**
     * Trains an EGNN score network by denoising score matching in this tab, in slices.
     * @param {TrainOptions} [options]
     * @returns {Promise<TrainStatus>}
     */
    train: (options) => generate.train(options),
    /**
     * Stops the training and keeps the weights.
     * @returns {Promise<void>}
     */
    stopTrain: () => generate.stopTrain(),
    /**
     * @returns {TrainStatus | null}
     */
    trainStatus: () => generate.trainStatus(),
    /**
     * The trained network's weights (`molplay train-score` format).
     * @returns {Uint8Array}
     */
    scoreWeights: () => generate.scoreWeights(),
    /**
     * Loads score-network weights.
     * @param {string} name
     * @param {ArrayBuffer | ArrayBufferView} data
     * @returns {Promise<TrainStatus>}
     */
    loadScoreWeights: (name, data) => generate.loadScoreWeights(name, data),
    /**
     * Four runs with the same seed: full and GAGA equivariant, then align and quotient.
     * @param {SampleOptions} [options]
     * @returns {Promise<SamplerComparison>}
     */
    compareSamplers: (options) => generate.compareSamplers(options),
    /**
     * Shows the reverse trajectory at t.
     * @param {number} t
     * @returns {GenerateFrame}
     */
    setGenerateTime: (t) => generate.setGenerateTime(t),
    /**
     * Stops the reverse sampler's run.
     * @returns {Promise<void>}
     */
    stopSample: () => generate.stopSample(),
    /**
     * The last reverse sampler run's result.
     * @returns {SampleReport | null}
     */
    sampleResult: () => generate.sampleResult(),
    /**
     * Whole molecules from the loaded whole-molecule network, in slices.
     * @param {MoleculesOptions} [options]
     * @returns {Promise<MoleculesReport>}
     */
    generateMolecules: (options) => molecules.generateMolecules(options),
    /**
     * Full vs GAGA (pooled start) vs GAGA (per-modality start) on one network, molecules and seed.
     * @param {MoleculesOptions} [options]
     * @returns {Promise<MoleculesComparison>}
     */
    compareMolecules: (options) => molecules.compareMolecules(options),
    /**
     * Loads the four shipped conformer networks (one per objective).
     * @returns {Promise<ConformerModel[]>}
     */
    loadConformerNetworks: () => conformers.loadConformerNetworks(),
    /**
     * Loads one conformer network file.
     * @param {string} name
     * @param {ArrayBuffer | ArrayBufferView} data
     * @returns {Promise<ConformerModel>}
     */
    loadConformerModel: (name, data) => conformers.loadConformerModel(name, data),
    /**
     * Judges every loaded conformer network on the same held-out molecules, in slices.
     * @param {JudgeOptions} [options]
     * @returns {Promise<ConformerJudgement>}
     */
    judgeConformers: (options) => conformers.judgeConformers(options),
    /**
     * The last judgement.
     * @returns {ConformerJudgement | null}
     */
    conformersResult: () => conformers.conformersResult(),
    /**
     * Shows judged molecule i's reference and the closest of `objective`'s conformers on it.
     * @param {string} objective
     * @param {number} [i] 0
     * @returns {ConformerShown}
     */
    showConformer: (objective, i) => conformers.showConformer(objective, i),
    /**
     * Trains one objective's conformer network in this tab; it then replaces the loaded one.
     * @param {ConformerTrainOptions} [options]
     * @returns {Promise<ConformerModel>}
     */
    trainConformers: (options) => conformers.trainConformers(options),
    /**
     * Stops a judgement or training.
     * @returns {Promise<void>}
     */
    stopConformers: () => conformers.stopConformers(),
    /**
     * Loads the bundled whole-molecule network (once).
     * @returns {Promise<MoleculeModel>}
     */
    loadMoleculePreset: () => molecules.loadMoleculePreset(),
    /**
     * Loads a `train-molecules` file.
     * @param {string} name
     * @param {ArrayBuffer | ArrayBufferView} data
     * @returns {Promise<MoleculeModel>}
     */
    loadMoleculeModel: (name, data) => molecules.loadMoleculeModel(name, data),
    /**
     * Shows the kept whole-molecule trajectories at t.
     * @param {number} t
     * @returns {MoleculesFrame}
     */
    setMoleculesTime: (t) => molecules.setMoleculesTime(t),
    /**
     * The last whole-molecule report.
     * @returns {MoleculesReport | null}
     */
    moleculesResult: () => molecules.moleculesResult(),
    /**
     * Stops the whole-molecule run.
     * @returns {Promise<void>}
     */
    stopMolecules: () => molecules.stopMolecules(),
    /**
     * Adjoint Sampling in the tab, in slices, until `epochs` more epochs (default: until paused).
     * @param {AdjointOptions} [options]
     * @returns {Promise<AdjointStatus>}
     */
    trainAdjoint: (options) => adjoint.trainAdjoint(options),
    /**
     * @returns {AdjointStatus | null}
     */
    adjointStatus: () => adjoint.adjointStatus(),
    /**
     * One buffer refresh or one epoch's regression steps alone.
     * @param {"refresh" | "regress"} mode
     * @returns {Promise<AdjointStatus>}
     */
    adjointSubstep: (mode) => adjoint.adjointSubstep(mode),
    /**
     * Pauses the learner, keeping every state.
     * @returns {Promise<void>}
     */
    pauseAdjoint: () => adjoint.pauseAdjoint(),
    /**
     * The bundled pretrained controller.
     * @param {string} [system] "dw4"
     * @returns {Promise<AdjointStatus>}
     */
    loadAdjointPreset: (system) => adjoint.loadAdjointPreset(system),
    /**
     * Loads `molplay train-adjoint` weights.
     * @param {string} name
     * @param {ArrayBuffer | ArrayBufferView} data
     * @param {string} [system]
     * @returns {Promise<AdjointStatus>}
     */
    loadAdjointWeights: (name, data, system) => adjoint.loadAdjointWeights(name, data, system),
    /**
     * Shows frame k of the newest simulated paths (0: the point at u = 0).
     * @param {number} k
     * @returns {object}
     */
    setAdjointFrame: (k) => adjoint.setAdjointFrame(k),
    /**
     * The URL's preset has run (null if none).
     * @type {Promise<unknown>}
     */
    get presetDone() { return page.presetDone; },
    /**
     * burn's training path is compiled (at idle after loading).
     * @type {Promise<void>}
     */
    get warmed() { return boot.warmed; },
    /**
     * The current mode, or switches to another.
     * @param {Mode} [name]
     * @returns {Mode | Promise<Mode>}
     */
    mode: (name) => page.mode(name),
    /**
     * Runs a demo as the menu does.
     * @param {string} name
     * @returns {Promise<unknown>}
     */
    runPreset: (name) => page.runPreset(name),
    /**
     * The demos, each with its mode and title.
     * @returns {Object<string, {mode: Mode, title: string}>}
     */
    presets: () => page.presets(),
    /**
     * Plays the scrubber.
     * @returns {boolean} whether it plays
     */
    play: () => page.play(),
    /** Pauses the scrubber. @returns {void} */
    pause: () => page.pause(),
    /**
     * Steps the scrubber by k stored frames.
     * @param {number} [k] 1
     * @returns {void}
     */
    step: (k) => page.step(k),
    /** The scrubber back to its start. @returns {void} */
    rewind: () => page.rewind(),
    /**
     * @param {number} pos the scrubber's position
     * @returns {void}
     */
    seek: (pos) => page.seek(pos),
    /**
     * @returns {TransportState}
     */
    transport: () => page.transport(),
    /**
     * @returns {HashState}
     */
    hashState: () => page.hashState(),
    /**
     * The shown trajectory as multi-frame XYZ text.
     * @param {{every?: number}} [options] every: keep every that many frames (default: at most 201 frames; the last always kept)
     * @returns {Promise<string>}
     */
    exportTrajectory: ({ every } = {}) => {
      if (every !== undefined && !(Number.isInteger(every) && every >= 1)) return Promise.reject(new Error("exportTrajectory: every must be a whole number ≥ 1"));
      return pg.exportTrajectory(every);
    },
    /**
     * Samples as `.npy` bytes (float32, (samples, n·d)) or XYZ text.
     * @param {"generate" | "adjoint" | "reference"} [source] default: the mode's
     * @param {"npy" | "xyz"} [format] "npy"
     * @returns {Uint8Array | string}
     */
    exportSamples: (source, format) => page.exportSamples(source, format),
    /**
     * A PNG of the viewer.
     * @returns {Promise<Blob>}
     */
    exportPng: () => viewer.exportPng(),
    /**
     * Destroys the WebGPU device, as a driver reset would (to see and test the fallback).
     * @returns {void}
     */
    loseDevice: () => pg.loseDevice(),
    /**
     * Opens a file as the picker and drop do, switching to its mode.
     * @param {string} name `.xyz`/`.extxyz`, `.npy`, `.mpw`, `.mpa`
     * @param {string | ArrayBuffer | ArrayBufferView} data
     * @returns {Promise<unknown>} what the file's loader resolves to
     */
    openFile: async (name, data) => {
      if (typeof name !== "string") throw new TypeError("openFile(name, data): name must be a file name");
      return page.openFile(name, data);
    },

    // --- also public, not in README's table ---
    /**
     * Shows the sample of "adjoint" or "reference" with the energy nearest `energy` (what a click
     * on an energy histogram does).
     * @param {"adjoint" | "reference"} source
     * @param {number} energy
     * @returns {{index: number, count: number, energy: number}}
     */
    showSampleNear: (source, energy) => reference.showSampleNear(source, energy),
    /**
     * Loads the pretrained score network (the qm9-network demo's).
     * @returns {Promise<TrainStatus>}
     */
    loadScorePreset: () => generate.loadScorePreset(),
    /**
     * The Adjoint Sampling learner's weights (`molplay train-adjoint` format).
     * @returns {Promise<Uint8Array>}
     */
    adjointWeights: () => adjoint.adjointWeights(),
  };
  return Object.defineProperties(api, Object.getOwnPropertyDescriptors(members));
}
