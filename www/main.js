// Wires the page to the wasm facade and publishes the scripting API on window.molplay.
// No math here: every number shown comes from the Rust core.
import { wireReference } from "./reference.js";
import { wireForward } from "./forward.js";
import { wireGenerate } from "./generate.js";
import { wireMolecules } from "./molecules.js";
import { wireConformers } from "./conformers.js";
import { wireAdjoint } from "./adjoint.js";
import { createTransport } from "./transport.js";
import { DEFAULT_PRESET, MODES, PRESETS, applyToControls, knobElements, parseHash, readControls, toHash } from "./state.js";
import { $, download, guarded, toBytes } from "./ui.js";

// The page starts on the first module (pkg/core/: viewer, energies, forward process, T* study,
// samplers with exact scores; no networks, a tenth of the full module's size) when its link needs no
// network, and moves to the full module (pkg/) on the first call that needs one (see
// `networks` in start). `live` is the module and playground in use; `pg` below forwards to it.
const live = { mod: null, pg: null };
const internalError = () => live.mod?.internalError() ?? null;
/// Network methods a playground of the first module lacks, answered as the full module answers
/// before any network exists (no learner, no network): the panels ask them while they draw.
const NONE_YET = new Set(["adjointStatus", "scoreStatus", "moleculesResult", "conformersResult", "conformerTrainingStatus"]);

const API_VERSION = 1; // must equal facade::API_VERSION in the wasm
const EXPLAIN = {
  lj13: "13 Lennard-Jones particles tethered to their centre: E = Σ_{i≠j} [d⁻¹² − 2d⁻⁶] + ½Σ|xᵢ − x̄|². Shown: the relaxed icosahedron, the lowest-energy shape.",
  lj55: "55 Lennard-Jones particles, same energy as LJ-13. Shown: a relaxed compact cluster (a local minimum).",
  adjoint: "Adjoint Sampling (Learn from energy panel): the newest simulated paths, side by side, from the origin at u = 0 to samples at u = 1.",
  generated: "Samples of the reverse sampler (Generate panel), laid out side by side; scrub the reverse trajectory from t = T to 0.",
  molecules: "Molecules from the chosen set, noised by the forward process (see the panel below); atoms keep their element colours, bonds are redrawn from distances every frame.",
  dw4: "4 particles in 2-D, each pair in a double well: E = Σ_{i<j} 0.9(d−4)⁴ − 4(d−4)². Shown: the lowest of 32 relaxations.",
};

function showError(message) {
  const box = $("error");
  // after an internal error (a panic in the wasm) every message is that one: the module's
  // state cannot be trusted, and the link still holds the page's settings
  const crash = crashed();
  box.textContent = crash ?? message;
  box.hidden = !(crash ?? message);
}

function crashed() {
  const err = internalError();
  if (!err) return null;
  return `molplay hit an internal error and stopped (${err.split("\n")[0]}). Reload the page to go on: the link holds your settings.`;
}

// one description per mode lives in its panel; this line only says what the scrubber plays
const MODE_TEXT = {
  forward: "Scrubber: the forward process from the molecules at t = 0 to noise at t = 1000; the red mark is T*, after which GAGA uses a closed-form Gaussian.",
  generate: "Scrubber: the reverse trajectory, from noise at t = T (left; with GAGA from T*) to samples at t = 0 (right).",
  learn: "Scrubber: the newest paths, from the single point at u = 0 to the samples at u = 1; the reference sampler below gives the ground truth.",
};

function render(state) {
  $("energy").textContent = Number.isFinite(state.energy) ? state.energy.toFixed(4) : "—";
  const molecules = ["molecules", "generated", "adjoint"].includes(state.preset);
  $("natoms").textContent = state.preset === "adjoint" ? "paths of the Learn from energy panel"
    : molecules ? `${state.positions.length / 3} atoms (molecule set)` : `${state.n_atoms} in ${state.dim}-D`;
  $("backend").textContent = state.backend === "webgpu" ? "WebGPU compute" : "CPU (f64)";
  $("adapter").textContent = state.adapter ?? "none";
  $("renderer").textContent = state.renderer ?? "off";
  $("explain").textContent = EXPLAIN[state.preset] ?? `${state.n_atoms} Lennard-Jones particles, same energy as LJ-13. Shown: a relaxed compact cluster.`;
  backendNotice = state.notice ?? "";
  drawNotice();
}

