// End-to-end: the built site served locally, driven in headless Debian Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { serve } from "./server.mjs";
import { launch, openPage, ready } from "./browser.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = fileURLToPath(new URL("../../test-results/", import.meta.url));
let server, base, webgpu, noWebgpu;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  server = await serve(ROOT, 0);
  base = `http://127.0.0.1:${server.address().port}`;
  webgpu = await launch({ webgpu: true });
  noWebgpu = await launch({ webgpu: false });
});

after(async () => {
  await webgpu?.close();
  await noWebgpu?.close();
  server?.close();
});


/// Drags the view a little (so a fresh frame is on screen for the screenshot) and checks that
/// frames are being drawn without surface errors.
async function nudgeAndCheckFrames(page) {
  const box = await page.locator("#viewer").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 20, box.y + box.height / 2 + 10, { steps: 3 });
  await page.mouse.up();
  await page.waitForTimeout(300);
  const { frames, render_error } = await page.evaluate(() => window.molplay.state());
  assert.ok(frames >= 2, `frames drawn: ${frames}`);
  assert.equal(render_error, null);
}

test("the page starts on WebGPU with LJ-13 and its energy", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1`);
  const state = await ready(page);
  assert.equal(await page.evaluate(() => window.molplay.backend()), "webgpu");
  assert.equal(await page.evaluate(() => window.molplay.version), 1);
  assert.equal(state.preset, "lj13");
  assert.equal(state.backend, "webgpu");
  assert.equal(state.n_atoms, 13);
  assert.equal(state.renderer, "WebGPU");
  assert.ok(state.adapter, "adapter name shown");
  // relaxed LJ-13 icosahedron with the benchmark tether lies a little above 2 × −44.3268
  assert.ok(state.energy > -88.66 && state.energy < -78, `energy ${state.energy}`);
  assert.equal(JSON.parse(JSON.stringify(state)).energy, state.energy, "state is JSON-serialisable");
  // the energy API agrees with what is shown, for a batch of 3 copies
  const batch = await page.evaluate((x) => window.molplay.energy("lj13", [...x, ...x, ...x]), state.positions);
  assert.equal(batch.length, 3);
  for (const e of batch) assert.ok(Math.abs(e - state.energy) < 1e-3, `${e} vs ${state.energy}`);
  assert.match(await page.textContent("#energy"), /^-\d+\.\d{4}$/);
  assert.match(await page.textContent("#backend"), /WebGPU/);
  assert.equal(await page.isHidden("#notice"), true);
  // the viewer takes a drag, a wheel and a double-click without errors
  const box = await page.locator("#viewer").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 30, { steps: 5 });
  await page.mouse.up();
  await page.mouse.wheel(0, 300);
  await page.mouse.dblclick(box.x + 20, box.y + 20);
  await nudgeAndCheckFrames(page);
  await page.screenshot({ path: `${SHOTS}webgpu-lj13.png` });
  assert.deepEqual(problems, []);
  await page.close();
});

test("bad input to the API is rejected with a clear message, never a panic", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=learn`);
  await ready(page);
  // the README's example
  const square = await page.evaluate(() => window.molplay.energy("dw4", [0, 0, 4, 0, 4, 4, 0, 4]));
  assert.ok(Math.abs(square[0] - -8.396642525) < 1e-4, `${square[0]}`);
  const reason = (name, flat) => page.evaluate(([n, f]) => window.molplay.energy(n, f).then(() => "resolved", (e) => e.message), [name, flat]);
  assert.match(await reason("water", [0, 0, 0]), /unknown system 'water'/);
  assert.match(await reason("lj13", [1, 2, 3]), /not a whole number of configurations/);
  assert.match(await reason("lj13", []), /empty batch/);
  assert.match(await reason("dw4", [0, 0, 1, 1, 2, 2, 3, "x"]), /every position must be a number/);
  assert.match(await reason("dw4", "12345678"), /must be an array/);
  const nan = await page.evaluate(() => window.molplay.energy("dw4", [0, 0, 1, 1, 2, NaN, 3, 3]).then(() => "resolved", (e) => e.message));
  assert.match(nan, /configuration 0, particle 2\) is NaN/);
  const inf = await page.evaluate(() => window.molplay.energy("lj13", new Array(39).fill(Infinity)).then(() => "resolved", (e) => e.message));
  assert.match(inf, /must be finite/);
  // finite but past f32 (1e200 would be inf on the GPU and in the viewer): refused with a reason
  const far = await page.evaluate(() => window.molplay.energy("dw4", [0, 0, 1, 1, 2, 1e200, 3, 3]).then(() => "resolved", (e) => e.message));
  assert.match(far, /position 5 \(configuration 0, particle 2\) is 1e200: coordinates beyond ±1e6/);
  // coincident particles: a finite (huge) energy, and the page keeps drawing
  const coincident = await page.evaluate(() => window.molplay.energy("lj13", new Array(39).fill(0.5)));
  assert.ok(Number.isFinite(coincident[0]) && coincident[0] > 1e30, `${coincident[0]}`);
  const badPreset = await page.evaluate(() => window.molplay.loadPreset("lj1").then(() => "resolved", (e) => e.message));
  assert.match(badPreset, /2 ≤ n/);
  assert.equal((await page.evaluate(() => window.molplay.state())).preset, "lj13", "a refused preset changes nothing");
  await page.selectOption("#preset", "dw4");
  await page.waitForFunction(() => window.molplay.state().preset === "dw4");
  const dw = await page.evaluate(() => window.molplay.state());
  assert.equal(dw.n_atoms, 4);
  assert.ok(dw.energy < -25, `DW-4 preset energy ${dw.energy}`);
  await page.waitForTimeout(200);
  await page.screenshot({ path: `${SHOTS}webgpu-dw4.png` });
  assert.deepEqual(problems, []);
  await page.close();
});

