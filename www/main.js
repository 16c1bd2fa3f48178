// Wires the page to the wasm facade and publishes the scripting API on window.molplay.
// No math here: every number shown comes from the Rust core.
import init, { Playground, apiVersion, crateVersion } from "../pkg/molplay.js";
import { wireReference } from "./reference.js";
import { wireForward } from "./forward.js";
import { wireGenerate } from "./generate.js";
import { wireAdjoint } from "./adjoint.js";

const API_VERSION = 1; // must equal facade::API_VERSION in the wasm
import { $ } from "./ui.js";
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
  box.textContent = message;
  box.hidden = !message;
}

function parseHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const backend = params.get("backend");
  if (backend !== null && backend !== "cpu" && backend !== "auto") {
    showError(`URL: backend must be "cpu" or "auto", got "${backend}"; using auto.`);
  }
  return { preset: params.get("preset") || "lj13", forceCpu: backend === "cpu" };
}

function render(state) {
  $("energy").textContent = Number.isFinite(state.energy) ? state.energy.toFixed(4) : "—";
  const molecules = ["molecules", "generated", "adjoint"].includes(state.preset);
  $("natoms").textContent = state.preset === "adjoint" ? "paths of the Learn from energy panel"
    : molecules ? `${state.positions.length / 3} atoms (molecule set)` : `${state.n_atoms} in ${state.dim}-D`;
  $("backend").textContent = state.backend === "webgpu" ? "WebGPU compute" : "CPU (f64)";
  $("adapter").textContent = state.adapter ?? "none";
  $("renderer").textContent = state.renderer ?? "off";
  $("explain").textContent = EXPLAIN[state.preset] ?? `${state.n_atoms} Lennard-Jones particles, same energy as LJ-13. Shown: a relaxed compact cluster.`;
  const notice = $("notice");
  notice.textContent = state.notice ?? "";
  notice.hidden = !state.notice;
}

function wireCanvas(pg, canvas) {
  const pointers = new Map();
  let lastPinch = null;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  });
  const release = (e) => { pointers.delete(e.pointerId); lastPinch = null; };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointermove", (e) => {
    const prev = pointers.get(e.pointerId);
    if (!prev) return;
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
  new ResizeObserver(fit).observe(canvas);
  fit();
  const loop = () => { pg.frame(); requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
}

async function start() {
  await init();
  if (apiVersion() !== API_VERSION) throw new Error(`page expects API ${API_VERSION}, wasm provides ${apiVersion()}: rebuild the site`);
  const { preset, forceCpu } = parseHash();
  const canvas = $("viewer");
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  const pg = await Playground.create(canvas, forceCpu);
  const api = window.molplay;
  api.build = crateVersion();
  api.backend = () => pg.backend();
  api.state = () => pg.state();
  api.energy = (name, flat) => {
    if (typeof name !== "string") return Promise.reject(new TypeError("energy(name, flatPositions): name must be a string such as \"lj13\""));
    if (!(Array.isArray(flat) || ArrayBuffer.isView(flat))) return Promise.reject(new TypeError("energy(name, flatPositions): flatPositions must be an array or typed array of numbers"));
    if (Array.from(flat).some((v) => typeof v !== "number")) return Promise.reject(new TypeError("energy(name, flatPositions): every position must be a number"));
    return pg.energy(name, Float64Array.from(flat)).then((e) => Array.from(e));
  };
  api.loadPreset = async (name) => {
    const energy = await pg.loadPreset(String(name));
    const preset = pg.state().preset;
    const known = ["lj13", "lj55", "dw4"].includes(preset);
    $("preset").value = known ? preset : "ljn";
    $("ljn-row").hidden = known;
    if (!known) $("ljn").value = pg.state().n_atoms;
    render(pg.state());
    return energy;
  };
  api.bench = (name, batch = 1024, reps = 5) => pg.bench(String(name), batch >>> 0, reps >>> 0);
  wireCanvas(pg, canvas);
  $("bonds").addEventListener("change", (e) => pg.setBonds(e.target.checked));
  const currentSystem = () => ($("preset").value === "ljn" ? `lj${$("ljn").value}` : $("preset").value);
  const pick = () => {
    showError("");
    $("ljn-row").hidden = $("preset").value !== "ljn";
    api.loadPreset(currentSystem()).catch((err) => showError(err.message));
  };
  $("preset").addEventListener("change", pick);
  $("ljn").addEventListener("change", pick);
  wireReference(pg, api, { currentSystem, showError, refresh: () => render(pg.state()) });
  const forward = wireForward(pg, api, { showError, refresh: () => render(pg.state()) });
  wireGenerate(pg, api, { showError, refresh: () => render(pg.state()), ensureMolecules: forward.ensureLoaded });
  wireAdjoint(pg, api, { showError, refresh: () => render(pg.state()) });
  try {
    await api.loadPreset(preset);
  } catch (err) {
    showError(`Preset "${preset}": ${err.message}. Showing LJ-13 instead.`);
    await api.loadPreset("lj13");
  }
  render(pg.state());
  return api;
}

let resolveReady, rejectReady;
window.molplay = {
  version: API_VERSION,
  ready: new Promise((res, rej) => { resolveReady = res; rejectReady = rej; }),
};
start().then(resolveReady, (err) => {
  showError(`molplay failed to start: ${err?.message ?? err}`);
  rejectReady(err);
});
