// The one scrubber under the viewer, shared by the three modes: play / pause, single step,
// reset, speed, and loop / bounce / once. Each mode registers a track; its frames are stored
// (the runs are seeded), so rewinding replays exactly what was shown. The T* mark sits on the
// scrubber where the active track says.
import { $ } from "./ui.js";

/// A full sweep takes this many animation frames at speed 1.
const SWEEP_FRAMES = 240;

export function createTransport(showError) {
  const tracks = {}; // name -> {seek(pos), activate(), step()}
  const shown = {}; // name -> {pos, length, label, mark}
  let active = null;
  let playing = false;
  let dir = 1;
  let onPause = () => {};

  const range = $("scrub"), label = $("scrub-label"), mark = $("scrub-mark"), mark2 = $("scrub-mark2"), playBtn = $("play");
  const controls = ["play", "step-back", "step-fwd", "reset", "scrub"];

  const render = () => {
    const s = active && shown[active];
    const ok = Boolean(s && s.length > 0);
    for (const id of controls) $(id).disabled = !ok;
    if (!ok) {
      label.textContent = active ? tracks[active]?.empty ?? "nothing to play yet" : "";
      mark.hidden = mark2.hidden = true;
      range.value = 0;
      return;
    }
    range.max = s.length;
    range.step = "any";
    range.value = s.pos;
    label.textContent = s.label;
    mark.hidden = s.mark === null || s.mark === undefined;
    if (!mark.hidden) {
      mark.style.left = `${(100 * s.mark) / s.length}%`;
      mark.title = s.markTitle ?? "T*";
    }
    // a second modality's T* (whole molecules: positions and types become Gaussian apart)
    mark2.hidden = s.mark2 === null || s.mark2 === undefined;
    if (!mark2.hidden) {
      mark2.style.left = `${(100 * s.mark2) / s.length}%`;
      mark2.title = s.mark2Title ?? "T*";
    }
  };

  const setPlaying = (on) => {
    playing = on;
    playBtn.textContent = on ? "❚❚ Pause" : "▶ Play";
    playBtn.setAttribute("aria-pressed", String(on));
    if (!on) onPause();
  };

  const seek = (pos) => {
    const s = shown[active];
    if (!s) return;
    const p = Math.max(0, Math.min(s.length, pos));
    try {
      tracks[active].seek(p);
    } catch (e) {
      setPlaying(false);
      showError(e.message);
    }
  };

  let last = null;
  const loop = (now) => {
    if (!playing) return;
    const s = shown[active];
    if (!s) { setPlaying(false); return; }
    const speed = Number($("speed").value) || 1;
    // frame-rate independent: a sweep takes SWEEP_FRAMES frames at 60 Hz
    const dt = last === null ? 1 : Math.min(4, (now - last) / (1000 / 60));
    last = now;
    let p = (s.playPos ?? s.pos) + (dir * speed * dt * s.length) / SWEEP_FRAMES;
    const mode = $("loop").value;
    if (p > s.length || p < 0) {
      if (mode === "loop") p = dir > 0 ? 0 : s.length;
      else if (mode === "bounce") { dir = -dir; p = Math.max(0, Math.min(s.length, p)); }
      else { p = Math.max(0, Math.min(s.length, p)); seek(p); setPlaying(false); return; }
    }
    s.playPos = p; // kept here: a track may snap pos to its nearest stored frame
    seek(p);
    requestAnimationFrame(loop);
  };

  const api = {
    /// A mode's track: `seek(pos)` shows position pos (0 … length) and reports back through
    /// `update`; `activate()` puts the mode's content back in the viewer; `step()` is one
    /// stored frame in position units; `empty` says what to do when there is nothing yet.
    register(name, track) { tracks[name] = track; },
    /// A track reports what it shows.
    update(name, s) {
      shown[name] = { ...shown[name], ...s };
      if (!playing) delete shown[name].playPos;
      if (name === active) render();
    },
    /// Forgets a track's frames (its run was replaced or dropped).
    clear(name) { delete shown[name]; if (name === active) { setPlaying(false); render(); } },
    async use(name) {
      setPlaying(false);
      active = name;
      render();
      await tracks[name]?.activate?.(shown[name]?.pos);
    },
    get active() { return active; },
    get playing() { return playing; },
    position: () => shown[active]?.pos ?? null,
    toggle() {
      if (!shown[active]?.length) return;
      if (playing) { setPlaying(false); return; }
      setPlaying(true);
      dir = 1;
      last = null;
      const s = shown[active];
      if ($("loop").value === "once" && s.pos >= s.length) s.pos = 0;
      s.playPos = s.pos;
      requestAnimationFrame(loop);
    },
    pause() { if (playing) setPlaying(false); },
    step(k) {
      const s = shown[active];
      if (!s) return;
      setPlaying(false);
      seek(s.pos + k * (tracks[active].step?.() ?? 1));
    },
    reset() {
      if (!shown[active]) return;
      setPlaying(false);
      seek(0);
    },
    seek,
    onPause(f) { onPause = f; },
  };
  range.addEventListener("input", () => { setPlaying(false); seek(Number(range.value)); });
  playBtn.addEventListener("click", () => api.toggle());
  $("step-back").addEventListener("click", () => api.step(-1));
  $("step-fwd").addEventListener("click", () => api.step(1));
  $("reset").addEventListener("click", () => api.reset());
  setPlaying(false);
  return api;
}
