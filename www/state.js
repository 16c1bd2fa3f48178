// The page's state in `location.hash`: mode, preset, seed and every knob, versioned and
// validated, so one link reproduces a slide. Parsing and writing are pure functions (tested in
// Node: tests/e2e/state.test.mjs); `bindControls` reads and writes the page's inputs.

export const HASH_VERSION = 1;
export const MODES = ["forward", "generate", "learn"];

const SYSTEM = /^(lj13|lj55|dw4|lj([2-9]|[1-9]\d{1,2}|10[01]\d|102[0-4]))$/;

/// Every knob: its key in the hash, the control it sets (`el`), its kind and range.
/// `els` lists several controls that take the same value (one seed drives every panel).
export const KNOBS = [
  { key: "mode", kind: "enum", values: MODES, def: "forward" },
  { key: "preset", kind: "enum", values: null /* PRESETS' names, filled below */, def: "" },
  { key: "seed", kind: "int", min: 0, max: 4294967295, def: 0, els: ["gen-seed", "as-seed", "ref-seed"] },
  { key: "scratch", kind: "bool", def: false, el: "scratch" },
  // the system of the viewer, the energy and the reference sampler
  { key: "system", kind: "pattern", re: SYSTEM, hint: "lj13, lj55, dw4 or lj<n> with n from 2 to 1024", def: "lj13" },
  // Forward & Gaussianity
  { key: "schedule", kind: "enum", values: ["polynomial2", "cosine", "linear"], def: "polynomial2", el: "fw-schedule" },
  { key: "count", kind: "enum", values: ["1", "16", "64"], def: "16", el: "fw-count" },
  // Generate
  { key: "target", kind: "enum", values: ["chain", "molecules", "orbits", "network"], def: "chain", el: "gen-target" },
  { key: "atoms", kind: "int", min: 3, max: 64, def: 8, el: "gen-atoms" },
  { key: "sampler", kind: "enum", values: ["ddpm", "em", "heun"], def: "ddpm", el: "gen-sampler" },
  { key: "steps", kind: "int", min: 1, max: 5000, def: 200, el: "gen-steps" },
  { key: "engine", kind: "enum", values: ["cpu", "gpu"], def: "cpu", el: "gen-engine" },
  { key: "symmetry", kind: "enum", values: ["equivariant", "align", "quotient"], def: "equivariant", el: "gen-symmetry" },
  { key: "gaga", kind: "bool", def: false, el: "gen-gaga" },
  { key: "tstar", kind: "int", min: 1, max: 1000, def: null, el: "gen-tstar" },
  { key: "samples", kind: "int", min: 1, max: 5000, def: 200, el: "gen-samples" },
  // Learn from energy
  { key: "learner", kind: "enum", values: ["dw4", "lj13", "lj55"], def: "dw4", el: "as-system" },
  { key: "refsamples", kind: "int", min: 1, max: 100000, def: 2000, el: "ref-samples" },
  // shared
  { key: "device", kind: "enum", values: ["auto", "webgpu", "cpu"], def: "auto", el: "net-device" },
  { key: "bonds", kind: "bool", def: true, el: "bonds" },
  { key: "speed", kind: "enum", values: ["0.25", "0.5", "1", "2", "4"], def: "1", el: "speed" },
  { key: "loop", kind: "enum", values: ["loop", "bounce", "once"], def: "loop", el: "loop" },
  { key: "t", kind: "number", min: 0, max: 5000, def: null },
  { key: "backend", kind: "enum", values: ["auto", "cpu"], def: "auto" },
  { key: "ui", kind: "enum", values: ["0", "1"], def: "1" },
  // bigger atoms and type, higher contrast: for a hall's projector (a slide's link carries it)
  { key: "style", kind: "enum", values: ["default", "projector"], def: "default" },
];

/// Demos that work at once: each sets a mode and knobs, then runs (see page.js `runPreset`).
export const PRESETS = {
  "qm9-forward": { mode: "forward", title: "QM9 molecules noised step by step, T* found and marked", knobs: { schedule: "polynomial2", count: "16" } },
  "chain-generate": { mode: "generate", title: "Reverse sampling of an exact Gaussian chain", knobs: { target: "chain", atoms: 8, samples: 200, steps: 200 } },
  "gaga-compare": { mode: "generate", title: "Full vs GAGA, and equivariant vs align vs quotient", knobs: { target: "chain", atoms: 4, samples: 120, steps: 60 } },
  "qm9-generate": { mode: "generate", title: "QM9 molecules from the exact empirical score", knobs: { target: "molecules", samples: 40, steps: 80 } },
  "qm9-network": { mode: "generate", title: "QM9 molecules from a pretrained EGNN (or one trained from scratch)", knobs: { target: "network", samples: 40, steps: 100 } },
  "qm9-molecules": { mode: "generate", title: "Whole QM9 molecules (types and positions) from a pretrained network, full vs GAGA", knobs: {} },
  "dw4-adjoint": { mode: "learn", title: "Adjoint Sampling on DW-4 (pretrained, or from scratch)", knobs: { learner: "dw4", system: "dw4" } },
  "lj13-adjoint": { mode: "learn", title: "Adjoint Sampling on LJ-13 (partly trained, or from scratch)", knobs: { learner: "lj13", system: "lj13" } },
  "lj13-reference": { mode: "learn", title: "Ground truth: parallel-tempering MALA on LJ-13", knobs: { system: "lj13", refsamples: 500 } },
};
export const DEFAULT_PRESET = "qm9-forward";
KNOBS.find((k) => k.key === "preset").values = Object.keys(PRESETS);