let backendNotice = "", pageNotice = "";
function drawNotice() {
  const notice = $("notice");
  notice.textContent = [backendNotice, pageNotice].filter(Boolean).join(" · ");
  notice.hidden = !notice.textContent;
}

/// Shows system `name` ("lj13", "lj55", "dw4" or "lj<n>") in the System select and the n field.
function setSystemControls(name) {
  const known = ["lj13", "lj55", "dw4"].includes(name);
  $("preset").value = known ? name : "ljn";
  $("ljn-row").hidden = known;
  if (!known) $("ljn").value = name.slice(2);
}

/// Called when the backend or the renderer changed under the page (a WebGPU device loss).
let onBackendChange = () => {};

function wireCanvas(pg, canvas) {
  const pointers = new Map();
  let lastPinch = null;
  let press = null; // where a press started, while it may still be a click (no drag yet)
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    press = pointers.size === 1 && e.button === 0 ? { x: e.clientX, y: e.clientY } : null;
  });
  const release = (e) => { pointers.delete(e.pointerId); lastPinch = null; };
  // a click on a sample enlarges it (double-click frames everything again)
  canvas.addEventListener("pointerup", (e) => {
    if (press && Math.hypot(e.clientX - press.x, e.clientY - press.y) < 4) {
      const r = canvas.getBoundingClientRect();
      pg.focusAt((e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
    }
    press = null;
  });
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointermove", (e) => {
    const prev = pointers.get(e.pointerId);
    if (!prev) return;
    if (press && Math.hypot(e.clientX - press.x, e.clientY - press.y) >= 4) press = null;
    const dpr = window.devicePixelRatio || 1;
    const dx = (e.clientX - prev.x) * dpr, dy = (e.clientY - prev.y) * dpr;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const dist = Math.hypot(a.x - b.x, a.y - b.y);
      if (lastPinch && dist > 0) pg.zoom(lastPinch / dist);
      lastPinch = dist;
      pg.pan(dx / 2, dy / 2);
    } else if (e.shiftKey || e.buttons === 4 || e.buttons === 2) {
      pg.pan(dx, dy);
    } else {
      pg.orbit(dx, dy);
    }
  });
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); pg.zoom(Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.001)))); }, { passive: false });
  canvas.addEventListener("dblclick", () => pg.resetView());
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  const fit = () => {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; pg.resize(w, h); }
  };
  const resized = new ResizeObserver(fit);
  resized.observe(canvas);
  fit();
  let stopped = false;
  const loop = () => {
    if (stopped) return;
    try {
      if (pg.frame()) onBackendChange();
    } catch (e) {
      showError(e.message);
    }
    if (internalError()) {
      showError(""); // shows the internal error and the way out
      return; // no more frames from a broken module
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  // stops drawing into this canvas (another one took its place)
  return () => { stopped = true; resized.disconnect(); };
}

/// Routes a file (picker or drop) by its name: weights to their network, molecules to the
/// forward set (or, in Learn from energy, to the reference set), .npy samples to the reference set.
async function openFile(api, mode, name, bytes) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".mpw")) return { to: "generate", result: await api.loadScoreWeights(name, bytes) };
  if (lower.endsWith(".mpa")) return { to: "learn", result: await api.loadAdjointWeights(name, bytes) };
  if (lower.endsWith(".npy")) return { to: "learn", result: await api.loadSamples(name, bytes) };
  if (lower.endsWith(".xyz") || lower.endsWith(".extxyz")) {
    let text;
    try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch { throw new Error(`${name}: not a text file (XYZ is text)`); }
    if (mode === "learn") return { to: "learn", result: await api.loadSamples(name, text) };
    await api.loadMolecules(name, text);
    return { to: "forward", result: await api.forward() };
  }
  throw new Error(`${name}: molplay opens .xyz / .extxyz (molecules, samples), .npy (samples) and .mpw / .mpa (weights)`);
}

