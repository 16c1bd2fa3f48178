// A minimal static file server for the built site (the repository root after `.ci/build`).
// Serves only files under the root, with correct MIME types (application/wasm matters), and
// the wasm module pre-compressed (brotli, gzip) when the browser accepts it.
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json",
  ".png": "image/png", ".svg": "image/svg+xml", ".xyz": "text/plain; charset=utf-8", ".npy": "application/octet-stream",
  ".ts": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
};

const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".xyz", ".svg", ".md", ".ts"]);

export function serve(root, port = 8080, host = "127.0.0.1") {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      let file = normalize(join(base, path));
      if (file !== base && !file.startsWith(base + sep)) throw Object.assign(new Error("outside root"), { code: 403 });
      const info = await stat(file);
      if (info.isDirectory()) file = join(file, "index.html");
      const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" };
      const accepts = (enc) => new RegExp(`\\b${enc}\\b`).test(String(req.headers["accept-encoding"] ?? ""));
      // a pre-compressed copy (.ci/compress.mjs) when the browser takes it and it is current
      let body = null;
      if (extname(file) === ".wasm") {
        headers.vary = "accept-encoding";
        for (const [enc, ext] of [["br", ".br"], ["gzip", ".gz"]]) {
          if (!accepts(enc)) continue;
          const packed = await stat(file + ext).catch(() => null);
          if (packed && packed.mtimeMs >= info.mtimeMs) {
            body = await readFile(file + ext);
            headers["content-encoding"] = enc;
            break;
          }
        }
      }
      body ??= await readFile(file);
      // text (scripts, the molecule set, JSON) gzipped on the fly
      if (!headers["content-encoding"] && COMPRESSIBLE.has(extname(file)) && body.length > 1024 && accepts("gzip")) {
        body = gzipSync(body, { level: 6 });
        headers["content-encoding"] = "gzip";
        headers.vary = "accept-encoding";
      }
      res.writeHead(200, headers);
      res.end(body);
    } catch (err) {
      const code = err.code === 403 ? 403 : 404;
      res.writeHead(code, { "content-type": "text/plain" });
      res.end(code === 403 ? "forbidden\n" : "not found\n");
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
  const port = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer in 0..65535, got "${process.env.PORT}"`);
    process.exit(2);
  }
  serve(root, port).then(
    (s) => console.log(`molplay playground: http://127.0.0.1:${s.address().port}/index.html (Ctrl-C to stop)`),
    (err) => { console.error(`cannot serve on port ${port}: ${err.message}`); process.exit(1); },
  );
}
