// Browser benchmarks, each a ratio measured in one tab (needs a built site: bash .ci/build):
// energy + gradients at B = 1024 (WebGPU vs CPU path, molplay.bench), MCMC sweeps/s (WebGPU pass
// vs CPU engine, molplay.benchMcmc), forward-process frames/s in the viewer for 1, 16 and 64
// molecules (molplay.benchForward), burn's training steps on WebGPU vs its CPU backend
// (molplay.benchNetworks), and the T* study on the bundled QM9 subset (molplay.gaussianity).
//   npm run bench:web            (REPS=10 MOLECULES=3000 npm run bench:web)
import { fileURLToPath } from "node:url";
import { serve } from "./server.mjs";
import { launch } from "./browser.mjs";

const reps = Number(process.env.REPS ?? 5);
const molecules = Number(process.env.MOLECULES ?? 1000);
const server = await serve(fileURLToPath(new URL("../..", import.meta.url)), 0);
const browser = await launch({ webgpu: true });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html#v=1`);
  const state = await page.evaluate(async () => { await window.molplay.ready; return window.molplay.state(); });
  console.log(`browser: ${browser.version()}, backend ${state.backend}, adapter: ${state.adapter}`);
  for (const system of ["lj13", "lj55"]) {
    const r = await page.evaluate(([s, n]) => window.molplay.bench(s, 1024, n), [system, reps]);
    const gpu = r.gpu_ms === null ? "n/a" : `${r.gpu_ms.toFixed(2)} ms`;
    console.log(`${system} B=${r.batch}: WebGPU ${gpu}, CPU f64 ${r.cpu_ms.toFixed(2)} ms, CPU/GPU time ratio ${r.cpu_over_gpu?.toFixed(3) ?? "n/a"}`);
    const m = await page.evaluate((s) => window.molplay.benchMcmc(s, 25, 10), system);
    console.log(`${system} MCMC ${m.replicas} replicas: WebGPU ${m.gpu_sweeps_per_s?.toFixed(1) ?? "n/a"} sweeps/s, CPU ${m.cpu_sweeps_per_s.toFixed(1)} sweeps/s`);
  }
  for (const count of [1, 16, 64]) {
    await page.evaluate((n) => window.molplay.forward({ count: n }), count);
    const f = await page.evaluate(() => window.molplay.benchForward(200));
    console.log(`forward process, ${count} molecules (${f.atoms} atoms): ${f.frames_per_s.toFixed(1)} frames/s on the ${f.engine} path (${f.timing})`);
  }
  const b = await page.evaluate(() => window.molplay.benchNetworks(3));
  const ms = (r) => r ? `DSM step ${r.dsm_step_ms.toFixed(1)} ms, AS regression step ${r.adjoint.regression_step_ms.toFixed(1)} ms, AS simulation step ${r.adjoint.simulation_step_ms.toFixed(1)} ms` : "n/a";
  console.log(`burn networks: CPU backend ${ms(b.cpu)} | WebGPU ${ms(b.webgpu)} | CPU/WebGPU time ratios DSM ${b.cpu_over_webgpu_time.dsm?.toFixed(3)}, regression ${b.cpu_over_webgpu_time.regression_step?.toFixed(3)}, simulation ${b.cpu_over_webgpu_time.simulation_step?.toFixed(3)}`);
  const t0 = Date.now();
  const g = await page.evaluate((n) => window.molplay.gaussianity({ molecules: n }), molecules);
  console.log(`T* study, ${g.molecules_tested} QM9 molecules, grid 300..800: ${((Date.now() - t0) / 1000).toFixed(1)} s in the browser → T* ${g.t_star} (mean ${g.t_star_mean?.toFixed(0)}, pooled ${g.pooled?.t_star})`);
} finally {
  await browser.close();
  server.close();
}