/// The wasm module as a Response whose body reports its download: `onProgress(bytes, total)`
/// (total from pkg/sizes.json, 0 when unknown; bytes are decoded, as total is).
async function fetchModule(dir, onProgress) {
  const sizes = fetch(new URL(`../${dir}/sizes.json`, import.meta.url)).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  const res = await fetch(new URL(`../${dir}/molplay_bg.wasm`, import.meta.url));
  const total = Number((await sizes)?.["molplay_bg.wasm"]) || 0;
  if (!res.ok || !res.body) return res; // init reports what went wrong
  const reader = res.body.getReader();
  let got = 0;
  const body = new ReadableStream({
    async pull(ctrl) {
      const { done, value } = await reader.read();
      if (done) { ctrl.close(); return; }
      got += value.byteLength;
      onProgress(got, total);
      ctrl.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
  return new Response(body, { headers: { "content-type": "application/wasm" } });
}

/// The wasm module of `dir` ("pkg/core" or "pkg"), initialised; `compiled` is a
/// WebAssembly.Module already fetched and compiled (the prefetch), else it is downloaded with
/// `onProgress`.
async function loadModule(dir, onProgress, compiled) {
  const mod = await import(`../${dir}/molplay.js`);
  await mod.default({ module_or_path: compiled ?? fetchModule(dir, onProgress) });
  if (mod.apiVersion() !== API_VERSION) throw new Error(`page expects API ${API_VERSION}, wasm provides ${mod.apiVersion()}: rebuild the site`);
  return mod;
}

/// Whether a link's state needs the networks from the start: a network preset, the network
/// target, or the Learn from energy mode (Adjoint Sampling).
function linkNeedsNetworks(values) {
  return ["qm9-network", "qm9-molecules"].includes(values.preset) || values.target === "network" ||
    values.mode === "learn" || (values.preset && PRESETS[values.preset]?.mode === "learn");
}

async function start() {
  const bar = $("loading-bar");
  const shown = (got, total) => {
    if (total > 0) bar.value = Math.min(1, got / total);
    $("loading-text").textContent = `Loading molplay: ${(got / 1e6).toFixed(1)}${total > 0 ? ` of ${(total / 1e6).toFixed(1)}` : ""} MB`;
  };
  const hash = location.hash.replace(/^#/, "");
  const { values, errors } = parseHash(hash === "" ? `v=1&preset=${DEFAULT_PRESET}` : hash);
  // ?full in the page's address starts on the full module whatever the link (tests, benchmarks)
  const fullFirst = linkNeedsNetworks(values) || new URLSearchParams(location.search).has("full");
  live.mod = await loadModule(fullFirst ? "pkg" : "pkg/core", shown);
  $("loading-text").textContent = "Starting…";
  bar.removeAttribute("value");
  if (errors.length) showError(`URL: ${errors.join("; ")}. Those settings keep their defaults.`);
  if (values.ui === "0") document.body.classList.add("embed");
  if (values.style === "projector") document.body.classList.add("projector");
  let canvas = $("viewer");
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  live.pg = await live.mod.Playground.create(canvas, values.backend === "cpu");
  // every panel holds `pg`: it forwards to the playground in use, so moving to the full module
  // changes what it calls, not who holds it
  const pg = new Proxy({}, {
    get(_, key) {
      const target = live.pg;
      const v = target[key];
      if (typeof v === "function") return v.bind(target);
      if (v === undefined && typeof key === "string" && !live.mod.hasNetworks()) {
        if (NONE_YET.has(key)) return () => null;
        throw new Error(`${key}: needs the networks' module (a page call that should have loaded it first)`);
      }
      return v;
    },
  });
  if (values.style === "projector") pg.setStyle("projector");
  const api = window.molplay;
  api.build = live.mod.crateVersion();
  api.backend = () => pg.backend();
  api.state = () => pg.state();
  api.energy = (name, flat) => {
    if (typeof name !== "string") return Promise.reject(new TypeError("energy(name, flatPositions): name must be a string such as \"lj13\""));
    if (!(Array.isArray(flat) || ArrayBuffer.isView(flat))) return Promise.reject(new TypeError("energy(name, flatPositions): flatPositions must be an array or typed array of numbers"));
    if (Array.from(flat).some((v) => typeof v !== "number")) return Promise.reject(new TypeError("energy(name, flatPositions): every position must be a number"));
    return pg.energy(name, Float64Array.from(flat)).then((e) => Array.from(e));
  };
  api.loadPreset = async (name) => {
    const asked = currentSystem();
    const energy = await pg.loadPreset(String(name));
    if (energy === null) return null; // a later call replaced this one: it shows its system
    // the System controls follow, unless someone changed them while this system relaxed (a
    // number typed meanwhile is the next call's, not to be overwritten)
    if (currentSystem() === asked) setSystemControls(pg.state().preset);
    render(pg.state());
    return energy;
  };
  api.bench = (name, batch = 1024, reps = 5) => pg.bench(String(name), batch >>> 0, reps >>> 0);
  let unwireCanvas = wireCanvas(pg, canvas);
  $("bonds").addEventListener("change", (e) => pg.setBonds(e.target.checked));
  const currentSystem = () => ($("preset").value === "ljn" ? `lj${$("ljn").value}` : $("preset").value);
  const showSystem = () => api.loadPreset(currentSystem());
  const pick = () => {
    showError("");
    $("ljn-row").hidden = $("preset").value !== "ljn";
    showSystem().catch((err) => showError(err.message));
  };
  $("preset").addEventListener("change", pick);
  $("ljn").addEventListener("change", pick);

  const transport = createTransport(showError);
  const refresh = () => render(pg.state());

  // --- the networks: the full module, fetched while the page is idle and moved to on first use ---
  const netLoad = { got: 0, total: 0, compiled: null };
  /// The full module, fetched and compiled (once; again after a failure).
  const fetchNetworks = () => {
    netLoad.compiled ??= WebAssembly.compileStreaming(fetchModule("pkg", (got, total) => Object.assign(netLoad, { got, total })))
      .catch((err) => { netLoad.compiled = null; throw new Error(`loading the networks' module failed (${err.message}); try again`); });
    return netLoad.compiled;
  };
  let moving = null;
  /// Resolves once the page runs on the full module: at once when it does, else after moving
  /// there (the download's progress shows in the loading line). Every panel's state is carried
  /// over: the viewer's system, look and bonds, the molecule set, its trajectory and T*, and the
  /// Generate panel's last run (run again from its seed: the same samples).
  const networks = () => {
    if (live.mod.hasNetworks()) return Promise.resolve();
    moving ??= moveToFull().finally(() => { moving = null; });
    return moving;
  };
  let panels = []; // each {settled, restore}, filled below
  async function moveToFull() {
    const line = $("loading"), text = $("loading-text"), bar = $("loading-bar");
    line.hidden = false;
    const tick = setInterval(() => {
      text.textContent = `Loading the networks: ${(netLoad.got / 1e6).toFixed(1)}${netLoad.total ? ` of ${(netLoad.total / 1e6).toFixed(1)}` : ""} MB`;
      if (netLoad.total) bar.value = Math.min(1, netLoad.got / netLoad.total);
    }, 100);
    try {
      const full = await loadModule("pkg", null, await fetchNetworks());
      clearInterval(tick);
      text.textContent = "Starting the networks…";
      bar.removeAttribute("value");
      await Promise.all(panels.map((p) => p.settled()));
      // the new playground starts on a canvas of its own while the old one still draws; then
      // the new canvas takes the old one's place, so no call ever finds no playground
      const fresh = canvas.cloneNode(false);
      [fresh.width, fresh.height] = [canvas.width, canvas.height];
      const keep = { system: currentSystem(), style: pg.state().style };
      let next;
      try {
        next = await full.Playground.create(fresh, pg.backend() === "cpu");
      } catch (err) {
        throw new Error(`the networks' module did not start (${err.message}); the page goes on without it`);
      }
      unwireCanvas();
      canvas.replaceWith(fresh);
      const old = live.pg;
      Object.assign(live, { mod: full, pg: next });
      old.free();
      canvas = fresh;
      unwireCanvas = wireCanvas(pg, canvas);
      if (keep.style !== "default") pg.setStyle(keep.style);
      pg.setBonds($("bonds").checked);
      await api.loadPreset(keep.system);
      for (const p of panels) await p.restore();
      await transport.use(transport.active);
      refresh();
      // burn's training path compiles here, under "Starting the networks…", not in the first
      // training slices (see Playground.warmUp)
      api.warmed = pg.warmUp().catch(() => {});
      await api.warmed;
    } finally {
      clearInterval(tick);
      line.hidden = true;
    }
  }
  api.networks = networks;
  api.hasNetworks = () => live.mod.hasNetworks();

  const ctx = { showError, refresh, transport, networks };
  const reference = wireReference(pg, api, { ...ctx, currentSystem });
  const forward = wireForward(pg, api, ctx);
  const generate = wireGenerate(pg, api, { ...ctx, ensureMolecules: forward.ensureLoaded });
  wireMolecules(pg, api, ctx);
  wireConformers(pg, api, ctx);
  wireAdjoint(pg, api, { ...ctx, showSystem });
  panels = [forward, generate];

  // --- the URL hash: every knob, written back as the page changes ---
  let preset = values.preset ?? "";
  let hashTimer = null;
  const writeHash = () => {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => {
      const now = { ...readControls(), mode: document.body.dataset.mode, preset, system: currentSystem() };
      const t = transport.position();
      if (t !== null) now.t = Math.round(t * 100) / 100;
      if (values.backend === "cpu") now.backend = "cpu";
      if (document.body.classList.contains("embed")) now.ui = "0";
      if (document.body.classList.contains("projector")) now.style = "projector";
      history.replaceState(null, "", toHash(now));
    }, 150);
  };
  for (const id of knobElements()) $(id)?.addEventListener("change", writeHash);
  $("preset").addEventListener("change", writeHash);
  $("ljn").addEventListener("change", writeHash);
  transport.onPause(writeHash);
  $("scrub").addEventListener("change", writeHash);

  // --- modes ---
  const setMode = async (mode) => {
    if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES.join(", ")}, got "${mode}"`);
    // Learn from energy is Adjoint Sampling's mode: it runs on the full module
    if (mode === "learn") await networks();
    document.body.dataset.mode = mode;
    for (const b of document.querySelectorAll(".modes button")) b.setAttribute("aria-selected", String(b.dataset.mode === mode));
    $("mode-explain").textContent = MODE_TEXT[mode];
    await transport.use(mode);
    refresh();
    writeHash();
    return mode;
  };
  const guard = guarded(showError);
  for (const b of document.querySelectorAll(".modes button")) b.addEventListener("click", guard(() => setMode(b.dataset.mode)));

  // --- presets: instant demos ---
  const demo = $("demo");
  demo.append(new Option("pick a demo…", ""));
  for (const mode of MODES) {
    const group = document.createElement("optgroup");
    group.label = { forward: "Forward & Gaussianity", generate: "Generate", learn: "Learn from energy" }[mode];
    for (const [name, p] of Object.entries(PRESETS).filter(([, p]) => p.mode === mode)) {
      const o = document.createElement("option");
      o.value = name;
      o.textContent = `${name} — ${p.title}`;
      group.append(o);
    }
    demo.append(group);
  }
  const genOptions = () => {
    const c = readControls();
    const o = { target: c.target, sampler: c.sampler, steps: c.steps, symmetry: c.symmetry, gaga: c.gaga, samples: c.samples, seed: c.seed, engine: c.engine };
    if (c.atoms !== null) o.atoms = c.atoms;
    if (c.tstar !== null) o.tStar = c.tstar;
    return o;
  };
  const ACTIONS = {
    "qm9-forward": async () => { await forward.loadQm9(); forward.show(); await forward.study({ molecules: 500 }); },
    "chain-generate": () => api.sample(genOptions()),
    "gaga-compare": () => api.compareSamplers(genOptions()),
    "qm9-generate": () => api.sample(genOptions()),
    "qm9-network": async () => {
      if ($("scratch").checked) await api.train({ target: "molecules", atoms: 19, steps: 300, seed: readControls().seed, device: $("net-device").value });
      else await api.loadScorePreset();
      return api.sample({ ...genOptions(), target: "network" });
    },
    // whole molecules (types and positions) from the bundled network, GAGA from its T*
    "qm9-molecules": () => api.generateMolecules({ seed: readControls().seed }),
    "dw4-adjoint": () => ($("scratch").checked ? api.trainAdjoint({ system: "dw4", seed: readControls().seed }) : api.loadAdjointPreset("dw4")),
    // partly trained (360 demo epochs natively: energy W2 16.3 against the field's set; the
    // paper's 2.40 needs the paper configuration)
    "lj13-adjoint": () => ($("scratch").checked ? api.trainAdjoint({ system: "lj13", seed: readControls().seed }) : api.loadAdjointPreset("lj13")),
    "lj13-reference": () => api.runReference({ system: "lj13", samples: readControls().refsamples, seed: readControls().seed }),
  };
  const runPreset = async (name, knobs = PRESETS[name]?.knobs) => {
    if (!(name in PRESETS)) throw new Error(`unknown preset "${name}": one of ${Object.keys(PRESETS).join(", ")}`);
    preset = name;
    demo.value = name;
    applyToControls(knobs);
    if (knobs.system) setSystemControls(knobs.system);
    await setMode(PRESETS[name].mode);
    const r = await ACTIONS[name]();
    writeHash();
    return r;
  };
  $("demo-run").addEventListener("click", guard(() => {
    if (!demo.value) throw new Error("pick a demo in the menu first");
    return runPreset(demo.value, { ...PRESETS[demo.value].knobs });
  }));

  // --- transport keys for presenters ---
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target?.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || e.target?.isContentEditable) return;
    const k = e.key;
    if (k === " ") { e.preventDefault(); transport.toggle(); }
    else if (k === "ArrowRight" || k === "ArrowLeft") { e.preventDefault(); transport.step((k === "ArrowRight" ? 1 : -1) * (e.shiftKey ? 10 : 1)); }
    else if (k === "r" || k === "R") transport.reset();
    else if (k === "1" || k === "2" || k === "3") setMode(MODES[Number(k) - 1]).catch((err) => showError(err.message));
  });

  // --- export / import ---
  const modeSamples = () => {
    const mode = document.body.dataset.mode;
    if (mode === "generate") return "generate";
    if (mode === "learn") return pg.adjointStatus()?.samples > 0 ? "adjoint" : "reference";
    throw new Error("export: the Forward mode has no samples; export its trajectory instead");
  };
  api.exportTrajectory = ({ every } = {}) => {
    if (every !== undefined && !(Number.isInteger(every) && every >= 1)) return Promise.reject(new Error("exportTrajectory: every must be a whole number ≥ 1"));
    return pg.exportTrajectory(every);
  };
  api.exportSamples = (source = modeSamples(), format = "npy") => pg.exportSamples(String(source), String(format));
  /// The viewer as a PNG blob: one frame is drawn and read in the same task (a WebGPU canvas
  /// keeps its image only until the frame is presented).
  api.exportPng = () => new Promise((resolve, reject) => {
    pg.resize(canvas.width, canvas.height);
    pg.frame();
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("exportPng: the viewer gave no image"))), "image/png");
  });
  const stamp = () => `${document.body.dataset.mode}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "")}`;
  $("export-xyz").addEventListener("click", guard(async () => download(await api.exportTrajectory(), `molplay-${stamp()}-trajectory.xyz`)));
  $("export-png").addEventListener("click", guard(async () => download(await api.exportPng(), `molplay-${stamp()}.png`)));
  $("export-npy").addEventListener("click", guard(() => { const src = modeSamples(); download(api.exportSamples(src, "npy"), `molplay-${src}-samples.npy`); }));
  $("export-sxyz").addEventListener("click", guard(() => { const src = modeSamples(); download(api.exportSamples(src, "xyz"), `molplay-${src}-samples.xyz`); }));
  api.openFile = async (name, data) => {
    if (typeof name !== "string") throw new TypeError("openFile(name, data): name must be a file name");
    const r = await openFile(api, document.body.dataset.mode, name, toBytes(data, "openFile(name, data)"));
    if (r.to !== document.body.dataset.mode) await setMode(r.to);
    return r.result;
  };
  const openPicked = (file) => file.arrayBuffer().then((b) => api.openFile(file.name, new Uint8Array(b))).catch((e) => showError(e.message));
  $("import-file").addEventListener("change", (e) => { showError(""); if (e.target.files[0]) openPicked(e.target.files[0]); e.target.value = ""; });
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
  document.addEventListener("dragleave", (e) => { if (e.target === document.documentElement || e.target === document.body) document.body.classList.remove("dragging"); });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    showError("");
    const file = e.dataTransfer?.files?.[0];
    if (file) openPicked(file);
  });
  $("share").addEventListener("click", guard(async () => {
    writeHash();
    await new Promise((r) => setTimeout(r, 200));
    try { await navigator.clipboard.writeText(location.href); showNotice("Link copied: it reproduces this state."); }
    catch { showNotice(`Copy this link: ${location.href}`); }
  }));

  // a lost WebGPU device: the facade moved to the CPU and rebuilt the viewer; show the
  // current mode again (its track re-shows its frame) and the new backend
  onBackendChange = () => {
    refresh();
    transport.use(transport.active).catch((err) => showError(err.message));
  };
  api.loseDevice = () => pg.loseDevice();
  api.focusAt = (x, y) => pg.focusAt(Number(x), Number(y));
  api.resetView = () => pg.resetView();
  api.style = (name) => {
    if (name === undefined) return pg.state().style;
    pg.setStyle(String(name)); // throws on an unknown style
    document.body.classList.toggle("projector", name === "projector");
    writeHash();
    return String(name);
  };
  api.mode = (m) => (m === undefined ? document.body.dataset.mode : setMode(String(m)));
  api.runPreset = (name) => runPreset(String(name), { ...(PRESETS[name]?.knobs ?? {}) });
  api.presets = () => Object.fromEntries(Object.entries(PRESETS).map(([k, p]) => [k, { mode: p.mode, title: p.title }]));
  api.play = () => { if (!transport.playing) transport.toggle(); return transport.playing; };
  api.pause = () => transport.pause();
  api.step = (k = 1) => transport.step(Number(k) || 0);
  api.rewind = () => transport.reset();
  api.seek = (pos) => transport.seek(Number(pos));
  api.transport = () => ({ mode: transport.active, playing: transport.playing, position: transport.position() });
  api.hashState = () => parseHash(location.hash);

  // --- the state the URL asked for ---
  applyToControls(values);
  if (values.system) setSystemControls(values.system);
  try {
    await showSystem();
  } catch (err) {
    showError(`System "${currentSystem()}": ${err.message}. Showing LJ-13 instead.`);
    setSystemControls("lj13");
    await api.loadPreset("lj13");
  }
  await setMode(values.mode ?? "forward");
  render(pg.state());
  // compile burn's training path while the page is idle (see Playground.warmUp); on the first
  // module, fetch and compile the full one instead, once the preset is done (below)
  api.warmed = live.mod.hasNetworks() ? new Promise((resolve) => (window.requestIdleCallback ?? setTimeout)(() => pg.warmUp().catch(() => {}).then(resolve))) : Promise.resolve();
  // the preset runs after `ready`, so the API is usable while it works
  api.presetDone = (async () => {
    if (!preset) return null;
    const r = await runPreset(preset, values);
    if (values.t !== undefined && values.t !== null) transport.seek(values.t);
    return r;
  })().catch((err) => { showError(`preset ${preset}: ${err.message}`); return null; });
  api.presetDone.then(() => {
    if (!live.mod.hasNetworks()) (window.requestIdleCallback ?? setTimeout)(() => fetchNetworks().catch(() => {}));
  });
  return api;
}

function showNotice(message) {
  pageNotice = message;
  drawNotice();
}

let resolveReady, rejectReady;
window.molplay = {
  version: API_VERSION,
  ready: new Promise((res, rej) => { resolveReady = res; rejectReady = rej; }),
  // the module's internal error (a panic) once one happened, else null: then reload
  internalError: () => internalError() ?? null,
};
start().finally(() => { $("loading").hidden = true; }).then(resolveReady, (err) => {
  showError(`molplay failed to start: ${err?.message ?? err}`);
  rejectReady(err);
});
