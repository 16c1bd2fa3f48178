// End-to-end: the built site served locally, driven in headless Debian Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { serve } from "./server.mjs";
import { launch, openPage } from "./browser.mjs";

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

async function ready(page) {
  return page.evaluate(async () => { await window.molplay.ready; return window.molplay.state(); });
}

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
  const { page, problems } = await openPage(webgpu, `${base}/index.html`);
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
  const { page, problems } = await openPage(webgpu, `${base}/index.html`);
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
  const { page, problems } = await openPage(noWebgpu, `${base}/index.html`);
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

test("a bad URL hash is explained on the page and the default preset shown", async () => {
  const { page } = await openPage(webgpu, `${base}/index.html#preset=water&backend=quantum`);
  const state = await ready(page);
  assert.equal(state.preset, "lj13");
  assert.match(await page.textContent("#error"), /unknown system 'water'/);
  await page.close();
});

test("the page fits a phone-sized viewport", async () => {
  const { page, problems } = await openPage(webgpu, `${base}/index.html`, { width: 390, height: 800 });
  await ready(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
  await page.screenshot({ path: `${SHOTS}phone.png` });
  assert.deepEqual(problems, []);
  await page.close();
});
