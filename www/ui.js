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

/// Play / Pause for a scrubber: while playing, each animation frame moves the play position on
/// by the `speed` input's value (from the `range` input's max back to 0) and calls
/// `onFrame(position)`; a throwing `onFrame` stops play and shows its message. The position is
/// kept here, starting from the range's value: a panel that snaps the range to its nearest
/// stored frame would otherwise pull it back every frame and play would stall. Returns the
/// toggle for the button.
export function scrubberPlayer(button, range, speed, onFrame, showError) {
  let playing = false;
  let pos = 0;
  const set = (on) => { playing = on; button.textContent = on ? "Pause" : "Play"; };
  const loop = () => {
    if (!playing) return;
    pos += Number(speed.value);
    if (pos > Number(range.max)) pos = 0;
    try { onFrame(pos); } catch (e) { set(false); showError(e.message); return; }
    requestAnimationFrame(loop);
  };
  return () => {
    set(!playing);
    pos = Number(range.value);
    requestAnimationFrame(loop);
  };
}
