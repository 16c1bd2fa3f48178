// Boot: loads the wasm module, starts the playground behind the `pg` every panel holds, and
// moves the page to the full module (the networks) on first use. No panel lives here: the
// viewer, the panels and the page's own controls are wired by main.js on the `pg` this returns.
import { PRESETS } from "./state.js";
import { $ } from "./ui.js";

export const API_VERSION = 1; // must equal facade::API_VERSION in the wasm

// The page starts on the first module (pkg/core/: viewer, energies, forward process, T* study,
// samplers with exact scores; no networks, a tenth of the full module's size) when its link needs no
// network, and moves to the full module (pkg/) on the first call that needs one (see
// `fullModule`). `live` is the module and playground in use; `pg` (below) forwards to it.
const live = { mod: null, pg: null };
/// The module's internal error (a panic in the wasm) once one happened, else null.
export const internalError = () => live.mod?.internalError() ?? null;
/// Whether the page runs on the full module (with the networks).
export const hasNetworks = () => live.mod.hasNetworks();
/// Network methods a playground of the first module lacks, answered as the full module answers
/// before any network exists (no learner, no network): the panels ask them while they draw.
const NONE_YET = new Set(["adjointStatus", "scoreStatus", "moleculesResult", "conformersResult", "conformerTrainingStatus"]);

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
export function linkNeedsNetworks(values) {
  return ["qm9-network", "qm9-molecules"].includes(values.preset) || values.target === "network" ||
    values.mode === "learn" || (values.preset && PRESETS[values.preset]?.mode === "learn");
}

/// Loads the page's first module: the full one when `full`, else pkg/core/ (its download's
/// progress in the loading line). Resolves to the crate version of the loaded wasm.
export async function loadFirstModule(full) {
  const bar = $("loading-bar");
  const shown = (got, total) => {
    if (total > 0) bar.value = Math.min(1, got / total);
    $("loading-text").textContent = `Loading molplay: ${(got / 1e6).toFixed(1)}${total > 0 ? ` of ${(total / 1e6).toFixed(1)}` : ""} MB`;
  };
  live.mod = await loadModule(full ? "pkg" : "pkg/core", shown);
  $("loading-text").textContent = "Starting…";
  bar.removeAttribute("value");
  return live.mod.crateVersion();
}

/// Starts the playground on `canvas`; `pg` forwards to it from then on.
export async function startPlayground(canvas, cpu) {
  live.pg = await live.mod.Playground.create(canvas, cpu);
}

/// What every panel holds: it forwards to the playground in use, so moving to the full module
/// changes what it calls, not who holds it. (Never the value of a Promise: awaiting it would ask
/// it for `then`, which it throws on while the page runs on the first module.)
export const pg = new Proxy({}, {
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

/// The networks: the full module, fetched while the page is idle and moved to on first use.
/// `viewer` (viewer.js) takes the new playground's canvas and shows again what it showed;
/// `settled()` resolves when no panel job runs; `restore()` brings every panel's state over.
/// Returns `{networks, hasNetworks, warmed, warmAtIdle, prefetchAtIdle}`.
export function fullModule({ viewer, settled, restore }) {
  const netLoad = { got: 0, total: 0, compiled: null };
  /// The full module, fetched and compiled (once; again after a failure).
  const fetchNetworks = () => {
    netLoad.compiled ??= WebAssembly.compileStreaming(fetchModule("pkg", (got, total) => Object.assign(netLoad, { got, total })))
      .catch((err) => { netLoad.compiled = null; throw new Error(`loading the networks' module failed (${err.message}); try again`); });
    return netLoad.compiled;
  };
  let warmed; // the Promise that burn's training path is compiled (see Playground.warmUp)
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
      await settled();
      // the new playground starts on a canvas of its own while the old one still draws; then
      // the new canvas takes the old one's place, so no call ever finds no playground
      const canvas = viewer.canvas;
      const fresh = canvas.cloneNode(false);
      [fresh.width, fresh.height] = [canvas.width, canvas.height];
      const keep = viewer.keep();
      let next;
      try {
        next = await full.Playground.create(fresh, pg.backend() === "cpu");
      } catch (err) {
        throw new Error(`the networks' module did not start (${err.message}); the page goes on without it`);
      }
      viewer.attach(fresh, () => {
        const old = live.pg;
        Object.assign(live, { mod: full, pg: next });
        old.free();
      });
      await viewer.restore(keep);
      await restore();
      // burn's training path compiles here, under "Starting the networks…", not in the first
      // training slices (see Playground.warmUp)
      warmed = pg.warmUp().catch(() => {});
      await warmed;
    } finally {
      clearInterval(tick);
      line.hidden = true;
    }
  }
  const idle = (f) => (window.requestIdleCallback ?? setTimeout)(f);
  return {
    networks,
    hasNetworks,
    get warmed() { return warmed; },
    /// Compiles burn's training path while the page is idle (see Playground.warmUp); on the
    /// first module there is none to compile yet (`prefetchAtIdle` fetches the full one).
    warmAtIdle() {
      warmed = live.mod.hasNetworks() ? new Promise((resolve) => idle(() => pg.warmUp().catch(() => {}).then(resolve))) : Promise.resolve();
    },
    /// On the first module: fetches and compiles the full one while the page is idle.
    prefetchAtIdle() {
      if (!live.mod.hasNetworks()) idle(() => fetchNetworks().catch(() => {}));
    },
  };
}
