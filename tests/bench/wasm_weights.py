#!/usr/bin/env python3
"""What each crate weighs in a wasm module: code bytes per crate, from the module's name section.

    python3 tests/bench/wasm_weights.py pkg/molplay_bg.wasm [pkg/core/molplay_bg.wasm] [--top 20]

wasm-bindgen keeps the name section, so every function body can be put down to the crate of its
(Rust-mangled) name; generic code is counted under the crate that defines the function. Data
(string constants, tables) is reported as one figure. A stand-in for twiggy, with nothing to
install: the README's first-visit figures name the crates this split left out of pkg/core/.
"""
import collections
import re
import sys


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def weights(path):
    data = open(path, "rb").read()
    if data[:4] != b"\0asm":
        raise SystemExit(f"{path}: not a wasm module")
    sections, i = [], 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        sections.append((sid, i, size))
        i += size
    imported, names, data_bytes = 0, {}, 0
    for sid, off, size in sections:
        if sid == 2:  # imports: function imports come first in the function index space
            j = off
            n, j = leb(data, j)
            for _ in range(n):
                for _ in range(2):
                    k, j = leb(data, j)
                    j += k
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = leb(data, j)
                    imported += 1
                elif kind == 1:
                    j += 1
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 2:
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 3:
                    j += 2
        elif sid == 0:
            j = off
            k, j = leb(data, j)
            if data[j : j + k] != b"name":
                continue
            j += k
            while j < off + size:
                sub = data[j]
                length, j = leb(data, j + 1)
                end = j + length
                if sub == 1:  # function names
                    n, j = leb(data, j)
                    for _ in range(n):
                        idx, j = leb(data, j)
                        k, j = leb(data, j)
                        names[idx] = data[j : j + k].decode("utf8", "replace")
                        j += k
                j = end
        elif sid == 11:
            data_bytes = size
    crates, code = collections.Counter(), 0
    for sid, off, size in sections:
        if sid != 10:
            continue
        j = off
        n, j = leb(data, j)
        for k in range(n):
            length, body = leb(data, j)
            crates[crate_of(names.get(imported + k, "?"))] += length + (body - j)
            code += length
            j = body + length
    return len(data), code, data_bytes, crates


def crate_of(name):
    m = re.search(r"_ZN(?:\d+_)?(\d+)([A-Za-z_][A-Za-z0-9_]*)", name)
    if m:
        return m.group(2)[: int(m.group(1))]
    m = re.search(r"([a-z_][a-z0-9_]*)::", name)
    return m.group(1) if m else "(unnamed: glue, intrinsics)"


def main():
    args = sys.argv[1:]
    top = 20
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i : i + 2]
    if not args:
        raise SystemExit(__doc__)
    for path in args:
        total, code, data_bytes, crates = weights(path)
        print(f"{path}: {total / 1e6:.2f} MB ({code / 1e6:.2f} MB code, {data_bytes / 1e6:.2f} MB data)")
        for crate, size in crates.most_common(top):
            print(f"  {size / 1e6:7.2f} MB  {crate}")


if __name__ == "__main__":
    main()
