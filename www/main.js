// The page's entry: boots the wasm module (boot.js), wires the viewer (viewer.js), the panels and
// the page's own controls (page.js), and publishes the scripting API on window.molplay (api.js).
// No math here: every number shown comes from the Rust core.
import { assembleApi, createApi } from "./api.js";
import { API_VERSION, fullModule, internalError, linkNeedsNetworks, loadFirstModule, pg, startPlayground } from "./boot.js";
import { wireReference } from "./reference.js";
import { wireForward } from "./forward.js";
import { wireGenerate } from "./generate.js";
import { wireMolecules } from "./molecules.js";
import { wireConformers } from "./conformers.js";
import { wireAdjoint } from "./adjoint.js";
import { wirePage } from "./page.js";
import { createTransport } from "./transport.js";
import { DEFAULT_PRESET, applyToControls, parseHash } from "./state.js";
import { $ } from "./ui.js";
import { currentSystem, setSystemControls, showError, wireViewer } from "./viewer.js";

async function start(api) {
  // --- boot: the module the link needs, and the playground ---
  const hash = location.hash.replace(/^#/, "");
  const { values, errors } = parseHash(hash === "" ? `v=1&preset=${DEFAULT_PRESET}` : hash);
  // ?full in the page's address starts on the full module whatever the link (tests, benchmarks)
  const build = await loadFirstModule(linkNeedsNetworks(values) || new URLSearchParams(location.search).has("full"));
  if (errors.length) showError(`URL: ${errors.join("; ")}. Those settings keep their defaults.`);
  if (values.ui === "0") document.body.classList.add("embed");
  if (values.style === "projector") document.body.classList.add("projector");
  const canvas = $("viewer");
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  await startPlayground(canvas, values.backend === "cpu");
  if (values.style === "projector") pg.setStyle("projector");

  // --- the viewer, the panels and the page (all wired in this one task: nothing runs between) ---
  const viewer = wireViewer(pg, canvas);
  const transport = createTransport(showError);
  const refresh = viewer.refresh;
  let panels = []; // each {settled, restore}, filled below
  const boot = fullModule({
    viewer,
    settled: () => Promise.all(panels.map((p) => p.settled())),
    restore: async () => {
      for (const p of panels) await p.restore();
      await transport.use(transport.active);
      refresh();
    },
  });
  const { networks, hasNetworks } = boot;
  const ctx = { showError, refresh, transport, networks };
  const reference = wireReference(pg, { ...ctx, currentSystem });
  const forward = wireForward(pg, ctx);
  const generate = wireGenerate(pg, { ...ctx, ensureMolecules: forward.ensureLoaded, hasNetworks });
  const molecules = wireMolecules(pg, ctx);
  const conformers = wireConformers(pg, ctx);
  const adjoint = wireAdjoint(pg, { ...ctx, showSystem: viewer.showSystem, showSampleNear: reference.showSampleNear });
  panels = [forward, generate];
  const page = wirePage(pg, api, { ...ctx, values, forward });
  // a lost WebGPU device: the facade moved to the CPU and rebuilt the viewer; show the
  // current mode again (its track re-shows its frame) and the new backend
  viewer.onBackendChange(() => {
    refresh();
    transport.use(transport.active).catch((err) => showError(err.message));
  });
  assembleApi(api, { pg, build, boot, viewer, page, reference, forward, generate, molecules, conformers, adjoint });

  // --- the state the URL asked for ---
  applyToControls(values);
  if (values.system) setSystemControls(values.system);
  try {
    await viewer.showSystem();
  } catch (err) {
    showError(`System "${currentSystem()}": ${err.message}. Showing LJ-13 instead.`);
    setSystemControls("lj13");
    await viewer.loadPreset("lj13");
  }
  await page.setMode(values.mode ?? "forward");
  refresh();
  // compile burn's training path while the page is idle; on the first module, fetch and compile
  // the full one instead, once the preset is done
  boot.warmAtIdle();
  page.runLinkPreset().then(() => boot.prefetchAtIdle());
  return api;
}

let resolveReady, rejectReady;
window.molplay = createApi({
  version: API_VERSION,
  ready: new Promise((res, rej) => { resolveReady = res; rejectReady = rej; }),
  // the module's internal error (a panic) once one happened, else null: then reload
  internalError,
});
start(window.molplay).finally(() => { $("loading").hidden = true; }).then(resolveReady, (err) => {
  showError(`molplay failed to start: ${err?.message ?? err}`);
  rejectReady(err);
});
