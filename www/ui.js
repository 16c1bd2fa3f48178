// Small helpers the panels share: element lookup, waiting for a frame, handlers that report
// errors on the page, downloads, and a runner that allows one job at a time.

export const $ = (id) => document.getElementById(id);
export const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

/// Wraps event handlers so that a thrown error or a rejected promise shows in the page.
export const guarded = (showError) => (f) => (...a) => {
  showError("");
  try {
    const r = f(...a);
    if (r?.catch) r.catch((e) => showError(e.message));
  } catch (e) {
    showError(e.message);
  }
};

/// Offers `bytes` as a file download named `name`.
export function download(bytes, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/// The run-in-slices loop of every panel: a frame, then `step()` (one slice of about 30 ms,
/// sync or async) and `each(p)` with its progress, a frame between slices, until `until(p)`
/// holds or `stopped()` says so. Resolves to the last progress.
export async function inSlices(step, { until = (p) => p.done, stopped = () => false, each = () => {} } = {}) {
  await nextFrame();
  for (;;) {
    const p = await step();
    each(p);
    if (until(p) || stopped()) return p;
    await nextFrame();
  }
}

/// At most one async job at a time: `run(work)` rejects with `busyMessage` while one is going;
/// `onBusy(true/false)` updates the controls around each job.
export function oneAtATime(busyMessage, onBusy) {
  let current = null;
  return {
    get busy() { return current !== null; },
    run(work) {
      if (current) return Promise.reject(new Error(busyMessage));
      onBusy(true);
      current = (async () => {
        await null; // so that `finally` runs after `current` is set, even when `work` throws at once
        try {
          return await work();
        } finally {
          current = null;
          onBusy(false);
        }
      })();
      return current;
    },
    /// Resolves when the current job (if any) has ended, however it ended.
    settled() { return current?.catch(() => {}) ?? Promise.resolve(); },
  };
}

/// `data` as bytes: a string (encoded as UTF-8, when `text` is allowed), an ArrayBuffer or a
/// typed array; anything else throws a TypeError that starts with `what`.
export function toBytes(data, what, { text = true } = {}) {
  if (text && typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what}: data must be ${text ? "a string, " : ""}an ArrayBuffer or a typed array`);
}
