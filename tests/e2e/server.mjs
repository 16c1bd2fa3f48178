// A minimal static file server for the built site (the repository root after `.ci/build`).
// Serves only files under the root, with correct MIME types (application/wasm matters).
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json",
  ".png": "image/png", ".svg": "image/svg+xml", ".xyz": "text/plain; charset=utf-8", ".npy": "application/octet-stream",
  ".ts": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8",
};

export function serve(root, port = 8080, host = "127.0.0.1") {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      let file = normalize(join(base, path));
      if (file !== base && !file.startsWith(base + sep)) throw Object.assign(new Error("outside root"), { code: 403 });
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
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