test("#backend=cpu runs on the CPU with a notice, WebGL2 drawing, and the same energies", async () => {
  const gpuPage = await openPage(webgpu, `${base}/index.html#preset=lj55`);
  const gpuState = await ready(gpuPage.page);
  const { page, problems } = await openPage(webgpu, `${base}/index.html#preset=lj55&backend=cpu`);
  const state = await ready(page);
  assert.equal(state.backend, "cpu");
  assert.equal(state.preset, "lj55");
  assert.equal(state.renderer, "WebGL2");
  assert.match(await page.textContent("#notice"), /running on CPU/);
  assert.ok(Math.abs(state.energy - gpuState.energy) < 1e-4 * Math.abs(gpuState.energy), `${state.energy} vs ${gpuState.energy}`);
  await nudgeAndCheckFrames(page);
  await page.screenshot({ path: `${SHOTS}cpu-lj55.png` });
  assert.deepEqual(problems, []);
  assert.deepEqual(gpuPage.problems, []);
  await page.close();
  await gpuPage.page.close();
});

test("without WebGPU the page falls back to the CPU by itself", async () => {
  const { page, problems } = await openPage(noWebgpu, `${base}/index.html#v=1`);
  const state = await ready(page);
  assert.equal(state.backend, "cpu");
  assert.match(await page.textContent("#notice"), /WebGPU unavailable — running on CPU/);
  assert.ok(state.energy < -78, `${state.energy}`);
  const e = await page.evaluate((x) => window.molplay.energy("lj13", x), state.positions);
  assert.ok(Math.abs(e[0] - state.energy) < 1e-9);
  await nudgeAndCheckFrames(page);
  await page.screenshot({ path: `${SHOTS}fallback-lj13.png` });
  // a console error from Chromium's own WebGPU probe is not ours; anything else is
  assert.deepEqual(problems.filter((p) => !/WebGPU|webgpu|adapter/i.test(p)), []);
  await page.close();
});

test("a device lost while the page starts falls back to the CPU, and the default preset runs", async () => {
  // Chromium's SwiftShader without Vulkan-on-SwiftShader destroys the device at the first
  // present: a readback of the start's first energy then fails, which used to fail the start
  const losing = await launch({ webgpu: true, loseOnPresent: true });
  try {
    const { page, problems } = await openPage(losing, `${base}/index.html`);
    await ready(page);
    // the loss comes at the first present: before the start ends (the readback fails) or, on a
    // busy machine, just after it (the lost callback); either way the page moves to the CPU
    await page.waitForFunction(() => window.molplay.state().backend === "cpu", null, { timeout: 20000 });
    assert.match((await page.evaluate(() => window.molplay.state())).notice, /GPU device was lost .*running on the CPU from here/);
    await page.evaluate(() => window.molplay.presetDone);
    assert.equal(await page.evaluate(() => window.molplay.mode()), "forward");
    assert.equal((await page.evaluate(() => window.molplay.state())).preset, "molecules", "the default preset's molecules are shown");
    await page.waitForFunction(() => /new device/.test(window.molplay.state().renderer ?? ""), null, { timeout: 20000 });
    assert.equal(await page.textContent("#error"), "");
    const shown = await page.evaluate(() => window.molplay.state());
    assert.ok(shown.positions.length > 0 && shown.positions.every(Number.isFinite), "molecules shown");
    // it goes on working: energies on the CPU, another preset
    const e = await page.evaluate(() => window.molplay.energy("dw4", [0, 0, 1, 0, 0, 1, 1, 1]));
    assert.ok(Number.isFinite(e[0]));
    assert.ok(Number.isFinite(await page.evaluate(() => window.molplay.loadPreset("lj13"))));
    assert.equal(await page.evaluate(() => window.molplay.internalError()), null);
    assert.deepEqual(problems.filter((p) => !/WebGPU|webgpu|adapter|Device was destroyed|Instance reference/i.test(p)), []);
  } finally {
    await losing.close();
  }
});

test("hostile files dropped one after another into one tab: each a clear message, and the tab runs a preset after", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=learn&system=dw4&backend=cpu`);
  await ready(page);
  const npy = (descr, cols, values, extra = []) => {
    let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${values.length / cols}, ${cols}), }`;
    while ((10 + header.length + 1) % 64 !== 0) header += " ";
    header += "\n";
    const body = descr === "<f8" ? new Uint8Array(new Float64Array(values).buffer) : new Uint8Array(new Float32Array(values).buffer);
    return [0x93, ..."NUMPY".split("").map((c) => c.charCodeAt(0)), 1, 0, header.length & 255, header.length >> 8,
      ...header.split("").map((c) => c.charCodeAt(0)), ...body, ...extra];
  };
  const square = [0, 0, 4, 0, 0, 4, 4, 4];
  const atoms = (n) => Array.from({ length: n }, (_, i) => `C ${i % 50} ${Math.floor(i / 50) % 50} ${Math.floor(i / 2500)}`).join("\n");
  const crash = async (path) => page.evaluate(async (p) => Array.from(new Uint8Array(await (await fetch(p)).arrayBuffer())), path);
  const hostile = [
    // [mode, file name, bytes or text, what the message must say]
    ["learn", "huge.npy", npy("<f8", 8, [...square, 1e200, ...square.slice(1)]), /beyond ±1e6/],
    ["learn", "f32-overflow.npy", npy("<f8", 8, [1e39, ...square.slice(1)]), /beyond ±1e6/],
    ["learn", "trailing.npy", npy("<f4", 8, square, [1, 2, 3]), /after|trailing|extra/i],
    ["forward", "count.xyz", "18446744073709551615\nc\nC 0 0 0\n", /atom/i],
    ["forward", "escape.xyz", "\u001b[2J\nc\nC 0 0 0\n", /\\u\{1b\}|\\x1b|\\e|ESC|escape/i],
    ["forward", "150k.xyz", `150000\nbig\n${atoms(150000)}\n`, /100000|100 000|too many|at most/i],
    ["forward", "binary.xyz", new Uint8Array([0xff, 0xfe, 0x00, 0x81]), /not a text file/],
    ["generate", "fuzzed.mpw", await crash("tests/fuzz/crashes/weights/crash-2f53b4646bdadc9a1892dda7f76f561b30fd7100"), /record|corrupt/i],
    ["learn", "fuzzed-1.mpa", await crash("tests/fuzz/crashes/adjoint/crash-6f7034527b2c2fbfa823723099a1d80a55cc956b"), /optimiser|corrupt|record/i],
    ["learn", "fuzzed-2.mpa", await crash("tests/fuzz/crashes/adjoint/crash-d20898fc2c8ddfe2730adf94afc83d42f17a7c70"), /optimiser|corrupt|record/i],
    ["learn", "fuzzed-3.mpa", await crash("tests/fuzz/crashes/adjoint/crash-f2ab3e448eba85167a02a6ba9fb25e3d9c695069"), /optimiser|corrupt|record/i],
  ];
  for (const [mode, name, data, expect] of hostile) {
    await page.evaluate((m) => window.molplay.mode(m), mode);
    await page.evaluate(([n, d]) => {
      document.getElementById("error").textContent = "";
      const bytes = typeof d === "string" ? d : new Uint8Array(d);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], n));
      document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [name, data]);
    await page.waitForFunction(() => document.getElementById("error").textContent !== "", null, { timeout: 30000 });
    const message = await page.textContent("#error");
    assert.match(message, expect, `${name}: ${message}`);
    assert.ok(!/internal error|unreachable|panicked/i.test(message), `${name}: ${message}`);
    assert.equal(await page.evaluate(() => window.molplay.internalError()), null, name);
    const st = await page.evaluate(() => window.molplay.state());
    assert.ok(st.positions.every(Number.isFinite), `${name}: the viewer shows finite positions`);
  }
  // the tab is still usable: a preset runs, draws and gives finite numbers
  await page.evaluate(() => window.molplay.runPreset("chain-generate"));
  const r = await page.evaluate(() => window.molplay.sampleResult());
  assert.equal(r.samples, 200);
  await nudgeAndCheckFrames(page);
  assert.deepEqual(problems, []);
  await page.close();
});

