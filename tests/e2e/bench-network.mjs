// A first visit over a conference network: Chromium's network emulation (10 Mbit/s down,
// 40 ms latency by default), a cold cache, the built site served as npm start serves it
// (pre-compressed wasm). Reports, a benchmark and not a test: bytes on the wire (in all, and before
// the first frame), the time to the first drawn frame, to `ready`, to the default preset done,
// and to the networks' module in place after it (the page fetches it once idle; here the first
// network call is made as soon as the preset is done); the page's download progress.
//   npm run bench:network                  (MBIT=10 LATENCY=40 SITE=dist npm run bench:network)
import { fileURLToPath } from "node:url";
import { serve } from "./server.mjs";
import { launch } from "./browser.mjs";

const mbit = Number(process.env.MBIT ?? 10);
const latency = Number(process.env.LATENCY ?? 40);
const root = fileURLToPath(new URL(`../../${process.env.SITE ?? ""}`, import.meta.url));
const server = await serve(root, 0);
const browser = await launch({ webgpu: true });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency, downloadThroughput: (mbit * 1e6) / 8, uploadThroughput: (mbit * 1e6) / 8 });
  let wire = 0, wireAtFrame = null;
  const encoded = new Map();
  cdp.on("Network.responseReceived", (e) => { if (e.response.url.endsWith(".wasm")) encoded.set(e.requestId, e.response.headers["content-encoding"] ?? e.response.headers["Content-Encoding"] ?? "none"); });
  cdp.on("Network.loadingFinished", (e) => { wire += e.encodedDataLength; });
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html`, { waitUntil: "commit" });
  // the progress text as the module downloads, and the first frame the viewer draws
  const progress = [];
  let firstFrame = null;
  while (firstFrame === null) {
    const s = await page.evaluate(() => ({ text: document.getElementById("loading-text")?.textContent, frames: window.molplay?.state ? window.molplay.state().frames : 0 }));
    if (s.text && progress[progress.length - 1] !== s.text) progress.push(s.text);
    if (s.frames >= 1) { firstFrame = (Date.now() - t0) / 1000; wireAtFrame = wire; }
    else await page.waitForTimeout(100);
    if (Date.now() - t0 > 300_000) throw new Error("no frame within 5 minutes");
  }
  await page.evaluate(() => window.molplay.ready);
  const ready = (Date.now() - t0) / 1000;
  await page.evaluate(() => window.molplay.presetDone);
  const done = (Date.now() - t0) / 1000;
  const first = await page.evaluate(() => window.molplay.hasNetworks());
  await page.evaluate(() => window.molplay.networks());
  const nets = (Date.now() - t0) / 1000;
  console.log(`network ${mbit} Mbit/s, ${latency} ms latency, site ${process.env.SITE ?? "(repository root, npm start)"}; wasm content-encoding: ${[...encoded.values()].join(", ")}`);
  console.log(`on the wire: ${(wireAtFrame / 1e6).toFixed(2)} MB before the first frame, ${(wire / 1e6).toFixed(2)} MB in all · first frame ${firstFrame.toFixed(1)} s · ready ${ready.toFixed(1)} s · default preset done ${done.toFixed(1)} s` +
    ` · started on the ${first ? "full module" : "first module"}; networks' module in place at ${nets.toFixed(1)} s`);
  console.log(`progress shown: ${progress.length} states, e.g. ${progress.slice(1, 4).join(" | ")}`);
} finally {
  await browser.close();
  server.close();
}
