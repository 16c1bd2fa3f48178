// Launches Debian's Chromium through playwright-core, with or without WebGPU (SwiftShader).
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

const QUIET = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"];
// Headless Chromium without a GPU: WebGPU on SwiftShader. `--use-vulkan=swiftshader` matters:
// without it, presenting a WebGPU canvas loses the device ("Device was destroyed").
export const WEBGPU_ARGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan",
  "--use-vulkan=swiftshader", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"];

/// `loseOnPresent`: WebGPU without `--use-vulkan=swiftshader`, where the page's first canvas
/// present destroys the device (a device lost while the page starts).
export async function launch({ webgpu = true, loseOnPresent = false } = {}) {
  if (!CHROMIUM) throw new Error("Chromium not found: install Debian's chromium package or set CHROMIUM_PATH");
  const gpuArgs = loseOnPresent ? WEBGPU_ARGS.filter((a) => a !== "--use-vulkan=swiftshader") : WEBGPU_ARGS;
  return chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: [...QUIET, ...(webgpu ? gpuArgs : ["--enable-unsafe-swiftshader"])] });
}

/// Opens `url`, collecting uncaught errors, console errors and requests to other origins.
export async function openPage(browser, url, viewport = { width: 1100, height: 760 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const origin = new URL(url).origin;
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console.error: ${m.text()}`); });
  page.on("request", (r) => { const u = r.url(); if (!u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:")) problems.push(`foreign request: ${u}`); });
  await page.goto(url);
  return { page, problems };
}

/// Waits for the page's API and returns the playground's state.
export function ready(page) {
  return page.evaluate(async () => { await window.molplay.ready; return window.molplay.state(); });
}