test("the module is served pre-compressed and its download shows progress", async () => {
  const res = await fetch(`${base}/pkg/molplay_bg.wasm`, { headers: { "accept-encoding": "br, gzip" } });
  assert.equal(res.headers.get("content-encoding"), "br");
  const wasm = new Uint8Array(await res.arrayBuffer());
  const sizes = await (await fetch(`${base}/pkg/sizes.json`)).json();
  assert.equal(wasm.length, sizes["molplay_bg.wasm"], "the decoded module is the size progress divides by");
  assert.equal((await fetch(`${base}/pkg/molplay_bg.wasm`, { headers: { "accept-encoding": "gzip" } })).headers.get("content-encoding"), "gzip");
  assert.equal((await fetch(`${base}/pkg/molplay_bg.wasm`, { headers: { "accept-encoding": "identity" } })).headers.get("content-encoding"), null);
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1`);
  // the progress line is there from the first paint, and gone once the page is ready
  assert.match(await page.textContent("#loading-text"), /Loading molplay|Starting/);
  await ready(page);
  assert.equal(await page.isHidden("#loading"), true);
  assert.deepEqual(problems, []);
  await page.close();
});

test("a bad URL hash is explained on the page and the default preset shown", async () => {
  const { page } = await openPage(webgpu, `${base}/index.html#preset=water&backend=quantum`);
  const state = await ready(page);
  assert.equal(state.preset, "lj13");
  assert.match(await page.textContent("#error"), /unknown system 'water'/);
  await page.close();
});

const REFERENCE_DW4 = fileURLToPath(new URL("../../../shared/reference/test_split_DW4.npy", import.meta.url));

