// Browser benchmark: energy + gradients at B = 1024 for LJ-13 and LJ-55, WebGPU vs the CPU path
// in the same tab, through window.molplay.bench(). Needs a built site (bash .ci/build).
//   npm run bench:web            (REPS=10 npm run bench:web)
import { fileURLToPath } from "node:url";
import { serve } from "./server.mjs";
import { launch } from "./browser.mjs";

const reps = Number(process.env.REPS ?? 5);
const server = await serve(fileURLToPath(new URL("../..", import.meta.url)), 0);
const browser = await launch({ webgpu: true });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
  const state = await page.evaluate(async () => { await window.molplay.ready; return window.molplay.state(); });
  console.log(`browser: ${browser.version()}, backend ${state.backend}, adapter: ${state.adapter}`);
  for (const system of ["lj13", "lj55"]) {
    const r = await page.evaluate(([s, n]) => window.molplay.bench(s, 1024, n), [system, reps]);
    const gpu = r.gpu_ms === null ? "n/a" : `${r.gpu_ms.toFixed(2)} ms`;
    console.log(`${system} B=${r.batch}: WebGPU ${gpu}, CPU f64 ${r.cpu_ms.toFixed(2)} ms, CPU/GPU time ratio ${r.speedup?.toFixed(3) ?? "n/a"}`);
  }
} finally {
  await browser.close();
  server.close();
}
