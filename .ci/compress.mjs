// Pre-compresses the wasm module next to it (.br and .gz) and records its size (pkg/sizes.json,
// what the page's download progress divides by). `node .ci/compress.mjs DIR [best]`: brotli
// quality 5 by default (half a second for the dev build), 11 with a 16 MiB window for `best`
// (the static site, .ci/dist: about half a minute).
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir = "pkg", level = "fast"] = process.argv.slice(2);
const name = "molplay_bg.wasm";
const wasm = readFileSync(join(dir, name));
const best = level === "best";
const br = brotliCompressSync(wasm, { params: { [constants.BROTLI_PARAM_QUALITY]: best ? 11 : 5, [constants.BROTLI_PARAM_LGWIN]: best ? 24 : 22, [constants.BROTLI_PARAM_SIZE_HINT]: wasm.length } });
const gz = gzipSync(wasm, { level: 9 });
writeFileSync(join(dir, `${name}.br`), br);
writeFileSync(join(dir, `${name}.gz`), gz);
writeFileSync(join(dir, "sizes.json"), JSON.stringify({ [name]: wasm.length }) + "\n");
const mb = (n) => (n / 1e6).toFixed(1);
console.error(`[compress] ${name}: ${mb(wasm.length)} MB, brotli ${mb(br.length)} MB, gzip ${mb(gz.length)} MB`);