test("the reference sampler runs as WebGPU passes in the page, with progress, histogram and metrics", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#preset=dw4`);
  await ready(page);
  // "auto" would take the CPU engine on this software adapter (SwiftShader): the pass is asked for
  const p = await page.evaluate(() => window.molplay.runReference({ samples: 120, chains: 12, burnIn: 100, thin: 10, seed: 3, engine: "gpu" }));
  assert.equal(p.phase, "done");
  assert.equal(p.engine, "gpu");
  assert.equal(p.samples, 120);
  assert.ok(p.report.acceptance.every((a) => a > 0.2 && a < 0.95), JSON.stringify(p.report));
  assert.equal(p.report.resets, 0);
  assert.equal(await page.evaluate(() => document.getElementById("ref-progress").value), 1);
  assert.match(await page.textContent("#ref-status"), /done on the GPU \(WebGPU\) · 120\/120 samples/);
  const s = await page.evaluate(() => { const s = window.molplay.referenceStatus().samples; return { count: s.count, e: Array.from(s.energies), n: s.positions.length, dists: Array.from(s.distances) }; });
  assert.equal(s.count, 120);
  assert.equal(s.dists.length, 120 * 6, "the six DW-4 pair distances of every sample feed the distance histogram");
  assert.ok(s.dists.every((r) => r > 0.5 && r < 12), "DW-4 pair distances are physical");
  assert.equal(s.n, 120 * 8);
  assert.ok(s.e.every((e) => Number.isFinite(e) && e < 0), "DW-4 energies at τ = 1 are negative");
  // the viewer shows the newest sample, with its energy in the readout
  const st = await page.evaluate(() => window.molplay.state());
  assert.ok(Math.abs(st.energy - s.e[s.e.length - 1]) < 1e-9, `${st.energy}`);
  // loading the samples back as XYZ: the metrics of a set against itself are zero
  const set = await page.evaluate((t) => window.molplay.loadSamples("mine.xyz", t), await page.evaluate(() => window.molplay.exportSamples("reference", "xyz")));
  assert.equal(set.count, 120);
  const m = await page.evaluate(() => window.molplay.metrics({ sampleW2: 50 }));
  assert.ok(m.energy_w2 < 1e-5 && m.distance_w2 < 1e-5 && m.sample_w2 < 1e-3, JSON.stringify(m));
  assert.equal(m.sample_w2_n, 50);
  assert.equal(await page.isVisible("#ref-metrics"), true);
  // the field's DW-4 test set through the file picker, when this machine has it
  if (existsSync(REFERENCE_DW4)) {
    await page.setInputFiles("#ref-file", REFERENCE_DW4);
    await page.waitForFunction(() => /10000 configurations of dw4/.test(document.getElementById("ref-loaded").textContent));
    const r = await page.evaluate(() => window.molplay.metrics({ sampleW2: 0 }));
    assert.equal(r.reference, 10000);
    assert.ok(r.energy_w2 < 1.0, `energy W2 of 120 GPU samples vs the field's set: ${r.energy_w2}`);
  }
  await page.locator("#reference-panel").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}webgpu-reference-dw4.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("the reference sampler runs on the CPU path, LJ-n picked in the page, files dropped on it", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=learn&backend=cpu`);
  await ready(page);
  await page.selectOption("#preset", "ljn");
  await page.fill("#ljn", "7");
  await page.dispatchEvent("#ljn", "change");
  await page.waitForFunction(() => window.molplay.state().n_atoms === 7);
  await page.fill("#ref-samples", "300");
  await page.click("#ref-run");
  await page.waitForFunction(() => /done on the CPU · 300\/300/.test(document.getElementById("ref-status").textContent), null, { timeout: 60000 });
  const s = await page.evaluate(() => window.molplay.referenceStatus().samples);
  assert.equal(s.system, "lj7");
  // a dropped XYZ file becomes the loaded set
  const text = await page.evaluate(() => window.molplay.exportSamples("reference", "xyz"));
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], "dropped.xyz"));
    document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, text);
  await page.waitForFunction(() => /dropped.xyz: 300 configurations of lj7/.test(document.getElementById("ref-loaded").textContent));
  const m = await page.evaluate(() => window.molplay.metrics({ sampleW2: 0 }));
  assert.ok(m.energy_w2 < 1e-5, `${m.energy_w2} (the XYZ export keeps 8 decimals)`);
  assert.ok(Math.abs(m.virial - m.virial_expected) < 0.25 * m.virial_expected, `virial ${m.virial} vs ${m.virial_expected}`);
  await nudgeAndCheckFrames(page);
  await page.screenshot({ path: `${SHOTS}cpu-reference-lj7.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("bad sample files and sampler options are refused with clear messages", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#preset=dw4&backend=cpu`);
  await ready(page);
  const reason = (f) => page.evaluate(f).then(() => "resolved", (e) => e.message);
  assert.match(await reason(() => window.molplay.loadSamples("x.npy", "not numpy")), /x.npy: not a .npy file/);
  assert.match(await reason(() => window.molplay.loadSamples("x.xyz", "2\nc\nX 0 0 0\nX 1 0 0\n")), /frame 0 has 2 atoms, expected 4/);
  assert.match(await reason(() => window.molplay.loadSamples("x.xyz", "4\nc\nX 0 0 0\nX 1 0 0\nX 0 1 0\nX 1 oops 0\n")), /line 6/);
  assert.match(await reason(() => window.molplay.loadSamples("x.xyz", "4\nc\nX 0 0 0\nX 1 0 0\nX 0 1 0\nX 1 1 0.5\n")), /2-D but a z coordinate is 0.5/);
  assert.match(await reason(() => window.molplay.loadSamples("x.txt", "1 2 3")), /unknown file type 'txt'/);
  assert.match(await reason(() => window.molplay.loadSamples("x.npy", 42)), /data must be/);
  // a .npy cut short
  const cut = await reason(() => window.molplay.loadSamples("cut.npy", new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 5])));
  assert.match(cut, /truncated/);
  assert.match(await reason(() => window.molplay.runReference({ samples: 0 })), /samples must be between 1 and 100000/);
  assert.match(await reason(() => window.molplay.runReference({ chains: 5000 })), /chains must be between 1 and 4096/);
  assert.match(await reason(() => window.molplay.runReference({ tMax: NaN })), /tMax must be between 1 and 100/);
  assert.match(await reason(() => window.molplay.runReference({ warp: 9 })), /unknown option `warp`; expected one of system, samples/);
  assert.match(await reason(() => window.molplay.runReference({ engine: "gpu" })), /needs WebGPU/);
  assert.match(await reason(() => window.molplay.runReference({ system: "water" })), /unknown system 'water'/);
  assert.match(await reason(() => window.molplay.metrics()), /run the reference sampler first/);
  // the page's own fields
  await page.fill("#ref-samples", "-3");
  await page.click("#ref-run");
  assert.match(await page.textContent("#error"), /samples must be a whole number/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("the forward process plays in the viewer from a GPU pass, and T* is marked on the plot, the scrubber and the viewer", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1`);
  await ready(page);
  const info = await page.evaluate(() => window.molplay.forward({ count: 16 }));
  assert.equal(info.engine, "gpu");
  assert.equal(info.molecules, 16);
  assert.equal(info.steps, 1000);
  assert.match(await page.textContent("#fw-set"), /QM9 subset \(bundled\): 3000 molecules · modalities positions, types, charges/);
  const before = await page.evaluate(() => window.molplay.setFrame(700));
  assert.equal(before.past_t_star, false, "no T* before the study");
  assert.ok(Math.abs(before.alpha ** 2 - 0.2601) < 1e-3, `α²(700) = ${before.alpha ** 2} (EDM polynomial_2)`);
  const r = await page.evaluate(() => window.molplay.gaussianity({ molecules: 200 }));
  assert.equal(r.molecules_tested, 200);
  assert.ok(r.t_star >= 500 && r.t_star <= 750, `T* ${r.t_star}`);
  assert.ok(r.t_star_mean > 300 && r.t_star_mean < 500, `mean ${r.t_star_mean}`);
  assert.deepEqual(Object.keys(r.t_star_by_modality).sort(), ["charges", "positions", "types"]);
  assert.equal(r.curves[0].t.length, 11);
  assert.ok(r.pooled.curves.find((c) => c.modality === "positions").mi[0] > 0.05, "pooled dependency at t = 300 is above its floor");
  assert.match(r.t_star_rule, /95 % quantile/);
  // T* in the viewer (desaturated + banner), on the scrubber and on the plot
  const past = await page.evaluate((t) => window.molplay.setFrame(t + 50), r.t_star);
  assert.equal(past.past_t_star, true);
  assert.equal(await page.isVisible("#fw-banner"), true);
  assert.match(await page.textContent("#fw-banner"), new RegExp(`past T\\* = ${r.t_star}`));
  assert.equal(await page.isVisible("#scrub-mark"), true);
  const early = await page.evaluate((t) => window.molplay.setFrame(t - 50), r.t_star);
  assert.equal(early.past_t_star, false);
  assert.equal(await page.isHidden("#fw-banner"), true);
  // the scrubber drives the viewer, the plot's points too
  await page.locator("#scrub").fill("420");
  await page.waitForFunction(() => /^t = 420 /.test(document.getElementById("scrub-label").textContent));
  await page.locator("#fw-plot").scrollIntoViewIfNeeded();
  const over = await page.locator("#fw-plot .u-over").boundingBox();
  await page.mouse.move(over.x + over.width * 0.02, over.y + over.height / 2);
  await page.mouse.click(over.x + over.width * 0.02, over.y + over.height / 2);
  await page.waitForFunction(() => /^t = 300 /.test(document.getElementById("scrub-label").textContent));
  const api = await page.evaluate(() => window.molplay.gaussianity());
  assert.equal(api.t_star, r.t_star, "gaussianity() returns the last study");
  await nudgeAndCheckFrames(page);
  await page.locator("#forward-panel").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}webgpu-forward-qm9.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("the forward process on the CPU path, the reference samples as a molecule set, and bad molecule input", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&backend=cpu`);
  await ready(page);
  const info = await page.evaluate(() => window.molplay.forward({ count: 64 }));
  assert.equal(info.engine, "cpu");
  assert.ok(info.atoms <= 512 && info.molecules < 64, JSON.stringify(info));
  assert.match(info.limited, /at most 512 atoms/);
  await page.evaluate(() => window.molplay.setFrame(500));
  await nudgeAndCheckFrames(page);
  const reason = (f, arg) => page.evaluate(f, arg).then(() => "resolved", (e) => e.message);
  assert.match(await reason(() => window.molplay.loadMolecules("alien.xyz", "4\nc\nC 0 0 0\nQq 1 0 0\nH 0 1 0\nH 0 0 1\n")), /alien.xyz: frame 0: unknown element 'Qq'/);
  assert.match(await reason(() => window.molplay.loadMolecules("tiny.xyz", "3\nwater\nO 0 0 0\nH 1 0 0\nH 0 1 0\n")), /no molecule with at least 4 atoms \(1 frames skipped\)/);
  assert.match(await reason(() => window.molplay.loadMolecules("cut.xyz", "5\nc\nC 0 0 0\n")), /promises 5 atoms/);
  assert.match(await reason(() => window.molplay.forward({ count: 0 })), /count must be between 1 and 64/);
  assert.match(await reason(() => window.molplay.forward({ schedule: "sigmoid" })), /unknown schedule 'sigmoid'/);
  assert.match(await reason(() => window.molplay.gaussianity({ checkFrom: 900, checkTo: 800 })), /checkFrom < checkTo/);
  assert.match(await reason(() => window.molplay.gaussianity({ grid: 3 })), /unknown option `grid`/);
  assert.match(await reason(() => window.molplay.setFrame("x")), /t must be a number/);
  // a mixed file: small frames are skipped and counted, the rest is used
  const mixed = "3\nw\nO 0 0 0\nH 1 0 0\nH 0 1 0\n4\nammonia\nN 0 0 0\nH 1 0 0\nH 0 1 0\nH 0 0 1\n";
  const set = await page.evaluate((t) => window.molplay.loadMolecules("mixed.xyz", t), mixed);
  assert.equal(set.molecules, 1);
  assert.equal(set.skipped.length, 1);
  // the reference sampler's LJ-13 samples as a molecule set: positions only
  await page.evaluate(() => window.molplay.runReference({ system: "lj13", samples: 40, chains: 8, burnIn: 50, thin: 5 }));
  const ref = await page.evaluate(() => window.molplay.loadMolecules("reference"));
  assert.equal(ref.molecules, 40);
  assert.deepEqual(ref.modalities, ["positions"]);
  const g = await page.evaluate(() => window.molplay.gaussianity({ molecules: 0, pooled: 0 }));
  assert.deepEqual(Object.keys(g.t_star_by_modality), ["positions"]);
  assert.equal(g.pooled, null);
  assert.deepEqual(problems, []);
  await page.close();
});

