// The viewer and the lines around it: the canvas (orbit, pan, zoom, click to enlarge, the frame
// loop), the System controls, the status lines (energy, backend, adapter), the notice and the
// error box. No math here: every number shown comes from the Rust core.
import { internalError } from "./boot.js";
import { $ } from "./ui.js";

const EXPLAIN = {
  lj13: "13 Lennard-Jones particles tethered to their centre: E = Σ_{i≠j} [d⁻¹² − 2d⁻⁶] + ½Σ|xᵢ − x̄|². Shown: the relaxed icosahedron, the lowest-energy shape.",
  lj55: "55 Lennard-Jones particles, same energy as LJ-13. Shown: a relaxed compact cluster (a local minimum).",
  adjoint: "Adjoint Sampling (Learn from energy panel): the newest simulated paths, side by side, from the origin at u = 0 to samples at u = 1.",
  generated: "Samples of the reverse sampler (Generate panel), laid out side by side; scrub the reverse trajectory from t = T to 0.",
  molecules: "Molecules from the chosen set, noised by the forward process (see the panel below); atoms keep their element colours, bonds are redrawn from distances every frame.",
  dw4: "4 particles in 2-D, each pair in a double well: E = Σ_{i<j} 0.9(d−4)⁴ − 4(d−4)². Shown: the lowest of 32 relaxations.",
};

export function showError(message) {
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

/// A message of the page's own (a copied link) beside the backend's notice.
export function showNotice(message) {
  pageNotice = message;
  drawNotice();
}

/// Shows system `name` ("lj13", "lj55", "dw4" or "lj<n>") in the System select and the n field.
export function setSystemControls(name) {
  const known = ["lj13", "lj55", "dw4"].includes(name);
  $("preset").value = known ? name : "ljn";
  $("ljn-row").hidden = known;
  if (!known) $("ljn").value = name.slice(2);
}

/// The system the System controls name ("lj13", "lj55", "dw4" or "lj<n>").
export const currentSystem = () => ($("preset").value === "ljn" ? `lj${$("ljn").value}` : $("preset").value);

/// Mouse, touch and wheel on `canvas`, and the frame loop that draws `pg` into it;
/// `onBackendChange()` when a frame finds the backend or renderer changed (a WebGPU device loss).
/// Returns a function that stops both (another canvas took this one's place).
function wireCanvas(pg, canvas, onBackendChange) {
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

/// Wires the viewer on `canvas` and the System controls to `pg`. Returns the viewer's
/// operations: `loadPreset`, `showSystem`, `refresh`, `exportPng`, the canvas in use, and what
/// boot.js needs to move it to a new playground (`keep`, `attach`, `restore`).
export function wireViewer(pg, canvas) {
  let onBackendChange = () => {};
  let unwireCanvas = wireCanvas(pg, canvas, () => onBackendChange());
  $("bonds").addEventListener("change", (e) => pg.setBonds(e.target.checked));

  const loadPreset = async (name) => {
    const asked = currentSystem();
    const energy = await pg.loadPreset(String(name));
    if (energy === null) return null; // a later call replaced this one: it shows its system
    // the System controls follow, unless someone changed them while this system relaxed (a
    // number typed meanwhile is the next call's, not to be overwritten)
    if (currentSystem() === asked) setSystemControls(pg.state().preset);
    render(pg.state());
    return energy;
  };
  const showSystem = () => loadPreset(currentSystem());
  const pick = () => {
    showError("");
    $("ljn-row").hidden = $("preset").value !== "ljn";
    showSystem().catch((err) => showError(err.message));
  };
  $("preset").addEventListener("change", pick);
  $("ljn").addEventListener("change", pick);

  return {
    get canvas() { return canvas; },
    loadPreset,
    showSystem,
    /// Draws the status lines from the playground's state.
    refresh: () => render(pg.state()),
    /// What a lost WebGPU device does to the page beyond the viewer (see wireCanvas).
    onBackendChange: (f) => { onBackendChange = f; },
    /// The viewer as a PNG blob: one frame is drawn and read in the same task (a WebGPU canvas
    /// keeps its image only until the frame is presented).
    exportPng: () => new Promise((resolve, reject) => {
      pg.resize(canvas.width, canvas.height);
      pg.frame();
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("exportPng: the viewer gave no image"))), "image/png");
    }),
    /// What the viewer shows, to show again on a new playground (`restore`).
    keep: () => ({ system: currentSystem(), style: pg.state().style }),
    /// `fresh` takes the canvas's place; `swap()` moves `pg` to the playground drawing into it.
    attach(fresh, swap) {
      unwireCanvas();
      canvas.replaceWith(fresh);
      swap();
      canvas = fresh;
      unwireCanvas = wireCanvas(pg, canvas, () => onBackendChange());
    },
    async restore(keep) {
      if (keep.style !== "default") pg.setStyle(keep.style);
      pg.setBonds($("bonds").checked);
      await loadPreset(keep.system);
    },
  };
}