const BY_KEY = Object.fromEntries(KNOBS.map((k) => [k.key, k]));

/// Checks one raw hash value against its knob: `{value}` or `{error}`.
export function validate(key, raw) {
  const k = BY_KEY[key];
  if (!k) return { error: `unknown setting "${key}"` };
  const fail = (what) => ({ error: `${key} must be ${what}, got "${raw}"` });
  switch (k.kind) {
    case "enum":
      return k.values.includes(raw) ? { value: raw } : fail(`one of ${k.values.join(", ")}`);
    case "bool":
      return raw === "1" || raw === "0" ? { value: raw === "1" } : fail("0 or 1");
    case "pattern":
      return k.re.test(raw) ? { value: raw } : fail(k.hint);
    case "int": {
      if (raw === "" && k.def === null) return { value: null };
      const v = /^\d+$/.test(raw) ? Number(raw) : NaN;
      return Number.isSafeInteger(v) && v >= k.min && v <= k.max ? { value: v } : fail(`a whole number from ${k.min} to ${k.max}`);
    }
    case "number": {
      const v = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
      return Number.isFinite(v) && v >= k.min && v <= k.max ? { value: v } : fail(`a number from ${k.min} to ${k.max}`);
    }
    default:
      return { error: `${key}: unknown kind` };
  }
}

/// Parses a hash ("#v=1&mode=generate&…") into `{values, errors}`: valid settings in `values`
/// (a preset's knobs first, then the explicit ones over them), one message per rejected one.
/// A hash without `v` is a link from before versioning (`#preset=lj55&backend=cpu`), read as
/// the system shown in Learn-from-energy mode.
export function parseHash(hash) {
  const params = new URLSearchParams(String(hash).replace(/^#/, ""));
  const values = {};
  const errors = [];
  const v = params.get("v");
  if (v === null && params.has("preset") && !(params.get("preset") in PRESETS)) {
    // legacy: preset named a system
    const sys = params.get("preset");
    if (SYSTEM.test(sys)) { values.mode = "learn"; values.system = sys; }
    else errors.push(`unknown system '${sys}' (lj13, lj55, dw4 or lj<n>)`);
    params.delete("preset");
  } else if (v !== null && v !== String(HASH_VERSION)) {
    errors.push(`this link is for molplay state version ${v}; this page reads version ${HASH_VERSION}, so its settings are ignored`);
    return { values: {}, errors };
  }
  params.delete("v");
  const preset = params.get("preset");
  if (preset !== null) {
    const r = validate("preset", preset);
    if (r.error) errors.push(r.error);
    else {
      values.preset = preset;
      values.mode = PRESETS[preset].mode;
      Object.assign(values, PRESETS[preset].knobs);
    }
    params.delete("preset");
  }
  for (const [key, raw] of params) {
    const r = validate(key, raw);
    if (r.error) errors.push(r.error);
    else values[key] = r.value;
  }
  return { values, errors };
}

/// The hash for `values`: version, mode and preset first, then every knob that differs from its
/// default (or from the preset's value), in a fixed order.
export function toHash(values) {
  const parts = [`v=${HASH_VERSION}`];
  const base = values.preset ? PRESETS[values.preset]?.knobs ?? {} : {};
  for (const k of KNOBS) {
    const v = values[k.key];
    if (v === undefined || v === null || v === "") continue;
    const enc = k.kind === "bool" ? (v ? "1" : "0") : String(v);
    const ref = k.key in base ? base[k.key] : k.def;
    const refEnc = k.kind === "bool" ? (ref ? "1" : "0") : ref === null ? "" : String(ref);
    if (k.key !== "mode" && k.key !== "preset" && enc === refEnc) continue;
    parts.push(`${k.key}=${encodeURIComponent(enc)}`);
  }
  return "#" + parts.join("&");
}

/// Writes `values` into the page's controls (knobs without a control are left to the caller).
export function applyToControls(values, doc = document) {
  for (const k of KNOBS) {
    if (!(k.key in values)) continue;
    for (const id of k.els ?? (k.el ? [k.el] : [])) {
      const el = doc.getElementById(id);
      if (!el) continue;
      if (el.type === "checkbox") el.checked = Boolean(values[k.key]);
      else el.value = values[k.key] === null ? "" : String(values[k.key]);
    }
  }
}

/// Reads the controls' current values (the first of `els` for shared ones).
export function readControls(doc = document) {
  const out = {};
  for (const k of KNOBS) {
    const id = (k.els ?? (k.el ? [k.el] : []))[0];
    const el = id && doc.getElementById(id);
    if (!el) continue;
    if (el.type === "checkbox") out[k.key] = el.checked;
    else if (k.kind === "int") out[k.key] = el.value === "" ? null : Number(el.value);
    else out[k.key] = el.value;
  }
  return out;
}

/// Every control a knob writes to (to listen for changes).
export const knobElements = () => KNOBS.flatMap((k) => k.els ?? (k.el ? [k.el] : []));