test("generation: exact chain score, GAGA's jump from the Gaussian at T*, and the three rigid-motion treatments compared", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate`);
  await ready(page);
  const r = await page.evaluate(() => window.molplay.sample({ target: "chain", atoms: 6, samples: 400, steps: 200, seed: 1 }));
  assert.equal(r.nfe, 400 * 200, "DDPM: one evaluation per sample and step");
  assert.equal(r.samples, 400);
  // the exact chain: E[R²] = 3·tr C (6 beads: 17.5) within sampling noise, distances close
  assert.ok(Math.abs(r.quality.mean_r2 / r.quality.reference_mean_r2 - 1) < 0.15, JSON.stringify(r.quality));
  assert.ok(r.quality.distance_w2 < 0.15, `distance W2 ${r.quality.distance_w2}`);
  assert.equal((await page.evaluate(() => window.molplay.state())).preset, "generated");
  assert.deepEqual(await page.evaluate(() => window.molplay.metrics({ of: "sample" })), r);
  // the scrubber: t = T shows frame 0, t = 0 the samples
  const top = await page.evaluate(() => window.molplay.setGenerateTime(1000));
  assert.equal(top.frame, 0);
  assert.equal(top.jumped, false);
  const end = await page.evaluate(() => window.molplay.setGenerateTime(0));
  assert.equal(end.frame, 200);
  // GAGA: starts at T* from the closed-form (isotropic) Gaussian; above T* the viewer says it
  // jumped. The chain's noised law is isotropic enough by t = 800 (not yet at 650: E[R²] −20 %)
  const g = await page.evaluate(() => window.molplay.sample({ target: "chain", atoms: 6, samples: 400, steps: 160, gaga: true, tStar: 800, seed: 1 }));
  assert.equal(g.t_start, 800);
  assert.equal(g.nfe, 400 * 160);
  assert.ok(Math.abs(g.quality.mean_r2 / g.quality.reference_mean_r2 - 1) < 0.15, JSON.stringify(g.quality));
  const jumped = await page.evaluate(() => window.molplay.setGenerateTime(900));
  assert.equal(jumped.jumped, true);
  assert.equal(jumped.frame, 0);
  assert.match(await page.textContent("#fw-banner"), /jumped from the Gaussian/);
  assert.equal(await page.isVisible("#scrub-mark"), true);
  const below = await page.evaluate(() => window.molplay.setGenerateTime(300));
  assert.equal(below.jumped, false);
  assert.equal(await page.isHidden("#fw-banner"), true);
  await nudgeAndCheckFrames(page);
  // the comparison: full vs GAGA (same step size) and equivariant / align / quotient
  const c = await page.evaluate(() => window.molplay.compareSamplers({ target: "chain", atoms: 4, samples: 120, steps: 60, tStar: 650, seed: 2 }));
  assert.equal(c.runs.length, 4);
  assert.deepEqual(c.runs.map((x) => x.symmetry), ["equivariant", "equivariant", "align", "quotient"]);
  assert.ok(Math.abs(c.nfe_ratio - 0.65) < 0.02, `NFE ratio ${c.nfe_ratio}`);
  const [, , align, quotient] = c.runs;
  // the chain of 4: exact E[R²] = 7.5; the alignment heuristic inflates it, the quotient sampler does not
  assert.ok(align.quality.mean_r2 > 1.3 * quotient.quality.mean_r2, `align ${align.quality.mean_r2} vs quotient ${quotient.quality.mean_r2}`);
  assert.ok(Math.abs(quotient.quality.mean_r2 / 7.5 - 1) < 0.2, `quotient ${quotient.quality.mean_r2}`);
  assert.equal(await page.locator("#gen-table tbody tr").count(), 4);
  await page.locator("#generate-panel").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}webgpu-generate-chain.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("generation from QM9 molecules with the exact empirical score, driven from the page's controls, and bad options", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate&backend=cpu`);
  await ready(page);
  await page.selectOption("#gen-target", "molecules");
  assert.equal(await page.inputValue("#gen-atoms"), "");
  await page.fill("#gen-samples", "40");
  await page.fill("#gen-steps", "80");
  await page.click("#gen-run");
  await page.waitForFunction(() => /distance W2/.test(document.getElementById("gen-status").textContent), null, { timeout: 60000 });
  const r = await page.evaluate(() => window.molplay.sampleResult());
  assert.match(r.label, /molecules with \d+ atoms \(exact score of the noised data set\)/);
  // the exact empirical score memorises: samples land on data points
  assert.ok(r.nearest_data_rmsd < 0.05, `RMSD to the nearest data point ${r.nearest_data_rmsd}`);
  assert.ok(r.quality.distance_w2 < 0.2, `distance W2 ${r.quality.distance_w2}`);
  assert.equal(await page.locator("#gen-table tbody tr").count(), 1);
  // the scrubber drives the viewer
  await page.locator("#scrub").fill("1000");
  await page.waitForFunction(() => /^t = 0\.0 · frame 80\/80/.test(document.getElementById("scrub-label").textContent));
  await nudgeAndCheckFrames(page);
  await page.screenshot({ path: `${SHOTS}cpu-generate-qm9.png`, fullPage: true });
  // over the molecules' rotation orbits (the invariant data set): samples are rotated data molecules
  const orbits = await page.evaluate(() => window.molplay.sample({ target: "orbits", samples: 20, steps: 60, points: 100, seed: 1 }));
  assert.match(orbits.label, /rotation orbits/);
  assert.ok(orbits.nearest_data_rmsd < 0.05, `RMSD to the nearest rotated data point ${orbits.nearest_data_rmsd}`);
  const reason = (f) => page.evaluate(f).then(() => "resolved", (e) => e.message);
  assert.match(await reason(() => window.molplay.sample({ warp: 1 })), /unknown option `warp`; expected one of target, atoms/);
  assert.match(await reason(() => window.molplay.sample({ sampler: "rk4" })), /sampler must be one of ddpm, em, heun, got "rk4"/);
  assert.match(await reason(() => window.molplay.sample({ symmetry: "mirror" })), /symmetry must be one of equivariant, align, quotient/);
  assert.match(await reason(() => window.molplay.sample({ atoms: 2 })), /a chain has 3 to 64 beads, got 2/);
  assert.match(await reason(() => window.molplay.sample({ gaga: true, tStar: 5000 })), /tStar must be in \(0, 1000\], got 5000/);
  assert.match(await reason(() => window.molplay.sample({ target: "molecules", atoms: 99 })), /no molecule has 99 atoms \(sizes in the set: /);
  assert.match(await reason(() => window.molplay.sample({ steps: 0 })), /steps must be between 1 and 5000, got 0/);
  assert.match(await reason(() => window.molplay.setGenerateTime("x")), /t must be a number/);
  await page.fill("#gen-steps", "-3");
  await page.click("#gen-run");
  assert.match(await page.textContent("#error"), /steps must be a whole number ≥ 0, got -3/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("learn from energy: DW-4 trains in the page, its sub-steps run one at a time, the pretrained preset samples well, bad weights are refused", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=learn`);
  await ready(page);
  let st = await page.evaluate(() => window.molplay.trainAdjoint({ system: "dw4", epochs: 1, seed: 3 }));
  const steps = st.config.nfe - 1;
  assert.deepEqual(st.counters, { epochs: 1, energy_evaluations: 64, model_evaluations: 64 * steps, gradient_steps: 20, buffer: 64 });
  assert.equal(st.losses.length, 20);
  assert.ok(st.losses.every(Number.isFinite));
  // GAN-Lab-style sub-steps: a refresh alone, then one epoch's regression steps alone
  st = await page.evaluate(() => window.molplay.adjointSubstep("refresh"));
  assert.equal(st.counters.energy_evaluations, 128);
  assert.equal(st.counters.gradient_steps, 20);
  assert.equal(st.counters.buffer, 128);
  assert.match(st.phase, /regression steps: 20 left/);
  st = await page.evaluate(() => window.molplay.adjointSubstep("regress"));
  assert.equal(st.counters.gradient_steps, 40);
  assert.equal(st.counters.energy_evaluations, 128, "regression steps evaluate no energy");
  assert.equal(st.counters.epochs, 2);
  // the newest path: all particles at the origin at u = 0
  const f0 = await page.evaluate(() => window.molplay.setAdjointFrame(0));
  assert.equal(f0.frames, steps + 1);
  assert.equal((await page.evaluate(() => window.molplay.state())).preset, "adjoint");
  await nudgeAndCheckFrames(page);
  // the pretrained preset: fresh samples with Boltzmann-like energies (test set mean −22.45)
  st = await page.evaluate(() => window.molplay.loadAdjointPreset("dw4"));
  const mean = st.energies.reduce((a, b) => a + b, 0) / st.energies.length;
  assert.ok(mean < -19 && mean > -24, `mean energy of the preset's samples ${mean}`);
  assert.ok(st.counters.gradient_steps >= 5000 && st.counters.epochs >= 100, "the preset carries its training counters");
  await page.locator("#adjoint-panel").scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}webgpu-adjoint-dw4.png`, fullPage: true });
  // bad input
  const reason = (f, a) => page.evaluate(f, a).then(() => "resolved", (e) => e.message);
  assert.match(await reason(() => window.molplay.loadAdjointWeights("junk.mpa", new Uint8Array([1, 2, 3]))), /junk.mpa: not molplay weights/);
  const preset = await page.evaluate(async () => Array.from(new Uint8Array(await (await fetch("www/presets/dw4-demo.mpa")).arrayBuffer())));
  assert.match(await reason((b) => window.molplay.loadAdjointWeights("dw4.mpa", new Uint8Array(b), "lj13"), preset), /trained for dw4, not lj13/);
  assert.match(await reason((b) => window.molplay.loadAdjointWeights("cut.mpa", new Uint8Array(b.slice(0, 60))), preset), /cut.mpa: the weights are truncated or corrupt/);
  assert.match(await reason(() => window.molplay.trainAdjoint({ system: "water" })), /unknown system 'water'/);
  assert.match(await reason(() => window.molplay.trainAdjoint({ epochs: 0 })), /epochs must be a whole number/);
  assert.match(await reason(() => window.molplay.trainAdjoint({ speed: 2 })), /unknown option `speed`/);
  assert.match(await reason(() => window.molplay.adjointSubstep("jump")), /mode must be "refresh" or "regress"/);
  await page.setInputFiles("#as-file", { name: "bad.mpa", mimeType: "application/octet-stream", buffer: Buffer.from("nope") });
  await page.waitForFunction(() => /bad.mpa: not molplay weights/.test(document.getElementById("error").textContent));
  assert.deepEqual(problems, []);
  await page.close();
});

test("a score network (EGNN, burn in the tab) trains on the chain with a live loss, stops on request, and samples", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate`);
  await ready(page);
  const st = await page.evaluate(() => window.molplay.train({ target: "chain", atoms: 4, steps: 200, hidden: 16, layers: 2, batch: 32, seed: 1 }));
  assert.ok(st.steps >= 200, `steps ${st.steps}`);
  assert.ok(st.losses.every(Number.isFinite));
  const early = st.losses.slice(0, 30).reduce((a, b) => a + b) / 30, late = st.losses.slice(-30).reduce((a, b) => a + b) / 30;
  assert.ok(late < early, `DSM loss falls: ${early} → ${late}`);
  assert.equal(await page.isVisible("#gen-loss"), true);
  const r = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 20, steps: 30 }));
  assert.match(r.label, /EGNN after \d+ training steps on the spring chain of 4 beads/);
  assert.equal(r.nfe, 20 * 30);
  assert.ok(r.samples === 20 && Number.isFinite(r.quality.distance_w2));
  // stop: training ends early and keeps its weights
  const run = page.evaluate(() => window.molplay.train({ target: "chain", atoms: 4, steps: 100000, hidden: 8, layers: 1, batch: 8 }));
  await page.waitForFunction(() => (window.molplay.trainStatus()?.steps ?? 0) > 3);
  await page.evaluate(() => window.molplay.stopTrain());
  const stopped = await run;
  assert.ok(stopped.steps < 100000);
  const reason = (f) => page.evaluate(f).then(() => "resolved", (e) => e.message);
  // the weights round-trip through the page, and junk is refused
  const before = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 5, steps: 10, seed: 4 }));
  const back = await page.evaluate(() => window.molplay.loadScoreWeights("mine.mpw", window.molplay.scoreWeights()));
  assert.match(back.label, /spring chain of 4 beads \(mine.mpw\)/);
  const after = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 5, steps: 10, seed: 4 }));
  assert.equal(after.nfe, 50);
  assert.deepEqual(after.quality, before.quality, "the loaded network samples exactly what the trained one did");
  assert.match(await reason(() => window.molplay.loadScoreWeights("junk.mpw", new Uint8Array([7, 7, 7]))), /junk.mpw: not molplay weights/);
  assert.match(await reason(() => window.molplay.train({ hidden: 0 })), /1 ≤ hidden ≤ 256/);
  assert.match(await reason(() => window.molplay.train({ target: "proteins" })), /target must be "chain" or "molecules"/);
  assert.match(await reason(() => window.molplay.train({ steps: -1 })), /steps must be a whole number/);
  assert.match(await reason(() => window.molplay.train({ device: "tpu" })), /device must be "auto", "webgpu" or "cpu"/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("the pretrained QM9 score network loads from the page and samples molecule-like distances at once", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate`);
  await ready(page);
  await page.click("#gen-train-preset");
  await page.waitForFunction(() => /pretrained QM9 network/.test(document.getElementById("gen-train-status").textContent));
  assert.equal(await page.inputValue("#gen-target"), "network");
  const r = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 20, steps: 50, seed: 3 }));
  assert.match(r.label, /19 atoms/);
  // 200 samples × 200 steps reach 0.07 natively; 20 × 50 gave 0.10 and 0.15 for seeds 3 and 4
  assert.ok(r.quality.distance_w2 < 0.6, `distance W2 ${r.quality.distance_w2}`);
  // the network is conditioned on elements drawn from the data: its samples are molecules whose
  // atoms EDM's bond rules can judge (natively 62 % and 67 % of atoms for seeds 3 and 4)
  assert.equal(r.stability.elements, "given");
  assert.equal(r.stability.molecules, 20);
  assert.ok(r.stability.atom > 0.4, `atom stability ${r.stability.atom}`);
  assert.match(await page.textContent("#gen-status"), /stable atoms \/ molecules \d/);
  const xyz = await page.evaluate(() => window.molplay.exportSamples("generate", "xyz"));
  assert.ok(/\n[HCNO] /.test(xyz) && !/\nX /.test(xyz), "exported samples carry their elements");
  // a molecule network trained in the tab is conditioned on the set's elements too
  const st = await page.evaluate(() => window.molplay.train({ target: "molecules", atoms: 19, steps: 5, seed: 1 }));
  assert.deepEqual(st.config.elements.slice(0, 2), ["H", "C"]);
  assert.equal(st.config.features, st.config.elements.length);
  const fresh = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 4, steps: 10, seed: 1 }));
  assert.equal(fresh.stability.molecules, 4);
  assert.deepEqual(problems, []);
  await page.close();
});

test("the sampler's updates run as a WebGPU pass: DDPM draws the exact chain, one seed gives the CPU run's samples (DDPM and Heun); unsupported combinations are refused", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate`);
  await ready(page);
  const r = await page.evaluate(() => window.molplay.sample({ target: "chain", atoms: 4, samples: 400, steps: 60, engine: "gpu", seed: 2 }));
  assert.equal(r.nfe, 400 * 60);
  // the 4-bead chain's exact E[R²] is 7.5 (the compare test allows the CPU run 20 %)
  assert.ok(Math.abs(r.quality.mean_r2 - 7.5) < 1.5, `E[R²] ${r.quality.mean_r2}`);
  // Play moves through the trajectory even though the scrubber snaps to the stored frames
  await page.click("#play");
  await page.waitForFunction(() => { const v = Number(document.getElementById("scrub").value); return v > 0 && v < 1000; });
  await page.click("#play");
  const reason = (f) => page.evaluate(f).then(() => "resolved", (e) => e.message);
  // DDPM: both engines draw the same Philox noise, so one seed gives the same samples
  const rc = await page.evaluate(() => window.molplay.sample({ target: "chain", atoms: 4, samples: 400, steps: 60, engine: "cpu", seed: 2 }));
  assert.ok(Math.abs(r.quality.mean_r2 - rc.quality.mean_r2) < 1e-3 * rc.quality.mean_r2, `E[R²] GPU ${r.quality.mean_r2} vs CPU ${rc.quality.mean_r2}`);
  // Heun (the probability-flow ODE, no noise): both stages on the GPU give the CPU run's samples
  const heun = { target: "chain", atoms: 4, samples: 50, steps: 30, sampler: "heun", seed: 3 };
  const hg = await page.evaluate((o) => window.molplay.sample({ ...o, engine: "gpu" }), heun);
  const hc = await page.evaluate((o) => window.molplay.sample({ ...o, engine: "cpu" }), heun);
  assert.equal(hg.nfe, hc.nfe);
  assert.ok(Math.abs(hg.quality.mean_r2 - hc.quality.mean_r2) < 1e-3 * hc.quality.mean_r2, `E[R²] GPU ${hg.quality.mean_r2} vs CPU ${hc.quality.mean_r2}`);
  assert.match(await reason(() => window.molplay.sample({ symmetry: "quotient", engine: "gpu" })), /GPU update covers/);
  assert.match(await reason(() => window.molplay.sample({ engine: "tpu" })), /engine must be "cpu" or "gpu"/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("networks train with burn on the page's WebGPU device too (auto picks the CPU on a software adapter)", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html#v=1&mode=generate`);
  await ready(page);
  const auto = await page.evaluate(() => window.molplay.train({ target: "chain", atoms: 4, steps: 3, hidden: 8, layers: 1, batch: 8 }));
  assert.equal(auto.device, "cpu", "SwiftShader is a CPU adapter: auto trains on burn's CPU backend");
  const st = await page.evaluate(() => window.molplay.train({ target: "chain", atoms: 4, steps: 12, hidden: 8, layers: 1, batch: 8, seed: 2, device: "webgpu" }));
  assert.equal(st.device, "webgpu");
  assert.ok(st.steps >= 12 && st.losses.every(Number.isFinite), JSON.stringify(st.losses));
  assert.match(await page.textContent("#gen-train-status"), /WebGPU/);
  // sampling uses the CPU copy made after the latest slice; the weights read back from the GPU
  const r = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 5, steps: 10, seed: 4 }));
  assert.ok(r.samples === 5 && Number.isFinite(r.quality.distance_w2));
  const back = await page.evaluate(() => window.molplay.loadScoreWeights("gpu.mpw", window.molplay.scoreWeights()));
  assert.match(back.label, /spring chain of 4 beads \(gpu.mpw\)/);
  const again = await page.evaluate(() => window.molplay.sample({ target: "network", samples: 5, steps: 10, seed: 4 }));
  assert.deepEqual(again.quality, r.quality, "weights trained on WebGPU sample the same after a save/load");
  // an Adjoint Sampling learner on WebGPU takes its forces from our WGSL kernel on the same device
  await page.evaluate(() => window.molplay.mode("learn"));
  await page.selectOption("#net-device", "webgpu");
  await page.click("#as-scratch");
  const as = await page.evaluate(() => window.molplay.adjointStatus());
  assert.deepEqual([as.device, as.energies_on], ["webgpu", "gpu"]);
  await page.selectOption("#net-device", "cpu");
  await page.click("#as-scratch");
  assert.equal(await page.evaluate(() => window.molplay.adjointStatus().energies_on), "cpu");
  assert.deepEqual(problems, []);
  await page.close();
});
