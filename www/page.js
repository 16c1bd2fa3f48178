// The page's own controls, around the viewer and the panels: the three modes, the URL hash
// written back as the page changes, the demo menu (presets), the presenter's keys, export and
// import (picker, drop, share), the look and the scrubber's members. No math here.
import { MODES, PRESETS, applyToControls, knobElements, parseHash, readControls, toHash } from "./state.js";
import { $, download, guarded, toBytes } from "./ui.js";
import { currentSystem, setSystemControls, showNotice } from "./viewer.js";

// one description per mode lives in its panel; this line only says what the scrubber plays
const MODE_TEXT = {
  forward: "Scrubber: the forward process from the molecules at t = 0 to noise at t = 1000; the red mark is T*, after which GAGA uses a closed-form Gaussian.",
  generate: "Scrubber: the reverse trajectory, from noise at t = T (left; with GAGA from T*) to samples at t = 0 (right).",
  learn: "Scrubber: the newest paths, from the single point at u = 0 to the samples at u = 1; the reference sampler below gives the ground truth.",
};

/// Routes a file (picker or drop) by its name: weights to their network, molecules to the
/// forward set (or, in Learn from energy, to the reference set), .npy samples to the reference set.
async function routeFile(api, mode, name, bytes) {
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

/// Wires the page's controls. `api` is the assembled window.molplay: the demos and opened files
/// call it as a script would (it is complete before any of them can run). `values`: the link's
/// state (parseHash). Returns the page's operations (api.js publishes them).
export function wirePage(pg, api, { values, showError, transport, refresh, networks, forward }) {
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
  const exportSamples = (source = modeSamples(), format = "npy") => pg.exportSamples(String(source), String(format));
  const stamp = () => `${document.body.dataset.mode}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "")}`;
  $("export-xyz").addEventListener("click", guard(async () => download(await api.exportTrajectory(), `molplay-${stamp()}-trajectory.xyz`)));
  $("export-png").addEventListener("click", guard(async () => download(await api.exportPng(), `molplay-${stamp()}.png`)));
  $("export-npy").addEventListener("click", guard(() => { const src = modeSamples(); download(api.exportSamples(src, "npy"), `molplay-${src}-samples.npy`); }));
  $("export-sxyz").addEventListener("click", guard(() => { const src = modeSamples(); download(api.exportSamples(src, "xyz"), `molplay-${src}-samples.xyz`); }));
  /// Opens a file as the picker and drop do, switching to its mode; `name` is checked by api.js.
  const openFile = async (name, data) => {
    const r = await routeFile(api, document.body.dataset.mode, name, toBytes(data, "openFile(name, data)"));
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

  let presetDone; // the link's preset has run (null if none)
  return {
    setMode,
    /// Runs the link's preset, if any (after `ready`, so the API is usable while it works).
    runLinkPreset() {
      presetDone = (async () => {
        if (!preset) return null;
        const r = await runPreset(preset, values);
        if (values.t !== undefined && values.t !== null) transport.seek(values.t);
        return r;
      })().catch((err) => { showError(`preset ${preset}: ${err.message}`); return null; });
      return presetDone;
    },
    get presetDone() { return presetDone; },
    runPreset: (name) => runPreset(String(name), { ...(PRESETS[name]?.knobs ?? {}) }),
    exportSamples,
    openFile,
    /// The viewer's look; the page's class and the link follow.
    style: (name) => {
      if (name === undefined) return pg.state().style;
      pg.setStyle(String(name)); // throws on an unknown style
      document.body.classList.toggle("projector", name === "projector");
      writeHash();
      return String(name);
    },
    mode: (m) => (m === undefined ? document.body.dataset.mode : setMode(String(m))),
    presets: () => Object.fromEntries(Object.entries(PRESETS).map(([k, p]) => [k, { mode: p.mode, title: p.title }])),
    // the shared scrubber, as its buttons and keys drive it
    play: () => { if (!transport.playing) transport.toggle(); return transport.playing; },
    pause: () => transport.pause(),
    step: (k = 1) => transport.step(Number(k) || 0),
    rewind: () => transport.reset(),
    seek: (pos) => transport.seek(Number(pos)),
    transport: () => ({ mode: transport.active, playing: transport.playing, position: transport.position() }),
    hashState: () => parseHash(location.hash),
  };
}
