// The URL-hash state (www/state.js) in Node: parsing, validation, versioning, legacy links and
// the round trip through the hash. No browser needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_PRESET, HASH_VERSION, KNOBS, PRESETS, parseHash, toHash, validate } from "../../www/state.js";

test("every preset round-trips through the hash", () => {
  assert.ok(DEFAULT_PRESET in PRESETS);
  for (const [name, p] of Object.entries(PRESETS)) {
    const { values, errors } = parseHash(`#v=${HASH_VERSION}&preset=${name}`);
    assert.deepEqual(errors, [], name);
    assert.equal(values.mode, p.mode);
    for (const [k, v] of Object.entries(p.knobs)) assert.equal(values[k], v, `${name}.${k}`);
    // the hash written for those values reads back to the same values
    const again = parseHash(toHash(values));
    assert.deepEqual(again.errors, []);
    assert.deepEqual(again.values, values, name);
  }
});

test("knobs override the preset's, and only changed knobs are written", () => {
  const { values } = parseHash("#v=1&preset=chain-generate&steps=50&seed=9&gaga=1&tstar=700&t=250.5");
  assert.equal(values.steps, 50);
  assert.equal(values.samples, 200, "the preset's");
  assert.equal(values.gaga, true);
  assert.equal(values.t, 250.5);
  const hash = toHash(values);
  assert.match(hash, /^#v=1&mode=generate&preset=chain-generate&/);
  assert.match(hash, /&seed=9/);
  assert.match(hash, /&steps=50/);
  assert.doesNotMatch(hash, /samples=/, "same as the preset: left out");
  assert.doesNotMatch(hash, /sampler=/, "the default: left out");
  assert.deepEqual(parseHash(hash).values, values);
});

test("every bad value is named, and the good ones still apply", () => {
  const { values, errors } = parseHash("#v=1&mode=dance&seed=-1&steps=1e3&atoms=2&system=lj2000&gaga=yes&speed=3&zoom=1&t=NaN");
  assert.deepEqual(values, {});
  const text = errors.join("\n");
  for (const re of [/mode must be one of forward, generate, learn, got "dance"/, /seed must be a whole number from 0 to 4294967295, got "-1"/,
    /steps must be a whole number from 1 to 5000, got "1e3"/, /atoms must be a whole number from 3 to 64, got "2"/,
    /system must be lj13, lj55, dw4 or lj<n> with n from 2 to 1024, got "lj2000"/, /gaga must be 0 or 1, got "yes"/,
    /speed must be one of 0\.25, 0\.5, 1, 2, 4, got "3"/, /unknown setting "zoom"/, /t must be a number from 0 to 5000, got "NaN"/]) {
    assert.match(text, re);
  }
  assert.equal(errors.length, 9);
  assert.equal(parseHash("#v=1&seed=4&sampler=rk4").values.seed, 4);
});

test("versions: a newer link is refused as a whole; links from before versioning still open", () => {
  const newer = parseHash("#v=2&mode=learn&seed=3");
  assert.deepEqual(newer.values, {});
  assert.match(newer.errors[0], /state version 2; this page reads version 1/);
  assert.deepEqual(parseHash("#preset=lj55&backend=cpu"), { values: { mode: "learn", system: "lj55", backend: "cpu" }, errors: [] });
  assert.deepEqual(parseHash("#preset=lj38").values, { mode: "learn", system: "lj38" });
  assert.match(parseHash("#preset=water").errors[0], /unknown system 'water'/);
  assert.deepEqual(parseHash(""), { values: {}, errors: [] });
});

test("validate covers each kind of knob", () => {
  for (const k of KNOBS) {
    if (k.kind === "enum") assert.deepEqual(validate(k.key, k.values[0]), { value: k.values[0] });
    if (k.kind === "int") assert.deepEqual(validate(k.key, String(k.min)), { value: k.min });
  }
  assert.deepEqual(validate("atoms", ""), { error: 'atoms must be a whole number from 3 to 64, got ""' });
  assert.deepEqual(validate("tstar", ""), { value: null }, "an empty optional knob");
  assert.deepEqual(validate("scratch", "1"), { value: true });
});
